//! The planner's rows are the circuit's rows: for every IR primitive, on both layouts, every
//! packing and several limb widths, with every visibility, the rows the planner counts for
//! each layer equal the rows synthesis takes (and the mock prover accepts the witness).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::onnx::{model, node, rand_vec, tensor, Attr};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::gadgets::Rows;
use zkonnx::circuits::layout::{candidates, LayoutPlan};
use zkonnx::circuits::quant::{QOp, Trace};
use zkonnx::{CompiledModel, Model, Objective, QuantSettings, Vis, Visibility};

/// Two dense layers with a ReLU between: what the lean layout takes.
fn mlp() -> Vec<u8> {
    let nodes = [
        node(
            "Gemm",
            &["x", "w1", "b1"],
            "h",
            vec![("transB", Attr::I(1))],
        ),
        node("Relu", &["h"], "r", vec![]),
        node(
            "Gemm",
            &["r", "w2", "b2"],
            "y",
            vec![("transB", Attr::I(1))],
        ),
    ];
    model(
        ("x", &[1, 7]),
        ("y", &[1, 3]),
        &nodes,
        vec![
            tensor("w1", &[6, 7], rand_vec(5, 42, 0.5)),
            tensor("b1", &[6], rand_vec(6, 6, 0.1)),
            tensor("w2", &[3, 6], rand_vec(7, 18, 0.5)),
            tensor("b2", &[3], rand_vec(8, 3, 0.1)),
        ],
    )
}

fn compile(bytes: &[u8], name: &str, n: usize, vis: Visibility) -> (CompiledModel, Vec<f32>) {
    compile_with(bytes, name, n, vis, QuantSettings::default())
}

fn compile_with(
    bytes: &[u8],
    name: &str,
    n: usize,
    vis: Visibility,
    settings: QuantSettings,
) -> (CompiledModel, Vec<f32>) {
    let dir = common::temp_dir(name);
    let path = dir.join("model.onnx");
    std::fs::write(&path, bytes).expect("write model");
    let samples: Vec<Vec<f32>> = (0..4).map(|s| rand_vec(20 + s, n, 1.0)).collect();
    let c = Model::load(&path)
        .expect("import")
        .compile_planned(&samples, settings, vis, Objective::Prove)
        .expect("compile");
    (c, samples[0].clone())
}

fn planned_rows(plan: &LayoutPlan) -> Vec<Rows> {
    plan.layers
        .iter()
        .map(|l| Rows {
            main: l.rows,
            lane: l.lookup_rows - l.func_rows,
            func: l.func_rows,
        })
        .collect()
}

/// Compares every candidate plan that `keep` selects; returns how many were compared.
fn compare_all(c: &CompiledModel, x: &[f32], keep: impl Fn(&LayoutPlan) -> bool) -> usize {
    let vis = c.plan.shape.visibility;
    let trace = Arc::new(c.witness(x).expect("witness"));
    let plans: Vec<LayoutPlan> = candidates(&c.model, vis)
        .into_iter()
        .filter(|p| keep(p))
        .collect();
    // Hundreds of plans, each synthesized on its own: split over the machine's cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = plans.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for part in plans.chunks(chunk) {
            let trace = trace.clone();
            s.spawn(move || {
                for plan in part {
                    compare_one(c, plan, &trace);
                }
            });
        }
    });
    plans.len()
}

fn compare_one(c: &CompiledModel, plan: &LayoutPlan, trace: &Arc<Trace>) {
    let vis = plan.shape.visibility;
    let what = plan.shape.describe();
    let circuit = ModelCircuit::with_trace(c.model.clone(), Arc::new(plan.clone()), trace.clone());
    let got = circuit
        .synthesized_rows()
        .unwrap_or_else(|e| panic!("{what} ({vis:?}): {e}"));
    let want = planned_rows(plan);
    assert_eq!(got.len(), want.len(), "{what} ({vis:?}): layer count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g, w,
            "{what} ({vis:?}): layer {i} ({} {}) synthesized {g:?}, planned {w:?}",
            plan.layers[i].name, plan.layers[i].gadget
        );
    }
}

fn vis(input: Vis, params: Vis, output: Vis) -> Visibility {
    Visibility {
        input,
        params,
        output,
    }
}

/// Pooled plans at every packing, with small limbs (tables of 2^5 to 2^10 rows keep k small),
/// on one range lane or three (the checks spread unevenly over three lanes).
fn pooled_small(p: &LayoutPlan) -> bool {
    p.shape.lean.is_none()
        && [4, 6, 9].contains(&p.shape.limb_bits)
        && [1, 3].contains(&p.shape.range_lanes)
}

