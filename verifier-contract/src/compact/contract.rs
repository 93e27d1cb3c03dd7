//! The compact verifier contract: its source, compilation and calldata.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;

use crate::compile::{Compiled, Solc};
use crate::consumer::selector;
use crate::error::{EvmError, Result};

/// Source of `CompactVerifier` (the same contract for every circuit).
pub const COMPACT_VERIFIER_SOL: &str = include_str!("../../contracts/CompactVerifier.sol");

/// Signature of the verifier's entry point.
pub const VERIFY_SIGNATURE: &str = "verifyProof(address,uint256[],bytes)";

/// `CompactVerifier` as the pinned compiler builds it (solc 0.8.19, the npm package in
/// `package.json`; optimizer on, runs = 10^6), committed beside its source so that deploying
/// it needs no compiler: a user without node or solc still gets `Verifier.bin`. The unit test
/// `the_committed_build_is_what_solc_makes` compiles the source and compares, so the two
/// cannot drift (`ZKONNX_WRITE_BUILD=1` rewrites the file instead).
const COMPACT_VERIFIER_BUILD: &str = include_str!("../../contracts/CompactVerifier.json");

/// Compiles `CompactVerifier` with the optimizer on (its assembly is written for it).
pub fn compile_compact_verifier(solc: &Solc) -> Result<Compiled> {
    solc.compile_with(
        "CompactVerifier.sol",
        COMPACT_VERIFIER_SOL,
        "CompactVerifier",
        true,
    )
}

/// The committed build of `CompactVerifier` (see [`compile_compact_verifier`] for the one a
/// compiler makes; they are the same bytes).
pub fn compact_verifier() -> Result<Compiled> {
    let bad = |what: &str| EvmError::Format(format!("CompactVerifier.json: {what}"));
    let v: serde_json::Value =
        serde_json::from_str(COMPACT_VERIFIER_BUILD).map_err(|e| bad(&e.to_string()))?;
    let code = |field: &str| -> Result<Vec<u8>> {
        let s = v[field]
            .as_str()
            .ok_or_else(|| bad(&format!("no {field}")))?;
        hex::decode(s).map_err(|e| bad(&format!("{field}: {e}")))
    };
    Ok(Compiled {
        creation: code("creation")?,
        runtime: code("runtime")?,
        abi: v["abi"].clone(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed build's JSON for a compiled `CompactVerifier`.
    fn build_json(c: &Compiled) -> String {
        let v = serde_json::json!({
            "compiler": "solc-js 0.8.19 (verifier-contract/package.json), optimizer on, runs 1000000",
            "creation": hex::encode(&c.creation),
            "runtime": hex::encode(&c.runtime),
            "abi": c.abi,
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The end of the runtime code's CBOR metadata that solc 0.8.19 writes: "solc", its
    /// version bytes 0.8.19, and the metadata's length (0x0033).
    const SOLC_0_8_19: [u8; 11] = [
        0x64, 0x73, 0x6f, 0x6c, 0x63, 0x43, 0x00, 0x08, 0x13, 0x00, 0x33,
    ];

    #[test]
    fn the_committed_build_is_what_solc_makes() {
        let solc = Solc::find().expect("solc (npm ci --prefix verifier-contract)");
        let made = compile_compact_verifier(&solc).expect("compiles");
        assert!(
            made.runtime.ends_with(&SOLC_0_8_19),
            "{solc:?} is not solc 0.8.19, which made the committed build: compare with the \
             pinned solc-js (npm ci --prefix verifier-contract, ZKONNX_SOLC unset)"
        );
        let path = crate::compile::package_dir().join("contracts/CompactVerifier.json");
        if std::env::var_os("ZKONNX_WRITE_BUILD").is_some() {
            std::fs::write(&path, build_json(&made)).expect("write the build");
            eprintln!("wrote {}: build and test again", path.display());
            return;
        }
        let committed = compact_verifier().expect("the committed build reads");
        assert!(
            committed == made,
            "{} is stale: CompactVerifier.sol changed; run `ZKONNX_WRITE_BUILD=1 cargo test \
             --release -p zkonnx-evm the_committed_build` and commit it",
            path.display()
        );
    }
}
