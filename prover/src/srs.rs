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

/// Bytes of the header of an SRS file: the magic, then `k` (u32, little-endian).
const HEADER: u64 = 8 + 4;
/// Bytes of a raw G1 point.
const G1_BYTES: u64 = 64;
/// Bytes of the two raw G2 points ([1]₂, [τ]₂) that end the file.
const G2_TAIL: u64 = 2 * 128;

/// Opens an SRS written by [`write_srs`] and checks its magic and its length against the size
/// its header states (2^k points of `g`, then of `g_lagrange`, then the G2 points), before
/// anything is allocated from it. Returns the reader (past the header) and `k`.
fn open_srs(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, u32)> {
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
    let expect = HEADER + 2 * G1_BYTES * (1u64 << k.min(40)) + G2_TAIL;
    if k > 28 || len != expect {
        return Err(ProverError::Format {
            path: path.display().to_string(),
            reason: format!(
                "corrupt SRS: header says 2^{k} points, so {expect} bytes, but the file has {len}"
            ),
        });
    }
    Ok((r, k))
}

/// The size (log2 of its points) an SRS file declares, its length checked against it.
pub fn srs_file_k(path: &Path) -> Result<u32> {
    Ok(open_srs(path)?.1)
}

/// Reads an SRS written by [`write_srs`].
pub fn read_srs(path: &Path) -> Result<ParamsKZG<Bn256>> {
    let (mut r, k) = open_srs(path)?;
    let len = HEADER + 2 * G1_BYTES * (1u64 << k) + G2_TAIL;
    let mut all = Vec::with_capacity(len as usize - 8);
    all.extend_from_slice(&k.to_le_bytes());
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
    use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
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
            // No power of a real τ and no Lagrange point of one is the identity; an identity
            // point would commit to zero whatever the scalar.
            G1Affine::read_raw(&mut c).map_or(true, |q| {
                !bool::from(q.is_on_curve()) || bool::from(q.is_identity())
            })
        });
    match bad {
        Some(i) => Err(format!(
            "point {i} is not a point of the curve, or is the identity"
        )),
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

/// Reads the SRS at `path` reduced to `2^k` points, keeping the reduction in `cache`.
///
/// Reducing an SRS recomputes its Lagrange basis with a group FFT, which costs more than
/// proving a small circuit (mlp_wide at k = 14 with a 2^16 SRS: setup 3.9 → 16.0 s, prove
/// 4.1 → 14.5 s). So when `path` holds more points than needed, the reduced SRS is written to
/// `cache` (atomically; best effort: a read-only folder only costs the reduction again) and a
/// later call reads `cache` instead, once it has checked that `cache` holds exactly the first
/// 2^k powers of `path` and the same G2 points, byte for byte. A `cache` that is stale,
/// corrupt or of another size is replaced. When `path` holds exactly 2^k points it is read
/// as it is and `cache` is not touched. The reduction reads only the first 2^k powers and the
/// G2 points of `path`, never the whole file.
///
/// The Lagrange points of `cache` are taken as written: a prover that uses a wrong basis makes
/// commitments its own verifying key rejects, and key generation checks the basis
/// ([`check_lagrange`]) before it commits to anything with it.
pub fn read_srs_for(path: &Path, k: u32, cache: &Path) -> Result<ParamsKZG<Bn256>> {
    let have = srs_file_k(path)?;
    if have < k {
        return Err(ProverError::SrsTooSmall { have, need: k });
    }
    if have == k {
        return read_srs(path);
    }
    let same_file = same_file(path, cache);
    if !same_file
        && cache.is_file()
        && srs_file_k(cache).ok() == Some(k)
        && is_prefix_of(cache, path, k).unwrap_or(false)
    {
        if let Ok(p) = read_srs(cache) {
            return Ok(p);
        }
    }
    let p = read_srs_prefix(path, k)?;
    if !same_file {
        // Best effort: the reduction is correct whether or not it could be kept.
        let _ = write_srs(cache, &p);
    }
    Ok(p)
}

/// The SRS file a prover of 2^k rows should read, given the SRS at `path`: `path` itself when
/// it has exactly 2^k points, else `cache` once it holds `path` reduced to 2^k points (checked
/// as [`read_srs_for`] checks it, and made again from `path` and written when it does not).
/// For work that must not reduce a large SRS itself: segments proved side by side, Ray
/// workers that are shipped the file. Unlike [`read_srs_for`], keeping the reduction is not
/// best effort here: a `cache` that cannot be written is an error.
pub fn kept_srs(path: &Path, k: u32, cache: &Path) -> Result<std::path::PathBuf> {
    let have = srs_file_k(path)?;
    if have == k {
        return Ok(path.to_path_buf());
    }
    if have < k {
        return Err(ProverError::SrsTooSmall { have, need: k });
    }
    if srs_file_k(cache).ok() == Some(k) && is_prefix_of(cache, path, k).unwrap_or(false) {
        return Ok(cache.to_path_buf());
    }
    if same_file(path, cache) {
        return Err(ProverError::Format {
            path: cache.display().to_string(),
            reason: format!(
                "the reduced SRS (2^{k} points) would be kept over the given SRS (2^{have}): \
                 give the SRS from another path"
            ),
        });
    }
    write_srs(cache, &read_srs_prefix(path, k)?)?;
    Ok(cache.to_path_buf())
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The SRS at `path` reduced to its first `2^k` powers, read without the rest of the file:
/// the header, the first 2^k points of `g` and the G2 points, each checked (on the curve, not
/// the identity; G2 in the subgroup; τ not 0 or 1); the Lagrange basis is computed (a group
/// FFT of 2^k points).
pub fn read_srs_prefix(path: &Path, k: u32) -> Result<ParamsKZG<Bn256>> {
    use halo2_proofs::halo2curves::bn256::{G1Affine, G2Affine};
    use halo2_proofs::halo2curves::serde::SerdeObject;
    use std::io::{Seek, SeekFrom};
    let (mut r, have) = open_srs(path)?;
    if have < k {
        return Err(ProverError::SrsTooSmall { have, need: k });
    }
    let bad = |reason: String| ProverError::Format {
        path: path.display().to_string(),
        reason: format!("corrupt SRS: {reason}"),
    };
    let mut raw = vec![0u8; (G1_BYTES << k) as usize];
    r.read_exact(&mut raw).map_err(io_err(path))?;
    let g: Vec<G1Affine> = raw
        .chunks_exact(G1_BYTES as usize)
        .enumerate()
        .map(|(i, mut c)| {
            G1Affine::read_raw(&mut c).map_err(|_| bad(format!("point {i} is not a point")))
        })
        .collect::<Result<_>>()?;
    r.seek(SeekFrom::End(-(G2_TAIL as i64)))
        .map_err(io_err(path))?;
    let mut g2s = [G2Affine::default(); 2];
    for p in &mut g2s {
        *p = G2Affine::read_raw(&mut r).map_err(|_| bad("a G2 point is not a point".into()))?;
    }
    // A template of the right type; `from_parts` computes the Lagrange basis of `g`.
    let p = dev_srs(1, 0).from_parts(k, g, None, g2s[0], g2s[1]);
    let mut bytes = Vec::with_capacity(2 * raw.len());
    p.write_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
        .map_err(io_err(path))?;
    check_points(&p, bytes.get(4..).unwrap_or_default()).map_err(bad)?;
    Ok(p)
}

/// Checks that the SRS's Lagrange points are the Lagrange basis of its powers: for random
/// values r on the domain of 2^k points, Σ r_i·[L_i(τ)] must equal Σ c_j·[τ^j] where c is the
/// polynomial taking the values r (its coefficients by an inverse FFT). A wrong basis passes
/// with probability 1/|F|: the difference is Σ r_i·(L'_i − L_i), a linear form in r over a
/// group of prime order, zero for one value of r_i once the others are drawn. Two MSMs and one FFT of 2^k: far less
/// than the group FFT that recomputes the basis. Key generation runs it, because the fixed
/// columns' and the permutation's commitments in a verifying key are made with the basis, so
/// a wrong one would give a key for another circuit.
pub fn check_lagrange(params: &ParamsKZG<Bn256>) -> Result<()> {
    use halo2_proofs::halo2curves::bn256::Fr;
    use halo2_proofs::halo2curves::ff::Field;
    use halo2_proofs::poly::commitment::{Blind, ParamsProver};
    use halo2_proofs::poly::EvaluationDomain;
    use rand_core::SeedableRng;
    let k = params.k();
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    let domain = EvaluationDomain::<Fr>::new(1, k);
    let values: Vec<Fr> = (0..1usize << k).map(|_| Fr::random(&mut rng)).collect();
    let evals = domain.lagrange_from_vec(values);
    let coeffs = domain.lagrange_to_coeff(evals.clone());
    if params.commit_lagrange(&evals, Blind::default()) == params.commit(&coeffs, Blind::default())
    {
        Ok(())
    } else {
        Err(ProverError::Format {
            path: "SRS".into(),
            reason: "its Lagrange points are not the Lagrange basis of its powers of τ (a \
                     corrupt or tampered SRS file, or a tampered srs.fitted.bin: delete it and \
                     run setup again)"
                .into(),
        })
    }
}

/// Whether the SRS file `small` (2^k points) holds the first 2^k powers of the SRS file `big`
/// and its G2 points, byte for byte. Both files' lengths have been checked by [`open_srs`].
fn is_prefix_of(small: &Path, big: &Path, k: u32) -> Result<bool> {
    use std::io::{Seek, SeekFrom};
    let (mut a, _) = open_srs(small)?;
    let (mut b, _) = open_srs(big)?;
    let powers = G1_BYTES * (1u64 << k);
    // The powers, a chunk at a time.
    let mut left = powers;
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    while left > 0 {
        let n = left.min(x.len() as u64) as usize;
        a.read_exact(&mut x[..n]).map_err(io_err(small))?;
        b.read_exact(&mut y[..n]).map_err(io_err(big))?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
        left -= n as u64;
    }
    // The G2 points end both files.
    let tail = |r: &mut std::io::BufReader<std::fs::File>, p: &Path| -> Result<[u8; 256]> {
        let mut t = [0u8; 256];
        r.seek(SeekFrom::End(-(G2_TAIL as i64)))
            .map_err(io_err(p))?;
        r.read_exact(&mut t).map_err(io_err(p))?;
        Ok(t)
    };
    Ok(tail(&mut a, small)? == tail(&mut b, big)?)
}
