//! Verifier generation with snark-verifier (SHPLONK, EVM transcript) and calldata encoding.

use std::rc::Rc;

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_proofs::plonk::VerifyingKey;
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::snark_verifier::loader::evm::EvmLoader;
use snark_verifier_sdk::snark_verifier::pcs::kzg::{Bdfg21, KzgAs, KzgDecidingKey, LimbsEncoding};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkVerifier;
use snark_verifier_sdk::snark_verifier::verifier::SnarkVerifier;

use crate::error::{EvmError, Result};

type Shplonk = KzgAs<Bn256, Bdfg21>;
/// An accumulator among the instances is 4 coordinates of 3 limbs of 88 bits (snark-verifier-sdk's
/// encoding); unused when a circuit has none.
type Verifier = PlonkVerifier<
    Shplonk,
    LimbsEncoding<{ snark_verifier_sdk::LIMBS }, { snark_verifier_sdk::BITS }>,
>;

/// Generates the Solidity verifier of a verifying key whose instance columns hold
/// `num_instances[c]` values each (the calldata takes them one column after the other).
/// `params` needs only `k`, `g[0]`, `g2` and `s·g2`.
pub fn verifier_solidity(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: &[usize],
) -> Result<String> {
    verifier_solidity_with(params, vk, num_instances, None)
}

/// [`verifier_solidity`] of a circuit whose instances carry a KZG accumulator at
/// `accumulator` (an aggregation circuit's): the verifier folds it into its pairing check.
pub fn verifier_solidity_with(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: &[usize],
    accumulator: Option<Vec<(usize, usize)>>,
) -> Result<String> {
    if num_instances.len() != vk.cs().num_instance_columns() {
        return Err(EvmError::Compile(format!(
            "{} instance column lengths for a key with {} instance columns",
            num_instances.len(),
            vk.cs().num_instance_columns()
        )));
    }
    let run = || {
        let protocol = compile(
            params,
            vk,
            Config::kzg()
                .with_num_instance(num_instances.to_vec())
                .with_accumulator_indices(accumulator.clone()),
        );
        let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
        let loader = EvmLoader::new::<Fq, Fr>();
        let protocol = protocol.loaded(&loader);
        let mut transcript = EvmTranscript::<G1Affine, Rc<EvmLoader>, _, _>::new(&loader);
        let instances = transcript.load_instances(num_instances.to_vec());
        let proof = Verifier::read_proof(&dk, &protocol, &instances, &mut transcript)
            .map_err(|e| format!("{e:?}"))?;
        Verifier::verify(&dk, &protocol, &instances, &proof).map_err(|e| format!("{e:?}"))?;
        Ok::<String, String>(canonical_scalars(&loader.solidity_code()))
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .map_err(|_| EvmError::Compile("snark-verifier failed to generate the verifier".into()))?
        .map_err(EvmError::Compile)
}

/// snark-verifier reads every scalar of the calldata (instances and evaluations) reduced
/// modulo r, so an instance `y + r` reads as `y`: a second encoding of every public value.
/// Rewrites each such load to take the word as it is and fail the verification (its
/// `success` flag) unless the word is below r, as the native verifier and the compact
/// verifier do.
pub fn canonical_scalars(code: &str) -> String {
    const LOAD: &str = "mod(calldataload(";
    const END: &str = "), f_q))";
    let mut out = String::with_capacity(code.len() + code.len() / 8);
    let mut rest = code;
    // Each load is `mstore(PTR, mod(calldataload(OFF), f_q))`.
    while let Some(i) = rest.find("mstore(") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let parsed = (|| {
            let args = &tail["mstore(".len()..];
            let comma = args.find(", ")?;
            let ptr = &args[..comma];
            let after = args[comma + 2..].strip_prefix(LOAD)?;
            let close = after.find(END)?;
            let off = &after[..close];
            let plain = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric());
            if !plain(ptr) || !plain(off) {
                return None;
            }
            let used = "mstore(".len() + comma + 2 + LOAD.len() + close + END.len();
            Some((ptr.to_string(), off.to_string(), used))
        })();
        match parsed {
            Some((ptr, off, used)) => {
                out.push_str(&format!(
                    "{{ let s := calldataload({off}) success := and(success, lt(s, f_q)) mstore({ptr}, s) }}"
                ));
                rest = &tail[used..];
            }
            None => {
                out.push_str("mstore(");
                rest = &tail["mstore(".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The verifier's calldata: each instance as a 32-byte big-endian word, then the proof.
pub fn encode_calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    snark_verifier_sdk::snark_verifier::loader::evm::encode_calldata(&[instances.to_vec()], proof)
}

#[cfg(test)]
mod tests {
    use super::canonical_scalars;

    #[test]
    fn scalar_loads_become_checked() {
        let code = "x mstore(0x80, mod(calldataload(0x0), f_q)) y mstore(0xa0, 5) \
                    mstore(0x1c0, mod(calldataload(0x2e0), f_q))";
        let out = canonical_scalars(code);
        assert!(!out.contains("mod(calldataload"), "{out}");
        assert_eq!(out.matches("lt(s, f_q)").count(), 2);
        assert!(out.contains("mstore(0xa0, 5)"));
        assert!(out.contains("calldataload(0x2e0)") && out.contains("mstore(0x1c0, s)"));
    }
}
