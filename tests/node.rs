//! On a real node: anvil (pinned npm package) on 127.0.0.1, driven through alloy.

mod common;

use zkonnx::evm::{generate_verifier, VerifierKind};
use zkonnx::prover::srs::dev_srs;

use zkonnx_evm::compact::contract::verify_calldata;
use zkonnx_evm::consumer::{compile_consumer, consumer_deploy_code, submit_calldata};
use zkonnx_evm::node::Node;
use zkonnx_evm::{encode_calldata, Solc};

fn returns_true(out: Option<Vec<u8>>) -> bool {
    out.is_some_and(|o| o.len() == 32 && o[31] == 1 && o[..31].iter().all(|b| *b == 0))
}

#[test]
fn anvil_accepts_a_verified_prediction_and_rejects_a_tampered_one() {
    let (_, samples, compiled) =
        common::compile_built("mixed", common::onnx::mixed_model(), (400, 4, 8));
    let compiled = common::narrowed(compiled);
    let k = compiled.k();
    let prover = zkonnx::Prover::setup(compiled, dev_srs(k, 5)).expect("setup");
    let settings = prover.compiled().settings.clone();
    let vk = prover.verifier_key();
    let compact = generate_verifier(&vk, &settings, true, VerifierKind::Compact).expect("compact");
    let unrolled =
        generate_verifier(&vk, &settings, true, VerifierKind::SnarkVerifier).expect("unrolled");
    let consumer = compile_consumer(&Solc::find().expect("solc")).expect("consumer");
    let proof = prover.prove(&samples[1]).expect("prove");

    let node = Node::start_anvil().expect("anvil starts");
    assert!(
        node.url().starts_with("http://127.0.0.1:") || node.url().starts_with("http://localhost:"),
        "{}",
        node.url()
    );
    let (verifier, _) = node
        .deploy(&compact.compiled.as_ref().expect("compiled").creation)
        .expect("deploy verifier");
    let (key, _) = node
        .deploy(&compact.vk_creation().expect("vk"))
        .expect("deploy verifying key");
    let (snark, _) = node
        .deploy(&unrolled.compiled.as_ref().expect("compiled").creation)
        .expect("deploy snark-verifier verifier");
    let (consumer_addr, _) = node
        .deploy(&consumer_deploy_code(
            &consumer,
            verifier.into_array(),
            key.into_array(),
            zkonnx::evm::consumer_layout(&settings, None),
        ))
        .expect("deploy consumer");

    // Both verifiers accept the honest proof (eth_call, eth_estimateGas).
    let calldata = verify_calldata(key.into_array(), &proof.instances, &proof.bytes);
    assert!(returns_true(
        node.call_output(verifier, &calldata).expect("eth_call")
    ));
    let gas = node
        .estimate_gas(verifier, &calldata)
        .expect("estimate")
        .expect("accepted");
    let raw = encode_calldata(&proof.instances, &proof.bytes);
    assert!(node.call(snark, &raw).expect("eth_call"));
    let snark_gas = node
        .estimate_gas(snark, &raw)
        .expect("estimate")
        .expect("ok");
    eprintln!("anvil eth_estimateGas: compact {gas}, snark-verifier {snark_gas}");

    // One accepted verification transaction through the consumer.
    let r = node
        .transact(
            consumer_addr,
            &submit_calldata(&proof.bytes, &proof.instances),
        )
        .expect("send");
    assert!(r.success, "consumer rejected an honest proof");

    // A tampered proof is rejected: by both verifiers and by the consumer.
    let mut bytes = proof.bytes.clone();
    bytes[33] ^= 0x01;
    assert!(!returns_true(
        node.call_output(
            verifier,
            &verify_calldata(key.into_array(), &proof.instances, &bytes)
        )
        .expect("eth_call")
    ));
    assert!(!node
        .call(snark, &encode_calldata(&proof.instances, &bytes))
        .expect("eth_call"));
    assert!(!node
        .call(consumer_addr, &submit_calldata(&bytes, &proof.instances))
        .expect("eth_call"));
    let r = node
        .transact(consumer_addr, &submit_calldata(&bytes, &proof.instances))
        .expect("send");
    assert!(!r.success, "a tampered proof's transaction must revert");
}

#[test]
fn evm_verify_calls_a_deployed_verifier_over_rpc() {
    let w = common::temp_dir("node-cli");
    common::write_mixed_case(&w, 500);
    let zk = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zkonnx"))
            .args(args)
            .output()
            .expect("zkonnx")
    };
    let p = |name: &str| w.join(name).to_str().expect("utf-8").to_string();
    let o = zk(&[
        "run",
        &p("mixed.onnx"),
        "--input",
        &p("input.json"),
        "--workdir",
        &p(""),
        "--evm",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let node = Node::start_anvil().expect("anvil");
    let code = zkonnx_evm::compile::read_hex_file(&w.join("Verifier.bin")).expect("Verifier.bin");
    let (addr, _) = node.deploy(&code).expect("deploy");
    let addr = addr.to_string();
    let key = zkonnx_evm::compile::read_hex_file(&w.join("VerifierKey.bin")).expect("key");
    let (key, _) = node.deploy(&key).expect("deploy verifying key");
    let key = key.to_string();
    let verify = |proof: &str| {
        zk(&[
            "evm-verify",
            "--proof",
            &p(proof),
            "--rpc",
            node.url(),
            "--address",
            &addr,
            "--vk-address",
            &key,
        ])
    };
    let o = verify("proof.json");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("eth_estimateGas"));

    let mut pf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("proof.json")).expect("proof"))
            .expect("json");
    let h = pf["proof"].as_str().expect("hex").to_string();
    let flipped = if &h[100..101] == "f" { "e" } else { "f" };
    pf["proof"] = serde_json::Value::String(format!("{}{}{}", &h[..100], flipped, &h[101..]));
    std::fs::write(w.join("bad.json"), pf.to_string()).expect("write");
    assert_eq!(verify("bad.json").status.code(), Some(1));
}
