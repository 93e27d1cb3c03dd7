//! The Solidity verifier: generated, compiled with the pinned solc-js, run in revm.

mod common;

use zkonnx::evm::{check_deployable, evm_verify, generate_verifier};
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::prover::artifacts::fr_to_hex;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{Model, Prover, QuantSettings};
use zkonnx_evm::consumer::{
    compile_consumer, consumer_deploy_code, getter_calldata, submit_calldata,
};
use zkonnx_evm::{encode_calldata, Evm, Solc};

/// A small model (8 inputs, 3 outputs) whose verifier fits EIP-170.
fn small_prover() -> (Prover, Vec<f32>) {
    let dir = common::temp_dir("evm-small");
    let path = dir.join("mixed.onnx");
    std::fs::write(&path, common::onnx::mixed_model()).expect("write");
    let model = Model::load(&path).expect("import");
    let samples: Vec<Vec<f32>> = (0..4)
        .map(|s| common::onnx::rand_vec(200 + s, 8, 1.0))
        .collect();
    let compiled = model
        .compile(&samples, QuantSettings::default())
        .expect("compile");
    let k = compiled.k();
    (
        Prover::setup(compiled, dev_srs(k, 3)).expect("setup"),
        samples[0].clone(),
    )
}

#[test]
fn evm_verifier_accepts_honest_proofs_and_rejects_tampered_ones() {
    let (prover, x) = small_prover();
    let settings = &prover.compiled().settings;
    let v = generate_verifier(&prover.verifier_key(), settings, true).expect("verifier");
    let c = v
        .compiled
        .expect("compiled with solc-js (npm ci --prefix verifier-contract)");
    eprintln!(
        "runtime {} bytes, creation {} bytes",
        c.runtime.len(),
        c.creation.len()
    );
    check_deployable(&c).expect("fits EIP-170");

    let proof = prover.prove(&x).expect("prove");
    let pf = proof.to_file();
    let path = std::path::Path::new("proof.json");
    let ok = evm_verify(&c.creation, settings, &pf, path).expect("evm");
    assert!(ok.accepted, "honest proof rejected");
    assert!(ok.verify_gas > 21_000 && ok.deploy_gas > 0);
    eprintln!("verify gas {}, deploy gas {}", ok.verify_gas, ok.deploy_gas);

    let mut bytes = proof.bytes.clone();
    bytes[64] ^= 1;
    let mut bad = pf.clone();
    bad.proof = format!("0x{}", hex::encode(&bytes));
    assert!(
        !evm_verify(&c.creation, settings, &bad, path)
            .expect("evm")
            .accepted,
        "flipped byte accepted"
    );

    let mut bad = pf.clone();
    let mut inst = proof.instances.clone();
    let last = inst.len() - 1;
    inst[last] += Fr::one();
    bad.instances = inst.iter().map(fr_to_hex).collect();
    let n = bad.outputs.len();
    bad.outputs[n - 1] += 1.0 / f64::from(settings.output_scale).exp2();
    assert!(
        !evm_verify(&c.creation, settings, &bad, path)
            .expect("evm")
            .accepted,
        "changed output accepted"
    );
}

#[test]
fn consumer_contract_records_verified_predictions_and_rejects_bad_calls() {
    let (prover, x) = small_prover();
    let settings = prover.compiled().settings.clone();
    let v = generate_verifier(&prover.verifier_key(), &settings, true).expect("verifier");
    let verifier_code = v.compiled.expect("compiled").creation;
    let consumer = compile_consumer(&Solc::find().expect("solc")).expect("consumer compiles");

    let mut evm = Evm::new();
    let (verifier, _) = evm.deploy(&verifier_code).expect("deploy verifier");
    let code = consumer_deploy_code(
        &consumer,
        verifier.into_array(),
        settings.num_inputs,
        settings.num_outputs,
    );
    let (consumer_addr, _) = evm.deploy(&code).expect("deploy consumer");

    let proof = prover.prove(&x).expect("prove");
    // The verifier alone accepts the raw calldata.
    assert!(
        evm.call(verifier, &encode_calldata(&proof.instances, &proof.bytes))
            .expect("call")
            .success
    );

    let ok = evm
        .call(
            consumer_addr,
            &submit_calldata(&proof.bytes, &proof.instances),
        )
        .expect("submit");
    assert!(ok.success, "consumer rejected an honest proof");
    let expected = zkonnx::fidelity::argmax(&proof.outputs).expect("outputs") as u64;
    let got = evm
        .call(consumer_addr, &getter_calldata("lastPrediction"))
        .expect("getter");
    assert_eq!(
        u64::from_be_bytes(got.output[24..32].try_into().expect("word")),
        expected
    );
    let n = evm
        .call(consumer_addr, &getter_calldata("accepted"))
        .expect("getter");
    assert_eq!(n.output[31], 1);

    // A tampered proof reverts.
    let mut bytes = proof.bytes.clone();
    bytes[40] ^= 0x10;
    assert!(
        !evm.call(consumer_addr, &submit_calldata(&bytes, &proof.instances))
            .expect("submit")
            .success
    );
    // Instances of the wrong layout revert before the verifier is called.
    assert!(
        !evm.call(
            consumer_addr,
            &submit_calldata(&proof.bytes, &proof.instances[1..])
        )
        .expect("submit")
        .success
    );
    let n = evm
        .call(consumer_addr, &getter_calldata("accepted"))
        .expect("getter");
    assert_eq!(n.output[31], 1, "rejected calls must not be recorded");
}
