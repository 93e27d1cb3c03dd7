//! Reading the proving key `setup` wrote beside a compilation, with the checks every prover
//! (the CLI's, the CUDA process's) makes before using it.

use std::path::Path;

use halo2_proofs::halo2curves::bn256::G1Affine;
use halo2_proofs::plonk::ProvingKey;

use crate::{files, CompiledModel, Error, Result};

impl CompiledModel {
    /// Reads `DIR/pk.bin` and checks that it was made for this compilation (its circuit shape
    /// and settings digest) and, when `DIR/vk.bin` is there, that the verifying key is the
    /// proving key's own (else proofs made here would not verify with it).
    pub fn read_proving_key(&self, dir: &Path) -> Result<ProvingKey<G1Affine>> {
        let pk_path = dir.join(files::PK);
        let (pk, shape, digest) = crate::prover::keys::read_pk(&pk_path)?;
        if shape != self.plan.shape || digest != self.settings.digest() {
            return Err(Error::Mismatch(format!(
                "{}: the proving key was made for another circuit or compilation; run setup again",
                pk_path.display()
            )));
        }
        let vk_path = dir.join(files::VK);
        if vk_path.is_file() {
            let vk = crate::prover::keys::read_vk(&vk_path)?;
            if vk.vk.transcript_repr() != pk.get_vk().transcript_repr() {
                return Err(Error::Mismatch(format!(
                    "{} does not belong to {}: run setup again",
                    vk_path.display(),
                    pk_path.display()
                )));
            }
        }
        Ok(pk)
    }
}
