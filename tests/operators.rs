//! Operators beyond matrix products: attribute defaults, the float semantics, and the
//! soundness of each gadget (a malicious witness must not satisfy the circuit).

mod common;

use std::sync::Arc;

use common::onnx::{model, node, rand_vec, tensor, tensor_int, Attr};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::float_ref::FloatReference;
use zkonnx::circuits::quant::{QOp, Trace};
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{CompiledModel, Model, Prover, QuantSettings};

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = common::temp_dir(name);
    let p = dir.join(format!("{name}.onnx"));
    std::fs::write(&p, bytes).expect("write model");
    p
}

/// Conv 3×3 then AveragePool 2×2, with or without the attributes that have ONNX defaults.
fn conv_pool(explicit: bool) -> Vec<u8> {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let mut conv = vec![("kernel_shape", ints(&[3, 3]))];
    let mut pool = vec![("kernel_shape", ints(&[2, 2]))];
    if explicit {
        conv.extend([
            ("strides", ints(&[1, 1])),
            ("pads", ints(&[0, 0, 0, 0])),
            ("dilations", ints(&[1, 1])),
            ("group", Attr::I(1)),
        ]);
        pool.extend([("strides", ints(&[1, 1])), ("pads", ints(&[0, 0, 0, 0]))]);
    }
    model(
        ("x", &[1, 1, 6, 6]),
        ("y", &[1, 2, 3, 3]),
        &[
            node("Conv", &["x", "w", "b"], "c", conv),
            node("AveragePool", &["c"], "y", pool),
        ],
        vec![
            tensor("w", &[2, 1, 3, 3], rand_vec(3, 18, 0.5)),
            tensor("b", &[2], vec![0.1, -0.2]),
        ],
    )
}

/// Compiles the model at `path` on `x` with functions laid out by `interpolation`.
fn compile_at(
    path: &std::path::Path,
    x: &[f32],
    interpolation: zkonnx::Interpolation,
) -> CompiledModel {
    Model::load(path)
        .expect("import")
        .compile(
            &[x.to_vec()],
            QuantSettings {
                interpolation,
                ..QuantSettings::default()
            },
        )
        .expect("compile")
}

fn compile(path: &std::path::Path, x: &[f32]) -> CompiledModel {
    Model::load(path)
        .expect("import")
        .compile(&[x.to_vec()], QuantSettings::default())
        .expect("compile")
}

#[test]
fn conv_and_pool_without_strides_or_pads_import_and_prove_like_the_explicit_version() {
    let bare = write("conv-bare", &conv_pool(false));
    let explicit = write("conv-explicit", &conv_pool(true));
    let (a, b) = (
        Model::load(&bare).expect("bare"),
        Model::load(&explicit).expect("explicit"),
    );
    assert_eq!(a.graph, b.graph, "defaults are the ONNX defaults");
    let x = rand_vec(9, 36, 1.0);
    let reference = FloatReference::load(&bare, &[1, 1, 6, 6])
        .expect("tract")
        .run(&x)
        .expect("float");
    for path in [&bare, &explicit] {
        let compiled = compile(path, &x);
        let params = dev_srs(compiled.k(), 7);
        let prover = Prover::setup(compiled.clone(), params).expect("setup");
        let proof = prover.prove(&x).expect("prove");
        let vk = prover.verifier_key();
        assert!(zkonnx::verify(&vk, &compiled.settings, &proof.to_file(), path).expect("verify"));
        assert_eq!(proof.outputs.len(), reference.len());
        for (o, r) in proof.outputs.iter().zip(&reference) {
            assert!((o - f64::from(*r)).abs() < 1e-3, "{o} vs {r}");
        }
    }
}

/// Runs MockProver on `trace` with instances taken from it.
/// Compiles the model at `p` on `x`: its outputs are within `tol` of tract's, and MockProver
/// accepts the honest witness.
fn agrees_with_tract(p: &std::path::Path, shape: &[usize], x: &[f32], tol: f64) {
    let reference = FloatReference::load(p, shape)
        .expect("tract")
        .run(x)
        .expect("float");
    let c = compile(p, x);
    let t = c.witness(x).expect("witness");
    for (o, r) in c
        .model
        .dequantize_output(t.output(&c.model))
        .iter()
        .zip(&reference)
    {
        assert!((o - f64::from(*r)).abs() < tol, "{o} vs {r}");
    }
    mock(&c, t).expect("honest witness");
}

/// Compiles `p` on `x`, checks every output against `reference` (values another runtime gave)
/// within `tol`, and the circuit with MockProver.
fn matches_reference(p: &std::path::Path, x: &[f32], reference: &[f64], tol: f64) {
    let c = compile(p, x);
    let t = c.witness(x).expect("witness");
    let out = c.model.dequantize_output(t.output(&c.model));
    assert_eq!(out.len(), reference.len());
    for (i, (o, r)) in out.iter().zip(reference).enumerate() {
        assert!((o - r).abs() < tol, "output {i}: {o} vs {r}");
    }
    mock(&c, t).expect("honest witness");
}

fn mock(c: &CompiledModel, trace: Trace) -> Result<(), String> {
    let inst = ModelCircuit::instances(&c.model, &c.plan.shape, &trace);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), Arc::new(trace));
    MockProver::run(
        c.k(),
        &circuit,
        ModelCircuit::instance_columns(&c.plan.shape, &inst),
    )
    .map_err(|e| format!("{e:?}"))?
    .verify()
    .map_err(|e| format!("{} failures", e.len()))
}

/// The honest witness satisfies the circuit; the same witness with the first output of the
/// node `is_target` picks changed by each `delta` (and the public output following it where
/// that node is the output) does not.
fn assert_gadget_sound(
    path: &std::path::Path,
    x: &[f32],
    is_target: impl Fn(&QOp) -> bool,
    deltas: &[i64],
) {
    let c = compile(path, x);
    let honest = c.witness(x).expect("witness");
    mock(&c, honest.clone()).expect("honest witness satisfies the circuit");
    let ni = c
        .model
        .nodes
        .iter()
        .position(|n| is_target(&n.op))
        .expect("target node");
    for &d in deltas {
        let mut t = honest.clone();
        t.values[ni][0] += d;
        assert!(
            mock(&c, t).is_err(),
            "{}: output {} changed by {d} must fail",
            path.display(),
            ni
        );
    }
}

#[test]
fn exact_division_with_a_constant_numerator_is_constrained() {
    // y = 1 / exp(x): the quotient must be the rounded one: q±1 breaks the remainder bounds.
    let p = write(
        "recip",
        &model(
            ("x", &[1, 6]),
            ("y", &[1, 6]),
            &[
                node("Exp", &["x"], "e", vec![]),
                node("Reciprocal", &["e"], "y", vec![]),
            ],
            vec![],
        ),
    );
    assert_gadget_sound(
        &p,
        &rand_vec(4, 6, 1.0),
        |op| matches!(op, QOp::Div { .. }),
        &[1, -1, 5],
    );
}

#[test]
fn square_root_is_constrained() {
    let p = write(
        "sqrt",
        &model(
            ("x", &[1, 6]),
            ("y", &[1, 6]),
            &[
                node("Exp", &["x"], "e", vec![]),
                node("Sqrt", &["e"], "y", vec![]),
            ],
            vec![],
        ),
    );
    assert_gadget_sound(
        &p,
        &rand_vec(5, 6, 1.0),
        |op| matches!(op, QOp::Sqrt { .. }),
        &[1, -1],
    );
}

/// A model of one elementwise `op` on `n` inputs, written as `name`.
fn unary_model(name: &str, op: &str, n: i64) -> std::path::PathBuf {
    write(
        name,
        &model(
            ("x", &[1, n]),
            ("y", &[1, n]),
            &[node(op, &["x"], "y", vec![])],
            vec![],
        ),
    )
}

#[test]
fn function_lookup_is_constrained() {
    let p = unary_model("sigmoid", "Sigmoid", 6);
    assert_gadget_sound(
        &p,
        &rand_vec(6, 6, 2.0),
        |op| matches!(op, QOp::Lookup { .. }),
        &[1, -1],
    );
}

/// A function's direct table is never finer than its input: a sigmoid of inputs within ±0.01
/// at 13 fractional bits is read only at multiples of 2^−13, so a table of 2^12 entries at
/// 14 or more bits (what the table's bits alone allow over so small a domain) would hold
/// entries between them that no input reads. It holds the values the input can take, once
/// each, and still matches the float model.
#[test]
fn a_function_table_is_no_finer_than_its_input() {
    let p = unary_model("sigmoid-small", "Sigmoid", 8);
    let x = rand_vec(7, 8, 0.01);
    let c = compile_at(&p, &x, zkonnx::Interpolation::Never);
    let s_in = c.model.input().scale as i32;
    let t = c
        .model
        .tables
        .iter()
        .find(|t| !t.is_data())
        .expect("the sigmoid's table");
    assert_eq!(
        t.frac, s_in,
        "table at {} bits for inputs at {s_in}",
        t.frac
    );
    let m = x.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let reach = (m * QuantSettings::default().table_margin * f64::from(s_in).exp2()).ceil();
    assert_eq!(t.size, 2 * reach as u64 + 1, "{t:?}");
    let out = c
        .model
        .dequantize_output(c.witness(&x).expect("witness").output(&c.model));
    for (got, v) in out.iter().zip(&x) {
        let want = 1.0 / (1.0 + (-f64::from(*v)).exp());
        assert!(
            (got - want).abs() < 2e-4,
            "sigmoid({v}) = {got}, want {want}"
        );
    }
}

