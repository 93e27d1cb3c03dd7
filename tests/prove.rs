//! End-to-end proofs through the library API, and the circuit against the reference executor.

mod common;

use std::sync::Arc;

use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::float_ref::FloatReference;
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{data, fidelity, CompiledModel, Model, Prover, QuantSettings};

fn compile_shared(name: &str) -> (Model, CompiledModel, Vec<f32>) {
    let dir = common::shared_models();
    let model = Model::load(dir.join(format!("{name}.onnx"))).expect("import");
    let x = data::read_input(&dir.join(format!("{name}.input.json"))).expect("input");
    let compiled = model
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    (model, compiled, x)
}

/// MockProver accepts the circuit with the executor's outputs as instances, and rejects it
/// when any single output instance is changed: the circuit's outputs are the reference
/// executor's, bit for bit.
fn assert_circuit_matches_executor(compiled: &CompiledModel, x: &[f32]) {
    let trace = Arc::new(compiled.witness(x).expect("witness"));
    let instances = ModelCircuit::instances(&compiled.model, &compiled.plan.shape, &trace);
    let n_in = compiled.settings.num_inputs;
    let expected: Vec<Fr> = trace
        .output(&compiled.model)
        .iter()
        .map(|&v| zkonnx::circuits::chips::fe(i128::from(v)))
        .collect();
    assert_eq!(&instances[n_in..], &expected[..]);
    let circuit = ModelCircuit::with_trace(compiled.model.clone(), compiled.plan.clone(), trace);
    let k = compiled.k();
    let columns = |v: &[Fr]| ModelCircuit::instance_columns(&compiled.plan.shape, v);
    MockProver::run(k, &circuit, columns(&instances))
        .expect("synthesis")
        .assert_satisfied();
    for i in [n_in, instances.len() - 1] {
        let mut bad = instances.clone();
        bad[i] += Fr::one();
        let p = MockProver::run(k, &circuit, columns(&bad)).expect("synthesis");
        assert!(
            p.verify().is_err(),
            "output instance {i} changed by one must not satisfy the circuit"
        );
    }
    // A changed public input must not satisfy it either.
    let mut bad = instances;
    bad[0] += Fr::one();
    assert!(MockProver::run(k, &circuit, columns(&bad))
        .expect("synthesis")
        .verify()
        .is_err());
}

/// An output holding constants beside computed values (a Concat with an initializer): import
/// puts an identity on the rewired output, and the layout must give it cells of its own rather
/// than pass the constants through (an identity rescale takes no rows only when it reads a
/// linear map's accumulators). Proves, verifies, and its constant elements are bound: a changed
/// constant output instance fails.
#[test]
fn an_output_holding_constants_proves() {
    use common::onnx::{model, node, rand_vec, tensor, Attr};
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 9]),
        &[
            node("MatMul", &["x", "w"], "m", vec![]),
            node("Relu", &["m"], "r", vec![]),
            node("Concat", &["r", "c"], "y", vec![("axis", Attr::I(1))]),
        ],
        vec![
            tensor("w", &[4, 3], rand_vec(5, 12, 0.7)),
            tensor("c", &[1, 6], rand_vec(6, 6, 1.0)),
        ],
    );
    let (_, samples, compiled) = common::compile_built("const-out", bytes, (40, 4, 4));
    // The last output instance is a constant element: changing it must fail (checked inside).
    assert_circuit_matches_executor(&compiled, &samples[0]);
    let prover = Prover::setup(compiled.clone(), dev_srs(compiled.k(), 7)).expect("setup");
    let proof = prover.prove(&samples[0]).expect("prove");
    let path = std::path::Path::new("proof.json");
    assert!(zkonnx::verify(
        &prover.verifier_key(),
        &compiled.settings,
        &proof.to_file(),
        path
    )
    .expect("verify"));
}

#[test]
fn mlp_digits_circuit_equals_reference_executor() {
    let (_, compiled, x) = compile_shared("mlp_digits");
    assert_circuit_matches_executor(&compiled, &x);
}

#[test]
fn every_milestone_operator_proves_and_matches_the_float_model() {
    let (path, samples, compiled) =
        common::compile_built("mixed", common::onnx::mixed_model(), (100, 8, 8));
    let reference = FloatReference::load(&path, &compiled.settings.input_shape).expect("tract");
    for x in &samples {
        let t = compiled.witness(x).expect("witness");
        let out = compiled.model.dequantize_output(t.output(&compiled.model));
        let f = fidelity::compare(&out, &reference.run(x).expect("tract run"));
        assert!(f.max_abs_err < 0.01, "max abs err {}", f.max_abs_err);
    }
    assert_circuit_matches_executor(&compiled, &samples[0]);
}

