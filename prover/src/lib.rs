//! zkonnx-prover: SRS, key generation, proving and verification (KZG on BN254, SHPLONK,
//! Keccak EVM transcript), and the versioned artifact formats (DESIGN.md §2, §6).
#![deny(missing_docs)]

pub mod artifacts;
pub mod error;
pub mod keys;
pub mod proof;
pub mod roofline;
pub mod srs;
pub mod srs_import;

pub use error::{ProverError, Result};
pub use halo2_proofs;
