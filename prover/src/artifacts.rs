//! Versioned JSON artifacts: circuit settings and proofs.

use std::path::Path;

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zkonnx_circuits::layout::{CircuitShape, MAX_INSTANCE_COLUMNS};
use zkonnx_circuits::visibility::InstanceLayout;

use crate::error::{io_err, ProverError, Result};

/// Version of `settings.json` (and of the circuit a shape stands for): 2 since function rows
/// moved into the range lanes, so a shape with function tables is a different circuit than in 1.
pub const SETTINGS_VERSION: u32 = 2;
/// Version of `proof.json`.
pub const PROOF_VERSION: u32 = 1;

/// What a verifier needs to know about a compiled circuit besides its key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// Format version.
    pub version: u32,
    /// The model file the circuit was compiled from (informational).
    pub model: String,
    /// Keccak-256 of the model file, hex.
    pub model_hash: String,
    /// Circuit shape (also recorded in the keys).
    pub shape: CircuitShape,
    /// Number of input values (the first instances when the input is public).
    pub num_inputs: usize,
    /// Number of output values (public instances when the output is public).
    pub num_outputs: usize,
    /// Input shape.
    pub input_shape: Vec<usize>,
    /// Output shape.
    pub output_shape: Vec<usize>,
    /// Fixed-point scale of the inputs (fractional bits).
    pub input_scale: u32,
    /// Fixed-point scale of the outputs (fractional bits).
    pub output_scale: u32,
    /// Fixed-point scale of the weights.
    pub param_scale: u32,
    /// Signed bit widths of the hashed groups (what `zkonnx hash` packs with).
    #[serde(default)]
    pub hash_bits: HashBits,
    /// The ONNX inputs (name, shape, type), in the order their values are concatenated in
    /// the input instances.
    #[serde(default)]
    pub inputs: Vec<zkonnx_circuits::ir::IoSpec>,
    /// The ONNX outputs, in the order their values are concatenated in the output instances.
    #[serde(default)]
    pub outputs: Vec<zkonnx_circuits::ir::IoSpec>,
}

/// Signed widths `b` (`|v| < 2^(b-1)`) with which each group is range-checked and packed
/// before hashing.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashBits {
    /// The input.
    pub input: u32,
    /// The parameters.
    pub params: u32,
    /// The output.
    pub output: u32,
}

impl Settings {
    /// Where each group sits among the public instances.
    pub fn instance_layout(&self) -> InstanceLayout {
        InstanceLayout::new(self.shape.visibility, self.num_inputs, self.num_outputs)
    }
}

/// The largest `k` a settings file or key may declare (2^28 rows is beyond any model this
/// machine class proves, and keeps every size derived from `k` far from overflow).
pub const MAX_K: u32 = 28;

/// More cells per row than any planned circuit has (an advice pool of at most
/// [`zkonnx_circuits::layout::MAX_POOL_WIDTH`] columns, two per range lane, the instance
/// columns): a bound on the values a group may have at `2^k` rows.
pub const MAX_CELLS_PER_ROW: usize = 64;

/// A proof with its public instances and the outputs they encode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProofFile {
    /// Format version.
    pub version: u32,
    /// Proof bytes, hex with `0x`.
    pub proof: String,
    /// Public instances (input values or hash, parameter hash, output values or hash; see
    /// `Settings::instance_layout`) as 32-byte big-endian hex field elements.
    pub instances: Vec<String>,
    /// The outputs, dequantized from the output instances (empty when the output is private
    /// or hashed).
    pub outputs: Vec<f64>,
    /// The Fiat-Shamir transcript it was made with (`evm` when absent).
    #[serde(default)]
    pub transcript: crate::proof::Transcript,
}

/// Encodes a field element as `0x`-prefixed 32-byte big-endian hex.
pub fn fr_to_hex(x: &Fr) -> String {
    let mut b = x.to_repr();
    b.as_mut().reverse();
    format!("0x{}", hex::encode(b.as_ref()))
}

/// Decodes [`fr_to_hex`]; `None` if it is not a canonical field element.
pub fn fr_from_hex(s: &str) -> Option<Fr> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let mut b = hex::decode(h).ok()?;
    if b.len() != 32 {
        return None;
    }
    b.reverse();
    let mut repr = <Fr as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(&b);
    Option::from(Fr::from_repr(repr))
}

