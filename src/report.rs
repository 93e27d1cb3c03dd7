//! The `report.json` of a run.

use serde::{Deserialize, Serialize};

use zkonnx_circuits::layout::LayerPlan;

use crate::evm::EvmCheck;
use crate::fidelity::compare;
use crate::{CompiledModel, Proof};

/// Seconds each phase of a run took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Import, calibration, quantization and planning.
    pub compile_s: f64,
    /// SRS generation.
    pub srs_s: f64,
    /// Key generation.
    pub setup_s: f64,
    /// Witness and proof.
    pub prove_s: f64,
    /// Verification.
    pub verify_s: f64,
}

/// EVM figures of a run with `--evm`: the compact verifier in revm, and optionally
/// snark-verifier's verifier of the same circuit.
#[derive(Debug, Clone)]
pub struct EvmFigures {
    /// Runtime code size of the compact verifier.
    pub runtime_bytes: usize,
    /// The verifying-key data contract: its size and the circuit id (`extcodehash`).
    pub vk: Option<(usize, String)>,
    /// The revm check of the proof.
    pub check: EvmCheck,
    /// snark-verifier's verifier (`--compare-verifiers`).
    pub snark: Option<VerifierFigures>,
}

/// Figures of one end-to-end run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Model file.
    pub model: String,
    /// log2 rows.
    pub k: u32,
    /// Rows used by the layout (main region).
    pub rows: usize,
    /// Rows used by the range-check lane.
    pub range_rows: usize,
    /// Advice columns.
    pub advice_columns: usize,
    /// Fixed columns.
    pub fixed_columns: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Multiply-adds proven.
    pub macs: usize,
    /// Seconds: import + calibration + quantization + planning.
    pub compile_s: f64,
    /// Seconds: SRS generation (development SRS).
    pub srs_s: f64,
    /// Seconds: key generation.
    pub setup_s: f64,
    /// Seconds: witness + proof.
    pub prove_s: f64,
    /// Seconds: verification.
    pub verify_s: f64,
    /// Peak resident memory of the process, MB.
    pub peak_rss_mb: f64,
    /// Proof size.
    pub proof_bytes: usize,
    /// Proving-key file size (0 if not written).
    pub pk_bytes: u64,
    /// Verifying-key file size.
    pub vk_bytes: u64,
    /// Proven outputs, dequantized.
    pub outputs: Vec<f64>,
    /// Float outputs of the original model.
    pub reference_outputs: Vec<f32>,
    /// Which float run they are: `tract`, `zkonnx-f32` (tract could not run the model) or
    /// `tract-disagrees` (zkonnx's f32 execution, tract's run disagreeing with it).
    #[serde(default)]
    pub float_reference: Option<crate::FloatReference>,
    /// Largest |proven − float|.
    pub max_abs_err: f64,
    /// Mean |proven − float|.
    pub mean_abs_err: f64,
    /// Whether argmax of proven and float outputs agree.
    pub argmax_agrees: bool,
    /// Whether the proof verified.
    pub verified: bool,
    /// The prover that made the proof: `cpu` or `cuda`.
    #[serde(default)]
    pub prover: String,
    /// The GPU that made it (CUDA only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Why `--device auto` fell back to the CPU, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover_fallback: Option<String>,
    /// Input / param scales.
    pub input_scale: u32,
    /// Weight scale.
    pub param_scale: u32,
    /// Per-layer plan.
    pub layers: Vec<LayerPlan>,
    /// Runtime code size of the Solidity verifier (with `--evm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_runtime_bytes: Option<usize>,
    /// Gas to deploy the verifier (with `--evm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_gas: Option<u64>,
    /// Gas of one verifying transaction (with `--evm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_gas: Option<u64>,
    /// Whether the EVM verifier accepted the proof (with `--evm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm_verified: Option<bool>,
    /// Which verifier the EVM figures above are for (`compact` or `snark-verifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// Compact verifier: runtime size of the verifying-key data contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_key_bytes: Option<usize>,
    /// Compact verifier: gas to deploy the verifying-key data contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vk_deploy_gas: Option<u64>,
    /// Compact verifier: the circuit's identity (`extcodehash` of the data contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_id: Option<String>,
    /// snark-verifier's verifier of the same circuit, for comparison (`--compare-verifiers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snark_verifier: Option<VerifierFigures>,
}

/// Figures of one Solidity verifier measured in revm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifierFigures {
    /// Runtime code size.
    pub runtime_bytes: usize,
    /// Whether it fits EIP-170 (24,576 bytes).
    pub deployable: bool,
    /// Gas of one verifying transaction (measured without the size limit if needed); `None`
    /// when even that chain could not deploy it (its creation needs more than a block's gas).
    pub verify_gas: Option<u64>,
    /// Whether it accepted the proof (false when it could not be deployed).
    pub accepted: bool,
}

impl Report {
    /// The report of a run of `compiled` (on the model file `model`): its plan, the phases'
    /// timings, the proof and its fidelity against the float `reference`, the key files' sizes
    /// `(pk, vk)`, whether it verified, and the EVM figures if measured.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &str,
        compiled: &CompiledModel,
        t: Timings,
        proof: &Proof,
        (pk_bytes, vk_bytes): (u64, u64),
        (reference, by): (Vec<f32>, crate::FloatReference),
        verified: bool,
        evm: Option<&EvmFigures>,
    ) -> Report {
        let fid = compare(&proof.outputs, &reference);
        let p = &compiled.plan;
        Report {
            model: model.to_string(),
            k: p.shape.k,
            rows: p.main_rows,
            range_rows: p.range_rows,
            advice_columns: p.shape.advice_columns(),
            fixed_columns: p.shape.fixed_columns(),
            lookups: p.lookups(),
            macs: compiled.model.macs(),
            compile_s: t.compile_s,
            srs_s: t.srs_s,
            setup_s: t.setup_s,
            prove_s: t.prove_s,
            verify_s: t.verify_s,
            peak_rss_mb: crate::peak_rss_mb(),
            proof_bytes: proof.bytes.len(),
            pk_bytes,
            vk_bytes,
            outputs: proof.outputs.clone(),
            reference_outputs: reference,
            float_reference: Some(by),
            max_abs_err: fid.max_abs_err,
            mean_abs_err: fid.mean_abs_err,
            argmax_agrees: fid.argmax_agrees,
            verified,
            prover: proof.prover.prover.clone(),
            device: proof.prover.device.clone(),
            prover_fallback: proof.prover.fallback.clone(),
            input_scale: compiled.settings.input_scale,
            param_scale: compiled.settings.param_scale,
            layers: p.layers.to_vec(),
            verifier_runtime_bytes: evm.map(|f| f.runtime_bytes),
            deploy_gas: evm.map(|f| f.check.deploy_gas),
            verify_gas: evm.map(|f| f.check.verify_gas),
            evm_verified: evm.map(|f| f.check.accepted),
            verifier: evm.map(|_| "compact".to_string()),
            verifier_key_bytes: evm.and_then(|f| f.vk.as_ref().map(|v| v.0)),
            vk_deploy_gas: evm.and_then(|f| f.check.vk_deploy_gas),
            circuit_id: evm.and_then(|f| f.vk.as_ref().map(|v| v.1.clone())),
            snark_verifier: evm.and_then(|f| f.snark.clone()),
        }
    }
}
