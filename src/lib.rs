//! zkonnx: verifiable inference for ONNX models.
//!
//! A model is imported and quantized ([`Model::compile`]), its circuit keys are generated once
//! ([`Prover::setup`]) and kept in memory to prove many inputs ([`Prover::prove`]); anyone with
//! the verifying key checks a proof ([`verify`]). The CLI (`zkonnx`) is a thin layer over this API.
#![deny(missing_docs)]

pub mod aggregate;
pub mod data;
pub mod evm;
pub mod fidelity;
mod keyfiles;
pub mod report;
mod sched;
pub mod split;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::ProvingKey;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use thiserror::Error;

pub use zkonnx_circuits as circuits;
pub use zkonnx_circuits::halo2_proofs;
pub use zkonnx_circuits::layout::Objective;
pub use zkonnx_circuits::quant::{Interpolation, QuantSettings, Target};
pub use zkonnx_circuits::visibility::{InstanceLayout, Vis, Visibility};
pub use zkonnx_prover as prover;
pub use zkonnx_prover::artifacts::{HashBits, ProofFile, Settings};
pub use zkonnx_prover::device::{Backend, Device};
pub use zkonnx_prover::keys::VerifierKey;
pub use zkonnx_prover::proof::Transcript;

use zkonnx_circuits::circuit::ModelCircuit;
use zkonnx_circuits::ir::{Graph, IoSpec};
use zkonnx_circuits::layout::{plan, LayoutPlan};
use zkonnx_circuits::quant::{
    calibrate, quantize_graph, quantize_input, run_quantized, Calibration, QGraph, Trace,
};
use zkonnx_prover::artifacts::{
    fr_to_hex, fr_to_i128, read_json, write_json, PROOF_VERSION, SETTINGS_VERSION,
};

