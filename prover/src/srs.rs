//! The structured reference string (KZG powers of tau on BN254).

use std::io::{Read, Write};
use std::path::Path;

use halo2_proofs::halo2curves::bn256::Bn256;
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;

use crate::error::{io_err, ProverError, Result};

/// Magic header of SRS files written by zkonnx.
pub const SRS_MAGIC: &[u8; 8] = b"ZKXSRS\0\x01";

/// The warning printed whenever a development SRS is made.
pub const DEV_SRS_WARNING: &str = "WARNING: this SRS is generated from a public seed and is INSECURE: anyone can forge proofs against it. Use it for testing only; import a ceremony's powers of tau for production.";

/// Generates an insecure development SRS of size `2^k` from a seed (deterministic): the
/// points of halo2's `ParamsKZG::setup(k, ChaCha20Rng::seed_from_u64(seed))`, computed with
/// fixed-base tables (`crate::dev_srs`; 2^20 points in seconds rather than minutes).
pub fn dev_srs(k: u32, seed: u64) -> ParamsKZG<Bn256> {
    crate::dev_srs::dev_params(k, seed)
}

/// Writes an SRS with a magic header.
pub fn write_srs(path: &Path, params: &ParamsKZG<Bn256>) -> Result<()> {
    crate::artifacts::write_atomic(path, |w| {
        w.write_all(SRS_MAGIC)?;
        params.write_custom(w, SerdeFormat::RawBytesUnchecked)
    })
}

/// Reads an SRS written by [`write_srs`].
pub fn read_srs(path: &Path) -> Result<ParamsKZG<Bn256>> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let len = f.metadata().map_err(io_err(path))?.len();
    let mut r = std::io::BufReader::new(f);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io_err(path))?;
    if &magic != SRS_MAGIC {
        return Err(ProverError::Format {
            path: path.display().to_string(),
            reason: "not a zkonnx SRS file (bad magic)".into(),
        });
    }
    let mut kb = [0u8; 4];
    r.read_exact(&mut kb).map_err(io_err(path))?;
    let k = u32::from_le_bytes(kb);
    // Raw points: 64 bytes per G1 point (g and g_lagrange), 128 per G2 point.
    let expect = 8 + 4 + 2 * 64 * (1u64 << k.min(40)) + 2 * 128;
    if k > 28 || len != expect {
        return Err(ProverError::Format {
            path: path.display().to_string(),
            reason: format!(
                "corrupt SRS: header says 2^{k} points, so {expect} bytes, but the file has {len}"
            ),
        });
    }
    let mut all = Vec::with_capacity(len as usize - 8);
    all.extend_from_slice(&kb);
    r.read_to_end(&mut all).map_err(io_err(path))?;
    ParamsKZG::<Bn256>::read_custom(&mut all.as_slice(), SerdeFormat::RawBytes)
        .map_err(io_err(path))
}

/// Reduces an SRS to `2^k` points (no-op if it is already that size).
pub fn fit_srs(mut params: ParamsKZG<Bn256>, k: u32) -> Result<ParamsKZG<Bn256>> {
    if params.k() < k {
        return Err(ProverError::SrsTooSmall {
            have: params.k(),
            need: k,
        });
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}
