//! Key generation and the key file formats.
//!
//! `vk.bin` is self-contained for verification: it carries the circuit shape and the three
//! SRS points the KZG verifier needs (`g`, `g2`, `s·g2`), so `verify` needs no SRS file.

use std::io::{Read, Write};
use std::path::Path;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::plonk::{keygen_pk2, Circuit, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use zkonnx_circuits::circuit::ModelCircuit;
use zkonnx_circuits::layout::CircuitShape;

use serde::{Deserialize, Serialize};

use crate::error::{io_err, ProverError, Result};

/// Magic header of verifying-key files (version 2: the header binds settings.json).
pub const VK_MAGIC: &[u8; 8] = b"ZKXVK\0\0\x02";
/// Magic header of proving-key files.
pub const PK_MAGIC: &[u8; 8] = b"ZKXPK\0\0\x02";

/// The JSON header of a key file: the circuit shape and the digest of the settings the key
/// was made for ([`Settings::digest`](crate::artifacts::Settings::digest)).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyHeader {
    /// The circuit shape.
    pub shape: CircuitShape,
    /// Keccak-256 of the settings, hex with `0x`.
    pub settings: String,
}

/// A verifying key with the SRS points needed to check proofs against it.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    /// The halo2 verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// The circuit shape it was made for.
    pub shape: CircuitShape,
    /// Digest of the settings it was made for ([`Settings::digest`](crate::artifacts::Settings::digest)).
    pub settings_digest: [u8; 32],
    /// Verifier-side SRS (only `g[0]`, `g2`, `s·g2` are meaningful).
    pub params: ParamsKZG<Bn256>,
}

/// Runs key generation for a circuit (no witness needed): a model's [`ModelCircuit`], or any
/// halo2 circuit over BN254.
pub fn keygen<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    circuit: &C,
) -> Result<ProvingKey<G1Affine>> {
    // Selectors stay uncompressed: compression saved only ~700 bytes of Solidity verifier on
    // mlp_digits (37.1 → 36.4 KB) and made mlp_wide's proof slower (18.4 → 20.9 s) by raising
    // the gates' degree. Both keys come from one synthesis of the circuit (the same verifying
    // key as `keygen_vk`, without synthesizing and converting the fixed columns twice).
    // The fixed and permutation commitments are made with the SRS's Lagrange basis, which a
    // file may carry wrong while its powers and G2 points are right: check it first.
    crate::srs::check_lagrange(params)?;
    // Weights are small signed integers: commit them at the cost of their magnitude
    // (`commit`; the same keys, byte for byte).
    keygen_pk2(&crate::commit::SignedParams::new(params), circuit, false).map_err(|e| {
        ProverError::Halo2 {
            stage: "key generation",
            message: format!("{e:?}"),
        }
    })
}

