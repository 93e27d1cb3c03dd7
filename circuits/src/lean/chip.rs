//! Columns and gates of the lean layout.
//!
//! Columns: `T` input columns `x_t` (copy constraints), one accumulator column `acc`, a third
//! bit column `c` when `T = 1`; `T` weight columns `w_t` (`w_0` holds the addend on value rows);
//! three *kind* columns. A kind column holds 0 (off), 1 or 2 and switches on one of two gates
//! through the degree-2 selectors `one(k) = k·(2 − k)` and `two(k) = k·(k − 1)/2`, so three
//! fixed columns carry six gates and every constraint stays within degree 4.
//!
//! | kind column | 1 | 2 |
//! |---|---|---|
//! | `k_mac` | continue: `acc = acc[−1] + Σ_t w_t·x_t` | first row: `acc = Σ_t w_t·x_t` |
//! | `k_bits` | step: `X − 2·X[−1] ∈ {0, 1}` | first: `X ∈ {0, 1}` |
//! | `k_val` | value: `acc[−W] + w_0 = (A − B)·2^W + C`, `A·B = 0` | signed: `A = A[−1] − B[−1]` |
//!
//! With a hashed group, three more advice columns (the Poseidon chip's S-box helpers, two of
//! them holding message cells, with copy constraints) and the chip's fixed columns join: its
//! state columns are the three bit columns and its first round-constant column is `w_0`
//! (Poseidon rows switch no lean gate on, lean rows no Poseidon gate); the accumulator column
//! gets copy constraints, since packed values are copied into the sponge.
//!
//! The bit gates run on the three bit columns `A = x_0`, `B = acc`, `C = x_1` (or `c`) at
//! once: `W` rows of running sums from the most significant bit prove `0 ≤ A, B, C < 2^W` of
//! the last row, which is the value row of a rescaled element: `A = max(q, 0)`, `B = max(−q, 0)`
//! and `C` the remainder of `acc + add = q·2^W + C`, where `acc` is the last row of the
//! element's multiply-add chain, `W` rows up.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Expression, Fixed, Instance};
use halo2_proofs::poly::Rotation;

use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_proofs::plonk::Error;

use crate::chips::poseidon::PoseidonConfig;

/// Columns of the lean layout.
#[derive(Debug, Clone)]
pub struct LeanConfig {
    /// Inputs of multiply-add rows (`T` columns, with copy constraints); `x_0` also holds the
    /// positive part of a rescaled value, and the signed value on signed rows.
    pub x: Vec<Column<Advice>>,
    /// Accumulator; the negative part of a rescaled value on value rows.
    pub acc: Column<Advice>,
    /// The three bit columns `A, B, C`.
    pub bits: [Column<Advice>; 3],
    /// Weights (`T` columns); `w_0` holds the addend on value rows.
    pub w: Vec<Column<Fixed>>,
    /// Multiply-add kind: 1 continue, 2 first row.
    pub k_mac: Column<Fixed>,
    /// Bit kind: 1 step, 2 first bit.
    pub k_bits: Column<Fixed>,
    /// Value kind: 1 value row, 2 signed row.
    pub k_val: Column<Fixed>,
    /// Public inputs then public outputs.
    pub instance: Column<Instance>,
    /// Bits `W` of every range check (and the shift of every rescale).
    pub width: u32,
    /// The Poseidon chip, when a group is hashed.
    pub poseidon: Option<PoseidonConfig>,
}

/// `k·(2 − k)`: 1 where `k = 1`, 0 where `k ∈ {0, 2}`.
fn one(k: Expression<Fr>) -> Expression<Fr> {
    k.clone() * (Expression::Constant(Fr::from(2)) - k)
}

/// `k·(k − 1)/2`: 1 where `k = 2`, 0 where `k ∈ {0, 1}`.
fn two(k: Expression<Fr>) -> Expression<Fr> {
    k.clone() * (k - Expression::Constant(Fr::ONE)) * Expression::Constant(Fr::TWO_INV)
}

impl LeanConfig {
    /// Creates the columns and gates for `t` inputs per multiply-add row and `width`-bit range
    /// checks, with the Poseidon chip when `hashing`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, t: usize, width: u32, hashing: bool) -> Self {
        let t = t.max(1);
        let x: Vec<Column<Advice>> = (0..t).map(|_| meta.advice_column()).collect();
        let acc = meta.advice_column();
        let third = if t >= 2 { x[1] } else { meta.advice_column() };
        let instance = meta.instance_column();
        for &c in &x {
            meta.enable_equality(c);
        }
        meta.enable_equality(instance);
        let w: Vec<Column<Fixed>> = (0..t).map(|_| meta.fixed_column()).collect();
        let [k_mac, k_bits, k_val] = [(); 3].map(|_| meta.fixed_column());
        let bits = [x[0], acc, third];

