//! Comparisons, logic, integer operations, lookups by computed index, resampling and the
//! other operators built from the sign and floor primitives: each small graph is compiled,
//! its integer outputs compared with tract's float run, and its circuit checked with
//! MockProver (satisfied with the executor's outputs, not with a changed output).

mod common;

use std::sync::Arc;

use common::onnx::{
    body, model, node as n, rand_vec, tensor, tensor_i64, tensor_i64_shaped, tensor_int, Attr, N,
};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::float_ref::FloatReference;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::{Model, QuantSettings};

fn cast_f(input: &'static str, output: &'static str) -> N<'static> {
    n(
        "Cast",
        Box::leak(Box::new([input])),
        output,
        vec![("to", Attr::I(1))],
    )
}

/// Compiles `bytes` on `x`, checks the outputs against tract within `tol` (absolute), and the
/// circuit with MockProver; a changed output instance must fail.
fn check(name: &str, bytes: Vec<u8>, in_shape: &[usize], x: Vec<f32>, tol: f64) {
    check_against(name, bytes, x.clone(), tol, |path| {
        FloatReference::load(path, in_shape)
            .and_then(|r| r.run(&x))
            .unwrap_or_else(|e| panic!("{name}: tract: {e}"))
    });
}

/// As [`check`], against the outputs `reference` gives for the written model's path.
fn check_against(
    name: &str,
    bytes: Vec<u8>,
    x: Vec<f32>,
    tol: f64,
    reference: impl FnOnce(&std::path::Path) -> Vec<f32>,
) {
    let dir = common::temp_dir(name);
    let path = dir.join(format!("{name}.onnx"));
    std::fs::write(&path, bytes).expect("write");
    let m = Model::load(&path).unwrap_or_else(|e| panic!("{name}: import: {e}"));
    let c = m
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    let reference = reference(&path);
    let t = Arc::new(c.witness(&x).expect("witness"));
    let out = c.model.dequantize_output(t.output(&c.model));
    assert_eq!(out.len(), reference.len(), "{name}");
    for (i, (&o, &r)) in out.iter().zip(&reference).enumerate() {
        assert!(
            (o - f64::from(r)).abs() <= tol,
            "{name}: output {i} is {o}, tract {r}"
        );
    }
    let instances = ModelCircuit::instances(&c.model, &c.plan.shape, &t);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), t);
    common::mock(&c, &circuit, &instances).assert_satisfied();
    let mut bad = instances;
    let last = bad.len() - 1;
    bad[last] += Fr::one();
    assert!(
        common::mock(&c, &circuit, &bad).verify().is_err(),
        "{name}: a changed output must not satisfy the circuit"
    );
}

/// The import error of a model that must be refused.
fn refused(name: &str, bytes: Vec<u8>) -> String {
    let dir = common::temp_dir(name);
    let p = dir.join(format!("{name}.onnx"));
    std::fs::write(&p, bytes).expect("write");
    Model::load(&p)
        .expect_err("the model must be refused")
        .to_string()
}

const X8: [f32; 8] = [0.9, -0.4, 0.3, 1.7, -1.2, 0.05, 0.6, -0.8];

#[test]
fn comparisons_and_logic_on_computed_tensors() {
    let c = vec![0.5, 0.0, 0.3, 1.0, -1.0, 0.5, 0.6, -1.0];
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 8]),
        &[
            n("Greater", &["x", "c"], "g", vec![]),
            n("Less", &["x", "z"], "l", vec![]),
            n("Equal", &["x", "c"], "e", vec![]),
            n("Or", &["g", "e"], "ge", vec![]),
            n("Xor", &["ge", "l"], "gx", vec![]),
            n("Not", &["gx"], "nx", vec![]),
            n("And", &["nx", "l"], "a", vec![]),
            cast_f("gx", "gf"),
            cast_f("a", "af"),
            n("Sum", &["gf", "af", "gf"], "y", vec![]),
        ],
        vec![tensor("c", &[8], c), tensor("z", &[1], vec![0.0])],
    );
    check("cmp", bytes, &[1, 8], X8.to_vec(), 1e-6);
}

#[test]
fn where_with_a_computed_condition_and_sign() {
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 8]),
        &[
            n("Greater", &["x", "z"], "p", vec![]),
            n("Mul", &["x", "h"], "nx", vec![]),
            n("Where", &["p", "x", "nx"], "w", vec![]),
            n("Sign", &["x"], "s", vec![]),
            n("Add", &["w", "s"], "y", vec![]),
        ],
        vec![tensor("z", &[1], vec![0.0]), tensor("h", &[1], vec![-0.5])],
    );
    check("where", bytes, &[1, 8], X8.to_vec(), 2e-3);
}

#[test]
fn floor_ceil_round_mod_and_integer_casts() {
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[4, 8]),
        &[
            n("Floor", &["x"], "f", vec![]),
            n("Ceil", &["x"], "c", vec![]),
            n("Cast", &["x"], "ti", vec![("to", Attr::I(7))]),
            cast_f("ti", "t"),
            n("Mod", &["x", "m"], "md", vec![]),
            n(
                "Concat",
                &["f", "c", "t", "md"],
                "y",
                vec![("axis", Attr::I(0))],
            ),
        ],
        vec![tensor("m", &[1], vec![0.75])],
    );
    let x = vec![2.3, -1.6, 0.4, -0.4, 3.9, -2.2, 1.1, -0.9];
    check("floor", bytes, &[1, 8], x, 2e-3);
}

