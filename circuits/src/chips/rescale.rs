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
    /// Private parameters: a rescale relation whose multiplier and addend are advice cells.
    pub private: Option<PrivateRescale>,
}

/// The rescale relation with `mul` and `add` in advice columns 5 and 6 (copies of parameter
/// cells): `x·mul + add = q·2^shift + r`.
#[derive(Debug, Clone)]
pub struct PrivateRescale {
    /// Enables the relation.
    pub q: Selector,
    /// `mul | add`.
    pub cols: [Column<Advice>; 2],
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
    /// Creates the gates over the first five advice columns (seven with private parameters),
    /// with the multiplier, addend and `2^shift` in the first three columns of the shared
    /// fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        private_params: bool,
    ) -> Self {
        let cols = [advice[0], advice[1], advice[2], advice[3], advice[4]];
        let q_rescale = meta.selector();
        let q_relu = meta.selector();
        let [mul, add, pow] = [fixed[0], fixed[1], fixed[2]];
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
        let private = private_params.then(|| {
            let q = meta.selector();
            let pcols = [advice[5], advice[6]];
            meta.create_gate("rescale (private parameters)", |vc| {
                let s = vc.query_selector(q);
                let [x, qv, r] = [0, 1, 2].map(|i| vc.query_advice(cols[i], Rotation::cur()));
                let [m, a] = pcols.map(|c| vc.query_advice(c, Rotation::cur()));
                let p = vc.query_fixed(pow, Rotation::cur());
                vec![s * (x * m + a - qv * p - r)]
            });
            PrivateRescale { q, cols: pcols }
        });
        Self {
            q_rescale,
            q_relu,
            cols,
            mul,
            add,
            pow,
            private,
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
        self.assign_common(region, row, shift, relu, v)
    }

    /// Assigns one element whose `mul` and `add` are private: returns the element's cells and
    /// the `mul` and `add` cells (to be bound to the parameter cells).
    pub fn assign_private(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        shift: u32,
        relu: bool,
        v: [Value<Fr>; 5],
        mul_add: [Value<Fr>; 2],
    ) -> Result<(RescaleCells, [Cell; 2]), Error> {
        let p = self.private.as_ref().ok_or(Error::Synthesis)?;
        p.q.enable(region, row)?;
        let m = region.assign_advice(p.cols[0], row, mul_add[0]).cell();
        let a = region.assign_advice(p.cols[1], row, mul_add[1]).cell();
        Ok((self.assign_common(region, row, shift, relu, v)?, [m, a]))
    }

    fn assign_common(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        shift: u32,
        relu: bool,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
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
