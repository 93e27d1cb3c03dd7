//! zkonnx-evm: the Solidity verifier of a zkonnx circuit, its compilation, and its execution
//! in an in-process EVM (revm) or on a real node (DESIGN.md §2).
//!
//! Proofs already use the Keccak EVM transcript, so the generated verifier checks the very
//! bytes that the native verifier checks. The verifier takes raw calldata: every public
//! instance as a 32-byte big-endian word, then the proof ([`encode_calldata`]).
#![deny(missing_docs)]

pub mod compact;
pub mod compile;
pub mod consumer;
pub mod error;
pub mod evm;
pub mod generate;
pub mod node;

pub use compile::{Compiled, Solc};
pub use error::{EvmError, Result};
pub use evm::{CallOutcome, Evm};
pub use generate::{encode_calldata, verifier_solidity};

/// EIP-170: the largest runtime code a contract may have, in bytes.
pub const EIP170_MAX_RUNTIME_BYTES: usize = 24_576;

/// Source of the example consumer contract (and the `ZkonnxVerifier` library).
pub const MODEL_CONSUMER_SOL: &str = include_str!("../contracts/ModelConsumer.sol");

/// Checks a runtime size against EIP-170, with advice when it is over.
pub fn check_runtime_size(runtime_bytes: usize) -> Result<()> {
    if runtime_bytes > EIP170_MAX_RUNTIME_BYTES {
        return Err(EvmError::TooBig { runtime_bytes });
    }
    Ok(())
}
