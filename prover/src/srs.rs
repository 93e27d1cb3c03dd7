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
    let p = ParamsKZG::<Bn256>::read_custom(&mut all.as_slice(), SerdeFormat::RawBytes)
        .map_err(io_err(path))?;
    check_points(&p, &all[4..]).map_err(|reason| ProverError::Format {
        path: path.display().to_string(),
        reason: format!("corrupt SRS: {reason}"),
    })?;
    Ok(p)
}

/// Every point of an SRS read from a file is a point of its curve (raw reads check only that
/// coordinates are field elements), its G2 points in the subgroup, and τ is not 0 or 1.
fn check_points(p: &ParamsKZG<Bn256>, raw: &[u8]) -> std::result::Result<(), String> {
    use halo2_proofs::halo2curves::bn256::G1Affine;
    use halo2_proofs::halo2curves::serde::SerdeObject;
    use halo2_proofs::halo2curves::CurveAffine;
    use halo2_proofs::poly::commitment::ParamsProver;
    use rayon::prelude::*;
    let g = p.get_g();
    let first = g.first().ok_or("no points")?;
    crate::keys::check_srs_points(first, &[p.g2(), p.s_g2()])?;
    if p.s_g2() == p.g2() || g.get(1) == Some(first) {
        return Err("τ = 1".into());
    }
    // The G1 points as read: `g` then `g_lagrange`, 64 raw bytes each.
    let n = 2 * g.len();
    let bad = raw
        .get(..n * 64)
        .ok_or("truncated")?
        .par_chunks_exact(64)
        .position_any(|mut c| {
            G1Affine::read_raw(&mut c).map_or(true, |q| !bool::from(q.is_on_curve()))
        });
    match bad {
        Some(i) => Err(format!("point {i} is not a point of the curve")),
        None => Ok(()),
    }
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