/// Errors of the zkonnx API.
#[derive(Debug, Error)]
pub enum Error {
    /// Import, quantization or circuit error.
    #[error(transparent)]
    Circuits(#[from] zkonnx_circuits::CircuitsError),
    /// Setup, proving, verification or artifact error.
    #[error(transparent)]
    Prover(#[from] zkonnx_prover::ProverError),
    /// A data file (input, calibration) is malformed.
    #[error("{path}: {reason}")]
    Data {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Verifier generation, compilation or EVM execution.
    #[error(transparent)]
    Evm(#[from] zkonnx_evm::EvmError),
    /// Artifacts that do not belong together.
    #[error("{0}")]
    Mismatch(String),
    /// The machine cannot hold what the model needs (memory), said before trying.
    #[error("{0}")]
    Resources(String),
    /// A fault of zkonnx itself, not of its input (a panicking prover thread, a thread pool
    /// that cannot start): a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Bytes the compile holds per multiply-add of the model (the planner's layout of it; a lower
/// bound of the 57–70 measured, so that only models that cannot fit are refused).
pub const COMPILE_BYTES_PER_MAC: u64 = 48;

/// Result alias of the façade.
pub type Result<T> = std::result::Result<T, Error>;

/// An imported ONNX model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its Graph IR.
    pub graph: Graph,
    /// Keccak-256 of the file followed by its external data files (where its weights are
    /// kept apart), hex.
    pub hash: String,
}

/// Values of the symbolic dimensions that make graph inputs `specs` (read with every symbolic
/// dimension 1) as long as `lens`, the lengths of an input file's lists: one per input, or,
/// for a one-input model, its values in several lists (a nested tensor; rows). `None` where
/// the lengths already fit, or where no single value per name fits them (a name on several
/// axes of one input, a length that is not a whole multiple). An input whose dynamic batch
/// was taken as 1 but that holds three rows binds it to 3.
pub fn dims_for_lengths(specs: &[IoSpec], lens: &[usize]) -> Option<BTreeMap<String, usize>> {
    let total: usize = lens.iter().sum();
    let lens = if specs.len() == 1 && lens.len() > 1 {
        std::slice::from_ref(&total)
    } else {
        lens
    };
    if lens.len() != specs.len() || specs.iter().zip(lens).all(|(i, &l)| i.len() == l) {
        return None;
    }
    let mut dims: BTreeMap<String, usize> = BTreeMap::new();
    for (spec, &len) in specs.iter().zip(lens) {
        let n = spec.len();
        if len == n {
            continue;
        }
        // One symbolic axis, at its unbound value 1, and a whole multiple of the rest.
        let named: Vec<&String> = spec.dim_params.iter().flatten().collect();
        let [name] = named.as_slice() else {
            return None;
        };
        let axis = spec
            .dim_params
            .iter()
            .position(|d| d.as_ref() == Some(*name))?;
        if spec.shape.get(axis) != Some(&1) || n == 0 || len % n != 0 {
            return None;
        }
        let v = len / n;
        if *dims.entry((*name).clone()).or_insert(v) != v {
            return None;
        }
    }
    (!dims.is_empty()).then_some(dims)
}

/// The symbolic dimensions the input file at `input` binds for the model at `model`
/// ([`dims_for_lengths`] of its lists against the declared inputs, read apart from the graph:
/// an unbound graph may not import, a reshape to the batch's size); `None` where the file does
/// not bind any or cannot be read.
pub fn dims_from_input(model: &Path, input: &Path) -> Option<BTreeMap<String, usize>> {
    let lens = data::input_list_lengths(input).ok()?;
    let specs = zkonnx_circuits::import::input_specs(model).ok()?;
    dims_for_lengths(&specs, &lens)
}

impl Model {
    /// Imports an ONNX file (every symbolic dimension 1).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with_dims(path, &BTreeMap::new())
    }

    /// Imports an ONNX file with values for its inputs' symbolic dimensions, by name (a
    /// dynamic batch of 3: `{"batch_size": 3}`); a symbolic dimension not named is 1.
    pub fn load_with_dims(path: impl AsRef<Path>, dims: &BTreeMap<String, usize>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (graph, external) = zkonnx_circuits::import::import_onnx_with_dims(&path, dims)?;
        let mut hasher = Keccak256::new();
        for file in std::iter::once(&path).chain(&external) {
            let data = |e: std::io::Error| Error::Data {
                path: file.display().to_string(),
                reason: e.to_string(),
            };
            let mut f = std::fs::File::open(file).map_err(data)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut f, &mut buf).map_err(data)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
        let hash = hex::encode(hasher.finalize());
        Ok(Self { path, graph, hash })
    }

    /// Values of the symbolic dimensions that make the model's inputs as long as `lens`
    /// ([`dims_for_lengths`]).
    pub fn dims_for_lengths(&self, lens: &[usize]) -> Option<BTreeMap<String, usize>> {
        dims_for_lengths(&self.graph.inputs, lens)
    }

    /// The model's inputs as `(name, number of values)`, in the order their values are
    /// concatenated in an input vector.
    pub fn input_parts(&self) -> Vec<(String, usize)> {
        self.graph
            .inputs
            .iter()
            .map(|s| (s.name.clone(), s.len()))
            .collect()
    }

    /// The float model's outputs on `input` (every output flattened and concatenated): tract
    /// running the ONNX file, or, where tract cannot run it, zkonnx's own f32 executor of the
    /// imported graph; with which one it is. Where both run and disagree by more than
    /// [`REFERENCES_AGREE`] of the output's magnitude, neither is taken on trust: the f32
    /// executor's output comes back as [`FloatReference::TractDisagrees`], so a caller can say
    /// so (tract 0.23 gives the wrong label for LightGBM's binary `TreeEnsembleClassifier`,
    /// where onnxruntime and zkonnx agree; a zkonnx importer bug would show up the same way, as
    /// a disagreement to report).
    pub fn float_outputs(&self, input: &[f32]) -> Result<(Vec<f32>, FloatReference)> {
        let mut all = self.float_outputs_many(std::slice::from_ref(&input.to_vec()))?;
        Ok(all.pop().unwrap_or((Vec::new(), FloatReference::ZkonnxF32)))
    }

    /// [`Model::float_outputs`] of several inputs, loading the float model once.
    pub fn float_outputs_many(
        &self,
        inputs: &[Vec<f32>],
    ) -> Result<Vec<(Vec<f32>, FloatReference)>> {
        let tract =
            zkonnx_circuits::float_ref::FloatReference::load_io(&self.path, &self.graph.inputs)
                .ok();
        let want = self.graph.output_node().len();
        inputs
            .iter()
            .map(|x| {
                zkonnx_circuits::quant::check_input(&self.graph, x)?;
                let own = || {
                    zkonnx_circuits::ir::run_float(&self.graph, x).swap_remove(self.graph.output)
                };
                match tract.as_ref().and_then(|r| r.run(x).ok()) {
                    Some(y) if y.len() == want => {
                        let z = own();
                        if references_agree(&y, &z) {
                            Ok((y, FloatReference::Tract))
                        } else {
                            Ok((z, FloatReference::TractDisagrees))
                        }
                    }
                    _ => Ok((own(), FloatReference::ZkonnxF32)),
                }
            })
            .collect()
    }

    /// Calibrates on `calibration` inputs, quantizes and plans the circuit (public input and
    /// output, weights in the verifying key).
    pub fn compile(&self, calibration: &[Vec<f32>], quant: QuantSettings) -> Result<CompiledModel> {
        self.compile_with(calibration, quant, Visibility::default())
    }

    /// As [`Model::compile`], with the given visibility of input, parameters and output.
    pub fn compile_with(
        &self,
        calibration: &[Vec<f32>],
        quant: QuantSettings,
        vis: Visibility,
    ) -> Result<CompiledModel> {
        self.compile_planned(calibration, quant, vis, Objective::Prove)
    }

    /// As [`Model::compile_with`], with the layout chosen for `objective` (proving cost, or
    /// on-chain verification gas).
    pub fn compile_planned(
        &self,
        calibration: &[Vec<f32>],
        quant: QuantSettings,
        vis: Visibility,
        objective: Objective,
    ) -> Result<CompiledModel> {
        vis.validate()?;
        self.check_compile_memory(split::available_memory())?;
        let cal = calibrate(&self.graph, calibration)?;
        self.compile_calibrated(cal, quant, vis, objective)
    }

    /// Refuses, before anything large is built, a model whose compile would need more memory
    /// than `available` bytes: the planner lays out every multiply-add
    /// ([`COMPILE_BYTES_PER_MAC`] each, measured at 57–70 on the shared models) and the
    /// calibration keeps every activation. A 224×224 SqueezeNet (ONNX's model zoo) was
    /// killed by the kernel after 23 GB; it is now an error in a second naming what it needs.
    pub fn check_compile_memory(&self, available: Option<u64>) -> Result<()> {
        let macs = self.graph.macs();
        let elements: u64 = self.graph.nodes.iter().map(|n| n.len() as u64).sum();
        let need = macs
            .saturating_mul(COMPILE_BYTES_PER_MAC)
            .saturating_add(elements.saturating_mul(16));
        match available {
            Some(have) if need > have => Err(Error::Resources(format!(
                "{}: compiling this model needs about {:.1} GB ({macs} multiply-adds laid out \
                 row by row, {elements} activations calibrated) and {:.1} GB is available; \
                 compile it on a machine with more memory",
                self.path.display(),
                need as f64 / 1e9,
                have as f64 / 1e9
            ))),
            _ => Ok(()),
        }
    }

    /// Quantizes with calibrated ranges `cal` and plans the circuit: the part of
    /// [`Model::compile_planned`] that depends on the settings (a target's candidates share one
    /// calibration).
    fn compile_calibrated(
        &self,
        cal: Calibration,
        quant: QuantSettings,
        vis: Visibility,
        objective: Objective,
    ) -> Result<CompiledModel> {
        // The lean layout (what `gas` chooses where it can) checks an unrounded accumulator at
        // its full width: for gas, every map is rounded at the map.
        let quant = QuantSettings {
            rounded_maps: quant.rounded_maps || objective == Objective::Gas,
            ..quant
        };
        let q = quantize_graph(&self.graph, &cal, quant)?;
        if vis.params_in_advice() {
            // The prover chooses private parameters: no choice of the compiled width may wrap.
            zkonnx_circuits::quant::check_bounds_any_params(&q)?;
        }
        let plan = plan(&q, vis, objective);
        let settings = settings_for(
            &self.path.display().to_string(),
            &self.hash,
            &q,
            &plan,
            quant.param_scale,
        );
        Ok(CompiledModel {
            model: Arc::new(q),
            plan: Arc::new(plan),
            settings,
            calibration: cal,
        })
    }
}

/// The settings a verifier needs for a quantized graph and its plan.
pub(crate) fn settings_for(
    model: &str,
    model_hash: &str,
    q: &QGraph,
    plan: &LayoutPlan,
    param_scale: u32,
) -> Settings {
    let out = q.output_node();
    Settings {
        version: SETTINGS_VERSION,
        model: model.to_string(),
        model_hash: model_hash.to_string(),
        shape: plan.shape,
        num_inputs: q.input().len(),
        num_outputs: out.len(),
        input_shape: q.input().shape.clone(),
        output_shape: out.shape.clone(),
        inputs: q.inputs.clone(),
        outputs: q.outputs.clone(),
        input_scale: q.input().scale,
        output_scale: out.scale,
        param_scale,
        hash_bits: {
            let (input, output) = plan.shape.hash_widths(q);
            HashBits {
                input,
                params: q.param_bits(),
                output,
            }
        },
    }
}

/// Candidate activation/weight scales tried by [`Model::compile_for_target`] with
/// [`Target::Speed`], most precise first.
pub const SPEED_SCALES: &[u32] = &[13, 12, 11, 10, 9, 8];
/// Candidate table sizes (bits) tried with [`Target::Speed`] when the model has lookup tables.
pub const SPEED_TABLE_BITS: &[u32] = &[14, 12, 11, 10];
/// With [`Target::Speed`], a candidate is kept when its outputs on every calibration input are
/// within this fraction of the largest float output (and the argmax agrees for classifiers).
pub const SPEED_TOLERANCE: f64 = 0.01;

/// With [`Target::Accuracy`], the steps tried from the plan kept so far (activation fractional
/// bits, weight fractional bits, table bits added), again and again until none is kept: a
/// step is kept when it is closer to the float model and its plan costs no more than the
/// given settings' or the plan kept so far (up to [`ACCURACY_COST_SLACK`] times the given
/// settings' where it errs at most half as much as they do), so the plan chosen is one that no
/// step improves; when none is kept, the search also steps from up to [`ACCURACY_BRIDGES`]
/// settings that were closer but over the limit. It stays within [`ACCURACY_REACH`] of the
/// given settings.
///
/// Weight bits are the cheapest precision: a product's remainder widens, its output does not,
/// and where the range lanes' limbs are wider than the remainder the plan is the same size —
/// a ViT's 48-input patch convolution erred 4.1e-4 at 13 bits and 1.7e-4 at 15, its output
/// 2.0e-4 and 5.8e-5, at the same cost. A direct table of `2^b` entries reads its input at
/// `2^(b−1)/m` steps over `[−m, m]`: at 12 bits an erf on `[−2, 2]` errs 1.1e-3, sixteen times
/// the activations' own rounding; at `k ≥ 15` a table of 2^14 entries costs no more rows.
pub const ACCURACY_STEPS: &[(i32, i32, i32)] =
    &[(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 2)];

/// With [`Target::Accuracy`], how many settings that were closer but over the cost limit the
/// search steps on from (the closest first) when no step from the settings kept is kept: the
/// cost is not monotone in the settings (lstm_forecaster, stop 45: activations at 14 bits grew
/// the plan to `k = 15`, 17 % over the given settings' cost; finer knots from there brought it
/// back to `k = 14` within the limit, with 7× less error). Each costs up to six compilations.
pub const ACCURACY_BRIDGES: usize = 2;

/// How far [`Target::Accuracy`] moves from the given settings: activation bits and weight
/// bits from −1 to +2, table bits from 0 to +4.
///
/// *Why +2 activation bits (stop 48):* an activation bit widens every rescale's output and
/// remainder, so where the lanes' limbs have room two bits can cost what one does. With +1 the
/// search stopped at 14 bits on LayerNorm (a difference of two close sums, divided by a square
/// root; six models of 10–64 features, the op and torch's decomposition), where 15 bits erred
/// 1.35–3.5× less: at the same `k` on five, one `k` more on the sixth (proved 9 % slower; a
/// step that halves the given settings' error may cost [`ACCURACY_COST_SLACK`] more). Of the
/// nine shared models three plan at 15 bits at the same `k`, columns and estimated cost
/// (mlp_digits, tiny_transformer, dcgan_generator), their errors 1.2–1.7× smaller; the other
/// six plan as before. Compilation tries up to one more step per walk (lstm_forecaster
/// 3.3 → 3.7 s).
pub const ACCURACY_REACH: [(i32, i32); 3] = [(-1, 2), (-1, 2), (0, 4)];

/// The settings [`ACCURACY_STEPS`]`[step]` moves `at` to, for `step` one past them functions
/// interpolated finer than their direct tables (with automatic interpolation), for `step` two
/// past them chains of elementwise operations lowered node by node (where the model has one
/// to fuse: a composite's table can err more than its parts, a chain whose output is close to
/// its input over a wide range, where the product keeps the input exact); `None` where the
/// step does not apply (a scale out of range, table bits without tables).
fn accuracy_step(
    at: QuantSettings,
    step: usize,
    (has_tables, auto, fusable): (bool, bool, bool),
) -> Option<QuantSettings> {
    if step == ACCURACY_STEPS.len() + 1 {
        return (fusable && !at.unfused).then_some(QuantSettings {
            unfused: true,
            ..at
        });
    }
    match ACCURACY_STEPS.get(step) {
        Some(&(di, dp, dt)) => {
            if dt > 0 && !has_tables {
                return None;
            }
            Some(QuantSettings {
                input_scale: at.input_scale.checked_add_signed(di)?,
                param_scale: at.param_scale.checked_add_signed(dp)?,
                table_bits: at.table_bits.checked_add_signed(dt)?,
                ..at
            })
        }
        None if has_tables && auto => Some(QuantSettings {
            interpolation: Interpolation::Finer,
            ..at
        }),
        None => None,
    }
}

/// The most a closer step's plan (error `e`) may cost in [`Target::Accuracy`]'s search, given
/// the error kept so far, the given settings' error and cost (`budget`) and the kept plan's
/// cost. Past the fidelity tolerance a closer plan may cost more, up to a cap: a decision that
/// is a small difference of large kernel sums (an RBF SVR) erred 90 % at the cheapest plan and
/// 10 % with finer knots at 1.3× its cost. Within it, a step that errs at most half as much as
/// the given settings may cost up to the estimate's slack more; any other only what the plan
/// kept already costs.
fn accuracy_limit(
    e: CalibrationError,
    kept: Option<CalibrationError>,
    given: Option<CalibrationError>,
    budget: f64,
    kept_cost: f64,
) -> f64 {
    let unfaithful = kept.is_none_or(|b| b.worst > SPEED_TOLERANCE);
    let halves =
        given.is_some_and(|b| e.argmax_misses <= b.argmax_misses && 2.0 * e.worst <= b.worst);
    let small = budget <= SMALL_PROOF_COST && given.is_some_and(|b| b.worst > NOTICEABLE_ERROR);
    if unfaithful {
        ACCURACY_COST_CAP * budget
    } else if halves && small {
        SMALL_PROOF_SLACK * budget
    } else if halves {
        ACCURACY_COST_SLACK * budget
    } else {
        budget.max(kept_cost)
    }
}

/// With [`Target::Accuracy`], a plan whose outputs on the calibration data are further than
/// [`SPEED_TOLERANCE`] from the float model gives way to a closer candidate costing up to this
/// many times as much (within the tolerance, only to one that costs no more).
pub const ACCURACY_COST_CAP: f64 = 2.0;

/// With [`Target::Accuracy`] and outputs within [`SPEED_TOLERANCE`], how much more than the
/// given settings' plan a step that errs at most half as much as they do may cost: the
/// resolution of the planner's cost estimate (its plans prove at 1.2–1.7× their roofline
/// floor, stop 42); other steps may cost no more than the plan kept so far. *Why:* with no slack, a 6 % difference in
/// the estimate decided between tiny_transformer's tables of 2^12 entries and knots four times
/// as accurate (error 6.1e-3 against 9.5e-4), and which way it fell moved with unrelated layout
/// work (stop 43's dot-product rows made the given settings' plan 6 % cheaper). A slack for
/// every closer step took mobilenet_block to k = 16 for 8e-5 → 6e-5 and lgbm_credit to k = 11
/// for less: only a large gain is worth the estimate's doubt.
pub const ACCURACY_COST_SLACK: f64 = 1.1;

/// An error relative to the largest output past which a small proof's accuracy step may cost
/// [`SMALL_PROOF_SLACK`]: a 12-bit output's rounding.
pub const NOTICEABLE_ERROR: f64 = 1.0 / 4096.0;

/// The planner's cost (microseconds at its reference timings) up to which a proof is small:
/// most of its time is then fixed costs (the process, the keys, thread start-ups), and a
/// quarter more is a few hundredths of a second. *Why 0.2 s (stop 52):* at 0.13 s, a single
/// Elu, GELU or Exp of 48 inputs planned at `k = 9` (estimated 0.146 s, proved in 0.14–0.16 s)
/// and erred more than EZKL on three of five draws (1.1–4.5×), where the step to `k = 10`
/// (estimated 19 % more, proved in 0.17–0.19 s, 0.03–0.04× EZKL's 4.4–5.5 s) erred 2.7–5.7×
/// less, below EZKL on all five. Of the other 76 models compared (the shared nine, stops
/// 49–51's architectures, EZKL's examples) none moved.
pub const SMALL_PROOF_COST: f64 = 200_000.0;

/// What a step that halves a [`NOTICEABLE_ERROR`] of a [`SMALL_PROOF_COST`] plan may cost over
/// the given settings' plan. *Why (stop 50):* a tanh of 48 normal inputs erred 7.5e-4 (EZKL
/// 2.3e-4–3.6e-4) at `k = 8` (0.11 s), where knots four times as accurate erred 2.3e-4 at
/// `k = 9` (0.14 s), estimated 16 % more. Applied to every halving step (1.2), or to every
/// noticeable one (1.25), it took lstm_forecaster to `k = 15` and dcgan_generator to `k = 16`
/// for errors already at 1e-5 and 2e-4.
pub const SMALL_PROOF_SLACK: f64 = 1.25;

/// How far a compiled model's outputs are from the float model's on calibration data.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct CalibrationError {
    /// Inputs whose argmax differs from the float model's (classifiers).
    argmax_misses: usize,
    /// The largest error over the inputs, relative to each input's largest float output.
    worst: f64,
}

impl Model {
    /// Calibrates and compiles for a target (with visibility `vis`, the layout planned for
    /// `objective`): [`Target::Given`] uses `base` as given; [`Target::Accuracy`] also tries
    /// the [`ACCURACY_STEPS`] from the settings kept so far and, for a model with functions and
    /// `base`'s interpolation `auto`, [`Interpolation::Finer`], keeping a step's plan when it is
    /// closer to the float model on the calibration data and costs no more (by `objective`)
    /// than `base`'s or the plan kept so far ([`ACCURACY_COST_SLACK`] times `base`'s for a step
    /// that halves `base`'s error; up to [`ACCURACY_COST_CAP`] times while the closest so far
    /// errs past [`SPEED_TOLERANCE`]), until no step is kept;
    /// [`Target::Speed`] tries smaller scales and tables and keeps the cheapest circuit whose
    /// outputs on the calibration data stay within [`SPEED_TOLERANCE`] of the float model.
    pub fn compile_for_target(
        &self,
        calibration: &[Vec<f32>],
        target: Target,
        base: QuantSettings,
        vis: Visibility,
        objective: Objective,
    ) -> Result<CompiledModel> {
        let mut first = self.compile_planned(calibration, base, vis, objective)?;
        if target == Target::Given {
            return Ok(first);
        }
        // Calibration does not depend on the scales: every candidate reuses the first's.
        let first_cal = first.calibration.clone();
        let cost = |c: &CompiledModel| match objective {
            Objective::Prove => c.plan.cost,
            Objective::Gas | Objective::Balanced => c.plan.est_verify_gas as f64,
        };
        // With `gas` or `balanced` the planner keeps each plan within the objective's slowdown
        // of its own quantization's fastest plan, and the search below ranks by gas: it must
        // not move to a quantization slower still. Balanced took lstm_forecaster's tables to
        // 2^14 entries (no more gas) and `k` from 14 to 17, 5× the fastest plan's time.
        let prove_cap = match objective {
            Objective::Prove => f64::INFINITY,
            _ => objective.max_slowdown() * plan(&first.model, vis, Objective::Prove).cost,
        };
        let fast_enough = |c: &CompiledModel| c.plan.cost <= prove_cap;
        // Functions interpolated wherever their knots' tables are smaller than the direct ones
        // (as accurate by construction, `quant::interp`): cheaper when the tables, not the
        // elements' rows, set the circuit's size, which only the plan can tell.
        let auto = base.interpolation == Interpolation::Auto;
        if auto && !first.model.tables.is_empty() {
            let s = QuantSettings {
                interpolation: Interpolation::Prefer,
                ..base
            };
            if let Ok(c) = self.compile_calibrated(first_cal.clone(), s, vis, objective) {
                if cost(&c) < cost(&first) && fast_enough(&c) {
                    first = c;
                }
            }
        }
        let base = QuantSettings {
            interpolation: first.model.settings.interpolation,
            ..base
        };
        let floats: Vec<Vec<f32>> = calibration
            .iter()
            .map(|x| zkonnx_circuits::ir::run_float(&self.graph, x).swap_remove(self.graph.output))
            .collect();
        let error = |c: &CompiledModel| -> Option<CalibrationError> {
            let mut e = CalibrationError {
                argmax_misses: 0,
                worst: 0.0,
            };
            for (x, f) in calibration.iter().zip(&floats) {
                let t = c.witness(x).ok()?;
                let out = c.model.dequantize_output(t.output(&c.model));
                let fid = fidelity::compare(&out, f);
                let scale = f
                    .iter()
                    .fold(0f64, |m, &v| m.max(f64::from(v).abs()))
                    .max(1e-6);
                e.worst = e.worst.max(fid.max_abs_err / scale);
                e.argmax_misses += usize::from(f.len() >= 2 && !fid.argmax_agrees);
            }
            Some(e)
        };
        let has_tables = !first.model.tables.is_empty();
        let fusable = zkonnx_circuits::ir::fuse::fusable(&self.graph);
        let mut best = first;
        if target == Target::Accuracy {
            let budget = cost(&best);
            let mut best_err = error(&best);
            let given_err = best_err;
            let given = best.model.settings;
            let mut tried = vec![given];
            let within_reach = |s: &QuantSettings| {
                let moved = [
                    i64::from(s.input_scale) - i64::from(given.input_scale),
                    i64::from(s.param_scale) - i64::from(given.param_scale),
                    i64::from(s.table_bits) - i64::from(given.table_bits),
                ];
                moved
                    .iter()
                    .zip(ACCURACY_REACH)
                    .all(|(&m, (lo, hi))| (i64::from(lo)..=i64::from(hi)).contains(&m))
            };
            // The steps from the settings kept so far, then functions interpolated finer than
            // their direct tables (where a function is the model's least precise step), until
            // no step is kept. A step that is closer but over the cost limit is a bridge: when
            // no step is kept, the steps from the closest bridge not crossed yet are tried (the
            // cost is not monotone in the settings: finer knots can shrink the tables a finer
            // scale grew), up to ACCURACY_BRIDGES of them.
            let mut bridges: Vec<(CalibrationError, QuantSettings)> = Vec::new();
            let mut crossed = 0;
            let mut from_best = true;
            loop {
                let from = if from_best {
                    best.model.settings
                } else if crossed < ACCURACY_BRIDGES && !bridges.is_empty() {
                    // The closest last.
                    bridges.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
                    crossed += 1;
                    match bridges.pop() {
                        Some((_, s)) => s,
                        None => break,
                    }
                } else {
                    break;
                };
                let mut kept_one = false;
                for step in 0..=ACCURACY_STEPS.len() + 1 {
                    let at = if from_best { best.model.settings } else { from };
                    let Some(s) = accuracy_step(at, step, (has_tables, auto, fusable)) else {
                        continue;
                    };
                    if tried.contains(&s) || !within_reach(&s) {
                        continue;
                    }
                    tried.push(s);
                    let Ok(c) = self.compile_calibrated(first_cal.clone(), s, vis, objective)
                    else {
                        continue;
                    };
                    let Some(e) = error(&c) else {
                        continue;
                    };
                    if best_err.is_some_and(|b| e.partial_cmp(&b) != Some(Ordering::Less)) {
                        continue;
                    }
                    if cost(&c) <= accuracy_limit(e, best_err, given_err, budget, cost(&best))
                        && fast_enough(&c)
                    {
                        best = c;
                        best_err = Some(e);
                        kept_one = true;
                        if !from_best {
                            break;
                        }
                    } else if from_best {
                        bridges.push((e, s));
                    }
                }
                from_best = kept_one;
            }
            return Ok(best);
        }
        let within = |c: &CompiledModel| -> bool {
            error(c).is_some_and(|e| e.worst <= SPEED_TOLERANCE && e.argmax_misses == 0)
        };
        let table_bits: &[u32] = if has_tables {
            SPEED_TABLE_BITS
        } else {
            &[base.table_bits]
        };
        for &scale in SPEED_SCALES {
            for &tb in table_bits {
                let s = QuantSettings {
                    input_scale: scale,
                    param_scale: scale,
                    table_bits: tb,
                    ..base
                };
                let Ok(c) = self.compile_calibrated(first_cal.clone(), s, vis, objective) else {
                    continue;
                };
                if cost(&c) < cost(&best) && within(&c) && fast_enough(&c) {
                    best = c;
                }
            }
        }
        Ok(best)
    }
}

/// How far apart (relative to the largest finite output, at least 1) tract's float run and
/// zkonnx's own f32 execution of the imported graph may be before [`Model::float_outputs`]
/// says they disagree.
pub const REFERENCES_AGREE: f32 = 1e-3;

/// Which float run [`Model::float_outputs`] measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FloatReference {
    /// tract running the ONNX file (zkonnx's own f32 execution agreeing).
    Tract,
    /// zkonnx's f32 execution of the imported graph (tract could not run the model).
    ZkonnxF32,
    /// zkonnx's f32 execution, because tract's run disagrees with it.
    TractDisagrees,
}

impl std::fmt::Display for FloatReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tract => "tract",
            Self::ZkonnxF32 => "zkonnx-f32",
            Self::TractDisagrees => "zkonnx-f32 (tract disagrees)",
        })
    }
}