#[test]
fn argmax_hardmax_and_top1() {
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 5]),
        &[
            n("ArgMax", &["x"], "am", vec![("axis", Attr::I(1))]),
            cast_f("am", "a"),
            n("Hardmax", &["x"], "h", vec![]),
            n("Concat", &["a", "h"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![],
    );
    check("argmax", bytes, &[2, 4], X8.to_vec(), 1e-6);
}

#[test]
fn gather_and_one_hot_by_computed_index() {
    // Indices floor(x) in 0..5 (and one negative, counted from the end).
    let table: Vec<f32> = (0..15).map(|i| (i as f32 * 0.37).sin()).collect();
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 4, 8]),
        &[
            n("Floor", &["x"], "f", vec![]),
            n("Cast", &["f"], "i", vec![("to", Attr::I(7))]),
            n("Gather", &["t", "i"], "g", vec![("axis", Attr::I(0))]),
            n("OneHot", &["i", "depth", "vals"], "o", vec![]),
            n("Concat", &["g", "o"], "y", vec![("axis", Attr::I(2))]),
        ],
        vec![
            tensor("t", &[5, 3], table),
            tensor_i64("depth", vec![5]),
            tensor("vals", &[2], vec![0.0, 1.0]),
        ],
    );
    check("gather", bytes, &[1, 4], vec![3.2, 0.1, 4.7, -1.5], 2e-3);
}

/// Constant data read at computed indices by lookups in a table of its entries (an embedding
/// of computed ids, a tree traversal's node arrays): Gather on axis 0 with negative indices,
/// a second Gather of the same tensor (one shared table), GatherElements on the last axis. The
/// lookups must be what proves them (a data table in the plan, no one-hot rows), and an index
/// past the data is a typed error naming the node.
#[test]
fn constant_data_at_computed_indices_is_read_by_lookup() {
    let emb: Vec<f32> = (0..24).map(|i| (i as f32 * 0.53).cos()).collect();
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 8, 9]),
        &[
            n("Floor", &["x"], "f", vec![]),
            n("Cast", &["f"], "i", vec![("to", Attr::I(7))]),
            n("Gather", &["e", "i"], "g", vec![("axis", Attr::I(0))]),
            n("Sub", &["i", "six"], "neg", vec![]),
            n("Gather", &["e", "neg"], "h", vec![("axis", Attr::I(0))]),
            n("Reshape", &["i", "shape"], "ic", vec![]),
            n(
                "GatherElements",
                &["e8", "ic"],
                "k",
                vec![("axis", Attr::I(2))],
            ),
            n("Concat", &["g", "h", "k"], "y", vec![("axis", Attr::I(2))]),
        ],
        vec![
            tensor("e", &[6, 4], emb.clone()),
            tensor(
                "e8",
                &[1, 8, 6],
                (0..48).map(|i| (i as f32 * 0.29).sin()).collect(),
            ),
            tensor_i64("six", vec![6]),
            tensor_i64_shaped("shape", &[3], vec![1, 8, 1]),
        ],
    );
    let x = vec![0.2, 5.9, 3.5, 1.1, 4.0, 2.7, 0.9, 5.0];
    let dir = common::temp_dir("data-table");
    let path = dir.join("data-table.onnx");
    std::fs::write(&path, &bytes).expect("write");
    let c = Model::load(&path)
        .expect("import")
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    let data: Vec<_> = c.model.tables.iter().filter(|t| t.is_data()).collect();
    assert_eq!(data.len(), 2, "one table per constant tensor read");
    let t = c.witness(&x).expect("witness");
    let out = c.model.dequantize_output(t.output(&c.model));
    for (r, &xi) in x.iter().enumerate() {
        let i = xi.floor() as usize;
        let row = &out[r * 9..(r + 1) * 9];
        for j in 0..4 {
            let want = f64::from(emb[i * 4 + j]);
            assert!((row[j] - want).abs() < 2e-4, "Gather {r},{j}");
            assert!(
                (row[4 + j] - want).abs() < 2e-4,
                "Gather (negative) {r},{j}"
            );
        }
        let want = f64::from((((r * 6 + i) as f32) * 0.29).sin());
        assert!((row[8] - want).abs() < 2e-4, "GatherElements {r}");
    }
    check("data-table", bytes.clone(), &[1, 8], x.clone(), 2e-4);
    // Index 6 of six rows: past the data.
    let mut past = x;
    past[3] = 6.5;
    let e = c
        .witness(&past)
        .expect_err("an index past the data")
        .to_string();
    assert!(e.contains("is not an index of the constant tensor"), "{e}");
}