/// Reads a field element as a signed integer (values above p/2 are negative); `None` if
/// it does not fit in an i128.
pub fn fr_to_i128(x: &Fr) -> Option<i128> {
    let neg = -*x;
    let small = |v: &Fr| -> Option<i128> {
        let r = v.to_repr();
        let b = r.as_ref();
        if b[16..].iter().any(|&z| z != 0) {
            return None;
        }
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&b[..16]);
        let u = u128::from_le_bytes(lo);
        i128::try_from(u).ok()
    };
    small(x).or_else(|| small(&neg).map(|v| -v))
}

/// Writes a file atomically: `fill` writes into a temporary file in the same directory,
/// which is synced and renamed over `path`. A reader sees the old file or the new one, never
/// half of one; of two concurrent writers the last rename wins, and both files are whole.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let run = || -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    };
    run().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path)(e)
    })
}

/// Writes a value as pretty JSON (atomically).
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| ProverError::Format {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_atomic(path, |w| std::io::Write::write_all(w, s.as_bytes()))
}

/// Reads JSON, with a clear error naming the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let s = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&s).map_err(|e| ProverError::Format {
        path: path.display().to_string(),
        reason: format!("malformed JSON: {e}"),
    })
}

impl Settings {
    /// Reads and checks the version and the sizes ([`Settings::validate`]).
    pub fn read(path: &Path) -> Result<Self> {
        let s: Self = read_json(path)?;
        if s.version != SETTINGS_VERSION {
            return Err(ProverError::Format {
                path: path.display().to_string(),
                reason: format!(
                    "settings version {} is not supported (expected {SETTINGS_VERSION})",
                    s.version
                ),
            });
        }
        s.validate().map_err(|reason| ProverError::Format {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(s)
    }

    /// Checks that the sizes fit the circuit: `k` within what any SRS holds, the instance
    /// columns within what the planner makes (one on the lean layout), the public instances
    /// within those columns' usable rows, and the input and output within the cells of any
    /// planned circuit's rows (so nothing derived from them overflows).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let k = self.shape.k;
        if !(1..=MAX_K).contains(&k) {
            return Err(format!("k = {k} is out of range (1..={MAX_K})"));
        }
        let columns = self.shape.instance_columns;
        let most = if self.shape.lean.is_some() {
            1
        } else {
            MAX_INSTANCE_COLUMNS
        };
        if !(1..=most).contains(&columns) {
            return Err(format!(
                "{columns} instance columns is out of range (1..={most})"
            ));
        }
        let rows = 1usize << k;
        for (what, n) in [
            ("num_inputs", self.num_inputs),
            ("num_outputs", self.num_outputs),
        ] {
            if n == 0 || n > rows * MAX_CELLS_PER_ROW {
                return Err(format!("{what} = {n} does not fit a circuit of 2^{k} rows"));
            }
        }
        let layout = self.instance_layout();
        let usable = self.shape.usable_rows();
        if layout.len > usable * columns {
            return Err(format!(
                "{} public instances do not fit {columns} instance column(s) of {usable} usable \
                 rows (k = {k})",
                layout.len
            ));
        }
        Ok(())
    }

    /// Keccak-256 of everything a verifier relies on (every field but the informational
    /// `model` path): recorded in the keys, so an edited settings.json is refused.
    pub fn digest(&self) -> [u8; 32] {
        use sha3::{Digest, Keccak256};
        let mut bound = self.clone();
        bound.model = String::new();
        // Serializing a struct of integers, strings and lists cannot fail.
        let bytes = serde_json::to_vec(&bound).unwrap_or_default();
        Keccak256::digest(bytes).into()
    }
}

impl ProofFile {
    /// Reads and checks the version.
    pub fn read(path: &Path) -> Result<Self> {
        let s: Self = read_json(path)?;
        if s.version != PROOF_VERSION {
            return Err(ProverError::Format {
                path: path.display().to_string(),
                reason: format!(
                    "proof version {} is not supported (expected {PROOF_VERSION})",
                    s.version
                ),
            });
        }
        Ok(s)
    }

    /// Proof bytes; error if the hex is malformed.
    pub fn proof_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        hex::decode(self.proof.strip_prefix("0x").unwrap_or(&self.proof)).map_err(|e| {
            ProverError::Format {
                path: path.display().to_string(),
                reason: format!("proof is not valid hex: {e}"),
            }
        })
    }

    /// Instances as field elements; error naming the first malformed one.
    pub fn instance_values(&self, path: &Path) -> Result<Vec<Fr>> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, s)| {
                fr_from_hex(s).ok_or_else(|| ProverError::Format {
                    path: path.display().to_string(),
                    reason: format!("instance {i} ('{s}') is not a 32-byte field element in hex"),
                })
            })
            .collect()
    }
}
