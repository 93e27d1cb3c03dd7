//! Elementwise rescaling by a power of two, with an optional fused ReLU.
//!
//! Row layout over the advice pool: `x | q | r | out | d`.
//! - rescale: `x·mul + add = q·2^shift + r` (`mul`, `add`, `2^shift` fixed); `r` is range-checked
//!   to `[0, 2^shift)` by the range lane, so `q` is the floor quotient.
//! - ReLU: `out·d = 0` and `d = out − q`, with `out` and `d` range-checked to `[0, 2^bits)`:
//!   then `out = max(q, 0)` and `|q| < 2^bits`.
//! - without ReLU, `q + 2^bits` is range-checked to `[0, 2^(bits+1))`.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use super::fe;

/// Columns of the rescale chip.
#[derive(Debug, Clone)]
pub struct RescaleConfig {
    /// Enables the rescale relation.
    pub q_rescale: Selector,
    /// Enables the ReLU relation.
    pub q_relu: Selector,
    /// `x | q | r | out | d`.
    pub cols: [Column<Advice>; 5],
    /// Multiplier.
    pub mul: Column<Fixed>,
    /// Addend.
    pub add: Column<Fixed>,
    /// `2^shift`.
    pub pow: Column<Fixed>,
}

/// Cells of one assigned element.
#[derive(Debug, Clone, Copy)]
pub struct RescaleCells {
    /// The input.
    pub x: Cell,
    /// The quotient.
    pub q: Cell,
    /// The remainder.
    pub r: Cell,
    /// `max(q, 0)` (ReLU rows only).
    pub out: Option<Cell>,
    /// `out − q` (ReLU rows only).
    pub d: Option<Cell>,
}

impl RescaleConfig {
    /// Creates the gates over the first five advice columns.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, advice: &[Column<Advice>]) -> Self {
        let cols = [advice[0], advice[1], advice[2], advice[3], advice[4]];
        let q_rescale = meta.selector();
        let q_relu = meta.selector();
        let mul = meta.fixed_column();
        let add = meta.fixed_column();
        let pow = meta.fixed_column();
        meta.create_gate("rescale", |vc| {
            let s = vc.query_selector(q_rescale);
            let [x, q, r] = [0, 1, 2].map(|i| vc.query_advice(cols[i], Rotation::cur()));
            let [m, a, p] = [mul, add, pow].map(|c| vc.query_fixed(c, Rotation::cur()));
            vec![s * (x * m + a - q * p - r)]
        });
        meta.create_gate("relu", |vc| {
            let s = vc.query_selector(q_relu);
            let [q, out, d] = [1, 3, 4].map(|i| vc.query_advice(cols[i], Rotation::cur()));
            vec![s.clone() * out.clone() * d.clone(), s * (d - out + q)]
        });
        Self {
            q_rescale,
            q_relu,
            cols,
            mul,
            add,
            pow,
        }
    }

    /// Assigns one element at `row`. Values are `(x, q, r)` and, for ReLU rows, `(out, d)`.
    #[allow(clippy::too_many_arguments)]
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        mul: i64,
        add: i64,
        shift: u32,
        relu: bool,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
        self.q_rescale.enable(region, row)?;
        region.assign_fixed(self.mul, row, fe(i128::from(mul)));
        region.assign_fixed(self.add, row, fe(i128::from(add)));
        region.assign_fixed(self.pow, row, fe(1i128 << shift));
        let x = region.assign_advice(self.cols[0], row, v[0]).cell();
        let q = region.assign_advice(self.cols[1], row, v[1]).cell();
        let r = region.assign_advice(self.cols[2], row, v[2]).cell();
        let (out, d) = if relu {
            self.q_relu.enable(region, row)?;
            (
                Some(region.assign_advice(self.cols[3], row, v[3]).cell()),
                Some(region.assign_advice(self.cols[4], row, v[4]).cell()),
            )
        } else {
            (None, None)
        };
        Ok(RescaleCells { x, q, r, out, d })
    }
}
