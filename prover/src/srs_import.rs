//! Importing a real ceremony's powers of tau (DESIGN.md §6): halo2's `ParamsKZG` files (raw or
//! compressed points) and snarkjs `.ptau` files (the Perpetual Powers of Tau), checked and
//! reduced to the size a circuit needs.
//!
//! Checks: every point is on its curve; the first G1 power is the generator; the pairings
//! `e([τ^(i+1)]₁, [1]₂) = e([τ^i]₁, [τ]₂)` hold for the first powers and a spread of later
//! ones; for halo2 files, the Lagrange points sum to the generator (Σ L_i = 1).

use std::io::Read;
use std::path::Path;

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fq2, G1Affine, G2Affine, G1};
use halo2_proofs::halo2curves::group::ff::Field;
use halo2_proofs::halo2curves::pairing::Engine;
use halo2_proofs::halo2curves::CurveAffine;
use halo2_proofs::poly::commitment::{Blind, Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::poly::EvaluationDomain;
use halo2_proofs::SerdeFormat;

use crate::error::{io_err, ProverError, Result};
use crate::srs::{dev_srs, fit_srs};

/// Formats `zkonnx srs import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrsFormat {
    /// halo2 `ParamsKZG` (`Params::write`: raw points; or compressed points).
    Halo2,
    /// snarkjs `.ptau`.
    Ptau,
}

fn bad(path: &Path, reason: impl Into<String>) -> ProverError {
    ProverError::Format {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads a ceremony file, checks it and reduces it to `2^k` points (`None`: keep its size).
pub fn import_srs(path: &Path, k: Option<u32>) -> Result<ParamsKZG<Bn256>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    let params = if bytes.starts_with(b"ptau") {
        read_ptau(path, &bytes, k)?
    } else {
        read_halo2(path, &bytes)?
    };
    check_powers(path, &params)?;
    match k {
        Some(k) => fit_srs(params, k),
        None => Ok(params),
    }
}

/// Detects the format of a file by its first bytes.
pub fn detect(bytes: &[u8]) -> SrsFormat {
    if bytes.starts_with(b"ptau") {
        SrsFormat::Ptau
    } else {
        SrsFormat::Halo2
    }
}

fn read_halo2(path: &Path, bytes: &[u8]) -> Result<ParamsKZG<Bn256>> {
    if bytes.len() < 4 {
        return Err(bad(path, "too short for a halo2 params file"));
    }
    let k = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if k == 0 || k > 28 {
        return Err(bad(
            path,
            format!("header says 2^{k} points: not a halo2 params file"),
        ));
    }
    let n = 1u64 << k;
    let raw = 4 + 2 * 64 * n + 2 * 128;
    let compressed = 4 + 2 * 32 * n + 2 * 64;
    let format = match bytes.len() as u64 {
        l if l == raw => SerdeFormat::RawBytes,
        l if l == compressed => SerdeFormat::Processed,
        l => {
            return Err(bad(
                path,
                format!("a halo2 params file of 2^{k} points has {raw} bytes (raw) or {compressed} (compressed), this one {l}"),
            ))
        }
    };
    let params = ParamsKZG::<Bn256>::read_custom(&mut &bytes[..], format)
        .map_err(|e| bad(path, format!("invalid point: {e}")))?;
    let domain = EvaluationDomain::<halo2_proofs::halo2curves::bn256::Fr>::new(1, k);
    let mut ones = domain.empty_lagrange();
    for v in ones.iter_mut() {
        *v = halo2_proofs::halo2curves::bn256::Fr::ONE;
    }
    let sum: G1 = params.commit_lagrange(&ones, Blind::default());
    if G1Affine::from(sum) != G1Affine::generator() {
        return Err(bad(path, "the Lagrange points do not sum to the generator"));
    }
    Ok(params)
}

/// An Fq element from 32 little-endian bytes in Montgomery form (snarkjs' `LEM`).
fn fq_lem(b: &[u8]) -> Option<Fq> {
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        *l = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().ok()?);
    }
    // The integer must be below q: from_raw reduces, so compare with its canonical bytes.
    let x = Fq::from_raw(limbs);
    let mut canon = [0u8; 32];
    canon.copy_from_slice(&b[..32]);
    if halo2_proofs::halo2curves::group::ff::PrimeField::to_repr(&x).as_ref() != canon {
        return None;
    }
    let r_inv = Fq::from(2u64)
        .pow_vartime([256])
        .invert()
        .unwrap_or(Fq::ZERO);
    Some(x * r_inv)
}

