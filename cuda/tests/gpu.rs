//! The CUDA prover against the CPU's artifacts (`CARGO_CMD=test scripts/build-cuda.sh`; a
//! binary that links the CUDA prover cannot start without a GPU, so these run only where one
//! is): a GPU proof verifies with the key the CPU made, natively and with the Solidity verifier
//! in revm; the CPU and GPU provers take the same `pk.bin` and SRS, with either transcript.

mod common {
    use std::path::{Path, PathBuf};

    /// `$ZKONNX_SHARED_MODELS`, else `../shared/models` beside the checkout this was built in
    /// (the variable lets a test binary built on one machine run on a GPU machine).
    pub fn shared_models() -> PathBuf {
        std::env::var_os("ZKONNX_SHARED_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"))
    }

    pub fn load_with_input(dir: &Path, name: &str) -> (zkonnx::Model, Vec<f32>) {
        let model = zkonnx::Model::load(dir.join(format!("{name}.onnx"))).expect("model");
        let x = zkonnx::data::read_input(&dir.join(format!("{name}.input.json"))).expect("input");
        (model, x)
    }

    pub fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zkonnx-cuda-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }
}

use zkonnx::evm::{evm_verify, generate_verifier, VerifierKind};
use zkonnx::prover::srs::dev_srs;
use zkonnx::{verify, CompiledModel, Device, Prover, QuantSettings, Transcript};

fn device() -> bool {
    zkonnx::prover::gpu::install();
    match zkonnx::prover::device::cuda_device() {
        Ok(name) => {
            eprintln!("CUDA device: {name}");
            true
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

fn compiled(name: &str) -> (CompiledModel, Vec<f32>) {
    let (model, x) = common::load_with_input(&common::shared_models(), name);
    let c = model
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    (c, x)
}

#[test]
fn a_gpu_proof_verifies_with_the_cpu_key() {
    if !device() {
        return;
    }
    let (c, x) = compiled("mlp_digits");
    let k = c.k();
    let mut p = Prover::setup(c, dev_srs(k, 5)).expect("setup on the CPU");
    let vk = p.verifier_key();
    let settings = p.compiled().settings.clone();
    let path = std::path::Path::new("proof.json");
    let cpu = p.prove(&x).expect("CPU proof");
    assert_eq!(p.use_device(Device::Cuda).expect("cuda").prover, "cuda");
    let gpu = p.prove(&x).expect("GPU proof");
    assert_eq!(gpu.prover.prover, "cuda");
    assert_eq!(gpu.instances, cpu.instances, "same public values");
    assert!(verify(&vk, &settings, &gpu.to_file(), path).expect("verify"));
    let v = generate_verifier(&vk, &settings, false, VerifierKind::Compact).expect("verifier");
    let c = v.compiled.clone().expect("compiled");
    let key = v.vk_creation();
    let evm =
        evm_verify(&c.creation, key.as_deref(), &settings, &gpu.to_file(), path).expect("evm");
    assert!(evm.accepted, "the Solidity verifier rejected a GPU proof");
    // A changed instance is rejected whichever prover made the proof.
    let mut bad = gpu.to_file();
    let last = bad.instances.len() - 1;
    bad.instances[last] = bad.instances[0].clone();
    bad.outputs.clear();
    assert!(!verify(&vk, &settings, &bad, path).unwrap_or(false));
}

#[test]
fn cpu_and_gpu_provers_share_keys_on_disk() {
    if !device() {
        return;
    }
    let (c, x) = compiled("lenet");
    let k = c.k();
    let params = dev_srs(k, 6);
    let dir = common::temp_dir("gpu-keys");
    Prover::setup(c.clone(), params.clone())
        .expect("setup")
        .save_keys(&dir, true)
        .expect("save");
    let vk = zkonnx::prover::keys::read_vk(&dir.join("vk.bin")).expect("vk.bin");
    for want in [Device::Cpu, Device::Cuda] {
        let (pk, _, _) = zkonnx::prover::keys::read_pk(&dir.join("pk.bin")).expect("pk.bin");
        let mut p = Prover::from_parts(c.clone(), params.clone(), pk).expect("prover");
        p.use_device(want).expect("device");
        for t in [Transcript::Evm, Transcript::Poseidon] {
            let xi = zkonnx::circuits::quant::quantize_input(&c.model, &x).expect("input");
            let proof = p.prove_quantized_with(&xi, t).expect("prove");
            let f = proof.to_file();
            assert!(
                verify(&vk, &c.settings, &f, std::path::Path::new("proof.json")).expect("verify"),
                "{want:?} {t}"
            );
        }
    }
}
