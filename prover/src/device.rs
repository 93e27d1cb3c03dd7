//! Where a proof is made: the CPU prover (halo2-axiom, rayon), or, in a build with the `cuda`
//! feature and on a machine with an NVIDIA GPU, halo2-axiom-gpu's CUDA prover (MSM, NTT and
//! quotient evaluation on the device). Key generation, verification and every artifact are
//! halo2-axiom's either way: a proof made on the GPU verifies with the same `vk.bin`, natively
//! and on the EVM, and a `pk.bin` made on either machine serves both.

use std::str::FromStr;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{Circuit, ProvingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};

use crate::error::{ProverError, Result};
use crate::proof::{self, Transcript};

/// The prover the user asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU prover.
    Cpu,
    /// The CUDA prover; an error where there is none.
    Cuda,
    /// The CUDA prover where a device is present, else the CPU prover.
    #[default]
    Auto,
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            "auto" => Ok(Device::Auto),
            _ => Err(format!("unknown device '{s}' (cpu, cuda or auto)")),
        }
    }
}

/// The prover that runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// `cpu` or `cuda`.
    pub prover: String,
    /// The GPU's name (CUDA only).
    pub device: Option<String>,
    /// Why `auto` fell back to the CPU, if it did.
    pub fallback: Option<String>,
}

impl Backend {
    /// The CPU prover.
    pub fn cpu(fallback: Option<String>) -> Self {
        Self {
            prover: "cpu".into(),
            device: None,
            fallback,
        }
    }

    /// Whether this is the CUDA prover.
    pub fn is_cuda(&self) -> bool {
        self.prover == "cuda"
    }
}

/// The name of the first CUDA device, or why there is none usable.
pub fn cuda_device() -> std::result::Result<String, String> {
    #[cfg(feature = "cuda")]
    {
        crate::gpu::device_name()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err("this build has no CUDA prover (build with `--features cuda`)".into())
    }
}

/// The prover `auto` chooses (never an error).
pub fn auto() -> Backend {
    match cuda_device() {
        Ok(name) => Backend {
            prover: "cuda".into(),
            device: Some(name),
            fallback: None,
        },
        Err(why) => Backend::cpu(Some(why)),
    }
}

/// Chooses the prover: `cuda` is an error ([`ProverError::Device`]) where no device can be
/// used; `auto` falls back to the CPU and says why.
pub fn resolve(want: Device) -> Result<Backend> {
    match want {
        Device::Cpu => Ok(Backend::cpu(None)),
        Device::Cuda => cuda_device()
            .map(|name| Backend {
                prover: "cuda".into(),
                device: Some(name),
                fallback: None,
            })
            .map_err(ProverError::Device),
        Device::Auto => Ok(auto()),
    }
}

/// Proves on the chosen backend ([`proof::prove_with`] on the CPU).
pub fn prove_on<C: Circuit<Fr>>(
    backend: &Backend,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
    transcript: Transcript,
) -> Result<Vec<u8>> {
    if backend.is_cuda() {
        #[cfg(feature = "cuda")]
        return crate::gpu::prove(params, pk, circuit, instances, transcript);
        #[cfg(not(feature = "cuda"))]
        return Err(ProverError::Device(
            "this build has no CUDA prover (build with `--features cuda`)".into(),
        ));
    }
    proof::prove_with(params, pk, circuit, instances, transcript)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse() {
        assert_eq!("cpu".parse::<Device>(), Ok(Device::Cpu));
        assert_eq!("cuda".parse::<Device>(), Ok(Device::Cuda));
        assert_eq!("auto".parse::<Device>(), Ok(Device::Auto));
        assert!("gpu".parse::<Device>().is_err());
    }

    /// Without a usable device, `auto` is the CPU with the reason and `cuda` an error.
    #[test]
    fn without_a_device_auto_falls_back_and_cuda_fails() {
        if cuda_device().is_ok() {
            return; // a machine with a GPU: the fallback cannot be observed here
        }
        let b = resolve(Device::Auto).expect("auto");
        assert_eq!(b.prover, "cpu");
        assert!(b.fallback.is_some());
        assert!(matches!(resolve(Device::Cuda), Err(ProverError::Device(_))));
        assert_eq!(resolve(Device::Cpu).expect("cpu"), Backend::cpu(None));
    }
}
