//! Native field helpers shared by the hash (native code) and the chips (circuit code).

use halo2_proofs::halo2curves::bn256::Fr;

/// Embeds a signed integer in the field (negative values as `p - |v|`).
pub fn fe(v: i128) -> Fr {
    let m = v.unsigned_abs();
    let x = Fr::from((m >> 64) as u64) * Fr::from(1u64 << 32) * Fr::from(1u64 << 32)
        + Fr::from(m as u64);
    if v < 0 {
        -x
    } else {
        x
    }
}
