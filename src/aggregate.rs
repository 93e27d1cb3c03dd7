//! One proof for a split chain (DESIGN.md §8): `zkonnx aggregate` folds the segment proofs of
//! a split directory (made with the Poseidon transcript: `prove-split --for-aggregation`) into
//! one proof with snark-verifier's aggregation circuit
//! ([`zkonnx_prover::aggregate`]), the boundary-hash equalities constrained inside it.
//!
//! The outer proof's public instances are the 12 limbs of the KZG accumulator, then every
//! segment instance that is not a boundary hash, segment by segment in instance order: the
//! first segment's input group, each segment's parameter hash (when the parameters are
//! hashed), the last segment's output group. So the outer proof states "these segment circuits,
//! chained, map this input to this output" with no boundary value in the open.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zkonnx_prover::aggregate::{self as agg, AggregationVerifier, Cell, Chain, Inner};
use zkonnx_prover::artifacts::{fr_from_hex, fr_to_hex, read_json, write_atomic, write_json};
use zkonnx_prover::proof::Transcript;
use zkonnx_prover::srs::read_srs;

use crate::halo2_proofs::halo2curves::bn256::{Bn256, Fr};
use crate::halo2_proofs::poly::commitment::ParamsProver;
use crate::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use crate::split::{file_digest, proof_name, verify_chain_dir, ChainVerdict, Manifest, MANIFEST};
use crate::{files, Error, Result};

/// Version of `aggregate.json`.
pub const AGGREGATE_VERSION: u32 = 1;
/// The outer proof's file name in an aggregation directory.
pub const AGG_PROOF: &str = "aggregate.json";
/// The outer verifying key's file name in an aggregation directory.
pub const AGG_VK: &str = "vk.bin";
/// The outer proof's Solidity verifier in an aggregation directory.
pub const AGG_VERIFIER: &str = "Verifier.sol";
/// Creation code of the outer proof's verifying-key data contract for the compact verifier.
pub const AGG_VERIFIER_KEY: &str = "VerifierKey.bin";

/// The outer proof as a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AggregateFile {
    /// Format version.
    pub version: u32,
    /// Keccak-256 of the split's `manifest.json`, hex (informational: the outer key pins the
    /// segment circuits).
    pub manifest_digest: String,
    /// Proof bytes, hex with `0x` (Keccak transcript).
    pub proof: String,
    /// Public instances: the accumulator's limbs, then the exposed segment instances.
    pub instances: Vec<String>,
    /// Which segment instance each exposed instance is: `[segment, index]`.
    pub exposed: Vec<[usize; 2]>,
}

/// What [`aggregate_dir`] made and measured.
#[derive(Debug, Clone)]
pub struct Aggregated {
    /// The outer proof.
    pub file: AggregateFile,
    /// The outer verifying key.
    pub verifier: AggregationVerifier,
    /// Seconds of the outer key generation.
    pub setup_s: f64,
    /// Seconds of the outer proof.
    pub prove_s: f64,
}

/// Pairs of instance cells constrained equal.
pub type Links = Vec<(Cell, Cell)>;

/// The links and exposed cells of a chain: segment i's output hash equals segment i+1's input
/// hash; every other instance is exposed, in order.
pub fn chain_cells(
    layouts: &[zkonnx_circuits::visibility::InstanceLayout],
) -> Result<(Links, Vec<Cell>)> {
    let mut links = Vec::new();
    for i in 1..layouts.len() {
        match (layouts[i - 1].output_hash, layouts[i].input_hash) {
            (Some(a), Some(b)) => links.push(((i - 1, a), (i, b))),
            _ => {
                return Err(Error::Mismatch(format!(
                    "segments {} and {i} are not linked by a boundary hash",
                    i - 1
                )))
            }
        }
    }
    let linked: std::collections::BTreeSet<Cell> =
        links.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let exposed = layouts
        .iter()
        .enumerate()
        .flat_map(|(s, l)| (0..l.len).map(move |i| (s, i)))
        .filter(|c| !linked.contains(c))
        .collect();
    Ok((links, exposed))
}

