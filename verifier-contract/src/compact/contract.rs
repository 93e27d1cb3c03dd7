//! The compact verifier contract: its source, compilation and calldata.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;

use crate::compile::{Compiled, Solc};
use crate::consumer::selector;
use crate::error::Result;

/// Source of `CompactVerifier` (the same contract for every circuit).
pub const COMPACT_VERIFIER_SOL: &str = include_str!("../../contracts/CompactVerifier.sol");

/// Signature of the verifier's entry point.
pub const VERIFY_SIGNATURE: &str = "verifyProof(address,uint256[],bytes)";

/// Compiles `CompactVerifier` with the optimizer on (its assembly is written for it).
pub fn compile_compact_verifier(solc: &Solc) -> Result<Compiled> {
    solc.compile_with(
        "CompactVerifier.sol",
        COMPACT_VERIFIER_SOL,
        "CompactVerifier",
        true,
    )
}

fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

/// ABI-encoded call `verifyProof(vk, instances, proof)`.
pub fn verify_calldata(vk: [u8; 20], instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    let mut out = selector(VERIFY_SIGNATURE).to_vec();
    let mut addr = [0u8; 32];
    addr[12..].copy_from_slice(&vk);
    out.extend_from_slice(&addr);
    out.extend_from_slice(&word(96));
    out.extend_from_slice(&word(96 + 32 + 32 * instances.len()));
    out.extend_from_slice(&word(instances.len()));
    for x in instances {
        let mut w = [0u8; 32];
        w.copy_from_slice(x.to_repr().as_ref());
        w.reverse();
        out.extend_from_slice(&w);
    }
    out.extend_from_slice(&word(proof.len()));
    out.extend_from_slice(proof);
    out.resize(out.len() + proof.len().div_ceil(32) * 32 - proof.len(), 0);
    out
}
