//! A general arithmetic row: `k_ab·a·b + k_a·a + k_b·b + k_c·c + k_d·d + k_0 = 0`.
//!
//! The six coefficients live in the shared fixed pool (other gadgets' constants on their
//! rows), so the gate has its own selector (degree 4). Products of activations (MatMul of two computed
//! tensors, elementwise Mul) chain rows `d = c + a·b`; exact division and square root use two
//! rows each plus range checks (see `crate::circuit`).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use super::fe;

/// Columns of the arithmetic gate.
#[derive(Debug, Clone)]
pub struct ArithConfig {
    /// Enables the gate.
    pub q: Selector,
    /// `a | b | c | d` over the shared advice pool.
    pub cols: [Column<Advice>; 4],
    /// `k_ab, k_a, k_b, k_c, k_d, k_0`.
    pub coeffs: [Column<Fixed>; 6],
}

/// Coefficients of one row: `[k_ab, k_a, k_b, k_c, k_d, k_0]`.
pub type Coeffs = [i128; 6];

impl ArithConfig {
    /// Creates the gate over the first four advice columns, with the coefficients in the
    /// first six columns of the shared fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let q = meta.selector();
        let cols = [advice[0], advice[1], advice[2], advice[3]];
        let coeffs = [fixed[0], fixed[1], fixed[2], fixed[3], fixed[4], fixed[5]];
        meta.create_gate("arith", |vc| {
            let q = vc.query_selector(q);
            let [a, b, c, d] = cols.map(|col| vc.query_advice(col, Rotation::cur()));
            let [kab, ka, kb, kc, kd, k0] = coeffs.map(|col| vc.query_fixed(col, Rotation::cur()));
            vec![q * (kab * a.clone() * b.clone() + ka * a + kb * b + kc * c + kd * d + k0)]
        });
        Self { q, cols, coeffs }
    }

    /// Assigns one row at `row`; returns the cells `a, b, c, d`.
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        k: Coeffs,
        v: [Value<Fr>; 4],
    ) -> Result<[Cell; 4], Error> {
        self.q.enable(region, row)?;
        for (col, kv) in self.coeffs.iter().zip(k) {
            if kv != 0 {
                region.assign_fixed(*col, row, fe(kv));
            }
        }
        let mut cells = Vec::with_capacity(4);
        for (col, val) in self.cols.iter().zip(v) {
            cells.push(region.assign_advice(*col, row, val).cell());
        }
        Ok([cells[0], cells[1], cells[2], cells[3]])
    }
}
