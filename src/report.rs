//! The `report.json` of a run.

use serde::{Deserialize, Serialize};

use zkonnx_circuits::layout::LayerPlan;

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
    /// Float outputs of the original model (tract).
    pub reference_outputs: Vec<f32>,
    /// Largest |proven − float|.
    pub max_abs_err: f64,
    /// Mean |proven − float|.
    pub mean_abs_err: f64,
    /// Whether argmax of proven and float outputs agree.
    pub argmax_agrees: bool,
    /// Whether the proof verified.
    pub verified: bool,
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
