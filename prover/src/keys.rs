//! Key generation and the key file formats.
//!
//! `vk.bin` is self-contained for verification: it carries the circuit shape and the three
//! SRS points the KZG verifier needs (`g`, `g2`, `s·g2`), so `verify` needs no SRS file.

use std::io::{Read, Write};
use std::path::Path;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::plonk::{keygen_pk, keygen_vk_custom, Circuit, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use zkonnx_circuits::circuit::ModelCircuit;
use zkonnx_circuits::layout::CircuitShape;

use crate::error::{io_err, ProverError, Result};

/// Magic header of verifying-key files.
pub const VK_MAGIC: &[u8; 8] = b"ZKXVK\0\0\x01";
/// Magic header of proving-key files.
pub const PK_MAGIC: &[u8; 8] = b"ZKXPK\0\0\x01";

/// A verifying key with the SRS points needed to check proofs against it.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    /// The halo2 verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// The circuit shape it was made for.
    pub shape: CircuitShape,
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
    // the gates' degree.
    let vk = keygen_vk_custom(params, circuit, false).map_err(|e| ProverError::Halo2 {
        stage: "verifying-key generation",
        message: format!("{e:?}"),
    })?;
    keygen_pk(params, vk, circuit).map_err(|e| ProverError::Halo2 {
        stage: "proving-key generation",
        message: format!("{e:?}"),
    })
}

fn fmt_err(path: &Path, reason: impl Into<String>) -> ProverError {
    ProverError::Format {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn write_header(w: &mut impl Write, magic: &[u8; 8], shape: &CircuitShape) -> std::io::Result<()> {
    w.write_all(magic)?;
    let js = serde_json::to_vec(shape).map_err(std::io::Error::other)?;
    w.write_all(&(js.len() as u32).to_le_bytes())?;
    w.write_all(&js)
}

fn read_header(
    r: &mut impl Read,
    magic: &[u8; 8],
    path: &Path,
    what: &str,
) -> Result<CircuitShape> {
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
    serde_json::from_slice(&js).map_err(|e| fmt_err(path, format!("corrupt header: {e}")))
}

/// Writes `vk.bin`.
pub fn write_vk(
    path: &Path,
    vk: &VerifyingKey<G1Affine>,
    shape: &CircuitShape,
    params: &ParamsKZG<Bn256>,
) -> Result<()> {
    crate::artifacts::write_atomic(path, |w| {
        write_header(w, VK_MAGIC, shape)?;
        w.write_all(&params.k().to_le_bytes())?;
        params.get_g()[0].write_raw(w)?;
        params.g2().write_raw(w)?;
        params.s_g2().write_raw(w)?;
        vk.write(w, SerdeFormat::RawBytes)
    })
}

/// Reads `vk.bin`.
pub fn read_vk(path: &Path) -> Result<VerifierKey> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let mut r = bytes.as_slice();
    let shape = read_header(&mut r, VK_MAGIC, path, "verifying key")?;
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
    let vk = std::panic::catch_unwind(move || {
        VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(&mut r, SerdeFormat::RawBytes, shape)
    })
    .map_err(|_| fmt_err(path, "corrupt verifying key"))?
    .map_err(corrupt)?;
    let base = ParamsKZG::<Bn256>::setup(1, rand_core::OsRng);
    let params = base.from_parts(k, vec![g0], Some(vec![]), g2, s_g2);
    Ok(VerifierKey { vk, shape, params })
}

/// Writes the proving key.
pub fn write_pk(path: &Path, pk: &ProvingKey<G1Affine>, shape: &CircuitShape) -> Result<()> {
    crate::artifacts::write_atomic(path, |w| {
        write_header(w, PK_MAGIC, shape)?;
        pk.write(w, SerdeFormat::RawBytesUnchecked)
    })
}

/// Reads a proving key written by [`write_pk`].
pub fn read_pk(path: &Path) -> Result<(ProvingKey<G1Affine>, CircuitShape)> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut r = std::io::BufReader::new(f);
    let shape = read_header(&mut r, PK_MAGIC, path, "proving key")?;
    let pk = std::panic::catch_unwind(move || {
        ProvingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut r,
            SerdeFormat::RawBytesUnchecked,
            shape,
        )
    })
    .map_err(|_| fmt_err(path, "corrupt proving key"))?
    .map_err(|e| fmt_err(path, format!("corrupt proving key: {e}")))?;
    Ok((pk, shape))
}