fn fmt_err(path: &Path, reason: impl Into<String>) -> ProverError {
    ProverError::Format {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn write_header(
    w: &mut impl Write,
    magic: &[u8; 8],
    shape: &CircuitShape,
    digest: &[u8; 32],
) -> std::io::Result<()> {
    w.write_all(magic)?;
    let header = KeyHeader {
        shape: *shape,
        settings: format!("0x{}", hex::encode(digest)),
    };
    let js = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    w.write_all(&(js.len() as u32).to_le_bytes())?;
    w.write_all(&js)
}

fn read_header(
    r: &mut impl Read,
    magic: &[u8; 8],
    path: &Path,
    what: &str,
) -> Result<(CircuitShape, [u8; 32])> {
    let mut m = [0u8; 8];
    r.read_exact(&mut m)
        .map_err(|_| fmt_err(path, format!("file too short to be a {what}")))?;
    if &m != magic {
        return Err(fmt_err(
            path,
            format!("not a zkonnx {what} (bad magic; was it written by another version or tool?)"),
        ));
    }
    let mut lb = [0u8; 4];
    r.read_exact(&mut lb).map_err(io_err(path))?;
    let len = u32::from_le_bytes(lb) as usize;
    if len > 4096 {
        return Err(fmt_err(path, "corrupt header"));
    }
    let mut js = vec![0u8; len];
    r.read_exact(&mut js).map_err(io_err(path))?;
    let h: KeyHeader =
        serde_json::from_slice(&js).map_err(|e| fmt_err(path, format!("corrupt header: {e}")))?;
    check_shape(&h.shape).map_err(|e| fmt_err(path, format!("corrupt header: {e}")))?;
    let digest = h
        .settings
        .strip_prefix("0x")
        .and_then(|x| hex::decode(x).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            fmt_err(
                path,
                "corrupt header: the settings digest is not 32 bytes of hex",
            )
        })?;
    Ok((h.shape, digest))
}

/// Bounds on a shape read from an untrusted header, checked before anything is built from it
/// (a key is configured from its shape: its column counts and `k`).
pub fn check_shape(s: &CircuitShape) -> std::result::Result<(), String> {
    let max_k = crate::artifacts::MAX_K;
    if !(1..=max_k).contains(&s.k) {
        return Err(format!("k = {} is out of range (1..={max_k})", s.k));
    }
    let bound = |what: &str, v: usize, max: usize| {
        if v == 0 || v > max {
            Err(format!("{what} = {v} is out of range (1..={max})"))
        } else {
            Ok(())
        }
    };
    bound("inputs_per_row", s.inputs_per_row, 64)?;
    bound("accs_per_row", s.accs_per_row, 64)?;
    bound(
        "windows_per_row",
        s.windows_per_row,
        zkonnx_circuits::shape::MAX_WINDOWS_PER_ROW,
    )?;
    // The multiply-add pool: at most what it could be before windows existed (64 + 64).
    bound(
        "(inputs_per_row + accs_per_row) × windows_per_row",
        (s.inputs_per_row + s.accs_per_row) * s.windows_per_row,
        128,
    )?;
    bound("max_limbs", s.max_limbs, 64)?;
    bound(
        "range_lanes",
        s.range_lanes,
        zkonnx_circuits::shape::MAX_RANGE_LANES,
    )?;
    if s.limb_bits > 24 {
        return Err(format!(
            "limb_bits = {} is out of range (0..=24)",
            s.limb_bits
        ));
    }
    if let Some(l) = s.lean {
        if l.width == 0 || l.width > 120 {
            return Err(format!(
                "lean width = {} is out of range (1..=120)",
                l.width
            ));
        }
    }
    Ok(())
}

/// The bytes of `vk.bin`: header, the SRS points a verifier needs, the verifying key.
pub fn vk_bytes(
    vk: &VerifyingKey<G1Affine>,
    shape: &CircuitShape,
    settings_digest: &[u8; 32],
    params: &ParamsKZG<Bn256>,
) -> Vec<u8> {
    let mut w = Vec::new();
    // Writing into a vector cannot fail.
    let _ = (|| -> std::io::Result<()> {
        write_header(&mut w, VK_MAGIC, shape, settings_digest)?;
        w.write_all(&params.k().to_le_bytes())?;
        params.get_g()[0].write_raw(&mut w)?;
        params.g2().write_raw(&mut w)?;
        params.s_g2().write_raw(&mut w)?;
        vk.write(&mut w, SerdeFormat::RawBytes)
    })();
    w
}

/// Writes `vk.bin` ([`vk_bytes`]).
pub fn write_vk(
    path: &Path,
    vk: &VerifyingKey<G1Affine>,
    shape: &CircuitShape,
    settings_digest: &[u8; 32],
    params: &ParamsKZG<Bn256>,
) -> Result<()> {
    let bytes = vk_bytes(vk, shape, settings_digest, params);
    crate::artifacts::write_atomic(path, |w| w.write_all(&bytes))
}

/// Reads `vk.bin`.
pub fn read_vk(path: &Path) -> Result<VerifierKey> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let mut r = bytes.as_slice();
    let (shape, settings_digest) = read_header(&mut r, VK_MAGIC, path, "verifying key")?;
    let corrupt = |e: std::io::Error| fmt_err(path, format!("corrupt verifying key: {e}"));
    let mut kb = [0u8; 4];
    r.read_exact(&mut kb).map_err(corrupt)?;
    let k = u32::from_le_bytes(kb);
    if k != shape.k {
        return Err(fmt_err(
            path,
            format!(
                "corrupt verifying key: k={k} but the shape says {}",
                shape.k
            ),
        ));
    }
    let g0 = G1Affine::read_raw(&mut r).map_err(corrupt)?;
    let g2 = G2Affine::read_raw(&mut r).map_err(corrupt)?;
    let s_g2 = G2Affine::read_raw(&mut r).map_err(corrupt)?;
    check_srs_points(&g0, &[g2, s_g2])
        .map_err(|e| fmt_err(path, format!("corrupt verifying key: {e}")))?;
    check_vk_body(r, shape.k).map_err(|e| fmt_err(path, format!("corrupt verifying key: {e}")))?;
    let vk = std::panic::catch_unwind(move || {
        VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape)
    })
    .map_err(|_| fmt_err(path, "corrupt verifying key"))?
    .map_err(corrupt)?;
    check_commitments(&vk).map_err(|e| fmt_err(path, format!("corrupt verifying key: {e}")))?;
    let base = ParamsKZG::<Bn256>::setup(1, rand_core::OsRng);
    let params = base.from_parts(k, vec![g0], Some(vec![]), g2, s_g2);
    Ok(VerifierKey {
        vk,
        shape,
        settings_digest,
        params,
    })
}