/// A sigmoid of three inputs within ±0.25: its direct table would be read at the input's own
/// resolution (over 4,000 entries for three elements, `k = 12`), so it is interpolated between
/// knots held at guard bits past the output's scale. Its outputs stay within an eighth of an
/// output unit of the best rounding, and a changed knot read or product fails the circuit.
#[test]
fn few_narrow_sigmoid_inputs_interpolate_between_guarded_knots() {
    let p = unary_model("sigmoid-few", "Sigmoid", 3);
    let x = vec![-0.22f32, 0.21, 0.12];
    let c = compile(&p, &x);
    let out = c.model.output_node().scale;
    let tables: Vec<_> = c.model.tables.iter().filter(|t| !t.is_data()).collect();
    assert!(
        tables.len() == 2
            && tables
                .iter()
                .all(|t| t.out_scale == out + 3 && t.size < 512),
        "{tables:?}"
    );
    assert!(c.k() <= 8, "k = {}", c.k());
    let e = worst_error(&c, &x, |v| 1.0 / (1.0 + (-v).exp()));
    // The input's rounding (slope ≤ 1/4) and 5/8 of the output's unit.
    let unit = (-f64::from(out)).exp2();
    let input = (-f64::from(c.model.input().scale)).exp2();
    assert!(e <= 0.625 * unit + 0.125 * input, "{e}");
    let prover = Prover::setup(c.clone(), dev_srs(c.k(), 7)).expect("setup");
    let proof = prover.prove(&x).expect("prove");
    let vk = prover.verifier_key();
    assert!(zkonnx::verify(&vk, &c.settings, &proof.to_file(), &p).expect("verify"));
    assert_gadget_sound(&p, &x, |op| matches!(op, QOp::Lookup { .. }), &[1, -1]);
    assert_gadget_sound(&p, &x, |op| matches!(op, QOp::Bilinear { .. }), &[1, -1]);
}

/// The largest distance between a compiled model's outputs on `x` and `f` of each input.
fn worst_error(c: &CompiledModel, x: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    let out = c
        .model
        .dequantize_output(c.witness(x).expect("witness").output(&c.model));
    out.iter()
        .zip(x)
        .fold(0f64, |m, (got, &v)| m.max((got - f(f64::from(v))).abs()))
}

/// A logarithm of inputs away from 0 (a function of a positive domain) is interpolated
/// between knots from 0: its two tables together are smaller than the direct table, its
/// outputs at least as close to the float model, and a changed table read fails the circuit.
#[test]
fn a_logarithm_away_from_zero_is_interpolated_and_sound() {
    let p = unary_model("log", "Log", 8);
    let x = vec![0.16f32, 0.4, 0.9, 1.3, 1.7, 2.2, 2.6, 3.0];
    let direct = compile_at(&p, &x, zkonnx::Interpolation::Never);
    let knots = compile(&p, &x);
    let rows = |c: &CompiledModel| c.model.tables.iter().map(|t| t.size).sum::<u64>();
    assert!(
        knots.model.tables.iter().all(|t| t.lo == 0) && knots.model.tables.iter().any(|t| t.step),
        "{:?}",
        knots.model.tables
    );
    assert!(
        rows(&knots) < rows(&direct),
        "{} vs {}",
        rows(&knots),
        rows(&direct)
    );
    let (ek, ed) = (
        worst_error(&knots, &x, f64::ln),
        worst_error(&direct, &x, f64::ln),
    );
    assert!(ek <= ed && ek < 2e-3, "knots {ek}, direct {ed}");
    assert_gadget_sound(&p, &x, |op| matches!(op, QOp::Lookup { .. }), &[1, -1]);
}

/// A fractional power of 0 is 0, from its direct table as from knots (the table used to read
/// `2^−frac` there: 0.1 for `x^0.3` at 11 bits).
#[test]
fn a_fractional_power_of_zero_is_zero() {
    let p = write(
        "pow-frac",
        &model(
            ("x", &[1, 6]),
            ("y", &[1, 6]),
            &[node("Pow", &["x", "p"], "y", vec![])],
            vec![tensor("p", &[], vec![0.3])],
        ),
    );
    let x = vec![0.0f32, 0.2, 0.35, 0.5, 0.7, 0.9];
    for interpolation in [zkonnx::Interpolation::Never, zkonnx::Interpolation::Prefer] {
        let c = compile_at(&p, &x, interpolation);
        let e = worst_error(&c, &x, |v| v.powf(0.3));
        assert!(e < 2e-3, "{interpolation:?}: {e}");
        mock(&c, c.witness(&x).expect("witness")).expect("honest witness");
    }
}

#[test]
fn products_of_computed_tensors_are_constrained() {
    // y = (x · x^T) for x of shape [1, 3, 4]: a product chain of two activations.
    let p = write(
        "matmul",
        &model(
            ("x", &[1, 3, 4]),
            ("y", &[1, 3, 3]),
            &[
                node(
                    "Transpose",
                    &["x"],
                    "xt",
                    vec![("perm", Attr::Ints(vec![0, 2, 1]))],
                ),
                node("MatMul", &["x", "xt"], "y", vec![]),
            ],
            vec![],
        ),
    );
    let x = rand_vec(7, 12, 1.0);
    let c = compile(&p, &x);
    let honest = c.witness(&x).expect("witness");
    mock(&c, honest.clone()).expect("honest witness satisfies the circuit");
    let ni = c
        .model
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Bilinear { .. }))
        .expect("product");
    let out = c.model.output;
    let QOp::Rescale {
        mul, add, shift, ..
    } = &c.model.nodes[out].op
    else {
        panic!("the product is rescaled into the output")
    };
    for d in [1i64, -1, 1 << 13] {
        // A wrong sum of products, with the output that follows from it: only the product
        // chain itself can reject it.
        let mut t = honest.clone();
        t.values[ni][0] += d;
        let (q, _) = zkonnx::circuits::quant::rescale_one(t.values[ni][0], mul[0], add[0], *shift);
        t.values[out][0] = q as i64;
        assert!(mock(&c, t).is_err(), "a product changed by {d} must fail");
    }
}

#[test]
fn layer_norm_softmax_and_gelu_match_the_float_model_and_prove() {
    let p = write(
        "block",
        &model(
            ("x", &[1, 4, 8]),
            ("y", &[1, 4, 8]),
            &[
                node(
                    "LayerNormalization",
                    &["x", "g", "b"],
                    "n",
                    vec![("axis", Attr::I(-1))],
                ),
                node("Gelu", &["n"], "h", vec![]),
                node("Softmax", &["h"], "y", vec![("axis", Attr::I(-1))]),
            ],
            vec![
                tensor("g", &[8], rand_vec(11, 8, 1.0)),
                tensor("b", &[8], rand_vec(12, 8, 0.5)),
            ],
        ),
    );
    let x = rand_vec(8, 32, 2.0);
    let c = compile(&p, &x);
    let reference = FloatReference::load(&p, &[1, 4, 8])
        .expect("tract")
        .run(&x)
        .expect("float");
    let t = c.witness(&x).expect("witness");
    let out = c.model.dequantize_output(t.output(&c.model));
    for (o, r) in out.iter().zip(&reference) {
        assert!((o - f64::from(*r)).abs() < 2e-3, "{o} vs {r}");
    }
    mock(&c, t).expect("honest witness");
}

#[test]
fn a_value_outside_the_calibrated_table_domain_is_a_clear_error() {
    let p = unary_model("tanh", "Tanh", 4);
    let c = compile(&p, &[0.1, -0.2, 0.3, 0.05]);
    let err = c
        .witness(&[0.1, -0.2, 300.0, 0.05])
        .expect_err("out of range")
        .to_string();
    assert!(err.contains("'y'") && err.contains("calibrat"), "{err}");
}