fn read_ptau(path: &Path, b: &[u8], want_k: Option<u32>) -> Result<ParamsKZG<Bn256>> {
    let u32_at =
        |o: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?)) };
    let u64_at =
        |o: usize| -> Option<u64> { Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?)) };
    let n_sections = u32_at(8).ok_or_else(|| bad(path, "truncated header"))?;
    let mut sections = std::collections::HashMap::new();
    let mut off = 12usize;
    for _ in 0..n_sections {
        let id = u32_at(off).ok_or_else(|| bad(path, "truncated section header"))?;
        let size = u64_at(off + 4).ok_or_else(|| bad(path, "truncated section header"))?;
        let start = off + 12;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if start.checked_add(size).is_none_or(|end| end > b.len()) {
            return Err(bad(
                path,
                format!("section {id} runs past the end of the file"),
            ));
        }
        sections.insert(id, &b[start..start + size]);
        off = start + size;
    }
    let header = sections
        .get(&1)
        .ok_or_else(|| bad(path, "no header section"))?;
    if header.len() < 44 || u32::from_le_bytes(header[..4].try_into().unwrap_or_default()) != 32 {
        return Err(bad(
            path,
            "not a BN254 ptau file (field size is not 32 bytes)",
        ));
    }
    let q_bytes = &header[4..36];
    let q_expected = hex_le("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47");
    if q_bytes != q_expected.as_slice() {
        return Err(bad(path, "not a BN254 ptau file (another base field)"));
    }
    let power = u32::from_le_bytes(header[36..40].try_into().unwrap_or_default());
    let max_k = crate::artifacts::MAX_K;
    let k = want_k.unwrap_or(power).min(power);
    if k > max_k || want_k.is_some_and(|w| w > max_k) {
        return Err(bad(
            path,
            format!("2^{k} points: more than the 2^{max_k} any circuit here uses"),
        ));
    }
    let k = want_k.unwrap_or(power);
    if k > power {
        return Err(ProverError::SrsTooSmall {
            have: power,
            need: k,
        });
    }
    let n = 1usize << k;
    let g1s = sections
        .get(&2)
        .ok_or_else(|| bad(path, "no tauG1 section"))?;
    let g2s = sections
        .get(&3)
        .ok_or_else(|| bad(path, "no tauG2 section"))?;
    if g1s.len() < n * 64 || g2s.len() < 2 * 128 {
        return Err(bad(
            path,
            format!("the tau sections are shorter than 2^{k} points"),
        ));
    }
    let g1 = |i: usize| -> Result<G1Affine> {
        let p = &g1s[i * 64..(i + 1) * 64];
        let (x, y) = (fq_lem(&p[..32]), fq_lem(&p[32..]));
        match (x, y) {
            (Some(x), Some(y)) => Option::from(G1Affine::from_xy(x, y)),
            _ => None,
        }
        .ok_or_else(|| bad(path, format!("tauG1[{i}] is not a point of BN254's G1")))
    };
    let g2 = |i: usize| -> Result<G2Affine> {
        let p = &g2s[i * 128..(i + 1) * 128];
        let c = |j: usize| fq_lem(&p[32 * j..32 * (j + 1)]);
        match (c(0), c(1), c(2), c(3)) {
            (Some(a), Some(b), Some(cc), Some(d)) => Option::from(G2Affine::from_xy(
                Fq2 { c0: a, c1: b },
                Fq2 { c0: cc, c1: d },
            )),
            _ => None,
        }
        .ok_or_else(|| bad(path, format!("tauG2[{i}] is not a point of BN254's G2")))
    };
    let g: Vec<G1Affine> = (0..n).map(g1).collect::<Result<_>>()?;
    let (h, s_h) = (g2(0)?, g2(1)?);
    if h != G2Affine::generator() {
        return Err(bad(path, "tauG2[0] is not the G2 generator"));
    }
    Ok(dev_srs(1, 0).from_parts(k, g, None, h, s_h))
}

fn hex_le(be: &str) -> Vec<u8> {
    let mut v: Vec<u8> = (0..be.len() / 2)
        .map(|i| u8::from_str_radix(&be[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    v.reverse();
    v
}

/// `e([τ^(i+1)]₁, [1]₂) = e([τ^i]₁, [τ]₂)` for the first powers and a spread of later ones.
fn check_powers(path: &Path, p: &ParamsKZG<Bn256>) -> Result<()> {
    let g = p.get_g();
    if g.first() != Some(&G1Affine::generator()) {
        return Err(bad(path, "the first G1 power is not the generator"));
    }
    crate::keys::check_srs_points(&g[0], &[p.g2(), p.s_g2()]).map_err(|e| bad(path, e))?;
    // τ = 0 leaves [τ]₂ the identity (refused above); τ = 1 makes every power the generator.
    if p.s_g2() == p.g2() || g.get(1) == Some(&g[0]) {
        return Err(bad(
            path,
            "τ = 1: every power is the generator, so the SRS binds nothing",
        ));
    }
    let n = g.len();
    let mut idx: Vec<usize> = (0..n.saturating_sub(1)).take(4).collect();
    idx.extend((1..8).map(|j| j * n / 8).filter(|&i| i + 1 < n));
    for i in idx {
        if Bn256::pairing(&g[i + 1], &p.g2()) != Bn256::pairing(&g[i], &p.s_g2()) {
            return Err(bad(
                path,
                format!("pairing check failed at power {i}: not a powers-of-tau sequence"),
            ));
        }
    }
    Ok(())
}
