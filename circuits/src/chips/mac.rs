//! Packed multiply-add gates for matrix-vector products with fixed weights.
//!
//! A row holds `T` inputs `x_t` and `A` accumulators `acc_a`, with the `A·T` weights of that
//! block in fixed columns. Gate, for every accumulator `a`:
//! `acc_a[cur] = m[cur]·acc_a[prev] + Σ_t w_{a,t}[cur]·x_t[cur]`, where the fixed `m` is 0 on
//! the first row of a block and 1 on the others. The same gate packs small values into one
//! field element before hashing (weights `2^(b·i)`).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

/// Columns of the matrix-vector chip.
#[derive(Debug, Clone)]
pub struct MacConfig {
    /// Enables the gate.
    pub q: Selector,
    /// Inputs, `T` columns.
    pub x: Vec<Column<Advice>>,
    /// Accumulators, `A` columns.
    pub acc: Vec<Column<Advice>>,
    /// Weights `w[a][t]`.
    pub w: Vec<Vec<Column<Fixed>>>,
    /// Chain mask: 1 where the row continues the previous one.
    pub m: Column<Fixed>,
}

impl MacConfig {
    /// Creates the gate over the first `T + A` columns of `advice`, with the weights and the
    /// chain mask in the first `A·T + 1` columns of the shared fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        t: usize,
        a: usize,
    ) -> Self {
        let q = meta.selector();
        let x = advice[..t].to_vec();
        let acc = advice[t..t + a].to_vec();
        let w: Vec<Vec<Column<Fixed>>> = (0..a)
            .map(|ai| fixed[ai * t..(ai + 1) * t].to_vec())
            .collect();
        let m = fixed[a * t];
        meta.create_gate("packed multiply-add", |vc| {
            let q = vc.query_selector(q);
            let m = vc.query_fixed(m, Rotation::cur());
            let xs: Vec<Expression<Fr>> = x
                .iter()
                .map(|&c| vc.query_advice(c, Rotation::cur()))
                .collect();
            (0..a)
                .map(|ai| {
                    let cur = vc.query_advice(acc[ai], Rotation::cur());
                    let prev = vc.query_advice(acc[ai], Rotation::prev());
                    let sum = xs
                        .iter()
                        .enumerate()
                        .fold(Expression::Constant(Fr::zero()), |s, (ti, xe)| {
                            s + vc.query_fixed(w[ai][ti], Rotation::cur()) * xe.clone()
                        });
                    q.clone() * (cur - m.clone() * prev - sum)
                })
                .collect::<Vec<_>>()
        });
        Self { q, x, acc, w, m }
    }

    /// Assigns one row of the chip at `row`: inputs `x`, weights `w[a][t]`, accumulators.
    /// Returns the input cells and the accumulator cells.
    #[allow(clippy::too_many_arguments)]
    pub fn assign_row(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        first: bool,
        x: &[Value<Fr>],
        w: &[Vec<Fr>],
        acc: &[Value<Fr>],
    ) -> Result<(Vec<Cell>, Vec<Cell>), Error> {
        self.q.enable(region, row)?;
        region.assign_fixed(self.m, row, if first { Fr::zero() } else { Fr::one() });
        for (ai, wa) in w.iter().enumerate() {
            for (ti, &wv) in wa.iter().enumerate() {
                if wv != Fr::zero() {
                    region.assign_fixed(self.w[ai][ti], row, wv);
                }
            }
        }
        let xc = super::assign_cells(region, &self.x, row, x);
        let ac = super::assign_cells(region, &self.acc, row, acc);
        Ok((xc, ac))
    }
}