/// Whether two float runs agree element by element within [`REFERENCES_AGREE`]: equal
/// values (the same infinity included) and NaN against NaN agree.
fn references_agree(a: &[f32], b: &[f32]) -> bool {
    let scale = a
        .iter()
        .chain(b)
        .filter(|v| v.is_finite())
        .fold(1f32, |m, v| m.max(v.abs()));
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= REFERENCES_AGREE * scale
        })
}

/// A quantized model with its circuit plan: everything needed for setup and proving.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompiledModel {
    /// The quantized graph.
    pub model: Arc<QGraph>,
    /// The layout plan.
    pub plan: Arc<LayoutPlan>,
    /// Settings for verifiers.
    pub settings: Settings,
    /// Calibrated ranges.
    pub calibration: Calibration,
}

/// File names inside a work directory.
pub mod files {
    /// Circuit settings (for verifiers).
    pub const SETTINGS: &str = "settings.json";
    /// The compiled model (quantized graph and plan).
    pub const COMPILED: &str = "compiled.json";
    /// Verifying key.
    pub const VK: &str = "vk.bin";
    /// Proving key.
    pub const PK: &str = "pk.bin";
    /// Development SRS.
    pub const SRS: &str = "srs.bin";
    /// The SRS given to `setup`, reduced to the circuit's size when it was larger (kept so
    /// that proving does not reduce it again; see `zkonnx_prover::srs::read_srs_for`).
    pub const FITTED_SRS: &str = "srs.fitted.bin";
    /// Proof.
    pub const PROOF: &str = "proof.json";
    /// Run report.
    pub const REPORT: &str = "report.json";
    /// Solidity verifier.
    pub const VERIFIER_SOL: &str = "Verifier.sol";
    /// Verifier creation bytecode (hex).
    pub const VERIFIER_BIN: &str = "Verifier.bin";
    /// Verifier ABI (JSON).
    pub const VERIFIER_ABI: &str = "Verifier.abi.json";
    /// Creation bytecode (hex) of the compact verifier's verifying-key data contract.
    pub const VERIFIER_KEY_BIN: &str = "VerifierKey.bin";
}