/// The G1 generator-side point and the G2 points of a verifier-side SRS: on their curves, not
/// the identity, and (G2, whose curve has a cofactor) in the prime-order subgroup.
pub fn check_srs_points(g: &G1Affine, g2s: &[G2Affine]) -> std::result::Result<(), String> {
    use halo2_proofs::halo2curves::bn256::G2;
    use halo2_proofs::halo2curves::ff::Field;
    use halo2_proofs::halo2curves::group::cofactor::CofactorCurveAffine;
    use halo2_proofs::halo2curves::group::Group;
    use halo2_proofs::halo2curves::CurveAffine;
    if !bool::from(g.is_on_curve()) || bool::from(g.is_identity()) {
        return Err("the G1 point is not a point of the curve".into());
    }
    for p in g2s {
        if !bool::from(p.is_on_curve()) || bool::from(p.is_identity()) {
            return Err("a G2 point is not a point of the curve".into());
        }
        // r·P = (r − 1)·P + P is the identity exactly on the subgroup of order r.
        let q = G2::from(*p);
        if !bool::from((q * (-Fr::ONE) + q).is_identity()) {
            return Err("a G2 point is outside the prime-order subgroup".into());
        }
    }
    Ok(())
}

/// Checks that a verifying key's SRS points (`[1]₁`, `[1]₂`, `[τ]₂`) are those of `srs`: a key
/// from another setup, or one whose `[τ]₂` was replaced (forging proofs needs only that), is
/// refused.
pub fn check_vk_srs(vk: &VerifierKey, srs: &ParamsKZG<Bn256>) -> std::result::Result<(), String> {
    let same = vk.params.get_g().first() == srs.get_g().first()
        && vk.params.g2() == srs.g2()
        && vk.params.s_g2() == srs.s_g2();
    if same {
        Ok(())
    } else {
        Err("the verifying key was not made from this SRS (its [1]₁, [1]₂ or [τ]₂ differ)".into())
    }
}

/// Checks the first bytes of a halo2 verifying key (version, `k`, selector compression)
/// before halo2 builds a domain from them.
fn check_vk_body(body: &[u8], k: u32) -> std::result::Result<(), String> {
    if body.len() < 6 {
        return Err("truncated".into());
    }
    let vk_k = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
    if vk_k != k {
        return Err(format!("k = {vk_k} but the header says {k}"));
    }
    if body[5] > 1 {
        return Err("bad selector-compression flag".into());
    }
    Ok(())
}

/// Every commitment of a verifying key is a point of the curve (raw reads check only that the
/// coordinates are field elements).
fn check_commitments(vk: &VerifyingKey<G1Affine>) -> std::result::Result<(), String> {
    use halo2_proofs::halo2curves::CurveAffine;
    let all = vk
        .fixed_commitments()
        .iter()
        .chain(vk.permutation().commitments());
    for (i, c) in all.enumerate() {
        if !bool::from(c.is_on_curve()) {
            return Err(format!("commitment {i} is not a point of the curve"));
        }
    }
    Ok(())
}