/// An affine op read only by affine ops is folded into each of them (a LayerNorm's scale read
/// by a GELU's two constant factors): one rescale per reader, the shared one dropped.
#[test]
fn affine_ops_read_only_by_affine_ops_are_folded_into_them() {
    let p = write(
        "affine-chain",
        &model(
            ("x", &[1, 6]),
            ("y", &[1, 6]),
            &[
                node("Relu", &["x"], "r", vec![]),
                node("Mul", &["r", "half"], "s", vec![]),
                node("Mul", &["s", "three"], "u", vec![]),
                node("Add", &["s", "one"], "v", vec![]),
                node("Add", &["u", "v"], "y", vec![]),
            ],
            vec![
                tensor("half", &[1], vec![0.5]),
                tensor("three", &[1], vec![3.0]),
                tensor("one", &[1], vec![1.0]),
            ],
        ),
    );
    let m = Model::load(&p).expect("import");
    let types: Vec<&str> = m.graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(types.len(), 5, "the shared Mul is gone: {types:?}");
    assert!(
        types.contains(&"Mul+Mul") && types.contains(&"Mul+Add"),
        "{types:?}"
    );
    agrees_with_tract(&p, &[1, 6], &rand_vec(23, 6, 1.0), 1e-3);
}

#[test]
fn batch_norm_after_conv_is_folded_into_it() {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let p = write(
        "conv-bn",
        &model(
            ("x", &[1, 2, 5, 5]),
            ("y", &[1, 3, 3, 3]),
            &[
                node(
                    "Conv",
                    &["x", "w", "b"],
                    "c",
                    vec![("kernel_shape", ints(&[3, 3]))],
                ),
                node(
                    "BatchNormalization",
                    &["c", "g", "beta", "mean", "var"],
                    "y",
                    vec![],
                ),
            ],
            vec![
                tensor("w", &[3, 2, 3, 3], rand_vec(21, 54, 0.5)),
                tensor("b", &[3], vec![0.1, -0.2, 0.3]),
                tensor("g", &[3], vec![1.5, 0.5, -1.0]),
                tensor("beta", &[3], vec![0.2, 0.0, -0.3]),
                tensor("mean", &[3], vec![0.1, -0.1, 0.05]),
                tensor("var", &[3], vec![0.9, 1.2, 0.4]),
            ],
        ),
    );
    let m = Model::load(&p).expect("import");
    assert_eq!(m.graph.nodes.len(), 2, "input and one folded linear op");
    assert_eq!(m.graph.nodes[1].op_type, "Conv+BatchNormalization");
    agrees_with_tract(&p, &[1, 2, 5, 5], &rand_vec(22, 50, 1.0), 2e-3);
}

/// `K(x, v)` of the ONNX-ML SVM kernels, `p` = `[γ, c₀, degree]`.
fn kernel(kind: &str, p: [f32; 3], x: &[f32], v: &[f32]) -> f64 {
    let dot: f64 = x.iter().zip(v).map(|(a, b)| f64::from(a * b)).sum();
    let (g, c) = (f64::from(p[0]), f64::from(p[1]));
    match kind {
        "LINEAR" => dot,
        "POLY" => (g * dot + c).powi(p[2] as i32),
        "SIGMOID" => (g * dot + c).tanh(),
        _ => {
            let d: f64 = x.iter().zip(v).map(|(a, b)| f64::from(a - b).powi(2)).sum();
            (-g * d).exp()
        }
    }
}

