//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod onnx;

use std::path::PathBuf;

/// `../shared/models` beside the checkout.
pub fn shared_models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models")
}

/// Loads `dir/NAME.onnx` and reads its input `dir/NAME.input.json` (panics naming the model).
pub fn load_with_input(dir: &std::path::Path, name: &str) -> (zkonnx::Model, Vec<f32>) {
    let model = zkonnx::Model::load(dir.join(format!("{name}.onnx")))
        .unwrap_or_else(|e| panic!("{name}: import: {e}"));
    let x = zkonnx::data::read_input_for(
        &dir.join(format!("{name}.input.json")),
        &model.input_parts(),
    )
    .unwrap_or_else(|e| panic!("{name}: input: {e}"));
    (model, x)
}

/// `models/` of this repository.
pub fn bundled_models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// A fresh temporary directory under the target directory (unique per call).
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes the small mixed model (`onnx::mixed_model`) as `DIR/mixed.onnx` and one random input
/// (seed `input_seed`) as `DIR/input.json`; returns both paths.
pub fn write_mixed_case(dir: &std::path::Path, input_seed: u64) -> (PathBuf, PathBuf) {
    let model = dir.join("mixed.onnx");
    std::fs::write(&model, onnx::mixed_model()).expect("write model");
    let input = dir.join("input.json");
    let x = onnx::rand_vec(input_seed, 8, 1.0);
    std::fs::write(&input, serde_json::json!({ "input_data": [x] }).to_string())
        .expect("write input");
    (model, input)
}

/// A model a test builds (`bytes`), written as `NAME.onnx` in a fresh temporary directory and
/// compiled with the default settings, calibrated on `count` random inputs of `len` values
/// (seeds `seed`, `seed + 1`, …): the model's path, the inputs and the compilation.
pub fn compile_built(
    name: &str,
    bytes: Vec<u8>,
    (seed, count, len): (u64, u64, usize),
) -> (PathBuf, Vec<Vec<f32>>, zkonnx::CompiledModel) {
    let path = temp_dir(name).join(format!("{name}.onnx"));
    std::fs::write(&path, bytes).expect("write model");
    let model = zkonnx::Model::load(&path).unwrap_or_else(|e| panic!("{name}: import: {e}"));
    let samples: Vec<Vec<f32>> = (0..count)
        .map(|s| onnx::rand_vec(seed + s, len, 1.0))
        .collect();
    let compiled = model
        .compile(&samples, zkonnx::QuantSettings::default())
        .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    (path, samples, compiled)
}

/// `c` with the cheapest of its pooled candidate plans whose packing is at most 2×2, on one
/// range lane: a layout whose snark-verifier verifier fits EIP-170 (it grows with the columns),
/// for the tests that deploy it, whatever the planner's fastest plan is.
pub fn narrowed(mut c: zkonnx::CompiledModel) -> zkonnx::CompiledModel {
    let p = zkonnx::circuits::layout::candidates(&c.model, c.plan.shape.visibility)
        .into_iter()
        .filter(|p| {
            p.shape.lean.is_none()
                && p.shape.accs_per_row * p.shape.inputs_per_row <= 4
                && p.shape.range_lanes == 1
        })
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
        .expect("a narrow plan");
    c.settings.shape = p.shape;
    c.plan = std::sync::Arc::new(p);
    c
}

/// Compiles the model at `path` on `x` with the default settings and returns its quantized
/// output (dequantized), after checking that the honest witness satisfies the circuit under
/// MockProver.
pub fn output_under_mock(path: &std::path::Path, x: &[f32]) -> Vec<f64> {
    use zkonnx::circuits::circuit::ModelCircuit;
    let c = zkonnx::Model::load(path)
        .expect("import")
        .compile(&[x.to_vec()], zkonnx::QuantSettings::default())
        .expect("compile");
    let t = c.witness(x).expect("witness");
    let out = c.model.dequantize_output(t.output(&c.model));
    let inst = ModelCircuit::instances(&c.model, &c.plan.shape, &t);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), std::sync::Arc::new(t));
    mock(&c, &circuit, &inst).verify().expect("honest witness");
    out
}

/// halo2's mock prover on `circuit` (`c`'s, with a witness) claiming the public values
/// `instances`, split over `c`'s instance columns.
pub fn mock(
    c: &zkonnx::CompiledModel,
    circuit: &zkonnx::circuits::circuit::ModelCircuit,
    instances: &[zkonnx::halo2_proofs::halo2curves::bn256::Fr],
) -> zkonnx::halo2_proofs::dev::MockProver<zkonnx::halo2_proofs::halo2curves::bn256::Fr> {
    let columns =
        zkonnx::circuits::circuit::ModelCircuit::instance_columns(&c.plan.shape, instances);
    zkonnx::halo2_proofs::dev::MockProver::run(c.k(), circuit, columns).expect("synthesis")
}

/// [`output_under_mock`], each output within `tol` of `reference`.
pub fn matches_under_mock(path: &std::path::Path, x: &[f32], reference: &[f64], tol: f64) {
    let out = output_under_mock(path, x);
    assert_eq!(out.len(), reference.len(), "output size");
    for (i, (o, r)) in out.iter().zip(reference).enumerate() {
        assert!((o - r).abs() < tol, "output {i}: {o} vs {r}");
    }
}
