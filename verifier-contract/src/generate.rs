//! Verifier generation with snark-verifier (SHPLONK, EVM transcript) and calldata encoding.

use std::rc::Rc;

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_proofs::plonk::VerifyingKey;
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::snark_verifier::loader::evm::EvmLoader;
use snark_verifier_sdk::snark_verifier::pcs::kzg::{Bdfg21, KzgAs, KzgDecidingKey};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkVerifier;
use snark_verifier_sdk::snark_verifier::verifier::SnarkVerifier;

use crate::error::{EvmError, Result};

type Shplonk = KzgAs<Bn256, Bdfg21>;

/// Generates the Solidity verifier of a verifying key for one instance column of
/// `num_instances` values. `params` needs only `k`, `g[0]`, `g2` and `s·g2`.
pub fn verifier_solidity(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<String> {
    let run = || {
        let protocol = compile(
            params,
            vk,
            Config::kzg().with_num_instance(vec![num_instances]),
        );
        let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
        let loader = EvmLoader::new::<Fq, Fr>();
        let protocol = protocol.loaded(&loader);
        let mut transcript = EvmTranscript::<G1Affine, Rc<EvmLoader>, _, _>::new(&loader);
        let instances = transcript.load_instances(vec![num_instances]);
        let proof =
            PlonkVerifier::<Shplonk>::read_proof(&dk, &protocol, &instances, &mut transcript)
                .map_err(|e| format!("{e:?}"))?;
        PlonkVerifier::<Shplonk>::verify(&dk, &protocol, &instances, &proof)
            .map_err(|e| format!("{e:?}"))?;
        Ok::<String, String>(loader.solidity_code())
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .map_err(|_| EvmError::Compile("snark-verifier failed to generate the verifier".into()))?
        .map_err(EvmError::Compile)
}

/// The verifier's calldata: each instance as a 32-byte big-endian word, then the proof.
pub fn encode_calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    snark_verifier_sdk::snark_verifier::loader::evm::encode_calldata(&[instances.to_vec()], proof)
}
