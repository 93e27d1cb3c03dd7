//! Elementwise products of two computed tensors, several a row: slot `j` of a row holds
//! `a_j | b_j | d_j` over advice-pool columns `3j..3j+3`, with `d_j = a_j·b_j` under one
//! selector, `S = ⌊width/3⌋` slots a row ([`crate::shape::CircuitShape::products_per_row`]).
//!
//! Every `a` and `b` cell is a copy of its operand's cell and `d` is the product's output, so a
//! slot the node leaves empty (zeros, copied nowhere) satisfies the gate and feeds nothing.
//! *Why:* an elementwise `Mul` of two activations (a squeeze-and-excitation scale, an LSTM's
//! gates, GELU's `x·(1 + tanh)`) took one four-column arithmetic row per element, a quarter of
//! a MobileNetV3 block's main rows.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Selector};
use halo2_proofs::poly::Rotation;

/// Columns of the product chip.
#[derive(Debug, Clone)]
pub struct ProductConfig {
    /// Enables every slot's gate on a row.
    pub q: Selector,
    /// The slots, each `a | b | d`.
    pub slots: Vec<[Column<Advice>; 3]>,
}

impl ProductConfig {
    /// Creates the gate with `slots` slots over the first `3·slots` advice columns.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        slots: usize,
    ) -> Self {
        let q = meta.selector();
        let slots: Vec<[Column<Advice>; 3]> = (0..slots.clamp(1, advice.len() / 3))
            .map(|j| [advice[3 * j], advice[3 * j + 1], advice[3 * j + 2]])
            .collect();
        meta.create_gate("products", |vc| {
            let q = vc.query_selector(q);
            slots
                .iter()
                .map(|s| {
                    let [a, b, d] = s.map(|c| vc.query_advice(c, Rotation::cur()));
                    q.clone() * (a * b - d)
                })
                .collect::<Vec<_>>()
        });
        Self { q, slots }
    }

    /// Assigns slot `slot` of `row` (slot 0 enables the row's gate): returns the cells
    /// `a, b, d`.
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        (row, slot): (usize, usize),
        v: [Value<Fr>; 3],
    ) -> Result<[Cell; 3], Error> {
        let cols = self.slots.get(slot).ok_or(Error::Synthesis)?;
        if slot == 0 {
            self.q.enable(region, row)?;
        }
        let mut cells = cols
            .iter()
            .zip(v)
            .map(|(&c, x)| region.assign_advice(c, row, x).cell());
        let mut next = || cells.next().ok_or(Error::Synthesis);
        Ok([next()?, next()?, next()?])
    }
}
