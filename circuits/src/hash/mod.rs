//! Poseidon hashing of tensors, natively (this module) and in the circuit
//! ([`crate::chips::poseidon`]), with the same parameters and bit-for-bit equal results.
//!
//! **Permutation.** Poseidon over the BN254 scalar field with width 3 (rate 2, capacity 1),
//! S-box `x^5`, 8 full and 57 partial rounds (128-bit security), round constants and MDS matrix
//! from the reference Grain LFSR generator (the same parameters halo2-base and snark-verifier
//! use). Every round adds its constants, applies the S-box (to all three words in full
//! rounds, to the first word in partial rounds) and multiplies by the MDS matrix.
//!
//! **Sponge.** The state starts as `(2^64, 0, 0)`; messages are absorbed two at a time by
//! adding them to words 1 and 2, each chunk followed by a permutation; after the last element
//! a padding `1` is added to the next word (a full extra chunk when the length is even). The
//! digest is word 1. This is the sponge of snark-verifier's native Poseidon, so tests compare
//! against it.
//!
//! **Tensors.** A tensor of `n` signed integers, each `|v| < 2^(b-1)`, is hashed as the
//! sponge over a header `n·2^8 + b` followed by the packed elements: `⌊248/b⌋` values per
//! field element, `Σ_i v_i·2^(b·i)` (a balanced base-`2^b` number, so the packing is
//! injective; the circuit range-checks every value to make it so).

use std::sync::OnceLock;

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use poseidon_primitives::poseidon::primitives::Spec;

/// Width of the permutation.
pub const WIDTH: usize = 3;
/// Elements absorbed per permutation.
pub const RATE: usize = 2;
/// Full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 57;
/// Bits of a field element used for packing values.
pub const PACK_BITS: u32 = 248;

/// The round constants and MDS matrix.
#[derive(Debug, Clone)]
pub struct Params {
    /// Round constants, one row per round.
    pub rc: Vec<[Fr; WIDTH]>,
    /// The MDS matrix.
    pub mds: [[Fr; WIDTH]; WIDTH],
}

#[derive(Debug)]
struct Grain;

impl Spec<Fr, WIDTH, RATE> for Grain {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }
    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }
    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }
    fn secure_mds() -> usize {
        0
    }
}

/// The parameters (generated once).
pub fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        let (rc, mds, _) = <Grain as Spec<Fr, WIDTH, RATE>>::constants();
        Params { rc, mds }
    })
}

/// Whether round `r` is a full round.
pub fn is_full(r: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&r)
}

/// One round applied to `s`.
pub fn round(p: &Params, r: usize, s: &[Fr; WIDTH]) -> [Fr; WIDTH] {
    let mut t = [Fr::zero(); WIDTH];
    for k in 0..WIDTH {
        t[k] = s[k] + p.rc[r][k];
        if k == 0 || is_full(r) {
            t[k] = t[k].square().square() * t[k];
        }
    }
    let mut out = [Fr::zero(); WIDTH];
    for (j, o) in out.iter_mut().enumerate() {
        for (k, tk) in t.iter().enumerate() {
            *o += p.mds[j][k] * tk;
        }
    }
    out
}

/// The permutation.
pub fn permute(s: &mut [Fr; WIDTH]) {
    let p = params();
    for r in 0..FULL_ROUNDS + PARTIAL_ROUNDS {
        *s = round(p, r, s);
    }
}

/// The initial sponge state.
pub fn initial_state() -> [Fr; WIDTH] {
    [Fr::from_u128(1u128 << 64), Fr::zero(), Fr::zero()]
}

/// What one permutation of the sponge absorbs: up to two messages and a padding `1` right
/// after the last message of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Message indices absorbed into words 1 and 2.
    pub msgs: [Option<usize>; RATE],
    /// Word (1 or 2) that receives the padding, if this is the last chunk.
    pub pad: Option<usize>,
}

/// The chunks of the sponge over `n` elements.
pub fn chunks(n: usize) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(n / RATE + 1);
    let mut i = 0;
    loop {
        let take = (n - i).min(RATE);
        let mut msgs = [None; RATE];
        for (j, m) in msgs.iter_mut().enumerate().take(take) {
            *m = Some(i + j);
        }
        i += take;
        let pad = (take < RATE).then_some(1 + take);
        out.push(Chunk { msgs, pad });
        if pad.is_some() {
            return out;
        }
    }
}

/// The sponge over field elements.
pub fn sponge(elements: &[Fr]) -> Fr {
    let mut s = initial_state();
    for c in chunks(elements.len()) {
        for (j, m) in c.msgs.iter().enumerate() {
            if let Some(i) = m {
                s[1 + j] += elements[*i];
            }
        }
        if let Some(w) = c.pad {
            s[w] += Fr::one();
        }
        permute(&mut s);
    }
    s[1]
}

/// Values packed per field element for `bits`-bit values.
pub fn per_element(bits: u32) -> usize {
    (PACK_BITS / bits.max(1)) as usize
}

/// The header absorbed before a tensor's packed elements.
pub fn header(n: usize, bits: u32) -> Fr {
    Fr::from((n as u64) << 8 | u64::from(bits))
}

/// Packs signed `bits`-bit values (`|v| < 2^(bits-1)`).
pub fn pack(values: &[i64], bits: u32) -> Vec<Fr> {
    let base = Fr::from(2u64).pow_vartime([u64::from(bits)]);
    values
        .chunks(per_element(bits))
        .map(|c| {
            c.iter().rev().fold(Fr::zero(), |acc, &v| {
                acc * base + crate::field::fe(i128::from(v))
            })
        })
        .collect()
}

/// The hash of a tensor of signed `bits`-bit values.
pub fn hash_values(values: &[i64], bits: u32) -> Fr {
    let mut e = vec![header(values.len(), bits)];
    e.extend(pack(values, bits));
    sponge(&e)
}

pub use crate::quant::bits_for;

#[cfg(test)]
mod tests;