/// SVMRegressor with every kernel: `Σ c_j·K(x, v_j) + ρ` as the formula gives it (computed
/// here), and MockProver accepts the witness.
#[test]
fn svm_regressor_matches_the_kernel_formula_and_proves() {
    let (n, feats) = (5, 3);
    let sv = rand_vec(21, n * feats, 1.0);
    let coef = rand_vec(22, n, 1.0);
    let x = rand_vec(23, feats, 1.0);
    for (kind, p) in [
        ("LINEAR", [0.0, 0.0, 0.0]),
        ("POLY", [0.5, 1.0, 3.0]),
        ("RBF", [0.7, 0.0, 0.0]),
        ("SIGMOID", [0.4, 0.2, 0.0]),
    ] {
        let m = model(
            ("x", &[1, 3]),
            ("y", &[1, 1]),
            &[node(
                "SVMRegressor",
                &["x"],
                "y",
                vec![
                    ("coefficients", Attr::Floats(coef.clone())),
                    ("kernel_params", Attr::Floats(p.to_vec())),
                    ("kernel_type", Attr::S(kind)),
                    ("n_supports", Attr::I(n as i64)),
                    ("rho", Attr::Floats(vec![0.3])),
                    ("support_vectors", Attr::Floats(sv.clone())),
                ],
            )],
            vec![],
        );
        let path = write(&format!("svr-{}", kind.to_lowercase()), &m);
        let want: f64 = 0.3
            + (0..n)
                .map(|j| f64::from(coef[j]) * kernel(kind, p, &x, &sv[j * feats..(j + 1) * feats]))
                .sum::<f64>();
        let c = compile(&path, &x);
        let t = c.witness(&x).expect("witness");
        let got = c.model.dequantize_output(t.output(&c.model))[0];
        assert!((got - want).abs() < 2e-3, "{kind}: {got} vs {want}");
        mock(&c, t).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    // Attributes that disagree are a clear error naming the node, not a panic.
    let bad = model(
        ("x", &[1, 3]),
        ("y", &[1, 1]),
        &[node(
            "SVMRegressor",
            &["x"],
            "y",
            vec![
                ("coefficients", Attr::Floats(coef.clone())),
                ("kernel_type", Attr::S("RBF")),
                ("n_supports", Attr::I(i64::MAX)),
                ("rho", Attr::Floats(vec![0.3])),
                ("support_vectors", Attr::Floats(sv[1..].to_vec())),
            ],
        )],
        vec![],
    );
    let e = Model::load(write("svr-bad", &bad)).expect_err("inconsistent attributes");
    let msg = e.to_string();
    assert!(
        msg.contains("'y'") && msg.contains("support vector"),
        "{msg}"
    );
}

/// SVMClassifier (three classes, one RBF support vector each, coefficients that vote for the
/// nearest): the label is the first class with the most pairwise votes. Calibrated on an input
/// of class 0 (label 0), inputs of the other classes still run and prove: the label's range
/// follows from the comparisons, not from the one label calibration saw.
#[test]
fn svm_classifier_votes_and_a_label_calibration_did_not_see_proves() {
    let centres = [[-1.0f32, -1.0], [1.0, 1.0], [1.0, -1.0]];
    let labels = [0i64, 5, 9];
    let m = model(
        ("x", &[1, 2]),
        ("label", &[1]),
        &[node(
            "SVMClassifier",
            &["x"],
            "label",
            vec![
                ("classlabels_ints", Attr::Ints(labels.to_vec())),
                (
                    "coefficients",
                    Attr::Floats(vec![1.0, -1.0, -1.0, 1.0, 1.0, -1.0]),
                ),
                ("kernel_params", Attr::Floats(vec![0.5, 0.0, 3.0])),
                ("kernel_type", Attr::S("RBF")),
                ("rho", Attr::Floats(vec![0.0, 0.0, 0.0])),
                ("support_vectors", Attr::Floats(centres.concat())),
                ("vectors_per_class", Attr::Ints(vec![1, 1, 1])),
            ],
        )],
        vec![],
    );
    let path = write("svc-rbf", &m);
    let c = compile(&path, &[-0.9, -1.2]);
    for (x, want) in [
        ([-0.9f32, -1.2], 0.0),
        ([0.8, 1.1], 5.0),
        ([1.2, -0.7], 9.0),
    ] {
        let t = c.witness(&x).expect("a class calibration did not see runs");
        assert_eq!(
            c.model.dequantize_output(t.output(&c.model)),
            vec![want],
            "{x:?}"
        );
        mock(&c, t).expect("honest witness");
    }
}

/// `ReduceProd` (pairwise products: a group of five, odd at two levels, and one of two) and a
/// Gemm whose `C` is computed (k-means' squared norms added to the distances' product) agree
/// with tract and prove.
#[test]
fn reduce_prod_and_gemm_with_a_computed_c_match_tract_and_prove() {
    let x: Vec<f32> = rand_vec(30, 10, 0.5).iter().map(|v| 1.0 + v).collect();
    for (axis, out) in [(1i64, 2i64), (0, 5)] {
        let p = write(
            &format!("reduce-prod-{axis}"),
            &model(
                ("x", &[2, 5]),
                ("y", &[out]),
                &[node(
                    "ReduceProd",
                    &["x", "a"],
                    "y",
                    vec![("keepdims", Attr::I(0))],
                )],
                vec![common::onnx::tensor_i64("a", vec![axis])],
            ),
        );
        agrees_with_tract(&p, &[2, 5], &x, 2e-3);
    }
    let gemm = write(
        "gemm-computed-c",
        &model(
            ("x", &[3, 4]),
            ("y", &[3, 2]),
            &[
                node(
                    "ReduceSumSquare",
                    &["x", "a"],
                    "n",
                    vec![("keepdims", Attr::I(1))],
                ),
                node(
                    "Gemm",
                    &["x", "w", "n"],
                    "y",
                    vec![("transB", Attr::I(1)), ("beta", Attr::F(0.5))],
                ),
            ],
            vec![
                tensor("w", &[2, 4], rand_vec(31, 8, 1.0)),
                common::onnx::tensor_i64("a", vec![1]),
            ],
        ),
    );
    agrees_with_tract(&gemm, &[3, 4], &rand_vec(32, 12, 1.0), 2e-3);
}

/// LabelEncoder with integer keys and float values (an IsolationForest maps leaf ids to depths
/// with it): each element's value, or the default for a key it does not hold, on an input
/// calibration did not see as well.
#[test]
fn label_encoder_maps_numeric_keys_and_proves() {
    let p = write(
        "label-encoder",
        &model(
            ("x", &[4]),
            ("y", &[4]),
            &[node(
                "LabelEncoder",
                &["x"],
                "y",
                vec![
                    ("keys_int64s", Attr::Ints(vec![2, 3, 5])),
                    ("values_floats", Attr::Floats(vec![10.0, 20.0, 30.0])),
                    ("default_float", Attr::F(-1.0)),
                ],
            )],
            vec![],
        ),
    );
    let c = compile(&p, &[3.0, 7.0, 5.0, 2.0]);
    for (x, want) in [
        ([3.0f32, 7.0, 5.0, 2.0], [20.0, -1.0, 30.0, 10.0]),
        ([2.0, 2.0, 4.0, 5.0], [10.0, 10.0, -1.0, 30.0]),
    ] {
        let t = c.witness(&x).expect("witness");
        assert_eq!(c.model.dequantize_output(t.output(&c.model)), want, "{x:?}");
        mock(&c, t).expect("honest witness");
    }
}

/// ArgMin over distances whose maximum (of the negated values, `b + relu(a − b)`) rounds one
/// ulp high in f32: the float reference still finds the minimum (it runs in f64) and agrees
/// with tract, as the circuit does.
#[test]
fn arg_min_float_reference_agrees_with_tract() {
    let p = write(
        "argmin",
        &model(
            ("x", &[1, 4]),
            ("y", &[1]),
            &[node(
                "ArgMin",
                &["x"],
                "y",
                vec![("axis", Attr::I(1)), ("keepdims", Attr::I(0))],
            )],
            vec![],
        ),
    );
    let x = [5.216_83_f32, 5.150_188_4, 2.016_679, 6.481_271_7];
    let m = Model::load(&p).expect("import");
    let (out, source) = m.float_outputs(&x).expect("float run");
    assert_eq!((out, source), (vec![2.0], zkonnx::FloatReference::Tract));
    let c = compile(&p, &x);
    let t = c.witness(&x).expect("witness");
    assert_eq!(c.model.dequantize_output(t.output(&c.model)), vec![2.0]);
}

/// An exponential of a non-positive input (`exp(−x/2)` for `x` in [0, 26.6], a Gaussian
/// kernel) is as accurate as its direct table would be: knots are chosen by their errors over
/// the calibrated interval, not over the table's symmetric domain, where the direct table's
/// error near e^26 made knots 64 apart look accurate (outputs erred by 0.6).
#[test]
fn exp_of_a_non_positive_input_interpolates_where_its_values_are() {
    let p = write(
        "exp-neg",
        &model(
            ("x", &[1, 40]),
            ("y", &[1, 40]),
            &[
                node("Mul", &["x", "c"], "m", vec![]),
                node("Exp", &["m"], "y", vec![]),
            ],
            vec![tensor("c", &[1], vec![-0.5])],
        ),
    );
    let mut x: Vec<f32> = (0..38).map(|i| i as f32 * 0.7).collect();
    x.extend([12.388, 26.6485]);
    let c = compile(&p, &x);
    let t = c.witness(&x).expect("witness");
    for (o, &v) in c.model.dequantize_output(t.output(&c.model)).iter().zip(&x) {
        let want = (-0.5 * f64::from(v)).exp();
        assert!((o - want).abs() < 1e-2, "exp(−{v}/2): {o} vs {want}");
    }
    mock(&c, t).expect("honest witness");
}

/// A softmax exponentiates `x − max ≤ 0`: its exp table holds the negative half only (and, for
/// knots, the knot above 0), so a direct table's `2^b` entries read it at twice the resolution
/// of a table of both signs (more than `2^(b−1)` entries below 0). Its outputs match the float
/// softmax, and a changed lookup read is refused.
#[test]
fn a_softmax_reads_the_negative_half_of_its_exp_table() {
    use zkonnx::circuits::ir::Func;
    let n = 8;
    let p = unary_model("softmax-8", "Softmax", n);
    let x = rand_vec(11, n as usize, 3.0);
    let m = x.iter().fold(f32::MIN, |a, &b| a.max(b));
    let z: f64 = x.iter().map(|&v| f64::from(v - m).exp()).sum();
    for policy in [zkonnx::Interpolation::Never, zkonnx::Interpolation::Auto] {
        let c = compile_at(&p, &x, policy);
        let b = c.model.settings.table_bits;
        let exp: Vec<_> = c.model.tables.iter().filter(|t| t.f == Func::Exp).collect();
        assert!(!exp.is_empty(), "{policy:?}: no exp table");
        for t in exp {
            let top = t.lo + t.size as i64 - 1;
            assert!(t.lo < 0 && top <= 1, "{policy:?}: [{}, {top}]", t.lo);
            if policy == zkonnx::Interpolation::Never {
                assert!(
                    -t.lo > 1 << (b - 1),
                    "{policy:?}: {} entries below 0",
                    -t.lo
                );
            }
        }
        let t = c.witness(&x).expect("witness");
        let out = c.model.dequantize_output(t.output(&c.model));
        for (o, &v) in out.iter().zip(&x) {
            let want = f64::from(v - m).exp() / z;
            assert!((o - want).abs() < 2e-3, "{policy:?}: {o} vs {want}");
        }
    }
    assert_gadget_sound(&p, &x, |op| matches!(op, QOp::Lookup { .. }), &[1, -1]);
}

/// Past the default table bits a function's direct tables hold at most `2^b` entries
/// together: two softmaxes whose scores differ fourfold in range share one exp table read at
/// the coarser resolution (apart, each would hold about `0.75 · 2^b`); at the default bits each
/// keeps its own. Outputs match the float softmax either way.
#[test]
fn a_functions_tables_share_a_resolution_past_the_default_table_bits() {
    use zkonnx::circuits::ir::Func;
    let p = write(
        "two-softmaxes",
        &model(
            ("x", &[1, 8]),
            ("y", &[1, 16]),
            &[
                node("Softmax", &["x"], "a", vec![]),
                node("Mul", &["x", "four"], "x4", vec![]),
                node("Softmax", &["x4"], "b", vec![]),
                node("Concat", &["a", "b"], "y", vec![("axis", Attr::I(1))]),
            ],
            vec![tensor("four", &[], vec![4.0])],
        ),
    );
    let x = rand_vec(12, 8, 3.0);
    let softmax = |s: f32| -> Vec<f64> {
        let m = x.iter().fold(f32::MIN, |a, &b| a.max(b)) * s;
        let e: Vec<f64> = x.iter().map(|&v| f64::from(v * s - m).exp()).collect();
        let z: f64 = e.iter().sum();
        e.iter().map(|v| v / z).collect()
    };
    let want: Vec<f64> = softmax(1.0).into_iter().chain(softmax(4.0)).collect();
    for (bits, tables) in [(14, 1), (12, 2)] {
        let c = Model::load(&p)
            .expect("import")
            .compile(
                std::slice::from_ref(&x),
                QuantSettings {
                    table_bits: bits,
                    interpolation: zkonnx::Interpolation::Never,
                    ..QuantSettings::default()
                },
            )
            .expect("compile");
        let exp: Vec<_> = c.model.tables.iter().filter(|t| t.f == Func::Exp).collect();
        assert_eq!(exp.len(), tables, "{bits} bits: {exp:?}");
        let entries: u64 = exp.iter().map(|t| t.size).sum();
        if bits == 14 {
            assert!(entries <= 1 << bits, "{bits} bits: {entries} entries");
        }
        let t = c.witness(&x).expect("witness");
        let out = c.model.dequantize_output(t.output(&c.model));
        for (o, w) in out.iter().zip(&want) {
            assert!((o - w).abs() < 5e-3, "{bits} bits: {o} vs {w}");
        }
    }
}

/// `LRN` over channel windows of odd and even size (ONNX: `floor((size−1)/2)` channels before,
/// `ceil((size−1)/2)` after) matches tract and proves.
#[test]
fn local_response_normalization_matches_tract_and_proves() {
    for size in [3, 2] {
        let p = write(
            &format!("lrn-{size}"),
            &model(
                ("x", &[1, 5, 2, 2]),
                ("y", &[1, 5, 2, 2]),
                &[node(
                    "LRN",
                    &["x"],
                    "y",
                    vec![
                        ("size", Attr::I(size)),
                        ("alpha", Attr::F(0.6)),
                        ("beta", Attr::F(0.75)),
                        ("bias", Attr::F(1.0)),
                    ],
                )],
                vec![],
            ),
        );
        agrees_with_tract(&p, &[1, 5, 2, 2], &rand_vec(5 + size as u64, 20, 2.0), 5e-3);
    }
}

/// The QDQ format (onnxruntime's `quantize_static`): an activation quantized to uint8 and back
/// (one input past the range, clipped to 255), int8 weights dequantized per output channel,
/// a MatMul between. Inputs sit mid-step, so the fixed-point rounding agrees with tract's.
#[test]
fn quantize_and_dequantize_linear_match_tract_and_prove() {
    let p = write(
        "qdq",
        &model(
            ("x", &[1, 4]),
            ("y", &[1, 3]),
            &[
                node("QuantizeLinear", &["x", "s", "z"], "q", vec![]),
                node("DequantizeLinear", &["q", "s", "z"], "xd", vec![]),
                node(
                    "DequantizeLinear",
                    &["w", "ws", "wz"],
                    "wd",
                    vec![("axis", Attr::I(1))],
                ),
                node("MatMul", &["xd", "wd"], "y", vec![]),
            ],
            vec![
                tensor("s", &[], vec![0.05]),
                tensor_int("z", &[], 2, vec![128]),
                tensor_int(
                    "w",
                    &[4, 3],
                    3,
                    vec![12, -7, 100, -128, 5, 33, 64, -1, -90, 7, 127, 0],
                ),
                tensor("ws", &[3], vec![0.01, 0.02, 0.005]),
                tensor_int("wz", &[3], 3, vec![0, 0, 0]),
            ],
        ),
    );
    // x/s = 8.4, −13.6 (rounds to −14), 3.4, 140.4 (clipped: 128 + 140 > 255).
    agrees_with_tract(&p, &[1, 4], &[0.42, -0.68, 0.17, 7.02], 2e-3);
}

/// onnxruntime's dynamic quantization (`quantize_dynamic`): an activation's scale and zero
/// point from its own range, `MatMulInteger` / `ConvInteger` on the shifted integers, a `Cast`
/// and a `Mul` by the product of scales. Against tract. The product of scales (≈ 5e-5) is
/// below the activations' resolution: it keeps its significant bits (a finer scale), and the
/// scale itself double precision, or the output erred by its whole size.
#[test]
fn dynamic_quantization_matches_tract_and_proves() {
    // Range [−1, 2]: scale 3/255, zero point 85; the other elements sit mid-step.
    let x: Vec<f32> = [-85.0, 170.0, 10.25, -30.3, 77.7, 0.6]
        .iter()
        .map(|v| v / 85.0)
        .collect();
    let dq = || node("DynamicQuantizeLinear", &["x"], "q,s,z", vec![]);
    let tail = |int: &'static str| {
        vec![
            node(
                "Cast",
                Box::leak(Box::new([int])),
                "f",
                vec![("to", Attr::I(1))],
            ),
            node("Mul", &["s", "ws"], "sw", vec![]),
            node("Mul", &["f", "sw"], "y", vec![]),
        ]
    };
    let mut nodes = vec![dq()];
    nodes.push(node("MatMulInteger", &["q", "w", "z", "wz"], "i", vec![]));
    nodes.extend(tail("i"));
    let p = write(
        "dyn-matmul",
        &model(
            ("x", &[1, 6]),
            ("y", &[1, 2]),
            &nodes,
            vec![
                tensor_int(
                    "w",
                    &[6, 2],
                    3,
                    vec![12, -7, 100, -128, 5, 33, 64, -1, -90, 7, 127, 0],
                ),
                tensor_int("wz", &[2], 3, vec![0, 3]),
                tensor("ws", &[], vec![0.004]),
            ],
        ),
    );
    agrees_with_tract(&p, &[1, 6], &x, 2e-3);
    let mut nodes = vec![dq()];
    nodes.push(node(
        "ConvInteger",
        &["q", "w", "z"],
        "i",
        vec![("kernel_shape", Attr::Ints(vec![1, 2]))],
    ));
    nodes.extend(tail("i"));
    let p = write(
        "dyn-conv",
        &model(
            ("x", &[1, 1, 2, 3]),
            ("y", &[1, 2, 2, 2]),
            &nodes,
            vec![
                tensor_int("w", &[2, 1, 1, 2], 3, vec![12, -7, 100, -128]),
                tensor("ws", &[], vec![0.004]),
            ],
        ),
    );
    agrees_with_tract(&p, &[1, 1, 2, 3], &x, 2e-3);
}