/// Writes the proving key.
pub fn write_pk(
    path: &Path,
    pk: &ProvingKey<G1Affine>,
    shape: &CircuitShape,
    settings_digest: &[u8; 32],
) -> Result<()> {
    crate::artifacts::write_atomic(path, |w| {
        write_header(w, PK_MAGIC, shape, settings_digest)?;
        pk.write(w, SerdeFormat::RawBytesUnchecked)
    })
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Walks the polynomial sections of a proving key's body (after its verifying key, at byte
/// `at` of the file) reading only their length prefixes: every polynomial must have the
/// domain's or the extended domain's length, every list a sane count, and the sections must
/// end exactly at the end of the file. halo2 allocates from these lengths and unwraps its
/// reads, so nothing is parsed before they are known to be right.
fn scan_pk_body(path: &Path, at: u64, vk: &VerifyingKey<G1Affine>) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let end = f.metadata().map_err(io_err(path))?.len();
    let corrupt = |what: String| fmt_err(path, format!("corrupt proving key: {what}"));
    let domain = vk.get_domain();
    let lens = [1u64 << domain.k(), domain.extended_len() as u64];
    let mut pos = at;
    let u32_at = |f: &mut std::fs::File, pos: &mut u64| -> Result<u64> {
        if *pos + 4 > end {
            return Err(corrupt(format!("truncated at byte {pos}")));
        }
        f.seek(SeekFrom::Start(*pos)).map_err(io_err(path))?;
        let mut b = [0u8; 4];
        f.read_exact(&mut b).map_err(io_err(path))?;
        *pos += 4;
        Ok(u64::from(u32::from_be_bytes(b)))
    };
    let poly = |f: &mut std::fs::File, pos: &mut u64| -> Result<()> {
        let len = u32_at(f, pos)?;
        if !lens.contains(&len) {
            return Err(corrupt(format!(
                "a polynomial of length {len} (the domain has {} or {})",
                lens[0], lens[1]
            )));
        }
        *pos += len * 32;
        if *pos > end {
            return Err(corrupt(format!("truncated (needs {pos} bytes, has {end})")));
        }
        Ok(())
    };
    for _ in 0..3 {
        poly(&mut f, &mut pos)?;
    }
    for _ in 0..4 {
        let count = u32_at(&mut f, &mut pos)?;
        if count > 10_000 {
            return Err(corrupt(format!("a list of {count} polynomials")));
        }
        for _ in 0..count {
            poly(&mut f, &mut pos)?;
        }
    }
    if pos != end {
        return Err(corrupt(format!("{} bytes after its end", end - pos)));
    }
    Ok(())
}

/// Reads a proving key written by [`write_pk`]: the key, its shape and its settings digest.
/// The file is checked section by section before any polynomial is allocated.
pub fn read_pk(path: &Path) -> Result<(ProvingKey<G1Affine>, CircuitShape, [u8; 32])> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut r = Counting {
        inner: std::io::BufReader::new(f),
        read: 0,
    };
    let (shape, digest) = read_header(&mut r, PK_MAGIC, path, "proving key")?;
    let body = r.read;
    let vk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut r,
            SerdeFormat::RawBytesUnchecked,
            shape,
        )
    }))
    .map_err(|_| fmt_err(path, "corrupt proving key"))?
    .map_err(|e| fmt_err(path, format!("corrupt proving key: {e}")))?;
    check_commitments(&vk).map_err(|e| fmt_err(path, format!("corrupt proving key: {e}")))?;
    scan_pk_body(path, r.read, &vk)?;
    drop(r);
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut r = std::io::BufReader::new(f);
    std::io::copy(&mut (&mut r).take(body), &mut std::io::sink()).map_err(io_err(path))?;
    let pk = std::panic::catch_unwind(move || {
        ProvingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut r,
            SerdeFormat::RawBytesUnchecked,
            shape,
        )
    })
    .map_err(|_| fmt_err(path, "corrupt proving key"))?
    .map_err(|e| fmt_err(path, format!("corrupt proving key: {e}")))?;
    Ok((pk, shape, digest))
}

#[cfg(test)]
mod tests {
    use super::check_shape;
    use zkonnx_circuits::layout::CircuitShape;

    /// A header's multiply-add pool is bounded as a whole, not only each factor: 64 + 64 inputs
    /// and accumulators at 8 windows would configure 1,024 advice columns.
    #[test]
    fn the_pool_width_is_bounded_before_configuring() {
        let s = |t, a, p| CircuitShape {
            inputs_per_row: t,
            accs_per_row: a,
            windows_per_row: p,
            ..CircuitShape::default()
        };
        assert!(check_shape(&s(16, 16, 4)).is_ok());
        assert!(check_shape(&s(64, 64, 1)).is_ok());
        let e = check_shape(&s(64, 64, 8)).expect_err("1,024 columns");
        assert!(
            e.contains("windows_per_row") && e.contains("out of range"),
            "{e}"
        );
        assert!(check_shape(&s(4, 4, 9)).is_err());
    }
}
