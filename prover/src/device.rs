//! Where a proof is made: the CPU prover (halo2-axiom, rayon), or, in a build with the `cuda`
//! feature and on a machine with an NVIDIA GPU, halo2-axiom-gpu's CUDA prover (MSM, NTT and
//! quotient evaluation on the device). Key generation, verification and every artifact are
//! halo2-axiom's either way: a proof made on the GPU verifies with the same `vk.bin`, natively
//! and on the EVM, and a `pk.bin` made on either machine serves both.

use std::str::FromStr;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::ProvingKey;
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

/// The in-process CUDA prover of a model circuit, once installed ([`install_gpu`]).
pub type GpuProve = fn(
    &ParamsKZG<Bn256>,
    &ProvingKey<G1Affine>,
    zkonnx_circuits::circuit::ModelCircuit,
    &[Fr],
    Transcript,
) -> Result<Vec<u8>>;

static GPU: std::sync::OnceLock<GpuProve> = std::sync::OnceLock::new();

/// Makes the CUDA prover available to this process (`zkonnx_prover::gpu::install` does it in a
/// build with the `cuda` feature). It is not linked in by default because a binary that links
/// halo2-axiom-gpu cannot start on a machine without a GPU: its CUDA memory pool is set up by
/// a constructor before `main` and aborts there. So the `zkonnx` binary never links it and
/// hands GPU proofs to `zkonnx-cuda`, which does.
pub fn install_gpu(f: GpuProve) {
    let _ = GPU.set(f);
}

/// Whether this process can prove on a GPU (the CUDA prover is installed).
pub fn gpu_installed() -> bool {
    GPU.get().is_some()
}

/// The name of the first CUDA device, or why there is none: asks the driver (`libcuda.so.1`,
/// loaded at run time, so this works in every build and on machines without a driver).
pub fn cuda_device() -> std::result::Result<String, String> {
    probe::first_device()
}

/// Chooses the prover for this process: `cuda` is an error ([`ProverError::Device`]) where the
/// CUDA prover is not installed or no device is present; `auto` falls back to the CPU and
/// says why.
pub fn resolve(want: Device) -> Result<Backend> {
    let gpu = || -> std::result::Result<Backend, String> {
        if !gpu_installed() {
            return Err(if cfg!(feature = "cuda") {
                "the CUDA prover runs in `zkonnx-cuda` (this process did not install it)".into()
            } else {
                "this build has no CUDA prover (build with `--features cuda`)".into()
            });
        }
        let name = cuda_device()?;
        Ok(Backend {
            prover: "cuda".into(),
            device: Some(name),
            fallback: None,
        })
    };
    match want {
        Device::Cpu => Ok(Backend::cpu(None)),
        Device::Cuda => gpu().map_err(ProverError::Device),
        Device::Auto => Ok(gpu().unwrap_or_else(|why| Backend::cpu(Some(why)))),
    }
}

/// The prover `auto` chooses (never an error).
pub fn auto() -> Backend {
    resolve(Device::Auto).unwrap_or_else(|_| Backend::cpu(None))
}

/// Proves a model circuit on the chosen backend ([`proof::prove_with`] on the CPU).
pub fn prove_on(
    backend: &Backend,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: zkonnx_circuits::circuit::ModelCircuit,
    instances: &[Fr],
    transcript: Transcript,
) -> Result<Vec<u8>> {
    if backend.is_cuda() {
        let f = GPU.get().ok_or_else(|| {
            ProverError::Device("the CUDA prover is not installed in this process".into())
        })?;
        return f(params, pk, circuit, instances, transcript);
    }
    proof::prove_with(params, pk, circuit, instances, transcript)
}

/// The CUDA driver asked through `dlopen`, so no build links it.
mod probe {
    use std::ffi::{c_char, c_int, c_void, CStr};

    type CuInit = unsafe extern "C" fn(u32) -> c_int;
    type CuCount = unsafe extern "C" fn(*mut c_int) -> c_int;
    type CuGet = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
    type CuName = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;

    extern "C" {
        fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    const RTLD_NOW: c_int = 2;

    fn sym(lib: *mut c_void, name: &CStr) -> Result<*mut c_void, String> {
        // SAFETY: `lib` is a handle dlopen returned; `name` is NUL-terminated.
        let p = unsafe { dlsym(lib, name.as_ptr()) };
        if p.is_null() {
            Err(format!("the CUDA driver has no {}", name.to_string_lossy()))
        } else {
            Ok(p)
        }
    }

    pub fn first_device() -> Result<String, String> {
        // SAFETY: a constant NUL-terminated name; a null handle is checked below.
        let lib = unsafe { dlopen(c"libcuda.so.1".as_ptr(), RTLD_NOW) };
        if lib.is_null() {
            return Err("no CUDA driver (libcuda.so.1 not found)".into());
        }
        // SAFETY: the symbols are the CUDA driver API's, with these signatures (cuda.h), and
        // are called as documented: init, then count, then device 0 and its name into a
        // buffer of the size passed.
        unsafe {
            let init: CuInit = std::mem::transmute(sym(lib, c"cuInit")?);
            let count: CuCount = std::mem::transmute(sym(lib, c"cuDeviceGetCount")?);
            let get: CuGet = std::mem::transmute(sym(lib, c"cuDeviceGet")?);
            let name: CuName = std::mem::transmute(sym(lib, c"cuDeviceGetName")?);
            let rc = init(0);
            if rc != 0 {
                return Err(format!("no CUDA device (cuInit: error {rc})"));
            }
            let mut n: c_int = 0;
            if count(&mut n) != 0 || n <= 0 {
                return Err("no CUDA device".into());
            }
            let mut dev: c_int = 0;
            if get(&mut dev, 0) != 0 {
                return Err("CUDA device 0 cannot be opened".into());
            }
            let mut buf = [0 as c_char; 256];
            if name(buf.as_mut_ptr(), buf.len() as c_int, dev) != 0 {
                return Ok("CUDA device 0".into());
            }
            Ok(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned())
        }
    }
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
        if gpu_installed() && cuda_device().is_ok() {
            return; // a process that can prove on a GPU: the fallback cannot be observed
        }
        let b = resolve(Device::Auto).expect("auto");
        assert_eq!(b.prover, "cpu");
        assert!(b.fallback.is_some());
        assert!(matches!(resolve(Device::Cuda), Err(ProverError::Device(_))));
        assert_eq!(resolve(Device::Cpu).expect("cpu"), Backend::cpu(None));
    }
}