/// onnxruntime's QOperator format: each operator its float operator between
/// `DequantizeLinear` and `QuantizeLinear`. `QLinearMatMul` and `QLinearConv` (with an int32
/// bias) against tract; onnxruntime's `com.microsoft` `QLinearAdd`, `QLinearSigmoid`,
/// `QLinearConcat` and `QGemm` against onnxruntime 1.20's outputs for the same graph.
#[test]
fn qoperator_format_matches_tract_and_onnxruntime_and_proves() {
    let u8s = |n: &str, v: Vec<i32>| tensor_int(n, &[], 2, v);
    let p = write(
        "qop-std",
        &model(
            ("x", &[1, 1, 2, 2]),
            ("y", &[1, 2, 2, 2]),
            &[
                node("QuantizeLinear", &["x", "sx", "zx"], "q", vec![]),
                node(
                    "QLinearConv",
                    &["q", "sx", "zx", "w", "sw", "zw", "sc", "zc", "b"],
                    "c",
                    vec![("kernel_shape", Attr::Ints(vec![1, 1]))],
                ),
                node(
                    "QLinearMatMul",
                    &["c", "sc", "zc", "m", "sm", "zm", "sy", "zy"],
                    "mm",
                    vec![],
                ),
                node("DequantizeLinear", &["mm", "sy", "zy"], "y", vec![]),
            ],
            vec![
                tensor("sx", &[], vec![0.02]),
                u8s("zx", vec![128]),
                tensor_int("w", &[2, 1, 1, 1], 3, vec![90, -60]),
                tensor("sw", &[2], vec![0.01, 0.02]),
                tensor_int("zw", &[2], 3, vec![0, 0]),
                tensor("sc", &[], vec![0.03]),
                u8s("zc", vec![100]),
                tensor_int("b", &[2], 6, vec![500, -300]),
                tensor_int("m", &[2, 2], 3, vec![50, -20, 7, 90]),
                tensor("sm", &[], vec![0.01]),
                tensor_int("zm", &[], 3, vec![0]),
                tensor("sy", &[], vec![0.005]),
                u8s("zy", vec![120]),
            ],
        ),
    );
    // x/0.02 mid-step: 45.3, −20.3, 15.3, 85.3.
    agrees_with_tract(&p, &[1, 1, 2, 2], &[0.906, -0.406, 0.306, 1.706], 0.0051);
    let p = write(
        "qop-ms",
        &model(
            ("x", &[1, 4]),
            ("y", &[1, 11]),
            &[
                node("QuantizeLinear", &["x", "s_x", "z_x"], "q", vec![]),
                node(
                    "QLinearAdd",
                    &["q", "s_x", "z_x", "cq", "s_c", "z_c", "s_a", "z_a"],
                    "a",
                    vec![],
                ),
                node(
                    "QLinearSigmoid",
                    &["a", "s_a", "z_a", "s_s", "z_s"],
                    "s",
                    vec![],
                ),
                node(
                    "QLinearConcat",
                    &["s_y", "z_y", "s", "s_s", "z_s", "a", "s_a", "z_a"],
                    "cc",
                    vec![("axis", Attr::I(1))],
                ),
                node(
                    "QGemm",
                    &["s", "s_s", "z_s", "wq", "s_w", "z_w", "bq", "s_g", "z_g"],
                    "g",
                    vec![],
                ),
                node("DequantizeLinear", &["cc", "s_y", "z_y"], "y1", vec![]),
                node("DequantizeLinear", &["g", "s_g", "z_g"], "y2", vec![]),
                node("Concat", &["y1", "y2"], "y", vec![("axis", Attr::I(1))]),
            ],
            vec![
                tensor("s_x", &[], vec![0.02]),
                u8s("z_x", vec![128]),
                tensor_int("cq", &[4], 2, vec![10, 200, 90, 150]),
                tensor("s_c", &[], vec![0.01]),
                u8s("z_c", vec![100]),
                tensor("s_a", &[], vec![0.03]),
                u8s("z_a", vec![120]),
                tensor("s_s", &[], vec![1.0 / 256.0]),
                u8s("z_s", vec![0]),
                tensor("s_y", &[], vec![0.015]),
                u8s("z_y", vec![5]),
                tensor_int(
                    "wq",
                    &[4, 3],
                    3,
                    vec![3, -7, 12, -100, 5, 9, 60, -2, -30, 8, 77, -1],
                ),
                tensor("s_w", &[], vec![0.004]),
                tensor_int("z_w", &[], 3, vec![0]),
                tensor_int("bq", &[3], 6, vec![100, -50, 7]),
                tensor("s_g", &[], vec![0.01]),
                u8s("z_g", vec![128]),
            ],
        ),
    );
    let x = [0.9, -0.4, 0.3, 1.7];
    // onnxruntime 1.20 on the same graph (com.microsoft domain).
    let ort = [
        0.495, 0.645, 0.555, 0.9, 0.0, 0.6, 0.21, 2.19, -0.09, 0.27, -0.02,
    ];
    matches_reference(&p, &x, &ort, 1e-4);
}

