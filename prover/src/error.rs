//! Errors of the prover crate.

use thiserror::Error;

/// Everything that can go wrong in setup, proving, verification or artifact I/O.
#[derive(Debug, Error)]
pub enum ProverError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A file is not what it should be (wrong magic, version or content).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The SRS is too small for the circuit.
    #[error("the SRS has 2^{have} points but the circuit needs 2^{need}: generate or import a larger one")]
    SrsTooSmall {
        /// log2 size of the SRS.
        have: u32,
        /// log2 size needed.
        need: u32,
    },
    /// halo2 failed.
    #[error("halo2 {stage} failed: {message}")]
    Halo2 {
        /// Which step.
        stage: &'static str,
        /// halo2's message.
        message: String,
    },
    /// Proofs that cannot be aggregated (they do not verify, do not link, or snark-verifier
    /// refused them).
    #[error("aggregation: {0}")]
    Aggregation(String),
    /// The prover asked for cannot run here (`--device cuda` without a CUDA build or device).
    #[error("device: {0}")]
    Device(String),
    /// The witness could not be built.
    #[error(transparent)]
    Circuits(#[from] zkonnx_circuits::CircuitsError),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ProverError>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ProverError + '_ {
    move |source| ProverError::Io {
        path: path.display().to_string(),
        source,
    }
}
