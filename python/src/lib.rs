//! Python bindings of zkonnx: the façade's flow (`Model.load`, `compile`, `setup`, `prove`,
//! `verify`) and split proving (`split`, `setup_split`, `prove_segment`, `verify_split`), the
//! pieces `zkonnx.ray` distributes. Every error is a `zkonnx.ZkonnxError` with the library's
//! message.
#![deny(missing_docs)]

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use zkonnx::split::{self, ChainVerdict, SplitBy};
use zkonnx::{Objective, QuantSettings, Vis, Visibility};
use zkonnx_prover::artifacts::{read_json, write_json, ProofFile, Settings};
use zkonnx_prover::srs::{dev_srs as make_dev_srs, read_srs, write_srs};

create_exception!(
    _native,
    ZkonnxError,
    PyException,
    "An error of zkonnx (bad input, artifacts that do not belong together)."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    ZkonnxError::new_err(e.to_string())
}

fn vis(s: &str) -> PyResult<Vis> {
    s.parse::<Vis>().map_err(err)
}

fn objective(s: &str) -> PyResult<Objective> {
    match s {
        "prove" => Ok(Objective::Prove),
        "gas" => Ok(Objective::Gas),
        "balanced" => Ok(Objective::Balanced),
        _ => Err(err(format!(
            "unknown objective '{s}' (prove, gas or balanced)"
        ))),
    }
}

/// An imported ONNX model.
#[pyclass(module = "zkonnx")]
struct Model(zkonnx::Model);

#[pymethods]
impl Model {
    /// Imports an ONNX file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        zkonnx::Model::load(path).map(Model).map_err(err)
    }

    /// The model's inputs as `(name, number of values)`, in the order an input concatenates them.
    fn input_parts(&self) -> Vec<(String, usize)> {
        self.0.input_parts()
    }

    /// Calibrates on `calibration` (a list of inputs), quantizes and plans the circuit.
    #[pyo3(signature = (calibration, input_visibility="public", param_visibility="fixed", output_visibility="public", objective="prove", input_scale=None, param_scale=None))]
    #[allow(clippy::too_many_arguments)]
    fn compile(
        &self,
        py: Python<'_>,
        calibration: Vec<Vec<f32>>,
        input_visibility: &str,
        param_visibility: &str,
        output_visibility: &str,
        objective: &str,
        input_scale: Option<u32>,
        param_scale: Option<u32>,
    ) -> PyResult<CompiledModel> {
        let v = Visibility {
            input: vis(input_visibility)?,
            params: vis(param_visibility)?,
            output: vis(output_visibility)?,
        };
        let d = QuantSettings::default();
        let q = QuantSettings {
            input_scale: input_scale.unwrap_or(d.input_scale),
            param_scale: param_scale.unwrap_or(d.param_scale),
            ..d
        };
        let o = self::objective(objective)?;
        py.allow_threads(|| self.0.compile_planned(&calibration, q, v, o))
            .map(CompiledModel)
            .map_err(err)
    }
}

/// A quantized model with its circuit plan.
#[pyclass(module = "zkonnx")]
struct CompiledModel(zkonnx::CompiledModel);

#[pymethods]
impl CompiledModel {
    /// Reads `settings.json` and `compiled.json` from a directory.
    #[staticmethod]
    fn load(dir: PathBuf) -> PyResult<Self> {
        zkonnx::CompiledModel::load(&dir)
            .map(CompiledModel)
            .map_err(err)
    }

    /// Writes `settings.json` and `compiled.json` into a directory.
    fn save(&self, dir: PathBuf) -> PyResult<()> {
        self.0.save(&dir).map_err(err)
    }

    /// log2 of the circuit's rows.
    #[getter]
    fn k(&self) -> u32 {
        self.0.k()
    }

    /// The model's dequantized output on `input` (the reference integer executor).
    fn output(&self, input: Vec<f32>) -> PyResult<Vec<f64>> {
        let t = self.0.witness(&input).map_err(err)?;
        Ok(self.0.model.dequantize_output(t.output(&self.0.model)))
    }

    /// Generates the keys from an SRS file.
    fn setup(&self, py: Python<'_>, srs: PathBuf) -> PyResult<Prover> {
        let params = read_srs(&srs).map_err(err)?;
        let c = self.0.clone();
        py.allow_threads(|| zkonnx::Prover::setup(c, params))
            .map(Prover)
            .map_err(err)
    }