/// Operators ONNX defines as compositions, against ONNX's reference evaluator (onnx 1.17;
/// onnxruntime agrees within 5e-7): GroupNormalization (opset 21, per-channel scale),
/// LpPool with p = 2 and p = 3, CenterCropPad padding one axis and cropping another,
/// LayerNormalization's three outputs, and EyeLike added to the input.
#[test]
fn composite_operators_match_the_reference_and_prove() {
    let reshape = |i: &'static str, o: &'static str| {
        node("Reshape", Box::leak(Box::new([i, "flat"])), o, vec![])
    };
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let mut nodes = vec![
        node(
            "GroupNormalization",
            &["x", "gs", "gb"],
            "g",
            vec![("num_groups", Attr::I(2)), ("epsilon", Attr::F(1e-5))],
        ),
        node(
            "LpPool",
            &["x"],
            "l2",
            vec![("kernel_shape", ints(&[2, 2])), ("p", Attr::I(2))],
        ),
        node(
            "LpPool",
            &["x"],
            "l3",
            vec![
                ("kernel_shape", ints(&[1, 2])),
                ("strides", ints(&[1, 2])),
                ("p", Attr::I(3)),
            ],
        ),
        node(
            "CenterCropPad",
            &["x", "ccs"],
            "cc",
            vec![("axes", ints(&[2, 3]))],
        ),
        node(
            "LayerNormalization",
            &["x", "ls", "lb"],
            "ln,lm,li",
            vec![("axis", Attr::I(2))],
        ),
        node("Reshape", &["x", "sh2"], "x2d", vec![]),
        node("EyeLike", &["x2d"], "eye", vec![("k", Attr::I(1))]),
        node("Add", &["x2d", "eye"], "xe", vec![]),
    ];
    let outs = ["g", "l2", "l3", "cc", "ln", "lm", "li", "xe"];
    let flats = [
        "g_f", "l2_f", "l3_f", "cc_f", "ln_f", "lm_f", "li_f", "xe_f",
    ];
    for (o, f) in outs.iter().zip(flats) {
        nodes.push(reshape(o, f));
    }
    nodes.push(node("Concat", &flats, "y", vec![("axis", Attr::I(1))]));
    let p = write(
        "composite",
        &model(
            ("x", &[1, 4, 2, 2]),
            ("y", &[1, 80]),
            &nodes,
            vec![
                tensor("gs", &[4], vec![1.0, 0.5, 2.0, -1.0]),
                tensor("gb", &[4], vec![0.1, 0.0, -0.2, 0.3]),
                common::onnx::tensor_i64_shaped("ccs", &[2], vec![3, 1]),
                tensor("ls", &[2, 2], vec![1.0, 2.0, 0.5, -1.0]),
                tensor("lb", &[2, 2], vec![0.0, 0.1, 0.2, 0.3]),
                common::onnx::tensor_i64_shaped("flat", &[2], vec![1, -1]),
                common::onnx::tensor_i64_shaped("sh2", &[2], vec![4, 4]),
            ],
        ),
    );
    let x8 = [0.9, -0.4, 0.3, 1.7, -1.2, 0.05, 0.6, -0.8];
    let x: Vec<f32> = x8
        .iter()
        .copied()
        .chain(x8.iter().map(|v| v * 0.5 + 0.1))
        .collect();
    let reference = [
        0.957159, -0.516305, 0.277099, 1.863907, -0.761526, -0.053130, 0.258565, -0.534839,
        1.514286, -1.432586, 0.154191, 3.327745, 1.823023, 0.406257, -0.217119, 1.369658, 1.987461,
        1.562850, 1.130265, 0.718070, 0.925602, 1.703109, 1.200029, 0.899588, 0.551100, 0.955736,
        0.502591, 0.449794, 0.900000, 0.300000, 0.000000, -1.200000, 0.600000, 0.000000, 0.550000,
        0.250000, 0.000000, -0.500000, 0.400000, 0.000000, 0.355949, -2.553435, -0.010333,
        -1.091436, -1.223769, 1.199619, 0.865092, 0.956224, 0.355940, -2.553369, -0.010328,
        -1.091401, -1.223732, 1.199585, 0.865072, 0.956204, 0.625000, -0.337500, 0.412500,
        -0.068750, 1.294359, 1.418863, 2.588653, 2.837640, 0.900000, 0.600000, 0.300000, 1.700000,
        -1.200000, 0.050000, 1.600000, -0.800000, 0.550000, -0.100000, 0.250000, 1.950000,
        -0.500000, 0.125000, 0.400000, -0.300000,
    ];
    matches_reference(&p, &x, &reference, 5e-3);
}

/// Evaluation losses against ONNX's reference evaluator (onnxruntime agrees within 3e-7):
/// NegativeLogLikelihoodLoss with constant targets, class weights, an ignored position and a
/// weighted mean; SoftmaxCrossEntropyLoss summed, with its log-probabilities, and
/// NegativeLogLikelihoodLoss per position, both on targets computed by an ArgMax.
#[test]
fn losses_match_the_reference_and_prove() {
    let p = write(
        "losses",
        &model(
            ("x", &[2, 3, 2]),
            ("y", &[1, 18]),
            &[
                node(
                    "NegativeLogLikelihoodLoss",
                    &["x", "tc", "w"],
                    "nc",
                    vec![
                        ("ignore_index", Attr::I(-1)),
                        ("reduction", Attr::S("mean")),
                    ],
                ),
                node(
                    "ArgMax",
                    &["x"],
                    "td",
                    vec![("axis", Attr::I(1)), ("keepdims", Attr::I(0))],
                ),
                node(
                    "SoftmaxCrossEntropyLoss",
                    &["x", "td"],
                    "sl,lp",
                    vec![("reduction", Attr::S("sum"))],
                ),
                node(
                    "NegativeLogLikelihoodLoss",
                    &["x", "td"],
                    "nn",
                    vec![("reduction", Attr::S("none"))],
                ),
                node("Reshape", &["nc", "one"], "ncf", vec![]),
                node("Reshape", &["sl", "one"], "slf", vec![]),
                node("Reshape", &["lp", "flat"], "lpf", vec![]),
                node("Reshape", &["nn", "flat"], "nnf", vec![]),
                node(
                    "Concat",
                    &["ncf", "slf", "lpf", "nnf"],
                    "y",
                    vec![("axis", Attr::I(1))],
                ),
            ],
            vec![
                common::onnx::tensor_i64_shaped("tc", &[2, 2], vec![2, -1, 0, 1]),
                tensor("w", &[3], vec![0.5, 1.0, 2.0]),
                common::onnx::tensor_i64_shaped("one", &[2], vec![1, 1]),
                common::onnx::tensor_i64_shaped("flat", &[2], vec![1, -1]),
            ],
        ),
    );
    let x = [
        0.9, -0.4, 0.3, 1.7, -1.2, 0.05, 0.6, -0.8, 0.2, 1.1, -0.7, 0.45,
    ];
    let reference = [
        0.285714, 1.964991, -0.513583, -2.373461, -1.113583, -0.273461, -2.613583, -1.923461,
        -0.664157, -2.413790, -1.064157, -0.513790, -1.964157, -1.163790, -0.900000, -1.700000,
        -0.600000, -1.100000,
    ];
    matches_reference(&p, &x, &reference, 5e-3);
}

/// A mean over 2,304 elements weighs each by 1/2304, which at the parameter scale (13 bits)
/// is 3.56/2^13 and rounded to 4: the mean was 12 % off. Weights get the bits their rounding
/// needs. `x^4` is two squarings, not a table coarse at small values.
#[test]
fn means_over_many_elements_and_whole_powers_match_tract() {
    let p = write(
        "mean-many",
        &model(
            ("x", &[1, 1, 48, 48]),
            ("y", &[1, 2]),
            &[
                node("ReduceMean", &["x"], "m", vec![("keepdims", Attr::I(0))]),
                node("Pow", &["x", "four"], "x4", vec![]),
                node("ReduceMean", &["x4"], "m4", vec![("keepdims", Attr::I(0))]),
                node("Reshape", &["m", "one"], "mf", vec![]),
                node("Reshape", &["m4", "one"], "m4f", vec![]),
                node("Concat", &["mf", "m4f"], "y", vec![("axis", Attr::I(1))]),
            ],
            vec![
                tensor("four", &[], vec![4.0]),
                common::onnx::tensor_i64_shaped("one", &[2], vec![1, 1]),
            ],
        ),
    );
    let x: Vec<f32> = rand_vec(7, 48 * 48, 1.0).iter().map(|v| v + 0.5).collect();
    agrees_with_tract(&p, &[1, 1, 48, 48], &x, 2e-3);
}