/// ScatterElements with computed indices (a graph network's scatter by an edge list the input
/// carries): each row's maximum replaced by twice itself (`none`, computed updates), a
/// constant added at the same positions (`add`), and two updates of one position (the later
/// wins), against tract.
#[test]
fn scatter_elements_by_computed_indices() {
    let bytes = model(
        ("x", &[1, 4, 6]),
        ("y", &[1, 4, 18]),
        &[
            n("ArgMax", &["x"], "i", vec![("axis", Attr::I(2))]),
            n("ReduceMax", &["x", "two"], "m", vec![]),
            n("Add", &["m", "m"], "u", vec![]),
            n(
                "ScatterElements",
                &["x", "i", "u"],
                "s",
                vec![("axis", Attr::I(2))],
            ),
            n(
                "ScatterElements",
                &["x", "i", "c"],
                "t",
                vec![("axis", Attr::I(2)), ("reduction", Attr::S("add"))],
            ),
            // The same index twice in a row: the later update wins, as in onnxruntime.
            n("Concat", &["i", "i"], "ii", vec![("axis", Attr::I(2))]),
            n("Concat", &["m", "u"], "mu", vec![("axis", Attr::I(2))]),
            n(
                "ScatterElements",
                &["x", "ii", "mu"],
                "d",
                vec![("axis", Attr::I(2))],
            ),
            n("Concat", &["s", "t", "d"], "y", vec![("axis", Attr::I(2))]),
        ],
        vec![
            tensor_i64("two", vec![2]),
            tensor("c", &[1, 4, 1], vec![0.5, -0.25, 1.0, 0.125]),
        ],
    );
    check(
        "scatter-dyn",
        bytes,
        &[1, 4, 6],
        rand_vec(17, 24, 1.0),
        2e-3,
    );
}

#[test]
fn resize_trilu_cumsum_and_depth_to_space() {
    let bytes = model(
        ("x", &[1, 4, 2, 2]),
        ("y", &[1, 1, 4, 4]),
        &[
            n("DepthToSpace", &["x"], "d", vec![("blocksize", Attr::I(2))]),
            n("Trilu", &["d"], "t", vec![]),
            n("CumSum", &["t", "ax"], "y", vec![]),
        ],
        vec![{
            let mut t = tensor_i64("ax", vec![3]);
            t.dims.clear(); // a scalar axis
            t
        }],
    );
    let x: Vec<f32> = (0..16).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.2).collect();
    check("rearrange", bytes, &[1, 4, 2, 2], x, 2e-3);
    for mode in ["nearest", "linear"] {
        let bytes = model(
            ("x", &[1, 1, 3, 3]),
            ("y", &[1, 1, 6, 6]),
            &[n(
                "Resize",
                &["x", "", "s"],
                "y",
                vec![("mode", Attr::S(mode))],
            )],
            vec![tensor("s", &[4], vec![1.0, 1.0, 2.0, 2.0])],
        );
        let x: Vec<f32> = (0..9).map(|i| (i as f32 * 0.6).cos()).collect();
        check(&format!("resize-{mode}"), bytes, &[1, 1, 3, 3], x, 3e-3);
    }
}

#[test]
fn norms_reductions_and_tables() {
    let bytes = model(
        ("x", &[1, 2, 2, 2]),
        ("y", &[1, 2, 2, 2]),
        &[
            n("InstanceNormalization", &["x", "sc", "b"], "i", vec![]),
            n(
                "ReduceL2",
                &["x", "axes"],
                "l2",
                vec![("keepdims", Attr::I(1))],
            ),
            n(
                "ReduceLogSumExp",
                &["x", "axes"],
                "lse",
                vec![("keepdims", Attr::I(1))],
            ),
            n("Add", &["i", "l2"], "a", vec![]),
            n("Sub", &["a", "lse"], "s", vec![]),
            n("HardSwish", &["s"], "h", vec![]),
            n("Sin", &["h"], "y", vec![]),
        ],
        vec![
            tensor("sc", &[2], vec![0.5, 1.5]),
            tensor("b", &[2], vec![0.1, -0.2]),
            tensor_i64("axes", vec![2, 3]),
        ],
    );
    check("norms", bytes, &[1, 2, 2, 2], X8.to_vec(), 2e-2);
}

#[test]
fn an_additive_minus_infinity_mask_is_left_out_of_the_softmax() {
    let ninf = f32::MIN;
    let mask = vec![0.0, ninf, ninf, 0.0, 0.0, ninf, 0.0, 0.0];
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 4]),
        &[
            n("Add", &["x", "m"], "a", vec![]),
            n("Softmax", &["a"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![tensor("m", &[2, 4], mask)],
    );
    check("mask", bytes.clone(), &[2, 4], X8.to_vec(), 5e-3);
    // Only the unmasked elements are exponentiated, each at most its row's maximum: the exp
    // table holds the negative half (its `2^b` entries all at or below 0).
    let dir = common::temp_dir("mask-table");
    let path = dir.join("mask.onnx");
    std::fs::write(&path, bytes).expect("write");
    let c = Model::load(&path)
        .expect("import")
        .compile(
            &[X8.to_vec()],
            QuantSettings {
                interpolation: zkonnx::Interpolation::Never,
                ..QuantSettings::default()
            },
        )
        .expect("compile");
    let b = c.model.settings.table_bits;
    let exp: Vec<_> = c.model.tables.iter().filter(|t| !t.is_data()).collect();
    assert_eq!(exp.len(), 1, "{exp:?}");
    assert!(
        exp[0].lo + exp[0].size as i64 <= 1 && -exp[0].lo > 1 << (b - 1),
        "{:?}",
        exp[0]
    );
    // A mask that reaches anything but a softmax is refused, naming the node.
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 4]),
        &[
            n("Add", &["x", "m"], "a", vec![]),
            n("Relu", &["a"], "y", vec![]),
        ],
        vec![tensor(
            "m",
            &[2, 4],
            vec![0.0, f32::MIN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )],
    );
    let e = refused("mask-bad", bytes);
    assert!(e.contains("'y'") && e.contains("mask"), "{e}");
}

