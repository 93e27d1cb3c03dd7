//! zkonnx-evm: Solidity verifier generation and EVM execution of zkonnx proofs.
//!
//! This crate is a placeholder in the first milestone: proofs already use the Keccak EVM
//! transcript (see `zkonnx-prover`), so the generated verifier will check them unchanged.
#![deny(missing_docs)]

/// EIP-170: the largest runtime code a contract may have, in bytes.
pub const EIP170_MAX_RUNTIME_BYTES: usize = 24_576;
