//! Elementwise rescaling by a power of two, with an optional fused ReLU.
//!
//! A row holds `R` elements of one node side by side (`CircuitShape::rescale_slots`: as many
//! five-column slots as the advice pool holds). Slot `j` takes advice columns `5j..5j+5`, its
//! multiplier and addend from fixed-pool columns `mul_j`, `add_j` (slot 0: columns 0 and 1;
//! slot `j ≥ 1`: `1 + 2j` and `2 + 2j`), and shares `2^shift` (column 2) and the row's
//! selectors, so every gate below holds for each slot. A slot the node does not fill (its last
//! row) holds zeros, which satisfy every gate; its cells are copied nowhere. *Why:* with wide
//! multiply-add packing the pool is 10–32 columns wide and a rescale row used five of them, so
//! the rescales of a CNN took a third of its main rows.
//!
//! Slot layout over the advice pool: `x | q | r | out | d`.
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
    /// The slots of a row, each `x | q | r | out | d` with its multiplier and addend.
    pub slots: Vec<Slot>,
    /// `2^shift` (shared by the slots of a row).
    pub pow: Column<Fixed>,
    /// Private parameters: a rescale relation whose multiplier and addend are advice cells.
    pub private: Option<PrivateRescale>,
}

/// One element's columns in a rescale row.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// `x | q | r | out | d`.
    pub cols: [Column<Advice>; 5],
    /// Multiplier.
    pub mul: Column<Fixed>,
    /// Addend.
    pub add: Column<Fixed>,
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
    /// Creates the gates of `slots` slots (the first five advice columns and seven with private
    /// parameters, which take one slot), with `2^shift` in column 2 of the shared fixed pool
    /// `fixed` and each slot's multiplier and addend in two more (see the module's doc).
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        private_params: bool,
        slots: usize,
    ) -> Self {
        // At most what the pool holds (the shape never asks for more: `rescale_slots`).
        let slots = slots
            .min(advice.len() / 5)
            .min((fixed.len() - 1) / 2)
            .max(1);
        let slots: Vec<Slot> = (0..slots)
            .map(|j| {
                let c = &advice[5 * j..5 * j + 5];
                let (mul, add) = if j == 0 {
                    (0, 1)
                } else {
                    (1 + 2 * j, 2 + 2 * j)
                };
                Slot {
                    cols: [c[0], c[1], c[2], c[3], c[4]],
                    mul: fixed[mul],
                    add: fixed[add],
                }
            })
            .collect();
        let cols = slots[0].cols;
        let q_rescale = meta.selector();
        let q_relu = meta.selector();
        let pow = fixed[2];
        meta.create_gate("rescale", |vc| {
            let s = vc.query_selector(q_rescale);
            let p = vc.query_fixed(pow, Rotation::cur());
            slots
                .iter()
                .map(|sl| {
                    let [x, q, r] = [0, 1, 2].map(|i| vc.query_advice(sl.cols[i], Rotation::cur()));
                    let [m, a] = [sl.mul, sl.add].map(|c| vc.query_fixed(c, Rotation::cur()));
                    s.clone() * (x * m + a - q * p.clone() - r)
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("relu", |vc| {
            let s = vc.query_selector(q_relu);
            slots
                .iter()
                .flat_map(|sl| {
                    let [q, out, d] =
                        [1, 3, 4].map(|i| vc.query_advice(sl.cols[i], Rotation::cur()));
                    [
                        s.clone() * out.clone() * d.clone(),
                        s.clone() * (d - out + q),
                    ]
                })
                .collect::<Vec<_>>()
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
            slots,
            pow,
            private,
        }
    }

    /// Assigns one element at `row` in slot `slot` (slot 0 first: it enables the row's
    /// selectors and sets its `2^shift`, which the other slots share). Values are `(x, q, r)`
    /// and, for ReLU rows, `(out, d)`.
    #[allow(clippy::too_many_arguments)]
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        (row, slot): (usize, usize),
        mul: i64,
        add: i64,
        shift: u32,
        relu: bool,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
        let sl = self.slots.get(slot).ok_or(Error::Synthesis)?;
        if slot == 0 {
            self.q_rescale.enable(region, row)?;
        }
        region.assign_fixed(sl.mul, row, fe(i128::from(mul)));
        region.assign_fixed(sl.add, row, fe(i128::from(add)));
        self.assign_common(region, (row, slot), shift, relu, v)
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
        Ok((
            self.assign_common(region, (row, 0), shift, relu, v)?,
            [m, a],
        ))
    }

    fn assign_common(
        &self,
        region: &mut Region<Fr>,
        (row, slot): (usize, usize),
        shift: u32,
        relu: bool,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
        let cols = self.slots.get(slot).ok_or(Error::Synthesis)?.cols;
        if slot == 0 {
            region.assign_fixed(self.pow, row, fe(1i128 << shift));
        }
        let x = region.assign_advice(cols[0], row, v[0]).cell();
        let q = region.assign_advice(cols[1], row, v[1]).cell();
        let r = region.assign_advice(cols[2], row, v[2]).cell();
        let (out, d) = if relu {
            if slot == 0 {
                self.q_relu.enable(region, row)?;
            }
            (
                Some(region.assign_advice(cols[3], row, v[3]).cell()),
                Some(region.assign_advice(cols[4], row, v[4]).cell()),
            )
        } else {
            (None, None)
        };
        Ok(RescaleCells { x, q, r, out, d })
    }
}
