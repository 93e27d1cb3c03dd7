//! Proving and verification with SHPLONK, in one of two Fiat-Shamir transcripts: Keccak
//! (the EVM's, every proof a contract checks) or Poseidon (cheap to re-verify inside a circuit:
//! the transcript of segment proofs that are to be aggregated).

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{create_proof, verify_proof, Circuit, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_proofs::poly::kzg::strategy::AccumulatorStrategy;
use halo2_proofs::poly::VerificationStrategy;
use halo2_proofs::transcript::{
    EncodedChallenge, TranscriptRead, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use crate::commit::{SignedKzg, SignedParams, SignedShplonk};
use crate::error::{ProverError, Result};

/// The transcript every zkonnx proof uses (Keccak256, EVM-compatible).
pub type ProofTranscript<S> = EvmTranscript<G1Affine, NativeLoader, S, Vec<u8>>;

/// The Poseidon transcript of proofs made for aggregation: the sponge (width 3, rate 2, 8 full
/// and 57 partial rounds) the aggregation circuit re-runs in-circuit.
pub type PoseidonProofTranscript<S> =
    snark_verifier_sdk::halo2::PoseidonTranscript<NativeLoader, S>;

/// Which Fiat-Shamir transcript a proof was made with (recorded in `proof.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transcript {
    /// Keccak-256: what the Solidity verifiers check.
    #[default]
    Evm,
    /// Poseidon: what the aggregation circuit checks (`zkonnx aggregate`).
    Poseidon,
}

impl Transcript {
    /// The transcript of a proof made for `zkonnx aggregate` ([`Transcript::Poseidon`]) or for
    /// the Solidity verifiers ([`Transcript::Evm`]).
    pub fn for_aggregation(yes: bool) -> Self {
        if yes {
            Transcript::Poseidon
        } else {
            Transcript::Evm
        }
    }
}

impl std::fmt::Display for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transcript::Evm => "evm",
            Transcript::Poseidon => "poseidon",
        })
    }
}

/// Proves a circuit (a model's [`ModelCircuit`](zkonnx_circuits::circuit::ModelCircuit), or any halo2 circuit over BN254);
/// `instances` is the single public instance column.
pub fn prove<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
) -> Result<Vec<u8>> {
    prove_with(params, pk, circuit, instances, Transcript::Evm)
}

/// [`prove`] with the given transcript.
pub fn prove_with<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
    transcript: Transcript,
) -> Result<Vec<u8>> {
    match transcript {
        Transcript::Evm => {
            prove_in::<C, _, ProofTranscript<Vec<u8>>>(params, pk, circuit, instances)
        }
        Transcript::Poseidon => {
            prove_in::<C, _, PoseidonProofTranscript<Vec<u8>>>(params, pk, circuit, instances)
        }
    }
}

fn prove_in<C, E, T>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
) -> Result<Vec<u8>>
where
    C: Circuit<Fr>,
    E: EncodedChallenge<G1Affine>,
    T: TranscriptWriterBuffer<Vec<u8>, G1Affine, E>,
{
    let rng = ChaCha20Rng::from_entropy();
    let mut transcript = T::init(Vec::new());
    // Advice columns hold small signed integers: commit them at the cost of their magnitude
    // (`commit`; the same proof as halo2-axiom's KZG scheme gives).
    let params = SignedParams::new(params);
    create_proof::<SignedKzg<'_>, SignedShplonk<'_>, _, _, _, _>(
        &params,
        pk,
        &[circuit],
        &[&instance_columns(pk.get_vk(), instances)],
        rng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2 {
        stage: "proving",
        message: format!("{e:?}"),
    })?;
    Ok(transcript.finalize())
}

/// `instances` split over `vk`'s instance columns in order
/// ([`zkonnx_circuits::visibility::instance_rows`]): every interface takes the public values as
/// one list, and the circuit's shape says how many columns hold them.
pub fn instance_columns<'a>(vk: &VerifyingKey<G1Affine>, instances: &'a [Fr]) -> Vec<&'a [Fr]> {
    zkonnx_circuits::visibility::instance_columns(instances, vk.cs().num_instance_columns())
}

/// The lengths of [`instance_columns`]' columns for `n` public values (what the Solidity
/// verifiers are generated for).
pub fn instance_column_lengths(vk: &VerifyingKey<G1Affine>, n: usize) -> Vec<usize> {
    zkonnx_circuits::visibility::instance_column_lengths(n, vk.cs().num_instance_columns())
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
    verify_with(params, vk, instances, proof, Transcript::Evm)
}

/// [`verify`] of a proof made with the given transcript.
pub fn verify_with(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
    transcript: Transcript,
) -> bool {
    let run = || {
        let mut rest: &[u8] = proof;
        let ok = match transcript {
            Transcript::Evm => check(
                params,
                vk,
                instances,
                &mut <ProofTranscript<&mut &[u8]> as TranscriptReadBuffer<_, G1Affine, _>>::init(
                    &mut rest,
                ),
            ),
            Transcript::Poseidon => check(
                params,
                vk,
                instances,
                &mut <PoseidonProofTranscript<&mut &[u8]> as TranscriptReadBuffer<
                    _,
                    G1Affine,
                    _,
                >>::init(&mut rest),
            ),
        };
        // The transcript must be read to its end: a proof with bytes after it is not this proof.
        ok && rest.is_empty()
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(false)
}

fn check<E, T>(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    transcript: &mut T,
) -> bool
where
    E: EncodedChallenge<G1Affine>,
    T: TranscriptRead<G1Affine, E>,
{
    let strategy = AccumulatorStrategy::new(params.verifier_params());
    match verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
        params.verifier_params(),
        vk,
        strategy,
        &[&instance_columns(vk, instances)],
        transcript,
    ) {
        Ok(acc) => VerificationStrategy::<_, VerifierSHPLONK<'_, Bn256>>::finalize(acc),
        Err(_) => false,
    }
}
