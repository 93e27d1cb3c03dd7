//! Dot products of two advice vectors: a linear map's private weights (parameters in advice,
//! `--param-visibility private|hashed`) and sums of products of two computed tensors (a
//! MatMul of activations, [`crate::gadgets::bilinear`]).
//!
//! A row holds `T` inputs `x_t`, `T` weights `w_t` and one accumulator:
//! `acc[cur] = m[cur]·acc[prev] + Σ_t w_t·x_t`, with the fixed `m` 0 on the first row of an
//! output and 1 on the others. Every `x` and `w` cell is a copy: of a computed cell, of a
//! range-checked parameter cell, or, in the slots a short last row leaves, of the constrained
//! zero (so a padding product is 0 whatever its other factor holds).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

/// Columns of the private dot-product chip.
#[derive(Debug, Clone)]
pub struct DotConfig {
    /// Enables the gate.
    pub q: Selector,
    /// Inputs.
    pub x: Vec<Column<Advice>>,
    /// Weights.
    pub w: Vec<Column<Advice>>,
    /// Accumulator.
    pub acc: Column<Advice>,
    /// Chain mask.
    pub m: Column<Fixed>,
}

/// Cells of one row.
#[derive(Debug, Clone)]
pub struct DotCells {
    /// Inputs.
    pub x: Vec<Cell>,
    /// Weights.
    pub w: Vec<Cell>,
    /// Accumulator.
    pub acc: Cell,
}

impl DotConfig {
    /// Creates the gate with `t` products per row over the first `2t + 1` advice columns, with
    /// the chain mask in the first column of the shared fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        t: usize,
    ) -> Self {
        let q = meta.selector();
        let x = advice[..t].to_vec();
        let w = advice[t..2 * t].to_vec();
        let acc = advice[2 * t];
        let m = fixed[0];
        meta.create_gate("private dot product", |vc| {
            let q = vc.query_selector(q);
            let sum = x
                .iter()
                .zip(&w)
                .fold(Expression::Constant(Fr::ZERO), |s, (&xc, &wc)| {
                    s + vc.query_advice(xc, Rotation::cur()) * vc.query_advice(wc, Rotation::cur())
                });
            let cur = vc.query_advice(acc, Rotation::cur());
            let prev = vc.query_advice(acc, Rotation::prev());
            let m = vc.query_fixed(m, Rotation::cur());
            vec![q * (cur - m * prev - sum)]
        });
        Self { q, x, w, acc, m }
    }

    /// Assigns one row.
    pub fn assign_row(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        first: bool,
        x: &[Value<Fr>],
        w: &[Value<Fr>],
        acc: Value<Fr>,
    ) -> Result<DotCells, Error> {
        self.q.enable(region, row)?;
        // Written on every row (not left at the default 0): the column is in the shared pool.
        region.assign_fixed(self.m, row, if first { Fr::ZERO } else { Fr::ONE });
        let xc = super::assign_cells(region, &self.x, row, x);
        let wc = super::assign_cells(region, &self.w, row, w);
        let acc = region.assign_advice(self.acc, row, acc).cell();
        Ok(DotCells { x: xc, w: wc, acc })
    }
}
