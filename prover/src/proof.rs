//! Proving and verification with the Keccak EVM transcript and SHPLONK.

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{create_proof, verify_proof, Circuit, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_proofs::poly::kzg::strategy::AccumulatorStrategy;
use halo2_proofs::poly::VerificationStrategy;
use halo2_proofs::transcript::{TranscriptReadBuffer, TranscriptWriterBuffer};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use crate::error::{ProverError, Result};

/// The transcript every zkonnx proof uses (Keccak256, EVM-compatible).
pub type ProofTranscript<S> = EvmTranscript<G1Affine, NativeLoader, S, Vec<u8>>;

/// Proves a circuit (a model's [`ModelCircuit`](zkonnx_circuits::circuit::ModelCircuit), or any halo2 circuit over BN254);
/// `instances` is the single public instance column.
pub fn prove<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
) -> Result<Vec<u8>> {
    let rng = ChaCha20Rng::from_entropy();
    let mut transcript =
        <ProofTranscript<Vec<u8>> as TranscriptWriterBuffer<_, G1Affine, _>>::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        params,
        pk,
        &[circuit],
        &[&[instances]],
        rng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2 {
        stage: "proving",
        message: format!("{e:?}"),
    })?;
    Ok(transcript.finalize())
}

/// Verifies a proof. Returns `Ok(false)` for any proof that does not verify
/// (tampered, truncated, extended by trailing bytes, or for other instances); never panics on
/// bad bytes.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> bool {
    let run = || {
        let mut rest: &[u8] = proof;
        let ok = {
            let mut transcript =
                <ProofTranscript<&mut &[u8]> as TranscriptReadBuffer<_, G1Affine, _>>::init(
                    &mut rest,
                );
            let strategy = AccumulatorStrategy::new(params.verifier_params());
            match verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
                params.verifier_params(),
                vk,
                strategy,
                &[&[instances]],
                &mut transcript,
            ) {
                Ok(acc) => VerificationStrategy::<_, VerifierSHPLONK<'_, Bn256>>::finalize(acc),
                Err(_) => false,
            }
        };
        // The transcript must be read to its end: a proof with bytes after it is not this proof.
        ok && rest.is_empty()
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(false)
}
