//! Errors of the EVM crate.

use thiserror::Error;

/// Everything that can go wrong generating, compiling or running a verifier.
#[derive(Debug, Error)]
pub enum EvmError {
    /// No Solidity compiler was found.
    #[error("no Solidity compiler found: install the pinned solc-js with `npm ci --prefix verifier-contract` (or put solc 0.8.19 on PATH, or set ZKONNX_SOLC to a solc binary)")]
    NoCompiler,
    /// The compiler ran but reported errors.
    #[error("Solidity compilation failed: {0}")]
    Compile(String),
    /// Running a program failed.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The verifier's runtime code is over the EIP-170 limit.
    #[error("the runtime code is {runtime_bytes} bytes, over the EIP-170 limit of 24,576: it cannot be deployed on Ethereum mainnet. Use the compact verifier (the default of `zkonnx evm-verifier`, without --snark-verifier), recompile the model with a narrower layout (fewer columns), or use a chain without the limit")]
    TooBig {
        /// Runtime size.
        runtime_bytes: usize,
    },
    /// The compact verifier's verifying-key data contract is over the EIP-170 limit.
    #[error("the verifying key's data contract would be {bytes} bytes, over the EIP-170 limit of 24,576 (the compact verifier keeps it as contract code). Recompile the model with a narrower layout (fewer columns)")]
    KeyTooBig {
        /// Data contract runtime size.
        bytes: usize,
    },
    /// Deployment failed in the EVM.
    #[error("deployment failed: {0}")]
    Deploy(String),
    /// The EVM itself failed (not a revert).
    #[error("EVM error: {0}")]
    Evm(String),
    /// A node (anvil, RPC) failed.
    #[error("node: {0}")]
    Node(String),
    /// Bad hex or bytecode.
    #[error("{0}")]
    Format(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EvmError>;