impl CompiledModel {
    /// Writes `settings.json` and `compiled.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Data {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        write_json(&dir.join(files::SETTINGS), &self.settings)?;
        write_json(&dir.join(files::COMPILED), self)?;
        Ok(())
    }

    /// Reads what [`CompiledModel::save`] wrote.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(files::COMPILED);
        let c: Self = read_json(&path)?;
        if c.settings.version != SETTINGS_VERSION {
            return Err(Error::Mismatch(format!(
                "{}: compiled with settings version {}, expected {SETTINGS_VERSION}",
                dir.display(),
                c.settings.version
            )));
        }
        c.check().map_err(|reason| Error::Data {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(c)
    }

    /// Checks a compilation read from a file before anything runs on it: the graph's
    /// structure ([`QGraph::validate`]), the settings against the graph and the plan, and
    /// the plan against the one the planner makes for this graph at the plan's own packing,
    /// limb width and lane count ([`zkonnx_circuits::layout::plan_at`]), so synthesis cannot
    /// run out of rows or meet a shape it was not planned for. Which layout is fastest is the
    /// compiler's choice and is not searched again on every load.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.model.validate()?;
        self.settings.validate()?;
        let shape = self.plan.shape;
        zkonnx_prover::keys::check_shape(&shape)?;
        if self.settings.shape != shape {
            return Err("the settings' shape is not the plan's".into());
        }
        if self.settings.num_inputs != self.model.input().len()
            || self.settings.num_outputs != self.model.output_node().len()
        {
            return Err("the settings' input or output count is not the model's".into());
        }
        let replanned = zkonnx_circuits::layout::plan_at(&self.model, &self.plan);
        if replanned.as_ref() != Some(&*self.plan) {
            return Err(
                "the plan is not the planner's plan for this model at its layout (edited, or \
                 compiled by another zkonnx version: compile it again)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Runs the reference integer executor on a float input.
    pub fn witness(&self, input: &[f32]) -> Result<Trace> {
        let xi = quantize_input(&self.model, input)?;
        Ok(run_quantized(&self.model, &xi)?)
    }

    /// The circuit without witness (for key generation).
    pub fn circuit(&self) -> ModelCircuit {
        ModelCircuit::new(self.model.clone(), self.plan.clone())
    }

    /// The model's parameter hash: the Poseidon hash of its quantized parameters, the public
    /// instance a `--param-visibility hashed` proof carries (and what a consumer pins).
    pub fn param_hash(&self) -> Fr {
        zkonnx_circuits::hash::hash_values(&self.model.params(), self.model.param_bits())
    }

    /// The Poseidon hash of a float input as the circuit sees it (quantized, packed with the
    /// input's width): the instance of a `--input-visibility hashed` proof.
    pub fn input_hash(&self, input: &[f32]) -> Result<Fr> {
        let xi = quantize_input(&self.model, input)?;
        Ok(zkonnx_circuits::hash::hash_values(
            &xi,
            self.plan.shape.hash_widths(&self.model).0,
        ))
    }

    /// The Poseidon hash of the model's output on a float input: the instance of a
    /// `--output-visibility hashed` proof.
    pub fn output_hash(&self, input: &[f32]) -> Result<Fr> {
        let t = self.witness(input)?;
        Ok(zkonnx_circuits::hash::hash_values(
            t.output(&self.model),
            self.plan.shape.hash_widths(&self.model).1,
        ))
    }

    /// log2 of the circuit's rows.
    pub fn k(&self) -> u32 {
        self.plan.shape.k
    }
}

/// A proof with its public instances and dequantized outputs.
#[derive(Debug, Clone)]
pub struct Proof {
    /// Proof bytes.
    pub bytes: Vec<u8>,
    /// Public instances (see [`Settings::instance_layout`]).
    pub instances: Vec<Fr>,
    /// Integer outputs (known to the prover whatever their visibility).
    pub outputs_int: Vec<i64>,
    /// Dequantized outputs.
    pub outputs: Vec<f64>,
    /// Whether the outputs are public instances (only then does the proof file carry them).
    pub outputs_public: bool,
    /// The Fiat-Shamir transcript it was made with.
    pub transcript: Transcript,
    /// The prover that made it.
    pub prover: Backend,
}

impl Proof {
    /// A proof read back from its file (as another process, `zkonnx-cuda`, wrote it), made by
    /// `prover`; `outputs_int` is empty (the file holds the dequantized outputs only).
    pub fn from_file(f: &ProofFile, path: &Path, prover: Backend) -> Result<Self> {
        Ok(Self {
            bytes: f.proof_bytes(path)?,
            instances: f.instance_values(path)?,
            outputs_int: Vec::new(),
            outputs: f.outputs.clone(),
            outputs_public: !f.outputs.is_empty(),
            transcript: f.transcript,
            prover,
        })
    }

    /// The file form.
    pub fn to_file(&self) -> ProofFile {
        ProofFile {
            version: PROOF_VERSION,
            proof: format!("0x{}", hex::encode(&self.bytes)),
            instances: self.instances.iter().map(fr_to_hex).collect(),
            outputs: if self.outputs_public {
                self.outputs.clone()
            } else {
                Vec::new()
            },
            transcript: self.transcript,
        }
    }
}

/// Holds the proving key and SRS in memory to prove many inputs.
pub struct Prover {
    compiled: CompiledModel,
    params: ParamsKZG<Bn256>,
    pk: ProvingKey<G1Affine>,
    backend: Backend,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("k", &self.compiled.k())
            .finish()
    }
}

impl Prover {
    /// Generates the keys (the SRS is reduced to the circuit's size if it is larger).
    pub fn setup(compiled: CompiledModel, params: ParamsKZG<Bn256>) -> Result<Self> {
        let params = zkonnx_prover::srs::fit_srs(params, compiled.k())?;
        let pk = zkonnx_prover::keys::keygen(&params, &compiled.circuit())?;
        Ok(Self {
            compiled,
            params,
            pk,
            backend: zkonnx_prover::device::auto(),
        })
    }

    /// Builds a prover from keys on disk (no key generation).
    pub fn from_parts(
        compiled: CompiledModel,
        params: ParamsKZG<Bn256>,
        pk: ProvingKey<G1Affine>,
    ) -> Result<Self> {
        let params = zkonnx_prover::srs::fit_srs(params, compiled.k())?;
        Ok(Self {
            compiled,
            params,
            pk,
            backend: zkonnx_prover::device::auto(),
        })
    }

    /// Chooses where proofs are made ([`Device::Auto`] by default: the CUDA prover where this
    /// build has it and a device is present, else the CPU); [`Device::Cuda`] is an error where
    /// no device can be used.
    pub fn use_device(&mut self, want: Device) -> Result<&Backend> {
        self.backend = zkonnx_prover::device::resolve(want)?;
        Ok(&self.backend)
    }

    /// Records the backend chosen elsewhere (the CLI, which hands GPU proofs to another
    /// process, records why it proves on the CPU); a CUDA backend is refused at proving time
    /// unless this process installed the CUDA prover.
    pub fn set_backend(&mut self, backend: Backend) {
        self.backend = backend;
    }

    /// The prover that makes this prover's proofs.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The compiled model.
    pub fn compiled(&self) -> &CompiledModel {
        &self.compiled
    }

    /// The proving key.
    pub fn proving_key(&self) -> &ProvingKey<G1Affine> {
        &self.pk
    }

    /// The verifying key with the SRS points a verifier needs.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            vk: self.pk.get_vk().clone(),
            shape: self.compiled.plan.shape,
            settings_digest: self.compiled.settings.digest(),
            params: self.params.clone(),
        }
    }

    /// Writes `vk.bin` and (if `with_pk`) `pk.bin` into `dir`.
    pub fn save_keys(&self, dir: &Path, with_pk: bool) -> Result<()> {
        zkonnx_prover::keys::write_vk(
            &dir.join(files::VK),
            self.pk.get_vk(),
            &self.compiled.plan.shape,
            &self.compiled.settings.digest(),
            &self.params,
        )?;
        if with_pk {
            zkonnx_prover::keys::write_pk(
                &dir.join(files::PK),
                &self.pk,
                &self.compiled.plan.shape,
                &self.compiled.settings.digest(),
            )?;
        }
        Ok(())
    }

    /// The bytes of `vk.bin` ([`Prover::save_keys`] writes them).
    pub fn vk_bytes(&self) -> Vec<u8> {
        zkonnx_prover::keys::vk_bytes(
            self.pk.get_vk(),
            &self.compiled.plan.shape,
            &self.compiled.settings.digest(),
            &self.params,
        )
    }

    /// Proves the model on one float input.
    pub fn prove(&self, input: &[f32]) -> Result<Proof> {
        let xi = quantize_input(&self.compiled.model, input)?;
        self.prove_quantized(&xi)
    }

    /// Proves the model on an input already quantized (a segment's boundary values).
    pub fn prove_quantized(&self, xi: &[i64]) -> Result<Proof> {
        self.prove_quantized_with(xi, Transcript::Evm)
    }

    /// [`Prover::prove_quantized`] with the given transcript ([`Transcript::Poseidon`] for
    /// proofs to be aggregated).
    pub fn prove_quantized_with(&self, xi: &[i64], transcript: Transcript) -> Result<Proof> {
        let shape = &self.compiled.plan.shape;
        if xi.len() != self.compiled.model.input().len() {
            let node = self.compiled.model.input();
            return Err(zkonnx_circuits::CircuitsError::InputLength {
                name: node.name.clone(),
                shape: node.shape.clone(),
                expected: node.len(),
                got: xi.len(),
            }
            .into());
        }
        ModelCircuit::check_input(&self.compiled.model, shape, xi)?;
        let trace = Arc::new(run_quantized(&self.compiled.model, xi)?);
        let instances = ModelCircuit::instances(&self.compiled.model, shape, &trace);
        let circuit = ModelCircuit::with_trace(
            self.compiled.model.clone(),
            self.compiled.plan.clone(),
            trace.clone(),
        );
        let bytes = zkonnx_prover::device::prove_on(
            &self.backend,
            &self.params,
            &self.pk,
            circuit,
            &instances,
            transcript,
        )?;
        // A proof that its own key does not accept means the artifacts do not belong together
        // (a key from another SRS or another compilation): say so rather than write it.
        if !zkonnx_prover::proof::verify_with(
            &self.params,
            self.pk.get_vk(),
            &instances,
            &bytes,
            transcript,
        ) {
            return Err(Error::Mismatch(
                "the proof does not verify with its own proving key: the proving key, the SRS \
                 and compiled.json do not belong together (run setup again)"
                    .into(),
            ));
        }
        let outputs_int = trace.output(&self.compiled.model).to_vec();
        let outputs = self.compiled.model.dequantize_output(&outputs_int);
        Ok(Proof {
            bytes,
            instances,
            outputs_int,
            outputs,
            outputs_public: shape.visibility.output == Vis::Public,
            transcript,
            prover: self.backend.clone(),
        })
    }
}

