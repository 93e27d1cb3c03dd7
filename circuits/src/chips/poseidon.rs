//! The Poseidon permutation and sponge in the circuit (parameters: [`crate::hash`]).
//!
//! Columns: the state `s0 s1 s2` and helpers `h0 h1 h2` over the first six advice columns, round
//! constants `c0 c1 c2` and absorb flags `mask f1 f2` in fixed columns.
//! - Round row (next row holds the new state): `h_k = (s_k + c_k)^2` and
//!   `s'_j = Σ_k M_jk·u_k` with `u_k = h_k^2·(s_k + c_k)` where the S-box applies (all words in
//!   full rounds, word 0 in partial rounds) and `u_k = s_k + c_k` elsewhere. Degree 4.
//! - Absorb row (cells `o0 o1 o2 | m1 m2`, next row starts the permutation):
//!   `s'_0 = mask·o_0 + c_0`, `s'_j = mask·o_j + f_j·m_j + c_j`: `mask` is 0 on the first chunk
//!   (whose state is the constant initial state, in `c`), the flags `f_j` say which message
//!   cells are absorbed, and `c` carries the padding and the constant header.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use crate::hash::{self, Chunk, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};

/// One packing row for [`PoseidonConfig::pack_and_hash`]: `(region, row, first, inputs,
/// weights, accumulator after the row)` to the input cells and the accumulator cell.
pub type PackRow<'a> = dyn FnMut(
        &mut Region<Fr>,
        usize,
        bool,
        &[Value<Fr>],
        &[Fr],
        Value<Fr>,
    ) -> Result<(Vec<Cell>, Cell), Error>
    + 'a;

/// Main rows that packing `n` values of `bits` bits takes with `t` values per row.
pub fn pack_rows(n: usize, bits: u32, t: usize) -> usize {
    let per = hash::per_element(bits);
    (n / per) * per.div_ceil(t) + (n % per).div_ceil(t)
}

/// Main rows of packing and hashing `n` values of `bits` bits.
pub fn hash_group_rows(n: usize, bits: u32, t: usize) -> usize {
    pack_rows(n, bits, t) + hash_rows(n.div_ceil(hash::per_element(bits)))
}

/// Rows one hash over `n` elements takes (the header included).
pub fn hash_rows(n: usize) -> usize {
    hash::chunks(n + 1).len() * (1 + FULL_ROUNDS + PARTIAL_ROUNDS) + 1
}

/// Columns and gates of the Poseidon chip.
#[derive(Debug, Clone)]
pub struct PoseidonConfig {
    /// Full rounds.
    pub q_full: Selector,
    /// Partial rounds.
    pub q_part: Selector,
    /// Absorption.
    pub q_absorb: Selector,
    /// State.
    pub s: [Column<Advice>; WIDTH],
    /// S-box helpers.
    pub h: [Column<Advice>; WIDTH],
    /// Round constants (absorb rows: initial state, padding, header).
    pub c: [Column<Fixed>; WIDTH],
    /// Absorb row: chain mask, message flags.
    pub flags: [Column<Fixed>; WIDTH],
}