    /// Splits the model into a chain of segments: exactly `segments` of them, or the fewest
    /// whose circuits have at most `2^max_k` rows, or whose estimated proving memory is at most
    /// `max_memory_gb` each.
    #[pyo3(signature = (segments=None, max_k=None, max_memory_gb=None))]
    fn split(
        &self,
        py: Python<'_>,
        segments: Option<usize>,
        max_k: Option<u32>,
        max_memory_gb: Option<f64>,
    ) -> PyResult<Split> {
        let how = match (segments, max_k, max_memory_gb) {
            (Some(n), None, None) => SplitBy::Segments(n),
            (None, Some(k), None) => SplitBy::MaxK(k),
            (None, None, Some(gb)) if gb.is_finite() && gb > 0.0 => {
                SplitBy::MaxMemory((gb * (1u64 << 30) as f64) as u64)
            }
            _ => {
                return Err(err(
                    "give exactly one of segments, max_k or max_memory_gb (a positive number)",
                ))
            }
        };
        py.allow_threads(|| self.0.split_by(how, self.0.plan.objective))
            .map(Split)
            .map_err(err)
    }
}

/// A prover holding its keys in memory.
#[pyclass(module = "zkonnx")]
struct Prover(zkonnx::Prover);

#[pymethods]
impl Prover {
    /// Proves one input; returns the proof file's JSON.
    fn prove(&self, py: Python<'_>, input: Vec<f32>) -> PyResult<String> {
        let p = py.allow_threads(|| self.0.prove(&input)).map_err(err)?;
        serde_json::to_string(&p.to_file()).map_err(err)
    }

    /// Writes `vk.bin` and (if `with_pk`) `pk.bin` into a directory.
    #[pyo3(signature = (dir, with_pk=true))]
    fn save_keys(&self, dir: PathBuf, with_pk: bool) -> PyResult<()> {
        self.0.save_keys(&dir, with_pk).map_err(err)
    }
}

/// A model compiled as a chain of segments.
#[pyclass(module = "zkonnx")]
struct Split(split::SplitModel);

#[pymethods]
impl Split {
    /// Reads a split directory (the manifest and every segment's compilation).
    #[staticmethod]
    fn load(dir: PathBuf) -> PyResult<Self> {
        split::SplitModel::load(&dir).map(Split).map_err(err)
    }

    /// Writes the manifest and the segments' compilations into a directory.
    fn save(&self, dir: PathBuf) -> PyResult<()> {
        self.0.save(&dir).map_err(err)
    }

    /// Number of segments.
    fn __len__(&self) -> usize {
        self.0.segments.len()
    }

    /// The segments' directory names, in order.
    fn segment_dirs(&self) -> Vec<String> {
        self.0
            .manifest
            .segments
            .iter()
            .map(|e| e.dir.clone())
            .collect()
    }

    /// The SRS file each segment's prover needs, given the SRS the split was set up with: the
    /// reduction setup kept beside the segment's key (`DIR/segment-i/srs.bin`) once checked to
    /// be the first powers of `srs` (made again and kept when it is not), or `srs` itself for a
    /// segment of its size (`zkonnx_prover::srs::read_srs_for`).
    fn segment_srs(&self, py: Python<'_>, dir: PathBuf, srs: PathBuf) -> PyResult<Vec<PathBuf>> {
        py.allow_threads(|| {
            self.0
                .manifest
                .segments
                .iter()
                .map(|e| {
                    let kept = dir.join(&e.dir).join(zkonnx::files::SRS);
                    zkonnx_prover::srs::kept_srs(&srs, e.k, &kept)
                })
                .collect::<zkonnx_prover::error::Result<Vec<_>>>()
        })
        .map_err(err)
    }

    /// The manifest as JSON.
    fn manifest_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0.manifest).map_err(err)
    }

    /// The integer input of every segment for one input of the model.
    fn segment_inputs(&self, input: Vec<f32>) -> PyResult<Vec<Vec<i64>>> {
        self.0.segment_inputs(&input).map_err(err)
    }

    /// The model's dequantized output on `input`.
    fn output(&self, input: Vec<f32>) -> PyResult<Vec<f64>> {
        let y = self.0.output(&input).map_err(err)?;
        let last = self.0.segments.last().ok_or_else(|| err("no segments"))?;
        Ok(last.model.dequantize_output(&y))
    }
}

/// Writes an INSECURE development SRS of 2^k points (for tests and benchmarks only).
#[pyfunction]
#[pyo3(signature = (k, path, seed=42))]
fn dev_srs(py: Python<'_>, k: u32, path: PathBuf, seed: u64) -> PyResult<()> {
    if !(1..=26).contains(&k) {
        return Err(err(format!("k = {k} is out of range (1..=26)")));
    }
    let p = py.allow_threads(|| make_dev_srs(k, seed));
    write_srs(&path, &p).map_err(err)
}

/// Verifies a proof file with a verifying key and settings: `True` when valid.
#[pyfunction]
fn verify(proof: PathBuf, vk: PathBuf, settings: PathBuf) -> PyResult<bool> {
    let key = zkonnx_prover::keys::read_vk(&vk).map_err(err)?;
    let s: Settings = read_json(&settings).map_err(err)?;
    let p = ProofFile::read(&proof).map_err(err)?;
    zkonnx::verify(&key, &s, &p, &proof).map_err(err)
}

