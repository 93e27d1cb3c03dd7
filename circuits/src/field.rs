//! Native field helpers shared by the hash (native code) and the chips (circuit code).

use halo2_proofs::halo2curves::bn256::Fr;

/// Embeds a signed integer in the field (negative values as `p - |v|`).
pub fn fe(v: i128) -> Fr {
    let m = v.unsigned_abs();
    // Almost every value fits 64 bits: one conversion instead of five multiplications (this
    // runs for every cell of a witness).
    let x = if m >> 64 == 0 {
        Fr::from(m as u64)
    } else {
        Fr::from((m >> 64) as u64) * Fr::from(1u64 << 32) * Fr::from(1u64 << 32)
            + Fr::from(m as u64)
    };
    if v < 0 {
        -x
    } else {
        x
    }
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