#[test]
fn mlp_digits_proves_verifies_and_rejects_tampering() {
    let (_, compiled, x) = compile_shared("mlp_digits");
    let params = dev_srs(compiled.k(), 7);
    let prover = Prover::setup(compiled.clone(), params).expect("setup");
    let proof = prover.prove(&x).expect("prove");
    let reference = data::read_output(&common::shared_models().join("mlp_digits.output.json"))
        .expect("reference");
    let fid = fidelity::compare(&proof.outputs, &reference);
    assert!(fid.max_abs_err <= 0.05, "max abs err {}", fid.max_abs_err);
    assert!(fid.argmax_agrees);

    let vk = prover.verifier_key();
    let path = std::path::Path::new("proof.json");
    let pf = proof.to_file();
    assert!(zkonnx::verify(&vk, &compiled.settings, &pf, path).expect("verify"));

    // One proof byte flipped.
    let mut bytes = proof.bytes.clone();
    bytes[100] ^= 1;
    let mut bad = pf.clone();
    bad.proof = format!("0x{}", hex::encode(&bytes));
    assert!(!zkonnx::verify(&vk, &compiled.settings, &bad, path).expect("verify"));
    // Truncated proof.
    let mut bad = pf.clone();
    bad.proof = format!("0x{}", hex::encode(&proof.bytes[..proof.bytes.len() / 2]));
    assert!(!zkonnx::verify(&vk, &compiled.settings, &bad, path).expect("verify"));
    // Trailing bytes after a valid proof (one byte, or a second copy): not this proof.
    for extra in [vec![0u8], proof.bytes.clone()] {
        let mut bad = pf.clone();
        bad.proof = format!("0x{}{}", hex::encode(&proof.bytes), hex::encode(&extra));
        assert!(!zkonnx::verify(&vk, &compiled.settings, &bad, path).expect("verify"));
    }
    // One output instance changed, with the outputs field changed to match it.
    let mut inst = proof.instances.clone();
    let last = inst.len() - 1;
    inst[last] += Fr::one();
    let mut bad = pf.clone();
    bad.instances = inst
        .iter()
        .map(zkonnx::prover::artifacts::fr_to_hex)
        .collect();
    bad.outputs[9] += 1.0 / f64::from(compiled.settings.output_scale).exp2();
    assert!(!zkonnx::verify(&vk, &compiled.settings, &bad, path).expect("verify"));
    // The outputs field changed without the instances: rejected as well.
    let mut bad = pf.clone();
    bad.outputs[0] += 0.5;
    assert!(!zkonnx::verify(&vk, &compiled.settings, &bad, path).expect("verify"));

    // The same prover proves a second input without new setup work.
    let x2: Vec<f32> = x.iter().rev().copied().collect();
    let proof2 = prover.prove(&x2).expect("second proof");
    assert!(zkonnx::verify(&vk, &compiled.settings, &proof2.to_file(), path).expect("verify"));
    assert_ne!(proof2.instances, proof.instances);
}

/// Key generation commits small signed columns its own way (`prover::commit`): the keys must
/// be halo2-axiom's own, byte for byte, on a model with weights of both signs (mlp_digits and
/// the lenet's convolutions: fixed columns of small signed weights, selectors, σ).
#[test]
fn keys_equal_halo2_axioms_own_byte_for_byte() {
    use zkonnx::halo2_proofs::plonk::keygen_pk2;
    use zkonnx::halo2_proofs::SerdeFormat;
    for name in ["mlp_digits", "lenet"] {
        let (_, compiled, _) = compile_shared(name);
        let params = dev_srs(compiled.k(), 3);
        let ours = zkonnx::prover::keys::keygen(&params, &compiled.circuit()).expect("keygen");
        let theirs = keygen_pk2(&params, &compiled.circuit(), false).expect("halo2 keygen");
        assert!(
            ours.to_bytes(SerdeFormat::RawBytes) == theirs.to_bytes(SerdeFormat::RawBytes),
            "{name}: proving keys differ"
        );
    }
}

#[test]
fn quantized_mlp_digits_agrees_with_float_argmax_on_the_eval_set() {
    let dir = common::shared_models();
    let (inputs, labels) =
        data::read_labelled(&dir.join("mlp_digits.eval.json")).expect("eval set");
    assert_eq!(inputs.len(), 200);
    assert_eq!(labels.len(), 200);
    let model = Model::load(dir.join("mlp_digits.onnx")).expect("import");
    let compiled = model
        .compile(&inputs, QuantSettings::default())
        .expect("compile");
    let reference =
        FloatReference::load(&dir.join("mlp_digits.onnx"), &compiled.settings.input_shape)
            .expect("tract");
    let mut agree = 0;
    for x in &inputs {
        let t = compiled.witness(x).expect("witness");
        let q = compiled.model.dequantize_output(t.output(&compiled.model));
        let f = reference.run(x).expect("float");
        agree += usize::from(fidelity::argmax(&q) == fidelity::argmax(&f));
    }
    assert!(
        agree * 100 >= 99 * inputs.len(),
        "argmax agrees on {agree}/200"
    );
}

#[test]
fn wrong_input_length_is_a_clear_error() {
    let (_, compiled, _) = compile_shared("mlp_digits");
    let err = compiled
        .witness(&[0.5; 63])
        .expect_err("63 values for a 64-value input");
    let msg = err.to_string();
    assert!(msg.contains("63") && msg.contains("64"), "{msg}");
}

#[test]
fn a_witness_outside_the_calibrated_range_is_a_clear_error() {
    let (_, compiled, x) = compile_shared("mlp_digits");
    let big: Vec<f32> = x.iter().map(|v| v * 1000.0 + 50.0).collect();
    let err = compiled.witness(&big).expect_err("far outside calibration");
    let msg = err.to_string();
    assert!(
        msg.contains("outside the calibrated range") && msg.contains("'"),
        "{msg}"
    );
}