#[test]
fn a_finite_mask_is_left_out_of_the_softmax_too() {
    // `masked_fill(mask == 0, -1e9)` before a softmax: exported as a Where on a constant
    // condition. Carried as a value, −1e9 would set the quantization range of the scores.
    let cond = vec![1, 0, 1, 1, 0, 1, 1, 1];
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 4]),
        &[
            n("Where", &["c", "x", "big"], "a", vec![]),
            n("Softmax", &["a"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![
            tensor_int("c", &[2, 4], 9, cond),
            tensor("big", &[], vec![-1e9]),
        ],
    );
    check("mask-fill", bytes, &[2, 4], X8.to_vec(), 5e-3);
    // GPT-2's first export: `w·b − 10000·(1 − b)`, then a positive scaling.
    let b = vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0];
    let c: Vec<f32> = b.iter().map(|&v| 1e4 * (1.0 - v)).collect();
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 4]),
        &[
            n("Mul", &["x", "b"], "w", vec![]),
            n("Sub", &["w", "c"], "a", vec![]),
            n("Mul", &["a", "half"], "h", vec![]),
            n("Softmax", &["h"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![
            tensor("b", &[2, 4], b),
            tensor("c", &[2, 4], c),
            tensor("half", &[], vec![0.5]),
        ],
    );
    check("mask-sub", bytes, &[2, 4], X8.to_vec(), 5e-3);
    // A finite mask read by anything but a softmax is its real value: ReLU gives 0 there.
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 4]),
        &[
            n("Add", &["x", "m"], "a", vec![]),
            n("Relu", &["a"], "y", vec![]),
        ],
        vec![tensor(
            "m",
            &[2, 4],
            vec![0.0, -2e4, 0.0, 0.0, 0.0, 0.0, -2e4, 0.0],
        )],
    );
    check("mask-relu", bytes, &[2, 4], X8.to_vec(), 5e-2);
}

