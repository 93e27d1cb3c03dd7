//! Native field helpers shared by the hash (native code) and the chips (circuit code).

use halo2_proofs::halo2curves::bn256::Fr;

/// Embeds a signed integer in the field (negative values as `p - |v|`).
pub fn fe(v: i128) -> Fr {
    let m = v.unsigned_abs();
    let x = if m >> 64 == 0 {
        small(m as u64)
    } else {
        small((m >> 64) as u64) * TWO_64 + small(m as u64)
    };
    if v < 0 {
        -x
    } else {
        x
    }
}

/// `2^64` in the field.
const TWO_64: Fr = Fr::from_raw([0, 1, 0, 0]);

/// Embeds an unsigned 64-bit integer in the field: one Montgomery multiplication.
///
/// Not `Fr::from(u64)`: halo2-axiom builds halo2curves with `bn256-table`, where that reads
/// values below `2^16` from a 2 MB table of precomputed elements. A witness's small values
/// read it at random, so a proof maps most of those 2 MB into memory (mlp_digits: about 1.1 MB
/// of a 16.9 MB peak); the multiplication is as fast at a model's size (lenet's proof took the
/// same time either way).
pub fn small(m: u64) -> Fr {
    Fr::from_raw([m, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::fe;
    use halo2_proofs::halo2curves::bn256::Fr;
    use halo2_proofs::halo2curves::ff::PrimeField;

    #[test]
    fn signed_integers_embed_on_both_sides_of_64_bits() {
        let one = |m: u128| Fr::from_u128(m);
        for m in [
            0u128,
            1,
            255,
            65_535,
            65_536,
            u64::MAX as u128,
            1 << 64,
            (1 << 64) + 7,
            i128::MAX as u128,
        ] {
            assert_eq!(fe(m as i128), one(m), "{m}");
            assert_eq!(fe(-(m as i128)), -one(m), "-{m}");
        }
        assert_eq!(fe(-1) + Fr::one(), Fr::zero());
        assert_eq!(fe(i128::MIN), -Fr::from_u128(1 << 127));
    }
}