        meta.create_gate("lean multiply-add", |vc| {
            let k = vc.query_fixed(k_mac, Rotation::cur());
            let cur = vc.query_advice(acc, Rotation::cur());
            let prev = vc.query_advice(acc, Rotation::prev());
            let sum = x
                .iter()
                .zip(&w)
                .fold(Expression::Constant(Fr::zero()), |s, (&xc, &wc)| {
                    s + vc.query_fixed(wc, Rotation::cur()) * vc.query_advice(xc, Rotation::cur())
                });
            let on = one(k.clone()) + two(k.clone());
            vec![on * (cur - sum) - one(k) * prev]
        });
        meta.create_gate("lean bits", |vc| {
            let k = vc.query_fixed(k_bits, Rotation::cur());
            let (step, first) = (one(k.clone()), two(k));
            bits.iter()
                .map(|&c| {
                    let cur = vc.query_advice(c, Rotation::cur());
                    let prev = vc.query_advice(c, Rotation::prev());
                    let bit = cur.clone() - prev * Expression::Constant(Fr::from(2));
                    let is_bit =
                        |b: Expression<Fr>| b.clone() * (Expression::Constant(Fr::one()) - b);
                    step.clone() * is_bit(bit) + first.clone() * is_bit(cur)
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("lean rescale", |vc| {
            let k = vc.query_fixed(k_val, Rotation::cur());
            let (value, signed) = (one(k.clone()), two(k));
            let [a, b, c] = bits.map(|col| vc.query_advice(col, Rotation::cur()));
            let [a_prev, b_prev] =
                [bits[0], bits[1]].map(|col| vc.query_advice(col, Rotation::prev()));
            let chained = vc.query_advice(acc, Rotation(-(width as i32)));
            let add = vc.query_fixed(w[0], Rotation::cur());
            let pow = Expression::Constant(Fr::from(2).pow_vartime([u64::from(width)]));
            vec![
                value.clone() * (chained + add - (a.clone() - b.clone()) * pow - c),
                value * a.clone() * b,
                signed * (a - a_prev + b_prev),
            ]
        });
        let poseidon = hashing.then(|| {
            let helpers = [(); 3].map(|_| meta.advice_column());
            meta.enable_equality(acc);
            meta.enable_equality(helpers[0]);
            meta.enable_equality(helpers[1]);
            let advice = [
                bits[0], bits[1], bits[2], helpers[0], helpers[1], helpers[2],
            ];
            let mut fixed = vec![w[0]];
            fixed.extend((0..5).map(|_| meta.fixed_column()));
            PoseidonConfig::configure(meta, &advice, &fixed)
        });
        Self {
            x,
            acc,
            bits,
            w,
            k_mac,
            k_bits,
            k_val,
            instance,
            width,
            poseidon,
        }
    }

    /// Inputs per multiply-add row.
    pub fn inputs_per_row(&self) -> usize {
        self.x.len()
    }

    /// One multiply-add row: inputs `xs` (padded with zeros), weights `ws`, the accumulator
    /// after this row. Returns the input cells (one per given input) and the accumulator cell.
    pub fn mac_row(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        first: bool,
        xs: &[Value<Fr>],
        ws: &[Fr],
        acc: Value<Fr>,
    ) -> (Vec<Cell>, Cell) {
        region.assign_fixed(self.k_mac, row, Fr::from(if first { 2 } else { 1 }));
        let mut cells = Vec::with_capacity(xs.len());
        for (t, &col) in self.x.iter().enumerate() {
            let v = xs.get(t).copied().unwrap_or(Value::known(Fr::zero()));
            let cell = region.assign_advice(col, row, v).cell();
            if t < xs.len() {
                cells.push(cell);
            }
            if let Some(&w) = ws.get(t) {
                if w != Fr::zero() {
                    region.assign_fixed(self.w[t], row, w);
                }
            }
        }
        let acc = region.assign_advice(self.acc, row, acc).cell();
        (cells, acc)
    }

    /// The `W` rows of running sums that end in `values = [A, B, C]` at `row + W − 1` (the
    /// value row). `sums[j][i]` is column `j`'s running sum on row `row + i`.
    pub fn bit_rows(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        sums: &[Vec<Value<Fr>>; 3],
    ) -> Result<[Cell; 3], Error> {
        let w = self.width as usize;
        let mut last = Vec::with_capacity(3);
        for i in 0..w {
            region.assign_fixed(self.k_bits, row + i, Fr::from(if i == 0 { 2 } else { 1 }));
        }
        for (j, &col) in self.bits.iter().enumerate() {
            let mut cell = None;
            for i in 0..w {
                let v = sums[j].get(i).copied().unwrap_or(Value::unknown());
                cell = Some(region.assign_advice(col, row + i, v).cell());
            }
            last.push(cell);
        }
        match last[..] {
            [Some(a), Some(b), Some(c)] => Ok([a, b, c]),
            _ => Err(Error::Synthesis),
        }
    }

    /// Marks `row` as the value row of a rescaled element with addend `add`.
    pub fn value_row(&self, region: &mut Region<Fr>, row: usize, add: Fr) {
        region.assign_fixed(self.k_val, row, Fr::one());
        if add != Fr::zero() {
            region.assign_fixed(self.w[0], row, add);
        }
    }

    /// The signed row after a value row: `A = A[−1] − B[−1]`, the rescaled value itself.
    pub fn signed_row(&self, region: &mut Region<Fr>, row: usize, q: Value<Fr>) -> Cell {
        region.assign_fixed(self.k_val, row, Fr::from(2));
        region.assign_advice(self.bits[0], row, q).cell()
    }
}

/// The running sums (from the most significant of `width` bits) that end in `v`; `None` if `v`
/// is not in `[0, 2^width)`.
pub fn running_sums(v: i128, width: u32) -> Option<Vec<i128>> {
    if v < 0 || (width < 127 && v >= 1i128 << width) {
        return None;
    }
    Some((0..width).map(|i| v >> (width - 1 - i)).collect())
}