#[test]
fn top_k_sorted_in_both_directions_on_any_axis() {
    // Row 0 ties 0.6 at the third place: the lower index comes first (onnxruntime, tract).
    let x = vec![
        0.9, -0.4, 0.6, 1.7, -1.2, 0.6, 0.05, 0.6, -0.8, 0.3, 0.35, -0.1,
    ];
    let bytes = model(
        ("x", &[2, 6]),
        ("y", &[2, 10]),
        &[
            n("TopK", &["x", "k3"], "v,i", vec![("axis", Attr::I(1))]),
            cast_f("i", "fi"),
            n("TopK", &["x", "k2"], "w,j", vec![("largest", Attr::I(0))]),
            cast_f("j", "fj"),
            n(
                "Concat",
                &["v", "fi", "w", "fj"],
                "y",
                vec![("axis", Attr::I(1))],
            ),
        ],
        vec![tensor_i64("k3", vec![3]), tensor_i64("k2", vec![2])],
    );
    check("topk", bytes, &[2, 6], x.clone(), 2e-3);
    // Along the middle axis of a [2, 3, 2] tensor (groups strided by the inner axis).
    let bytes = model(
        ("x", &[2, 3, 2]),
        ("y", &[2, 4, 2]),
        &[
            n("TopK", &["x", "k2"], "v,i", vec![("axis", Attr::I(1))]),
            cast_f("i", "fi"),
            n("Concat", &["v", "fi"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![tensor_i64("k2", vec![2])],
    );
    check("topk-mid", bytes, &[2, 3, 2], x, 2e-3);
}

/// skl2onnx's pairwise squared distances as a `Scan` body: the state `a` (the input rows) is
/// passed on, each scanned row `p` of the constant gives `Σ (a − p)²`.
fn distances() -> tract_onnx::pb::GraphProto {
    body(
        &[("a", &[1, 3]), ("p", &[3])],
        &[("a2", &[1, 3]), ("so", &[1])],
        &[
            n("Identity", &["a"], "a2", vec![]),
            n("Sub", &["a", "p"], "df", vec![]),
            n(
                "ReduceSumSquare",
                &["df", "ax"],
                "so",
                vec![("keepdims", Attr::I(0))],
            ),
        ],
        vec![tensor_i64("ax", vec![1])],
    )
}

/// `Scan` with a state variable and a constant scan input (skl2onnx's pairwise distances):
/// the body runs once per row of the constant, its outputs stacked; then the nearest two.
#[test]
fn scan_unrolls_its_body_over_the_scan_axis() {
    let pts: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.2).collect();
    for (name, dirs, out_axis, transpose) in [("scan", 0, 0, true), ("scan-rev", 1, 1, false)] {
        let mut nodes = vec![n(
            "Scan",
            &["x", "pts"],
            "fin,d",
            vec![
                ("num_scan_inputs", Attr::I(1)),
                ("body", Attr::G(distances())),
                ("scan_input_directions", Attr::Ints(vec![dirs])),
                ("scan_output_axes", Attr::Ints(vec![out_axis])),
            ],
        )];
        if transpose {
            nodes.push(n(
                "Transpose",
                &["d"],
                "dt",
                vec![("perm", Attr::Ints(vec![1, 0]))],
            ));
        } else {
            nodes.push(n("Identity", &["d"], "dt", vec![]));
        }
        nodes.extend([
            n("TopK", &["dt", "k2"], "v,i", vec![("largest", Attr::I(0))]),
            cast_f("i", "fi"),
            n(
                "Concat",
                &["dt", "v", "fi"],
                "y",
                vec![("axis", Attr::I(1))],
            ),
        ]);
        let bytes = model(
            ("x", &[1, 3]),
            ("y", &[1, 8]),
            &nodes,
            vec![
                tensor("pts", &[4, 3], pts.clone()),
                tensor_i64("k2", vec![2]),
            ],
        );
        check(name, bytes, &[1, 3], vec![0.3, -0.5, 0.8], 3e-3);
    }
}

/// `Loop` with a constant trip count: `y ← y/2 + i` three times, every `y` also stacked as a
/// scan output; checked against the formula (tract does not run `Loop`). A trip count over
/// the unrolling budget is a clear error, not a hang.
#[test]
fn loop_with_a_constant_trip_count_unrolls() {
    let lp = |trips: i64| {
        let g = body(
            &[("it", &[]), ("c", &[]), ("y", &[1, 4])],
            &[("c2", &[]), ("y2", &[1, 4]), ("s", &[1, 4])],
            &[
                n("Identity", &["c"], "c2", vec![]),
                n("Mul", &["y", "half"], "h", vec![]),
                n("Cast", &["it"], "itf", vec![("to", Attr::I(1))]),
                n("Add", &["h", "itf"], "y2", vec![]),
                n("Identity", &["y2"], "s", vec![]),
            ],
            vec![tensor("half", &[], vec![0.5])],
        );
        model(
            ("x", &[1, 4]),
            ("all", &[3, 1, 4]),
            &[n(
                "Loop",
                &["M", "T", "x"],
                "fin,all",
                vec![("body", Attr::G(g))],
            )],
            vec![tensor_i64("M", vec![trips]), tensor("T", &[], vec![1.0])],
        )
    };
    let dir = common::temp_dir("loop");
    let path = dir.join("loop.onnx");
    std::fs::write(&path, lp(3)).expect("write");
    let x = vec![0.8, -0.4, 1.6, 0.1];
    let c = Model::load(&path)
        .expect("import")
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    let t = Arc::new(c.witness(&x).expect("witness"));
    let out = c.model.dequantize_output(t.output(&c.model));
    let mut y = x.clone();
    let mut want = Vec::new();
    for i in 0..3 {
        y.iter_mut().for_each(|v| *v = *v / 2.0 + i as f32);
        want.extend(y.iter().map(|&v| f64::from(v)));
    }
    assert_eq!(out.len(), want.len());
    for (o, w) in out.iter().zip(&want) {
        assert!((o - w).abs() < 2e-3, "{o} vs {w}");
    }
    let instances = ModelCircuit::instances(&c.model, &c.plan.shape, &t);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), t);
    common::mock(&c, &circuit, &instances).assert_satisfied();
    std::fs::write(&path, lp(1 << 40)).expect("write");
    let e = Model::load(&path).expect_err("over budget").to_string();
    assert!(e.contains("Loop") && e.contains("budget"), "{e}");
}

/// `If` on a computed condition proves both branches and selects; each input takes its own.
#[test]
fn if_with_a_computed_condition_selects_its_branch() {
    let then_g = body(
        &[],
        &[("t", &[1, 4])],
        &[n("Mul", &["x", "two"], "t", vec![])],
        vec![tensor("two", &[], vec![2.0])],
    );
    let else_g = body(
        &[],
        &[("e", &[1, 4])],
        &[n("Sub", &["x", "one"], "e", vec![])],
        vec![tensor("one", &[], vec![1.0])],
    );
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 4]),
        &[
            n("ReduceSum", &["x"], "s", vec![("keepdims", Attr::I(0))]),
            n("Greater", &["s", "zero"], "c", vec![]),
            n(
                "If",
                &["c"],
                "y",
                vec![
                    ("then_branch", Attr::G(then_g)),
                    ("else_branch", Attr::G(else_g)),
                ],
            ),
        ],
        vec![tensor("zero", &[], vec![0.0])],
    );
    check(
        "if-then",
        bytes.clone(),
        &[1, 4],
        vec![0.8, -0.4, 1.6, 0.1],
        2e-3,
    );
    check("if-else", bytes, &[1, 4], vec![-0.8, -0.4, 1.6, -0.9], 2e-3);
}