#[test]
fn pooled_rows_match_for_every_primitive_and_visibility() {
    let (c, x) = compile(
        &common::onnx::every_primitive(),
        "rows-prims",
        6,
        Visibility::default(),
    );
    // The model must exercise every primitive, or the comparison proves less than it says.
    let kinds: BTreeSet<&str> = c
        .model
        .nodes
        .iter()
        .map(|n| match &n.op {
            _ if c.model.passes_through(n) => "identity",
            QOp::Input => "input",
            QOp::Gather { .. } => "gather",
            QOp::Linear { .. } => "linear",
            QOp::Rescale { clamp: Some(_), .. } => "rescale+clamp",
            QOp::Rescale { relu: true, .. } => "rescale+relu",
            QOp::Rescale { relu: false, .. } => "rescale",
            QOp::Bilinear { .. } => "bilinear",
            QOp::Lookup { .. } => "lookup",
            QOp::Div { .. } => "div",
            QOp::Sqrt { .. } => "sqrt",
        })
        .collect();
    let all = [
        "input",
        "gather",
        "linear",
        "rescale+relu",
        "rescale+clamp",
        "rescale",
        "identity",
        "bilinear",
        "lookup",
        "div",
        "sqrt",
    ];
    for k in all {
        assert!(kinds.contains(k), "the model lacks a {k} node: {kinds:?}");
    }
    // Exact rescales (no shift) with and without a ReLU: remainders copied from the constrained zero.
    for relu in [true, false] {
        assert!(
            c.model.nodes.iter().any(|n| n.op.is_exact_rescale()
                && !n.op.is_identity()
                && matches!(n.op, QOp::Rescale { relu: r, .. } if r == relu)),
            "the model lacks an exact rescale with relu = {relu}"
        );
    }
    // Its sigmoid on few elements is interpolated between knots (a step table beside the knots').
    assert!(
        c.model.tables.iter().any(|t| t.step),
        "the sigmoid is not interpolated"
    );
    let mut n = compare_all(&c, &x, pooled_small);
    // With direct tables: the rescale before the table, which only the lookup reads, has no
    // output check.
    let direct = QuantSettings {
        interpolation: zkonnx::Interpolation::Never,
        ..QuantSettings::default()
    };
    let (c, x) = compile_with(
        &common::onnx::every_primitive(),
        "rows-prims-direct",
        6,
        Visibility::default(),
        direct,
    );
    assert!(
        c.model.lookup_bounded().contains(&true) && c.model.tables.iter().all(|t| !t.step),
        "no direct table, or no rescale only a lookup reads"
    );
    n += compare_all(&c, &x, |p| {
        p.shape.lean.is_none() && p.shape.limb_bits == 6 && p.shape.range_lanes == 2
    });
    for v in [
        vis(Vis::Private, Vis::Fixed, Vis::Public),
        vis(Vis::Hashed, Vis::Fixed, Vis::Hashed),
        vis(Vis::Public, Vis::Private, Vis::Public),
        vis(Vis::Public, Vis::Hashed, Vis::Hashed),
    ] {
        let (c, x) = compile(&common::onnx::every_primitive(), "rows-prims-vis", 6, v);
        n += compare_all(&c, &x, |p| {
            p.shape.lean.is_none() && p.shape.limb_bits == 6 && p.shape.range_lanes == 2
        });
    }
    let packings = zkonnx::circuits::layout::packings().count();
    assert_eq!(
        n,
        packings * 3 * 2 + packings * 5,
        "every packing, limb width and lane count compared"
    );
}

/// Convolutions whose windows fall into classes of shared weights, laid out `P` windows per
/// row: every packing with more than one window per row (and, beside them, one), so each class's
/// last row of windows is part-empty somewhere.
#[test]
fn pooled_rows_match_with_windows_side_by_side() {
    let (c, x) = compile(
        &common::onnx::padded_convs(),
        "rows-windows",
        32,
        Visibility::default(),
    );
    let classes: Vec<usize> = c
        .model
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            QOp::Linear { map } => Some(zkonnx::circuits::gadgets::linear::classes(map).len()),
            _ => None,
        })
        .collect();
    // Several classes per map, and fewer than its windows (else nothing shares a row).
    assert_eq!(classes.len(), 2, "two linear maps");
    assert!(
        classes.iter().all(|&n| n > 2),
        "classes per map: {classes:?}"
    );
    let n = compare_all(&c, &x, |p| {
        p.shape.lean.is_none() && p.shape.limb_bits == 9 && p.shape.range_lanes == 1
    });
    let windowed = zkonnx::circuits::layout::packings()
        .filter(|&(_, _, p)| p > 1)
        .count();
    assert!(windowed > 100);
    assert_eq!(n, zkonnx::circuits::layout::packings().count());
}

#[test]
fn lean_and_pooled_rows_match_on_a_dense_model() {
    let mut lean = 0;
    for v in [
        Visibility::default(),
        vis(Vis::Private, Vis::Fixed, Vis::Public),
        vis(Vis::Hashed, Vis::Fixed, Vis::Public),
        vis(Vis::Public, Vis::Fixed, Vis::Hashed),
        vis(Vis::Hashed, Vis::Fixed, Vis::Hashed),
    ] {
        let (c, x) = compile(&mlp(), "rows-mlp", 7, v);
        lean += compare_all(&c, &x, |p| p.shape.lean.is_some());
        compare_all(&c, &x, |p| {
            p.shape.lean.is_none() && p.shape.limb_bits == 9 && p.shape.range_lanes == 1
        });
    }
    assert_eq!(lean, 5 * 3, "every lean plan (T = 1, 2, 4) compared");
}