/// A mean's weights are all `1/n`: their rounding scales the whole output rather than
/// averaging out. Ten values near 2 at the default scales: `0.1` held as 819/2^13 made the
/// mean 4.9e-4 small (four output steps); held to 2^−14 of itself it errs by the output's
/// rounding and 1.2e-4 more at most. A LayerNorm over ten features, whose mean and variance
/// both scale by `0.1`, stays within 3e-4 of tract (5.8e-4 before on this input).
#[test]
fn a_mean_over_ten_values_is_scaled_by_a_precise_tenth() {
    let p = write(
        "mean-ten",
        &model(
            ("x", &[1, 10]),
            ("y", &[1, 1]),
            &[node("ReduceMean", &["x", "ax"], "y", vec![])],
            vec![common::onnx::tensor_i64_shaped("ax", &[1], vec![1])],
        ),
    );
    let x: Vec<f32> = rand_vec(11, 10, 0.01).iter().map(|v| v + 2.0).collect();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / 10.0;
    matches_reference(&p, &x, &[mean], 2.5e-4);
    let ln = write(
        "layernorm-ten",
        &model(
            ("x", &[1, 10, 10]),
            ("y", &[1, 10, 10]),
            &[node("LayerNormalization", &["x", "g", "b"], "y", vec![])],
            vec![
                tensor("g", &[10], vec![1.0; 10]),
                tensor("b", &[10], vec![0.0; 10]),
            ],
        ),
    );
    let x = rand_vec(5, 100, 2.5);
    agrees_with_tract(&ln, &[1, 10, 10], &x, 3e-4);
}

/// torch's LPPool export: the pooled powers pass through `sign(s)·relu(|s|)` (which is `s`)
/// before their root. Read as `s`, the square root takes the pooled squares at twice the
/// activations' precision: a 2-norm of inputs near 0.04 errs by its rounding (it erred 2e-4
/// through the sign, the absolute value and the product, EZKL 6e-5).
#[test]
fn torch_lp_pool_reads_the_pooled_powers_at_double_precision() {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let p = write(
        "lp-pool-torch",
        &model(
            ("x", &[1, 3, 2, 2]),
            ("y", &[1, 3, 2, 2]),
            &[
                node("Pow", &["x", "two"], "p", vec![]),
                node(
                    "AveragePool",
                    &["p"],
                    "a",
                    vec![("kernel_shape", ints(&[1, 1]))],
                ),
                node("Sign", &["a"], "sg", vec![]),
                node("Abs", &["a"], "ab", vec![]),
                node("Relu", &["ab"], "rl", vec![]),
                node("Mul", &["sg", "rl"], "m", vec![]),
                node("Pow", &["m", "half"], "y", vec![]),
            ],
            vec![
                tensor("two", &[], vec![2.0]),
                tensor("half", &[], vec![0.5]),
            ],
        ),
    );
    let x: Vec<f32> = (0..12).map(|i| 0.03 + 0.07 * i as f32).collect();
    agrees_with_tract(&p, &[1, 3, 2, 2], &x, 6e-5);
}

/// tf2onnx's patterns for Keras layers: a LayerNormalization written as a BatchNormalization
/// whose mean and variance are computed (ReduceMean of the input and of its square), a
/// recurrence's first Gemm and Conv of constants (its zero initial state times the recurrent
/// weights: SimpleRNN, ConvLSTM2D) and ReverseSequence (a backwards LSTM). Each was refused.
#[test]
fn tf2onnx_patterns_match_tract_and_prove() {
    let axes = common::onnx::tensor_i64_shaped("axes", &[2], vec![0, 2]);
    let lens = common::onnx::tensor_i64_shaped("lens", &[1], vec![3]);
    let keep0 = || vec![("keepdims", Attr::I(0))];
    let p = write(
        "tf2onnx-patterns",
        &model(
            ("x", &[1, 3, 4]),
            ("y", &[1, 3, 4]),
            &[
                node("ReduceMean", &["x", "axes"], "m", keep0()),
                node("Mul", &["x", "x"], "sq", vec![]),
                node("ReduceMean", &["sq", "axes"], "ms", keep0()),
                node("Mul", &["m", "m"], "m2", vec![]),
                node("Sub", &["ms", "m2"], "var", vec![]),
                node(
                    "BatchNormalization",
                    &["x", "gamma", "beta", "m", "var"],
                    "bn",
                    vec![("epsilon", Attr::F(1e-3))],
                ),
                node("Gemm", &["h0", "wr"], "g", vec![("transB", Attr::I(1))]),
                node("Conv", &["c0", "wc", "bc"], "cv", vec![]),
                node("Add", &["bn", "g"], "s1", vec![]),
                node("Add", &["s1", "cv"], "s2", vec![]),
                node(
                    "ReverseSequence",
                    &["s2", "lens"],
                    "y",
                    vec![("batch_axis", Attr::I(0)), ("time_axis", Attr::I(1))],
                ),
            ],
            vec![
                axes,
                lens,
                tensor("gamma", &[3], vec![1.0, 0.5, 2.0]),
                tensor("beta", &[3], vec![0.0, 0.1, -0.2]),
                tensor("h0", &[1, 2], vec![0.5, -0.25]),
                tensor("wr", &[4, 2], rand_vec(11, 8, 1.0)),
                tensor("c0", &[1, 3, 4], rand_vec(12, 12, 1.0)),
                tensor("wc", &[3, 3, 1], rand_vec(13, 9, 0.5)),
                tensor("bc", &[3], vec![0.2, 0.0, -0.1]),
            ],
        ),
    );
    let x = rand_vec(14, 12, 1.0);
    // tract refuses a BatchNormalization of computed statistics: the reference by hand.
    let f = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
    let (xs, wr, c0, wc) = (
        f(&x),
        f(&rand_vec(11, 8, 1.0)),
        f(&rand_vec(12, 12, 1.0)),
        f(&rand_vec(13, 9, 0.5)),
    );
    let (gamma, beta, h0, bc) = (
        [1.0, 0.5, 2.0],
        [0.0, 0.1, -0.2],
        [0.5, -0.25],
        [0.2, 0.0, -0.1],
    );
    let mut s2 = [0f64; 12];
    for c in 0..3 {
        let row = &xs[c * 4..c * 4 + 4];
        let m = row.iter().sum::<f64>() / 4.0;
        let var = row.iter().map(|v| v * v).sum::<f64>() / 4.0 - m * m;
        for l in 0..4 {
            let bn = gamma[c] * (row[l] - m) / (var + 1e-3).sqrt() + beta[c];
            let g: f64 = (0..2).map(|k| h0[k] * wr[l * 2 + k]).sum();
            let cv: f64 = bc[c] + (0..3).map(|i| wc[c * 3 + i] * c0[i * 4 + l]).sum::<f64>();
            s2[c * 4 + l] = bn + g + cv;
        }
    }
    let reference: Vec<f64> = (0..12).map(|i| s2[(2 - i / 4) * 4 + i % 4]).collect();
    matches_reference(&p, &x, &reference, 5e-3);
}

/// LayerNorm as exporters write it unfused (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div;
/// torch below opset 17, RMSNorm everywhere): the variance is a mean of squares and keeps
/// twice the activations' precision, as the fused operator's does. A row of standard deviation
/// 0.01 (a ViT's class token is 0.03) has a variance of less than one step at the activations'
/// scale: its normalised values (±1.7) were off by 0.11 before, 0.02 now (the input's own
/// rounding over a standard deviation of 0.01).
#[test]
fn unfused_layer_norm_of_a_narrow_row_matches_tract() {
    let axes = common::onnx::tensor_i64_shaped("axes", &[1], vec![-1]);
    let p = write(
        "unfused-ln",
        &model(
            ("x", &[1, 4, 32]),
            ("y", &[1, 4, 32]),
            &[
                node("ReduceMean", &["x", "axes"], "m", vec![]),
                node("Sub", &["x", "m"], "d", vec![]),
                node("Pow", &["d", "two"], "d2", vec![]),
                node("ReduceMean", &["d2", "axes"], "var", vec![]),
                node("Add", &["var", "eps"], "ve", vec![]),
                node("Sqrt", &["ve"], "sd", vec![]),
                node("Div", &["d", "sd"], "y", vec![]),
            ],
            vec![
                axes,
                tensor("two", &[], vec![2.0]),
                tensor("eps", &[], vec![1e-5]),
            ],
        ),
    );
    // Rows of standard deviation about 0.01, 0.5, 0.05 and 1.
    let x: Vec<f32> = rand_vec(21, 128, 1.0)
        .iter()
        .enumerate()
        .map(|(i, v)| v * [0.017, 0.9, 0.09, 1.7][i / 32] + 0.2)
        .collect();
    agrees_with_tract(&p, &[1, 4, 32], &x, 0.03);
}