/// The nearest neighbours of a training point (one distance exactly 0; skl2onnx's KNN: a
/// `Scan` of distances, `Sqrt`, `TopK` of the smallest). Zkonnx's float execution of the graph
/// finds the same three as tract for every seed — each round's one-hot is a one-hot in f64
/// too (comparing every element with a maximum computed as `b + relu(a − b)` found none where
/// that maximum came out one rounding off the element, and the next round's ranges were
/// calibrated on an empty selection) — and the circuit proves it.
#[test]
fn top_k_of_distances_from_a_training_point() {
    for seed in 0..6u64 {
        let pts = rand_vec(seed + 11, 40 * 3, 2.0);
        let x = pts[21..24].to_vec();
        let bytes = model(
            ("x", &[1, 3]),
            ("y", &[1, 6]),
            &[
                n(
                    "Scan",
                    &["x", "pts"],
                    "fin,d",
                    vec![
                        ("num_scan_inputs", Attr::I(1)),
                        ("body", Attr::G(distances())),
                    ],
                ),
                n(
                    "Transpose",
                    &["d"],
                    "dt",
                    vec![("perm", Attr::Ints(vec![1, 0]))],
                ),
                n("Sqrt", &["dt"], "r", vec![]),
                n("TopK", &["r", "k3"], "v,i", vec![("largest", Attr::I(0))]),
                cast_f("i", "fi"),
                n("Concat", &["v", "fi"], "y", vec![("axis", Attr::I(1))]),
            ],
            vec![tensor("pts", &[40, 3], pts), tensor_i64("k3", vec![3])],
        );
        let dir = common::temp_dir(&format!("knn-{seed}"));
        let path = dir.join("knn.onnx");
        std::fs::write(&path, &bytes).expect("write");
        let m = Model::load(&path).expect("import");
        let (out, source) = m.float_outputs(&x).expect("float");
        assert_eq!(
            source,
            zkonnx::FloatReference::Tract,
            "seed {seed}: {out:?}"
        );
        assert_eq!(out[3], 7.0, "seed {seed}: the point itself is nearest");
        if seed == 0 {
            check("knn", bytes, &[1, 3], x, 2e-3);
        }
    }
}

/// Nested bodies multiply: a `Scan` of 400 rows whose body scans 400 rows passes each node's
/// own budget (400 lowerings each) and is still refused by the model's, with a clear error.
#[test]
fn nested_control_flow_is_bounded_over_the_whole_model() {
    let inner = body(
        &[("s", &[1]), ("q", &[1])],
        &[("s2", &[1])],
        &[n("Add", &["s", "q"], "s2", vec![])],
        vec![],
    );
    let outer = body(
        &[("a", &[1]), ("p", &[1])],
        &[("a2", &[1])],
        &[n(
            "Scan",
            &["a", "col"],
            "a2",
            vec![("num_scan_inputs", Attr::I(1)), ("body", Attr::G(inner))],
        )],
        vec![],
    );
    let bytes = model(
        ("x", &[1]),
        ("y", &[1]),
        &[n(
            "Scan",
            &["x", "rows"],
            "y",
            vec![("num_scan_inputs", Attr::I(1)), ("body", Attr::G(outer))],
        )],
        vec![
            tensor("rows", &[400, 1], vec![0.5; 400]),
            tensor("col", &[400, 1], vec![0.25; 400]),
        ],
    );
    let e = refused("nested-scan", bytes);
    assert!(e.contains("Scan") && e.contains("node lowerings"), "{e}");
}

/// Indexing by constant indices: ScatterElements along the last axis with computed updates,
/// GatherND of index pairs, ScatterND of a row of constants added to the data.
#[test]
fn scatter_and_gather_nd_by_constant_indices() {
    let bytes = model(
        ("x", &[2, 3]),
        ("y", &[14]),
        &[
            n("Mul", &["x", "two"], "u", vec![]),
            n(
                "ScatterElements",
                &["x", "ie", "u"],
                "se",
                vec![("axis", Attr::I(1))],
            ),
            n("GatherND", &["x", "ig"], "g", vec![]),
            n(
                "ScatterND",
                &["x", "is", "rows"],
                "sn",
                vec![("reduction", Attr::S("add"))],
            ),
            n("Reshape", &["se", "flat"], "a", vec![]),
            n("Reshape", &["sn", "flat"], "b", vec![]),
            n("Concat", &["a", "g", "b"], "y", vec![("axis", Attr::I(0))]),
        ],
        vec![
            tensor("two", &[], vec![2.0]),
            tensor_i64_shaped("ie", &[2, 3], vec![1, 0, 2, 0, 2, 1]),
            tensor_i64_shaped("ig", &[2, 2], vec![0, 1, 1, 2]),
            tensor_i64_shaped("is", &[1, 1], vec![1]),
            tensor("rows", &[1, 3], vec![9.0, 8.0, -7.0]),
            tensor_i64("flat", vec![-1]),
        ],
    );
    check("scatter", bytes, &[2, 3], X8[..6].to_vec(), 2e-3);
}

/// Discontinuous activations are exact at their jumps (a table, or knots, straddling the jump
/// erred by the jump's height next to it); a training-mode dropout is refused, not proved as
/// the identity; a linear downsample with aligned corners divides by the unrounded length.
#[test]
fn thresholds_dropout_and_aligned_downsampling() {
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 16]),
        &[
            n(
                "ThresholdedRelu",
                &["x"],
                "t",
                vec![("alpha", Attr::F(0.3))],
            ),
            n(
                "Shrink",
                &["x"],
                "s",
                vec![("lambd", Attr::F(0.6)), ("bias", Attr::F(0.25))],
            ),
            n("Concat", &["t", "s"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![],
    );
    // 0.3 and ±0.6 sit on the jumps.
    let x = vec![0.3, 0.31, -0.6, 0.6, 0.61, -0.61, 1.7, -1.2];
    check("thresholds", bytes, &[1, 8], x, 2e-3);
    let bytes = model(
        ("x", &[1, 1, 2, 4]),
        ("y", &[1, 1, 1, 2]),
        &[n(
            "Resize",
            &["x", "", "sc"],
            "y",
            vec![
                ("mode", Attr::S("linear")),
                ("coordinate_transformation_mode", Attr::S("align_corners")),
            ],
        )],
        vec![tensor("sc", &[4], vec![1.0, 1.0, 0.6, 0.6])],
    );
    check("align-down", bytes, &[1, 1, 2, 4], X8.to_vec(), 2e-3);
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 4]),
        &[n("Dropout", &["x", "r", "train"], "y", vec![])],
        vec![tensor("r", &[], vec![0.5]), tensor("train", &[], vec![1.0])],
    );
    let e = refused("dropout-train", bytes);
    assert!(e.contains("training-mode dropout"), "{e}");
}