/// Aggregates the proofs `PROOFS/proof-i.json` of the split directory `dir` into `out`
/// (`aggregate.json`, `vk.bin`): checks the chain natively first ([`verify_chain_dir`]),
/// generates the outer keys on `params` (its size is the outer circuit's `k`; the SRS the
/// segments were set up with, reduced), proves, and checks the outer proof natively.
pub fn aggregate_dir(
    dir: &Path,
    proofs: &Path,
    params: &ParamsKZG<Bn256>,
    out: &Path,
) -> Result<Aggregated> {
    if let ChainVerdict::Rejected { segment, reason } = verify_chain_dir(dir, proofs)? {
        return Err(Error::Mismatch(format!(
            "the chain does not verify (segment {segment}: {reason}); nothing to aggregate"
        )));
    }
    let manifest = Manifest::read(&dir.join(MANIFEST))?;
    let mut parts = Vec::with_capacity(manifest.segments.len());
    for (i, e) in manifest.segments.iter().enumerate() {
        let seg = dir.join(&e.dir);
        let vk = zkonnx_prover::keys::read_vk(&seg.join(files::VK))?;
        let settings = zkonnx_prover::artifacts::Settings::read(&seg.join(files::SETTINGS))?;
        let path = proofs.join(proof_name(i));
        let proof = zkonnx_prover::artifacts::ProofFile::read(&path)?;
        if proof.transcript != Transcript::Poseidon {
            return Err(Error::Mismatch(format!(
                "{}: made with the {} transcript; aggregation needs segment proofs made with \
                 `prove-split --for-aggregation` (Poseidon)",
                path.display(),
                proof.transcript
            )));
        }
        let srs_path = seg.join(files::SRS);
        let seg_params = if srs_path.is_file() {
            read_srs(&srs_path)?
        } else {
            zkonnx_prover::srs::fit_srs(params.clone(), vk.shape.k)?
        };
        let same = seg_params.get_g()[0] == params.get_g()[0]
            && seg_params.g2() == params.g2()
            && seg_params.s_g2() == params.s_g2();
        if !same {
            return Err(Error::Mismatch(format!(
                "segment {i} was set up with another SRS than the one given for aggregation"
            )));
        }
        let instances = proof.instance_values(&path)?;
        let bytes = proof.proof_bytes(&path)?;
        parts.push((seg_params, vk, settings, instances, bytes));
    }
    let inners: Vec<Inner<'_>> = parts
        .iter()
        .map(|(p, vk, _, x, b)| Inner {
            params: p,
            vk: &vk.vk,
            instances: x.clone(),
            proof: b.clone(),
        })
        .collect();
    let layouts: Vec<_> = parts
        .iter()
        .map(|(_, _, s, _, _)| s.instance_layout())
        .collect();
    let (links, exposed) = chain_cells(&layouts)?;
    let chain = Chain::new(&inners, links, exposed.clone())?;
    drop(inners);
    drop(parts);

    let t = std::time::Instant::now();
    let (pk, shape) = agg::setup(params, &chain)?;
    let setup_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let (bytes, instances) = agg::prove(params, &pk, &shape, &chain)?;
    let prove_s = t.elapsed().as_secs_f64();
    let vk = pk.get_vk().clone();
    drop(pk);
    if !agg::verify(params, &vk, &instances, &bytes) {
        return Err(Error::Mismatch(
            "the aggregated proof does not verify with its own key".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::Data {
        path: out.display().to_string(),
        reason: e.to_string(),
    })?;
    let vk_bytes = agg::agg_vk_bytes(&vk, &shape, params);
    write_atomic(&out.join(AGG_VK), |w| {
        std::io::Write::write_all(w, &vk_bytes)
    })?;
    let file = AggregateFile {
        version: AGGREGATE_VERSION,
        manifest_digest: file_digest(&dir.join(MANIFEST))?,
        proof: format!("0x{}", hex::encode(&bytes)),
        instances: instances.iter().map(fr_to_hex).collect(),
        exposed: exposed.iter().map(|&(s, i)| [s, i]).collect(),
    };
    write_json(&out.join(AGG_PROOF), &file)?;
    let verifier = agg::read_agg_vk(&out.join(AGG_VK))?;
    Ok(Aggregated {
        file,
        verifier,
        setup_s,
        prove_s,
    })
}

/// Reads `aggregate.json`, checking its version and that it is well formed.
pub fn read_aggregate(path: &Path) -> Result<(AggregateFile, Vec<Fr>, Vec<u8>)> {
    let f: AggregateFile = read_json(path)?;
    let bad = |reason: String| Error::Data {
        path: path.display().to_string(),
        reason,
    };
    if f.version != AGGREGATE_VERSION {
        return Err(bad(format!(
            "aggregate version {}, expected {AGGREGATE_VERSION}",
            f.version
        )));
    }
    let instances = f
        .instances
        .iter()
        .enumerate()
        .map(|(i, s)| {
            fr_from_hex(s).ok_or_else(|| bad(format!("instance {i} is not a field element")))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = hex::decode(f.proof.strip_prefix("0x").unwrap_or(&f.proof))
        .map_err(|e| bad(format!("proof is not valid hex: {e}")))?;
    if instances.len() != agg::ACCUMULATOR_LIMBS + f.exposed.len() {
        return Err(bad(format!(
            "{} instances for {} exposed values and the accumulator",
            instances.len(),
            f.exposed.len()
        )));
    }
    Ok((f, instances, bytes))
}

/// Verifies an aggregation directory natively: the outer proof against `vk.bin`, its
/// accumulator's pairing, and that it has the number of instances the key was made for.
pub fn verify_aggregate_dir(out: &Path) -> Result<bool> {
    let v = agg::read_agg_vk(&out.join(AGG_VK))?;
    let (_, instances, bytes) = read_aggregate(&out.join(AGG_PROOF))?;
    if instances.len() != v.shape.num_instances {
        return Err(Error::Mismatch(format!(
            "{} instances, but the aggregation key was made for {}",
            instances.len(),
            v.shape.num_instances
        )));
    }
    Ok(agg::verify(&v.params, &v.vk, &instances, &bytes))
}

/// The outer proof's verifying key for the compact verifier: the circuit's blob with the
/// accumulator at instances `0..12` (so the contract decides its pairing too), written to
/// `out/VerifierKey.bin` (the data contract's creation code); returns the blob.
pub fn aggregate_compact_key(out: &Path) -> Result<Vec<u8>> {
    use zkonnx_evm::compact::{blob, CompactVk};
    let v = agg::read_agg_vk(&out.join(AGG_VK))?;
    let cvk = CompactVk::with_accumulator(&v.params, &v.vk, &[v.shape.num_instances], 0)?;
    let key = blob::encode(&cvk);
    let bytes = blob::data_runtime(&key).len();
    if bytes > zkonnx_evm::EIP170_MAX_RUNTIME_BYTES {
        return Err(zkonnx_evm::EvmError::KeyTooBig { bytes }.into());
    }
    write_atomic(&out.join(AGG_VERIFIER_KEY), |w| {
        std::io::Write::write_all(w, &blob::data_creation(&key))
    })?;
    Ok(key)
}

/// The outer proof's snark-verifier Solidity verifier (unrolled, with the accumulator's
/// pairing), written to `out/Verifier.sol`; returns its source.
pub fn aggregate_verifier_solidity(out: &Path) -> Result<String> {
    let v = agg::read_agg_vk(&out.join(AGG_VK))?;
    let sol = zkonnx_evm::generate::verifier_solidity_with(
        &v.params,
        &v.vk,
        &[v.shape.num_instances],
        Some(agg::accumulator_indices()),
    )?;
    write_atomic(&out.join(AGG_VERIFIER), |w| {
        std::io::Write::write_all(w, sol.as_bytes())
    })?;
    Ok(sol)
}

/// The outer proof checked in revm by a Solidity verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateEvmCheck {
    /// Whether the verifier accepted the proof.
    pub accepted: bool,
    /// Gas of the verifying transaction (intrinsic and calldata gas included).
    pub verify_gas: u64,
    /// Gas of the verifier's deployment (for the compact verifier: the verifier and the
    /// key's data contract together).
    pub deploy_gas: u64,
    /// The verifier's runtime size, bytes (EIP-170 allows 24,576 on mainnet); for the
    /// compact verifier the larger of the verifier and the key's data contract.
    pub runtime_bytes: usize,
}

/// Checks `aggregate.json`'s proof in a fresh revm chain with the compact verifier
/// ([`aggregate_compact_key`]; both contracts deployed under EIP-170's limit) or, with
/// `snark_verifier`, with snark-verifier's contract ([`aggregate_verifier_solidity`], deployed
/// without the limit, which [`AggregateEvmCheck::runtime_bytes`] reports against).
pub fn aggregate_evm(out: &Path, snark_verifier: bool) -> Result<AggregateEvmCheck> {
    let (_, instances, bytes) = read_aggregate(&out.join(AGG_PROOF))?;
    if snark_verifier {
        let solc = zkonnx_evm::Solc::find()?;
        let sol = aggregate_verifier_solidity(out)?;
        let compiled = solc.compile(AGG_VERIFIER, &sol, "Halo2Verifier")?;
        let mut evm = zkonnx_evm::Evm::without_size_limit();
        let (addr, deploy_gas) = evm.deploy(&compiled.creation)?;
        let call = evm.call(addr, &zkonnx_evm::encode_calldata(&instances, &bytes))?;
        return Ok(AggregateEvmCheck {
            accepted: call.success,
            verify_gas: call.gas_used,
            deploy_gas,
            runtime_bytes: compiled.runtime.len(),
        });
    }
    use zkonnx_evm::compact::{blob, contract};
    let key = aggregate_compact_key(out)?;
    let compiled = contract::compact_verifier()?;
    let mut evm = zkonnx_evm::Evm::new();
    let (addr, deploy_gas) = evm.deploy(&compiled.creation)?;
    let (key_addr, key_gas) = evm.deploy(&blob::data_creation(&key))?;
    let call = evm.call(
        addr,
        &contract::verify_calldata(key_addr.into_array(), &instances, &bytes),
    )?;
    Ok(AggregateEvmCheck {
        accepted: crate::evm::returned_true(call.success, &call.output),
        verify_gas: call.gas_used,
        deploy_gas: deploy_gas + key_gas,
        runtime_bytes: compiled.runtime.len().max(blob::data_runtime(&key).len()),
    })
}

#[cfg(test)]
mod tests {
    use super::chain_cells;
    use zkonnx_circuits::visibility::{InstanceLayout, Vis, Visibility};

    fn layout(input: Vis, params: Vis, output: Vis, n_in: usize, n_out: usize) -> InstanceLayout {
        InstanceLayout::new(
            Visibility {
                input,
                params,
                output,
            },
            n_in,
            n_out,
        )
    }

    /// Each boundary hash is linked to the next segment's input hash and hidden; everything
    /// else (the user's input and output, parameter hashes) is exposed in order.
    #[test]
    fn boundaries_link_and_the_rest_is_exposed() {
        let ls = [
            layout(Vis::Public, Vis::Hashed, Vis::Hashed, 3, 4),
            layout(Vis::Hashed, Vis::Hashed, Vis::Hashed, 4, 5),
            layout(Vis::Hashed, Vis::Hashed, Vis::Public, 5, 2),
        ];
        let (links, exposed) = chain_cells(&ls).expect("cells");
        let at = |l: &InstanceLayout, f: fn(&InstanceLayout) -> Option<usize>| f(l).expect("hash");
        assert_eq!(
            links,
            vec![
                (
                    (0, at(&ls[0], |l| l.output_hash)),
                    (1, at(&ls[1], |l| l.input_hash))
                ),
                (
                    (1, at(&ls[1], |l| l.output_hash)),
                    (2, at(&ls[2], |l| l.input_hash))
                ),
            ]
        );
        let total: usize = ls.iter().map(|l| l.len).sum();
        assert_eq!(exposed.len(), total - 4);
        assert!(exposed.windows(2).all(|w| w[0] < w[1]));
        for (a, b) in &links {
            assert!(!exposed.contains(a) && !exposed.contains(b));
        }
        // The first segment's public input and the last one's public output are exposed.
        for i in ls[0].inputs.clone() {
            assert!(exposed.contains(&(0, i)));
        }
        for i in ls[2].outputs.clone() {
            assert!(exposed.contains(&(2, i)));
        }
        // A boundary without a hash cannot be linked.
        let open = [
            ls[0].clone(),
            layout(Vis::Public, Vis::Fixed, Vis::Public, 4, 2),
        ];
        assert!(chain_cells(&open).is_err());
    }
}
