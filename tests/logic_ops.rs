//! Comparisons, logic, integer operations, lookups by computed index, resampling and the
//! other operators built from the sign and floor primitives: each small graph is compiled,
//! its integer outputs compared with tract's float run, and its circuit checked with
//! MockProver (satisfied with the executor's outputs, not with a changed output).

mod common;

use std::sync::Arc;

use common::onnx::{model, node as n, tensor, tensor_i64, Attr, N};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::float_ref::FloatReference;
use zkonnx::halo2_proofs::dev::MockProver;
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
    let dir = common::temp_dir(name);
    let path = dir.join(format!("{name}.onnx"));
    std::fs::write(&path, bytes).expect("write");
    let m = Model::load(&path).unwrap_or_else(|e| panic!("{name}: import: {e}"));
    let c = m
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    let reference = FloatReference::load(&path, in_shape)
        .and_then(|r| r.run(&x))
        .unwrap_or_else(|e| panic!("{name}: tract: {e}"));
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
    MockProver::run(c.k(), &circuit, vec![instances.clone()])
        .expect("synthesis")
        .assert_satisfied();
    let mut bad = instances;
    let last = bad.len() - 1;
    bad[last] += Fr::one();
    assert!(
        MockProver::run(c.k(), &circuit, vec![bad])
            .expect("synthesis")
            .verify()
            .is_err(),
        "{name}: a changed output must not satisfy the circuit"
    );
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
    check("mask", bytes, &[2, 4], X8.to_vec(), 5e-3);
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
    let dir = common::temp_dir("mask-bad");
    let p = dir.join("m.onnx");
    std::fs::write(&p, bytes).expect("write");
    let e = Model::load(&p).expect_err("refused").to_string();
    assert!(e.contains("'y'") && e.contains("mask"), "{e}");
}