/// Generates every segment's keys of a split directory (one segment at a time) and records
/// their digests in its manifest.
#[pyfunction]
fn setup_split(py: Python<'_>, dir: PathBuf, srs: PathBuf) -> PyResult<()> {
    let params = read_srs(&srs).map_err(err)?;
    py.allow_threads(|| split::setup_dir(&dir, &params))
        .map(|_| ())
        .map_err(err)
}

/// Proves one segment from a directory holding its `compiled.json`, `settings.json` and
/// `pk.bin`, on its integer input; returns the proof file's JSON. `for_aggregation` makes it
/// with the Poseidon transcript (for `aggregate`).
#[pyfunction]
#[pyo3(signature = (dir, srs, input, for_aggregation = false))]
fn prove_segment(
    py: Python<'_>,
    dir: PathBuf,
    srs: PathBuf,
    input: Vec<i64>,
    for_aggregation: bool,
) -> PyResult<String> {
    let params = read_srs(&srs).map_err(err)?;
    let compiled = zkonnx::CompiledModel::load(&dir).map_err(err)?;
    let transcript = zkonnx::Transcript::for_aggregation(for_aggregation);
    let p = py
        .allow_threads(|| split::prove_segment_with(&dir, compiled, params, &input, transcript))
        .map_err(err)?;
    serde_json::to_string(&p.to_file()).map_err(err)
}

/// Proves every segment of a split directory on one float input in this process (the
/// library's `split::prove_dir`: the model run once, segments side by side as the cores and
/// memory allow, or `jobs` at most; each with the SRS setup reduced to its size, checked to be
/// the first powers of `srs`); writes `PROOFS/proof-i.json`.
#[pyfunction]
#[pyo3(signature = (dir, srs, input, proofs, for_aggregation = false, jobs = None))]
fn prove_split_dir(
    py: Python<'_>,
    dir: PathBuf,
    srs: PathBuf,
    input: Vec<f32>,
    proofs: PathBuf,
    for_aggregation: bool,
    jobs: Option<usize>,
) -> PyResult<()> {
    let opts = split::ProveSplitOptions {
        transcript: zkonnx::Transcript::for_aggregation(for_aggregation),
        jobs: split::Jobs::new(jobs).map_err(err)?,
    };
    py.allow_threads(|| split::prove_dir(&dir, &srs, &input, &proofs, opts))
        .map(|_| ())
        .map_err(err)
}

/// Writes a proof file's JSON (as `prove_segment` returns it) to a path, atomically, after
/// checking that it parses as a proof.
#[pyfunction]
fn write_proof(path: PathBuf, proof_json: &str) -> PyResult<()> {
    let p: ProofFile = serde_json::from_str(proof_json).map_err(err)?;
    write_json(&path, &p).map_err(err)
}

/// Checks a split model's proofs (`PROOFS/proof-i.json`) against its manifest: `True` when every
/// proof verifies and every boundary links, `False` when one does not; raises when the
/// artifacts do not belong together.
#[pyfunction]
fn verify_split(dir: PathBuf, proofs: PathBuf) -> PyResult<bool> {
    match split::verify_chain_dir(&dir, &proofs).map_err(err)? {
        ChainVerdict::Valid => Ok(true),
        ChainVerdict::Rejected { .. } => Ok(false),
    }
}

/// Why a split model's proofs are rejected (`None` when they are valid).
#[pyfunction]
fn why_split_rejected(dir: PathBuf, proofs: PathBuf) -> PyResult<Option<String>> {
    match split::verify_chain_dir(&dir, &proofs).map_err(err)? {
        ChainVerdict::Valid => Ok(None),
        ChainVerdict::Rejected { segment, reason } => {
            Ok(Some(format!("segment {segment}: {reason}")))
        }
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ZkonnxError", m.py().get_type::<ZkonnxError>())?;
    m.add_class::<Model>()?;
    m.add_class::<CompiledModel>()?;
    m.add_class::<Prover>()?;
    m.add_class::<Split>()?;
    m.add_function(wrap_pyfunction!(dev_srs, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(setup_split, m)?)?;
    m.add_function(wrap_pyfunction!(prove_segment, m)?)?;
    m.add_function(wrap_pyfunction!(prove_split_dir, m)?)?;
    m.add_function(wrap_pyfunction!(write_proof, m)?)?;
    m.add_function(wrap_pyfunction!(verify_split, m)?)?;
    m.add_function(wrap_pyfunction!(why_split_rejected, m)?)?;
    m.add("MANIFEST", split::MANIFEST)?;
    Ok(())
}
