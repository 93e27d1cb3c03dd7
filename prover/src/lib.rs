//! zkonnx-prover: SRS, key generation, proving and verification (KZG on BN254, SHPLONK,
//! Keccak EVM transcript), aggregation of chained proofs, and the versioned artifact formats
//! (DESIGN.md §2, §6, §8).
#![deny(missing_docs)]

pub mod aggregate;
pub mod artifacts;
pub mod commit;
mod dev_srs;
pub mod device;
pub mod error;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod keys;
pub mod proof;
pub mod roofline;
pub mod srs;
pub mod srs_import;

pub use error::{ProverError, Result};
pub use halo2_proofs;

#[cfg(test)]
mod poseidon_reference {
    //! The native Poseidon of `zkonnx_circuits::hash` equals snark-verifier's (an independent
    //! implementation with optimized constants) bit for bit.
    use halo2_proofs::halo2curves::bn256::Fr;
    use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
    use snark_verifier_sdk::snark_verifier::util::hash::Poseidon;
    use zkonnx_circuits::hash;

    #[test]
    fn sponge_matches_snark_verifier() {
        for n in [0usize, 1, 2, 3, 10, 33] {
            let xs: Vec<Fr> = (0..n as u64).map(|i| Fr::from(i * i + 12345)).collect();
            let mut reference = Poseidon::<Fr, Fr, 3, 2>::new::<8, 57, 0>(&NativeLoader);
            reference.update(&xs);
            assert_eq!(hash::sponge(&xs), reference.squeeze(), "n = {n}");
        }
    }
}