/// Round's parity and fractional part are bounded by construction, not by calibration: a
/// model calibrated on values that all round to even numbers proves an input that rounds to
/// an odd one (its parity's range check was sized from calibration's zeros and refused it).
#[test]
fn round_proves_a_parity_calibration_did_not_see() {
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 4]),
        &[n("Round", &["x"], "y", vec![])],
        vec![],
    );
    let dir = common::temp_dir("round-parity");
    let path = dir.join("round.onnx");
    std::fs::write(&path, bytes).expect("write");
    let m = Model::load(&path).expect("import");
    let c = m
        .compile(&[vec![0.3, -1.7, 2.2, -0.1]], QuantSettings::default())
        .expect("compile");
    let x = vec![1.2, -0.8, 2.6, 0.9];
    let t = Arc::new(c.witness(&x).expect("a parity calibration did not see"));
    let out = c.model.dequantize_output(t.output(&c.model));
    assert_eq!(out, vec![1.0, -1.0, 3.0, 1.0]);
    let instances = ModelCircuit::instances(&c.model, &c.plan.shape, &t);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), t);
    common::mock(&c, &circuit, &instances).assert_satisfied();
}

/// Round takes ties to the even neighbour, as ONNX (and tract): 0.5 → 0, 1.5 → 2, 2.5 → 2,
/// −0.5 → 0, −1.5 → −2, −2.5 → −2; other values to the nearest.
#[test]
fn round_takes_ties_to_even() {
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 8]),
        &[n("Round", &["x"], "y", vec![])],
        vec![],
    );
    let x = vec![0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.3, -1.7];
    check("round", bytes, &[1, 8], x, 1e-6);
}

/// Resize's other modes, against ONNX's reference evaluator (onnx 1.17; onnxruntime agrees
/// within 2e-7): cubic with `cubic_coeff_a` and `exclude_outside` on one named axis, linear
/// and cubic antialiased downsampling, and `tf_crop_and_resize` on two named axes with a
/// region reaching past the input (the extrapolation value there). Each was refused before.
#[test]
fn resize_cubic_antialiased_and_cropped() {
    let x16: Vec<f32> = X8
        .iter()
        .chain(X8.iter())
        .enumerate()
        .map(|(i, &v)| if i < 8 { v } else { v * 0.5 })
        .collect();
    // (name, input shape, node, initializers, input, expected output)
    type Case<'a> = (
        &'a str,
        &'a [i64],
        N<'a>,
        Vec<tract_onnx::pb::TensorProto>,
        Vec<f32>,
        Vec<f32>,
    );
    let cases: Vec<Case> = vec![
        (
            "cubic",
            &[1, 1, 2, 4],
            n(
                "Resize",
                &["x", "", "sc"],
                "y",
                vec![
                    ("mode", Attr::S("cubic")),
                    ("cubic_coeff_a", Attr::F(-0.5)),
                    ("exclude_outside", Attr::I(1)),
                    ("axes", Attr::Ints(vec![3])),
                ],
            ),
            vec![tensor("sc", &[1], vec![2.0])],
            X8.to_vec(),
            vec![
                1.014706, 0.637956, -0.160305, -0.382031, 0.028906, 0.658015, 1.449635, 1.823529,
                -1.310294, -0.974818, -0.264504, 0.282422, 0.616016, 0.327863, -0.522263,
                -0.923529,
            ],
        ),
        (
            "linear-aa",
            &[1, 1, 1, 8],
            n(
                "Resize",
                &["x", "", "", "sz"],
                "y",
                vec![
                    ("mode", Attr::S("linear")),
                    ("antialias", Attr::I(1)),
                    ("axes", Attr::Ints(vec![3])),
                ],
            ),
            vec![tensor_i64("sz", vec![3])],
            X8.to_vec(),
            vec![0.376744, 0.217857, -0.161628],
        ),
        (
            "crop",
            &[1, 1, 2, 4],
            n(
                "Resize",
                &["x", "roi", "", "sz"],
                "y",
                vec![
                    ("mode", Attr::S("linear")),
                    (
                        "coordinate_transformation_mode",
                        Attr::S("tf_crop_and_resize"),
                    ),
                    ("extrapolation_value", Attr::F(10.0)),
                    ("axes", Attr::Ints(vec![2, 3])),
                ],
            ),
            vec![
                tensor("roi", &[4], vec![0.0, 0.3, 1.0, 1.5]),
                tensor_i64("sz", vec![3, 3]),
            ],
            X8.to_vec(),
            vec![-0.27, 1.28, 10.0, -0.1725, 0.45, 10.0, -0.075, -0.38, 10.0],
        ),
        (
            "cubic-aa",
            &[1, 1, 1, 16],
            n(
                "Resize",
                &["x", "", "sc"],
                "y",
                vec![("mode", Attr::S("cubic")), ("antialias", Attr::I(1))],
            ),
            vec![tensor("sc", &[4], vec![1.0, 1.0, 1.0, 0.4])],
            x16,
            vec![
                0.385625, 0.287630, -0.124595, -0.017198, 0.226713, -0.032022,
            ],
        ),
    ];
    for (name, shape, node, inits, x, expected) in cases {
        let mut out_shape = shape.to_vec();
        out_shape[2] = if name == "crop" { 3 } else { shape[2] };
        out_shape[3] = expected.len() as i64 / out_shape[2];
        let bytes = model(("x", shape), ("y", &out_shape), &[node], inits);
        check_against(name, bytes, x, 2e-3, |_| expected);
    }
}

