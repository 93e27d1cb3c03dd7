//! The example consumer contract (`contracts/ModelConsumer.sol`): compilation and ABI encoding.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;
use sha3::{Digest, Keccak256};

use crate::compile::{Compiled, Solc};
use crate::error::Result;
use crate::MODEL_CONSUMER_SOL;

/// Compiles `ModelConsumer`.
pub fn compile_consumer(solc: &Solc) -> Result<Compiled> {
    solc.compile("ModelConsumer.sol", MODEL_CONSUMER_SOL, "ModelConsumer")
}

fn word_usize(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

fn word_fr(x: &Fr) -> [u8; 32] {
    let mut w = [0u8; 32];
    w.copy_from_slice(x.to_repr().as_ref());
    w.reverse();
    w
}

/// Where a consumer finds what it checks among the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerLayout {
    /// Number of instances.
    pub num_instances: usize,
    /// Index of the first public output value.
    pub outputs_start: usize,
    /// Number of public output values.
    pub num_outputs: usize,
    /// The pinned parameter hash and its index, if the consumer pins a model.
    pub model_hash: Option<(usize, Fr)>,
}

/// Creation code with constructor arguments: the compact verifier, the model's verifying-key
/// data contract and the instance layout (with the pinned model hash, if any).
pub fn consumer_deploy_code(
    c: &Compiled,
    verifier: [u8; 20],
    verifying_key: [u8; 20],
    layout: ConsumerLayout,
) -> Vec<u8> {
    let mut code = c.creation.clone();
    for a in [verifier, verifying_key] {
        let mut addr = [0u8; 32];
        addr[12..].copy_from_slice(&a);
        code.extend_from_slice(&addr);
    }
    code.extend_from_slice(&word_usize(layout.num_instances));
    code.extend_from_slice(&word_usize(layout.outputs_start));
    code.extend_from_slice(&word_usize(layout.num_outputs));
    match layout.model_hash {
        Some((index, hash)) => {
            code.extend_from_slice(&word_usize(index));
            code.extend_from_slice(&word_fr(&hash));
        }
        None => {
            code.extend_from_slice(&[0xff; 32]);
            code.extend_from_slice(&[0; 32]);
        }
    }
    code
}

/// The first four bytes of the Keccak-256 of a function signature.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = Keccak256::digest(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// ABI-encoded call `submit(bytes proof, uint256[] instances)`.
pub fn submit_calldata(proof: &[u8], instances: &[Fr]) -> Vec<u8> {
    let mut out = selector("submit(bytes,uint256[])").to_vec();
    let proof_words = proof.len().div_ceil(32);
    out.extend_from_slice(&word_usize(64));
    out.extend_from_slice(&word_usize(64 + 32 + 32 * proof_words));
    out.extend_from_slice(&word_usize(proof.len()));
    out.extend_from_slice(proof);
    out.resize(out.len() + proof_words * 32 - proof.len(), 0);
    out.extend_from_slice(&word_usize(instances.len()));
    for x in instances {
        out.extend_from_slice(&word_fr(x));
    }
    out
}

/// ABI-encoded call of a `uint256` getter such as `lastPrediction()`.
pub fn getter_calldata(name: &str) -> Vec<u8> {
    selector(&format!("{name}()")).to_vec()
}