impl PoseidonConfig {
    /// Creates the gates over the first six advice columns, with round constants and absorb
    /// flags in the first six columns of the shared fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let s = [advice[0], advice[1], advice[2]];
        let h = [advice[3], advice[4], advice[5]];
        let c = [fixed[0], fixed[1], fixed[2]];
        let flags = [fixed[3], fixed[4], fixed[5]];
        let (q_full, q_part, q_absorb) = (meta.selector(), meta.selector(), meta.selector());
        let mds = hash::params().mds;
        for (name, q, boxed) in [
            ("poseidon full round", q_full, WIDTH),
            ("poseidon partial round", q_part, 1),
        ] {
            meta.create_gate(name, |vc| {
                let q = vc.query_selector(q);
                let x: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|k| {
                        vc.query_advice(s[k], Rotation::cur())
                            + vc.query_fixed(c[k], Rotation::cur())
                    })
                    .collect();
                let hv: Vec<Expression<Fr>> = h
                    .iter()
                    .map(|&col| vc.query_advice(col, Rotation::cur()))
                    .collect();
                let u: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|k| {
                        if k < boxed {
                            hv[k].clone() * hv[k].clone() * x[k].clone()
                        } else {
                            x[k].clone()
                        }
                    })
                    .collect();
                let mut out: Vec<Expression<Fr>> = (0..boxed)
                    .map(|k| q.clone() * (hv[k].clone() - x[k].clone() * x[k].clone()))
                    .collect();
                for (j, row) in mds.iter().enumerate() {
                    let next = vc.query_advice(s[j], Rotation::next());
                    let sum = row
                        .iter()
                        .zip(&u)
                        .fold(Expression::Constant(Fr::ZERO), |acc, (m, uk)| {
                            acc + Expression::Constant(*m) * uk.clone()
                        });
                    out.push(q.clone() * (next - sum));
                }
                out
            });
        }
        meta.create_gate("poseidon absorb", |vc| {
            let q = vc.query_selector(q_absorb);
            let mask = vc.query_fixed(flags[0], Rotation::cur());
            (0..WIDTH)
                .map(|j| {
                    let next = vc.query_advice(s[j], Rotation::next());
                    let o = vc.query_advice(s[j], Rotation::cur());
                    let mut v = mask.clone() * o + vc.query_fixed(c[j], Rotation::cur());
                    if j > 0 {
                        v = v + vc.query_fixed(flags[j], Rotation::cur())
                            * vc.query_advice(h[j - 1], Rotation::cur());
                    }
                    q.clone() * (next - v)
                })
                .collect::<Vec<_>>()
        });
        Self {
            q_full,
            q_part,
            q_absorb,
            s,
            h,
            c,
            flags,
        }
    }

    /// Packs signed `bits`-bit values (cells with their values) into field elements on the
    /// caller's multiply-add rows (`pack_row(region, row, first, inputs, weights, accumulator)`
    /// assigns one row of at most `t` inputs with weights `2^(bits·i)` and returns the input
    /// cells and the accumulator cell), then hashes them with their header from the next row.
    /// The digest equals [`hash::hash_values`]; returns it and the rows used in all.
    #[allow(clippy::too_many_arguments)]
    pub fn pack_and_hash(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        cells: &[(Cell, Option<i128>)],
        bits: u32,
        t: usize,
        pack_row: &mut PackRow<'_>,
    ) -> Result<(Cell, usize), Error> {
        let base = Fr::from(2u64).pow_vartime([u64::from(bits)]);
        let mut at = row;
        let mut msgs = Vec::new();
        for chunk in cells.chunks(hash::per_element(bits)) {
            let mut acc = Value::known(Fr::ZERO);
            let mut pow = Fr::ONE;
            let mut last = None;
            for (j, sub) in chunk.chunks(t.max(1)).enumerate() {
                let mut xs = Vec::with_capacity(sub.len());
                let mut ws = Vec::with_capacity(sub.len());
                for &(_, v) in sub {
                    let x = super::val(v);
                    acc = acc + x * Value::known(pow);
                    xs.push(x);
                    ws.push(pow);
                    pow *= base;
                }
                let (xc, ac) = pack_row(region, at, j == 0, &xs, &ws, acc)?;
                for (c, &(src, _)) in xc.into_iter().zip(sub) {
                    region.constrain_equal(c, src);
                }
                last = Some(ac);
                at += 1;
            }
            msgs.push((last.ok_or(Error::Synthesis)?, acc));
        }
        let (digest, rows) = self.hash(region, at, hash::header(cells.len(), bits), &msgs)?;
        Ok((digest, at + rows - row))
    }

    /// Lays out the sponge over a constant `header` and the message cells `msgs` (with their
    /// values) from `row`. Returns the digest cell and the rows used ([`hash_rows`]).
    pub fn hash(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        header: Fr,
        msgs: &[(Cell, Value<Fr>)],
    ) -> Result<(Cell, usize), Error> {
        let p = hash::params();
        let start = row;
        let mut row = row;
        let mut state: Value<[Fr; WIDTH]> = Value::known([Fr::ZERO; WIDTH]);
        // Element 0 of the sponge is the header, element i + 1 is msgs[i].
        for (ci, Chunk { msgs: idx, pad }) in hash::chunks(msgs.len() + 1).into_iter().enumerate() {
            self.q_absorb.enable(region, row)?;
            let first = ci == 0;
            if !first {
                region.assign_fixed(self.flags[0], row, Fr::ONE);
            }
            let mut add = [Fr::ZERO; WIDTH];
            if first {
                add[0] = hash::initial_state()[0];
            }
            if let Some(w) = pad {
                add[w] += Fr::ONE;
            }
            let mut absorbed: [Value<Fr>; WIDTH] = [Value::known(Fr::ZERO); WIDTH];
            for (j, m) in idx.iter().enumerate() {
                match m {
                    Some(0) => add[1 + j] += header,
                    Some(i) => {
                        let (cell, v) = msgs[i - 1];
                        region.assign_fixed(self.flags[1 + j], row, Fr::ONE);
                        let mc = region.assign_advice(self.h[j], row, v).cell();
                        region.constrain_equal(mc, cell);
                        absorbed[1 + j] = v;
                    }
                    None => {}
                }
            }
            for (j, col) in self.c.iter().enumerate() {
                if add[j] != Fr::ZERO {
                    region.assign_fixed(*col, row, add[j]);
                }
            }
            // The chained state (the previous permutation's output; unused, 0, on the first
            // chunk where the mask is 0).
            for (k, &col) in self.s.iter().enumerate() {
                let o = if first {
                    Value::known(Fr::ZERO)
                } else {
                    state.map(|st| st[k])
                };
                region.assign_advice(col, row, o);
            }
            state = state
                .zip(absorbed[1].zip(absorbed[2]))
                .map(|(st, (a1, a2))| {
                    let base = if first { [Fr::ZERO; WIDTH] } else { st };
                    [
                        base[0] + add[0],
                        base[1] + a1 + add[1],
                        base[2] + a2 + add[2],
                    ]
                });
            row += 1;
            for r in 0..FULL_ROUNDS + PARTIAL_ROUNDS {
                let full = hash::is_full(r);
                if full {
                    self.q_full.enable(region, row)?;
                } else {
                    self.q_part.enable(region, row)?;
                }
                for (k, col) in self.c.iter().enumerate() {
                    region.assign_fixed(*col, row, p.rc[r][k]);
                }
                for k in 0..WIDTH {
                    let sk = state.map(|st| st[k]);
                    region.assign_advice(self.s[k], row, sk);
                    let hk = if full || k == 0 {
                        sk.map(|x| (x + p.rc[r][k]).square())
                    } else {
                        Value::known(Fr::ZERO)
                    };
                    region.assign_advice(self.h[k], row, hk);
                }
                state = state.map(|st| hash::round(p, r, &st));
                row += 1;
            }
        }
        // The final state; word 1 is the digest.
        let mut digest = None;
        for k in 0..WIDTH {
            let c = region
                .assign_advice(self.s[k], row, state.map(|st| st[k]))
                .cell();
            if k == 1 {
                digest = Some(c);
            }
        }
        row += 1;
        debug_assert_eq!(row - start, hash_rows(msgs.len()));
        Ok((digest.ok_or(Error::Synthesis)?, row - start))
    }
}