/// Verifies a proof file against a verifying key and settings.
///
/// `Ok(false)` when the proof does not verify, or when its `outputs` do not match the proven
/// output instances; `Err` only when the artifacts are malformed or do not belong together.
pub fn verify(
    vk: &VerifierKey,
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<bool> {
    check_settings(vk, settings)?;
    let bytes = proof.proof_bytes(proof_path)?;
    let instances = proof.instance_values(proof_path)?;
    let expected = settings.instance_layout().len;
    if instances.len() != expected {
        return Err(Error::Data {
            path: proof_path.display().to_string(),
            reason: format!(
                "{} instances, but the circuit has {expected} ({})",
                instances.len(),
                settings.shape.visibility
            ),
        });
    }
    if !outputs_match(settings, &instances, &proof.outputs) {
        return Ok(false);
    }
    Ok(zkonnx_prover::proof::verify_with(
        &vk.params,
        &vk.vk,
        &instances,
        &bytes,
        proof.transcript,
    ))
}

/// Checks that `settings` is the settings file `vk` was made for: the same shape and the
/// same digest ([`Settings::digest`]), so no field a verifier relies on was edited.
pub fn check_settings(vk: &VerifierKey, settings: &Settings) -> Result<()> {
    if vk.shape != settings.shape {
        return Err(Error::Mismatch(
            "the verifying key and settings.json belong to different circuits".into(),
        ));
    }
    if vk.settings_digest != settings.digest() {
        return Err(Error::Mismatch(
            "settings.json is not the one the verifying key was made for (edited, or of \
             another compilation): its digest differs from the one recorded in vk.bin"
                .into(),
        ));
    }
    Ok(())
}

/// Whether the instance count fits the settings and `outputs` are exactly the dequantized
/// output instances (and empty when the output is not public).
pub(crate) fn outputs_match(settings: &Settings, instances: &[Fr], outputs: &[f64]) -> bool {
    let layout = settings.instance_layout();
    if instances.len() != layout.len {
        return false;
    }
    let s = (settings.output_scale as f64).exp2();
    let proven = &instances[layout.outputs];
    proven.len() == outputs.len()
        && proven
            .iter()
            .zip(outputs)
            .all(|(x, &o)| fr_to_i128(x).is_some_and(|v| (v as f64 / s) == o))
}

/// Peak resident memory of this process so far, in MB (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