/// Einsum against tract: two computed operands with a batch label, an ellipsis against a
/// constant matrix, a diagonal, a sum to one label, a chain of three operands (two constant),
/// an outer product and an implicit output; each flattened and concatenated.
#[test]
fn einsum_equations_match_tract() {
    let eq = |s: &'static str| vec![("equation", Attr::S(s))];
    let flat = |i: &'static str, o: &'static str| {
        n("Reshape", Box::leak(Box::new([i, "flat"])), o, vec![])
    };
    let w = rand_vec(5, 3 * 2, 1.0);
    let v = rand_vec(6, 2 * 4, 1.0);
    let bytes = model(
        ("x", &[2, 3, 3]),
        ("y", &[1, 82]),
        &[
            n("Einsum", &["x", "x"], "e1", eq("bij,bkj->bik")),
            n("Einsum", &["x", "w"], "e2", eq("...ij,jk->...ik")),
            n("Einsum", &["x"], "e3", eq("bii->bi")),
            n("Einsum", &["x"], "e4", eq("bij->j")),
            n("Einsum", &["x", "w", "v"], "e5", eq("bij,jk,kl->bil")),
            n("Einsum", &["e3", "e4"], "e6", eq("bi,j->bij")),
            n("Einsum", &["e4", "e4"], "e7", eq("i,i")),
            flat("e1", "f1"),
            flat("e2", "f2"),
            flat("e3", "f3"),
            flat("e4", "f4"),
            flat("e5", "f5"),
            flat("e6", "f6"),
            n("Reshape", &["e7", "one"], "f7", vec![]),
            n(
                "Concat",
                &["f1", "f2", "f3", "f4", "f5", "f6", "f7"],
                "y",
                vec![("axis", Attr::I(1))],
            ),
        ],
        vec![
            tensor("w", &[3, 2], w),
            tensor("v", &[2, 4], v),
            tensor_i64_shaped("flat", &[2], vec![1, -1]),
            tensor_i64_shaped("one", &[2], vec![1, 1]),
        ],
    );
    let x: Vec<f32> = rand_vec(4, 18, 1.0);
    check("einsum", bytes, &[2, 3, 3], x, 5e-3);
}

/// BitShift by constant amounts on integers (a product; the floor of a quotient) and Pow with
/// a constant exponent tensor of several values (each element its own power), against tract.
#[test]
fn bit_shifts_and_exponent_tensors_match_tract() {
    let cast = |i: &'static str, o: &'static str, to: i64| {
        n(
            "Cast",
            Box::leak(Box::new([i])),
            o,
            vec![("to", Attr::I(to))],
        )
    };
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 12]),
        &[
            cast("x", "xi", 2),
            n(
                "BitShift",
                &["xi", "r"],
                "ri",
                vec![("direction", Attr::S("RIGHT"))],
            ),
            n(
                "BitShift",
                &["xi", "l"],
                "li",
                vec![("direction", Attr::S("LEFT"))],
            ),
            cast("ri", "rf", 1),
            cast("li", "lf", 1),
            n("Pow", &["x", "e"], "p", vec![]),
            n(
                "Concat",
                &["rf", "lf", "p"],
                "y",
                vec![("axis", Attr::I(1))],
            ),
        ],
        vec![
            common::onnx::tensor_int("r", &[4], 2, vec![1, 2, 0, 3]),
            common::onnx::tensor_int("l", &[], 2, vec![2]),
            tensor("e", &[4], vec![2.0, 3.0, 0.5, 2.0]),
        ],
    );
    check("shifts", bytes, &[1, 4], vec![5.0, 12.0, 7.0, 20.0], 2e-3);
}

/// A product of two computed tensors whose broadcast batch makes over 2^28 multiply-adds
/// (here 2^30) is refused at import with the budget named, before its terms are built.
#[test]
fn a_product_over_the_budget_is_refused_before_it_is_built() {
    let bytes = model(
        ("x", &[16, 1024, 64]),
        ("y", &[16, 1024, 1024]),
        &[
            n(
                "Transpose",
                &["x"],
                "xt",
                vec![("perm", Attr::Ints(vec![0, 2, 1]))],
            ),
            n("MatMul", &["x", "xt"], "y", vec![]),
        ],
        vec![],
    );
    let e = refused("matmul-budget", bytes);
    assert!(e.contains("budget"), "{e}");
}
