//! The CUDA prover (feature `cuda`): halo2-axiom-gpu's `create_proof`, which takes the
//! canonical halo2-axiom proving key (it rebuilds its device view with
//! `GpuProvingKey::from_host`) and writes the same transcript, so its proofs verify with the
//! CPU verifier and the Solidity verifiers unchanged.

use halo2_axiom_gpu::poly::kzg::commitment::{
    KZGCommitmentScheme as GpuKzg, ParamsKZG as GpuParams,
};
use halo2_axiom_gpu::poly::kzg::multiopen::ProverSHPLONK as GpuShplonk;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{Circuit, ProvingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::transcript::{EncodedChallenge, TranscriptWriterBuffer};
use halo2_proofs::SerdeFormat;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{ProverError, Result};
use crate::proof::{PoseidonProofTranscript, ProofTranscript, Transcript};

/// Installs the CUDA prover in this process ([`crate::device::install_gpu`]): call it first
/// thing in a binary that is to prove on a GPU. `#[inline]`, so the GPU code is compiled and
/// linked only into binaries that call it (a binary that links it cannot start without a GPU).
#[inline]
pub fn install() {
    crate::device::install_gpu(prove::<zkonnx_circuits::circuit::ModelCircuit>);
}

/// The SRS in the GPU crate's type (the same serialized form: `k`, `g`, `g_lagrange`, `g2`,
/// `s·g2`).
#[inline]
fn gpu_params(params: &ParamsKZG<Bn256>) -> Result<GpuParams<Bn256>> {
    let mut bytes = Vec::new();
    let err = |e: std::io::Error| ProverError::Device(format!("SRS for the GPU: {e}"));
    params
        .write_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
        .map_err(err)?;
    GpuParams::<Bn256>::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
        .map_err(err)
}

/// Proves on the GPU with the given transcript.
#[inline]
pub fn prove<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
    transcript: Transcript,
) -> Result<Vec<u8>> {
    let g = gpu_params(params)?;
    match transcript {
        Transcript::Evm => prove_in::<C, _, ProofTranscript<Vec<u8>>>(&g, pk, circuit, instances),
        Transcript::Poseidon => {
            prove_in::<C, _, PoseidonProofTranscript<Vec<u8>>>(&g, pk, circuit, instances)
        }
    }
}

#[inline]
fn prove_in<C, E, T>(
    params: &GpuParams<Bn256>,
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
    halo2_axiom_gpu::plonk::create_proof::<GpuKzg<Bn256>, GpuShplonk<'_, Bn256>, _, _, _, _>(
        params,
        pk,
        &[circuit],
        &[&crate::proof::instance_columns(pk.get_vk(), instances)],
        rng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2 {
        stage: "proving (CUDA)",
        message: format!("{e:?}"),
    })?;
    Ok(transcript.finalize())
}