/// SiLU (`Sigmoid`, `Mul`) and GELU as exporters write it before opset 20 (`Div`, `Erf`,
/// `Add`, `Mul`, `Mul`) are each one function of one tensor: each is proven by one table of
/// its composite (no product of tensors and no table of a sigmoid or an erf is left), agrees
/// with tract, and a changed value of the composite's lookup fails the circuit.
#[test]
fn activation_chains_of_one_tensor_are_one_table_each() {
    let p = write(
        "silu-gelu",
        &model(
            ("x", &[1, 8]),
            ("y", &[1, 8]),
            &[
                node("MatMul", &["x", "w1"], "h", vec![]),
                node("Sigmoid", &["h"], "s", vec![]),
                node("Mul", &["h", "s"], "a", vec![]),
                node("MatMul", &["a", "w2"], "g", vec![]),
                node("Div", &["g", "sq2"], "d", vec![]),
                node("Erf", &["d"], "e", vec![]),
                node("Add", &["e", "one"], "e1", vec![]),
                node("Mul", &["g", "e1"], "m", vec![]),
                node("Mul", &["m", "half"], "y", vec![]),
            ],
            vec![
                tensor("w1", &[8, 8], rand_vec(31, 64, 0.6)),
                tensor("w2", &[8, 8], rand_vec(32, 64, 0.6)),
                tensor("sq2", &[], vec![std::f32::consts::SQRT_2]),
                tensor("one", &[], vec![1.0]),
                tensor("half", &[], vec![0.5]),
            ],
        ),
    );
    let x = rand_vec(33, 8, 2.0);
    let c = compile(&p, &x);
    assert!(
        !c.model
            .nodes
            .iter()
            .any(|n| matches!(n.op, QOp::Bilinear { .. }) && n.op_type == "Mul"),
        "no product of an activation chain is left"
    );
    let names: Vec<String> = c.model.tables.iter().map(|t| t.f.name().into()).collect();
    assert!(names.iter().any(|n| n == "x·sigmoid(x)"), "{names:?}");
    assert!(names.iter().any(|n| n.contains("erf(")), "{names:?}");
    assert!(
        names.iter().all(|n| n != "sigmoid" && n != "erf"),
        "{names:?}"
    );
    agrees_with_tract(&p, &[1, 8], &x, 2e-3);
    assert_gadget_sound(&p, &x, |op| matches!(op, QOp::Lookup { .. }), &[1, -1]);
    // Unfused (a step of `--target accuracy`), the chains are their parts again.
    let parts = Model::load(&p)
        .expect("import")
        .compile(
            std::slice::from_ref(&x),
            QuantSettings {
                unfused: true,
                ..QuantSettings::default()
            },
        )
        .expect("compile unfused");
    let names: Vec<String> = parts
        .model
        .tables
        .iter()
        .map(|t| t.f.name().into())
        .collect();
    assert!(names.iter().any(|n| n == "sigmoid"), "{names:?}");
    assert!(parts
        .model
        .nodes
        .iter()
        .any(|n| matches!(n.op, QOp::Bilinear { .. }) && n.op_type == "Mul"));
}

/// A residual block ending `relu(conv(x) + x)`: the sum reads the convolution's accumulator
/// unrounded (an identity rescale, no rows) and rounds once, in the rescale its ReLU needs;
/// it agrees with tract, a changed sum or output fails the circuit, and without the ReLU the
/// convolution is rounded as before (moving the rounding would save nothing there).
#[test]
fn a_residual_sum_with_a_relu_rounds_its_convolution_once() {
    let block = |relu: bool| {
        let mut nodes = vec![
            node(
                "Conv",
                &["x", "w", "b"],
                "c",
                vec![
                    ("kernel_shape", Attr::Ints(vec![3, 3])),
                    ("pads", Attr::Ints(vec![1, 1, 1, 1])),
                ],
            ),
            node("Add", &["c", "x"], if relu { "s" } else { "y" }, vec![]),
        ];
        if relu {
            nodes.push(node("Relu", &["s"], "y", vec![]));
        }
        model(
            ("x", &[1, 2, 4, 4]),
            ("y", &[1, 2, 4, 4]),
            &nodes,
            vec![
                tensor("w", &[2, 2, 3, 3], rand_vec(41, 36, 0.4)),
                tensor("b", &[2], vec![0.1, -0.2]),
            ],
        )
    };
    let x = rand_vec(42, 32, 1.0);
    let rounded = |c: &CompiledModel| {
        c.model
            .nodes
            .iter()
            .filter(|n| n.op_type.starts_with("Conv"))
            .filter(|n| matches!(n.op, QOp::Rescale { shift, .. } if shift > 0))
            .count()
    };
    let p = write("residual-relu", &block(true));
    let c = compile(&p, &x);
    assert_eq!(
        rounded(&c),
        0,
        "the convolution's accumulator is not rounded"
    );
    let sum = c
        .model
        .nodes
        .iter()
        .position(|n| n.op_type == "Add" && matches!(n.op, QOp::Linear { .. }))
        .expect("the sum's map");
    let read = c.model.nodes[sum].inputs[0];
    assert!(
        c.model.passes_through(&c.model.nodes[read]),
        "the sum reads the accumulator through an identity"
    );
    agrees_with_tract(&p, &[1, 2, 4, 4], &x, 2e-3);
    // For gas every map is rounded at the map: the lean layout would check an unrounded
    // accumulator at its full width.
    let gas = Model::load(&p)
        .expect("import")
        .compile_planned(
            std::slice::from_ref(&x),
            QuantSettings::default(),
            zkonnx::Visibility::default(),
            zkonnx::Objective::Gas,
        )
        .expect("compile for gas");
    assert_eq!(rounded(&gas), 1, "for gas, rounded at the map");
    // The sum (the map of two inputs) and its rescale.
    let two_inputs = |op: &QOp| match op {
        QOp::Linear { map } => map
            .groups
            .iter()
            .any(|g| g.inputs.iter().flatten().any(|&(s, _)| s == 1)),
        _ => false,
    };
    assert_gadget_sound(&p, &x, two_inputs, &[1, -1]);
    assert_gadget_sound(
        &p,
        &x,
        |op| matches!(op, QOp::Rescale { relu: true, .. }),
        &[1, -1],
    );
    let plain = write("residual-plain", &block(false));
    assert_eq!(
        rounded(&compile(&plain, &x)),
        1,
        "without a ReLU, rounded as before"
    );
    agrees_with_tract(&plain, &[1, 2, 4, 4], &x, 2e-3);
    // A downsampling block's sum of two convolutions (a 3×3 and a 1×1 shortcut, both of
    // stride 2) takes both unrounded; the 1×1's weights are whole (its accumulator at the
    // activations' scale), so the sum brings it to the 3×3's scale.
    let down = write(
        "residual-down",
        &model(
            ("x", &[1, 2, 4, 4]),
            ("y", &[1, 3, 2, 2]),
            &[
                node(
                    "Conv",
                    &["x", "w", "b"],
                    "c",
                    vec![
                        ("kernel_shape", Attr::Ints(vec![3, 3])),
                        ("pads", Attr::Ints(vec![1, 1, 1, 1])),
                        ("strides", Attr::Ints(vec![2, 2])),
                    ],
                ),
                node(
                    "Conv",
                    &["x", "wd"],
                    "d",
                    vec![
                        ("kernel_shape", Attr::Ints(vec![1, 1])),
                        ("strides", Attr::Ints(vec![2, 2])),
                    ],
                ),
                node("Add", &["c", "d"], "s", vec![]),
                node("Relu", &["s"], "y", vec![]),
            ],
            vec![
                tensor("w", &[3, 2, 3, 3], rand_vec(43, 54, 0.4)),
                tensor("b", &[3], vec![0.3, -0.2, 0.1]),
                tensor("wd", &[3, 2, 1, 1], vec![1.0, -1.0, 2.0, 1.0, -2.0, 1.0]),
            ],
        ),
    );
    let c = compile(&down, &x);
    assert_eq!(rounded(&c), 0, "neither convolution is rounded");
    let scales: Vec<u32> = c
        .model
        .nodes
        .iter()
        .filter(|n| c.model.passes_through(n))
        .map(|n| n.scale)
        .collect();
    assert!(
        scales.len() == 2 && scales[0] != scales[1],
        "two unrounded accumulators at different scales: {scales:?}"
    );
    agrees_with_tract(&down, &[1, 2, 4, 4], &x, 2e-3);
    assert_gadget_sound(&down, &x, two_inputs, &[1, -1]);
    assert_gadget_sound(
        &down,
        &x,
        |op| matches!(op, QOp::Rescale { relu: true, .. }),
        &[1, -1],
    );
}
