//! Errors of the circuits crate.

use thiserror::Error;

/// An unsupported ONNX node: its name and operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    /// Node name in the ONNX graph (or `#index` when unnamed).
    pub name: String,
    /// ONNX operator type.
    pub op_type: String,
    /// Why it is not supported (empty when the operator itself is unknown).
    pub reason: String,
}

impl std::fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}' ({})", self.name, self.op_type)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong between an ONNX file and a circuit.
#[derive(Debug, Error)]
pub enum CircuitsError {
    /// The model file could not be read.
    #[error("cannot read model file '{path}': {source}")]
    Io {
        /// Path of the file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not a parseable ONNX model.
    #[error("'{path}' is not a valid ONNX model: {reason}")]
    NotOnnx {
        /// Path of the file.
        path: String,
        /// Parser message.
        reason: String,
    },
    /// One or more nodes use operators (or forms of them) that zkonnx does not support.
    #[error("the model has {} unsupported node(s): {}", .0.len(), .0.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("; "))]
    Unsupported(Vec<UnsupportedNode>),
    /// The model's structure is invalid or outside what zkonnx handles.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// Shapes of an input do not fit.
    #[error(
        "input has {got} values but the model's input '{name}' of shape {shape:?} needs {expected}"
    )]
    InputLength {
        /// Input name.
        name: String,
        /// Input shape.
        shape: Vec<usize>,
        /// Expected number of values.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// An input value does not fit the type the model declares for it.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A value is not finite (NaN or infinity).
    #[error("{what} contains a non-finite value ({value}) at index {index}")]
    NonFinite {
        /// What contained the value.
        what: String,
        /// Index in flattened order.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A witness value falls outside the range that the circuit was compiled for.
    #[error("value {value} at node '{node}' (index {index}) is outside the calibrated range (|v| < 2^{bits}): recalibrate with data that covers this input (zkonnx compile --calibration)")]
    OutOfRange {
        /// Node name.
        node: String,
        /// Element index in the node's output.
        index: usize,
        /// Offending integer value.
        value: i128,
        /// Bound in bits.
        bits: u32,
    },
    /// A witness value outside the domain of its operation (a lookup table's calibrated
    /// domain, a non-positive denominator, a negative square root).
    #[error("value {value} at node '{node}' (index {index}) {reason}")]
    OutOfDomain {
        /// Node name.
        node: String,
        /// Element index in the node's output.
        index: usize,
        /// Offending integer value.
        value: i128,
        /// What is wrong, with the advice.
        reason: String,
    },
    /// Integer overflow in the quantized model: the chosen scales are too large.
    #[error("integer overflow at node '{node}': lower the scales")]
    Overflow {
        /// Node name.
        node: String,
    },
    /// tract failed while running the float reference model.
    #[error("float reference (tract) failed: {0}")]
    Tract(String),
    /// An unsupported visibility setting.
    #[error("visibility: {0}")]
    Visibility(String),
    /// A model cannot be split as asked.
    #[error("split: {0}")]
    Split(String),
    /// halo2 synthesis error.
    #[error("circuit synthesis failed: {0}")]
    Synthesis(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, CircuitsError>;
