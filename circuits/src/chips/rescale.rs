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
//! - clamp (`out = min(max(q, 0), C)`, `C` in a fixed column shared by the row; the shape's
//!   `clamps`): the slot holds `x | e | r | out | f` and the quotient is no cell of its own,
//!   `q = 3·out + e − f − C` in the rescale relation (the `q_clamp` selector switches that
//!   term on), with `(e − C + out)·(C − out) = 0` and `(f − out)·out = 0`, and `e`, `f`
//!   range-checked to `[0, 2^bits)` (`C < 2^bits`). Then `p = e − C + out` and `n = f − out`
//!   are the parts of `q − out = p − n` above `C` and below 0: where `out` is neither 0 nor
//!   `C`, `p = n = 0`, so `e = C − out` and `f = out` put `out` in `[0, C]` and `q = out`;
//!   where `out = C > 0`, `f = C` and `q = C + e ≥ C`; where `out = 0`, `e = C` and
//!   `q = −f ≤ 0`. So `out` is the clamp of the floor quotient, checked by two lane checks as a
//!   ReLU is. *Why:* a ReLU6 by two ReLUs took three rescale rows and four checks per element
//!   (29 % of a MobileNet block's main rows went to the two after its convolutions').
//!   An unused slot of a clamp row holds `e = C` (zeros would not satisfy the relation).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector, VirtualCells};
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
    /// The clamp relation, if the shape has clamps.
    pub clamp: Option<ClampConfig>,
}

/// The clamp relation's selector and bound.
#[derive(Debug, Clone, Copy)]
pub struct ClampConfig {
    /// Enables the clamp relation (and its term in the rescale relation).
    pub q: Selector,
    /// The bound `C` (shared by the slots of a row).
    pub hi: Column<Fixed>,
}

/// What a rescale row applies after rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Nothing: `out` is `q`.
    Plain,
    /// `max(q, 0)`.
    Relu,
    /// `min(max(q, 0), C)`.
    Clamp(i64),
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
    /// The quotient (clamp rows: `e`).
    pub q: Cell,
    /// The remainder.
    pub r: Cell,
    /// `max(q, 0)`, or the clamp (ReLU and clamp rows only).
    pub out: Option<Cell>,
    /// `out − q` (ReLU rows), `f` (clamp rows).
    pub d: Option<Cell>,
}

impl RescaleConfig {
    /// Creates the gates of `slots` slots (the first five advice columns and seven with private
    /// parameters, which take one slot), with `2^shift` in column 2 of the shared fixed pool
    /// `fixed` and each slot's multiplier and addend in two more (see the module's doc); with
    /// `clamps`, the clamp relation and its bound's own fixed column.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        private_params: bool,
        slots: usize,
        clamps: bool,
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
        let clamp = clamps.then(|| ClampConfig {
            q: meta.complex_selector(),
            hi: meta.fixed_column(),
        });
        // The quotient of a slot: its `q` cell, or on clamp rows `3·out + e − f − C`.
        let quotient = move |vc: &mut VirtualCells<'_, Fr>, c: &[Column<Advice>; 5]| {
            let q = vc.query_advice(c[1], Rotation::cur());
            match clamp {
                None => q,
                Some(cl) => {
                    let [out, f] = [3, 4].map(|i| vc.query_advice(c[i], Rotation::cur()));
                    let (on, hi) = (
                        vc.query_selector(cl.q),
                        vc.query_fixed(cl.hi, Rotation::cur()),
                    );
                    q + on * (out * Fr::from(3) - f - hi)
                }
            }
        };
        meta.create_gate("rescale", |vc| {
            let s = vc.query_selector(q_rescale);
            let p = vc.query_fixed(pow, Rotation::cur());
            slots
                .iter()
                .map(|sl| {
                    let q = quotient(vc, &sl.cols);
                    let [x, r] = [0, 2].map(|i| vc.query_advice(sl.cols[i], Rotation::cur()));
                    let [m, a] = [sl.mul, sl.add].map(|c| vc.query_fixed(c, Rotation::cur()));
                    s.clone() * (x * m + a - q * p.clone() - r)
                })
                .collect::<Vec<_>>()
        });
        if let Some(cl) = clamp {
            meta.create_gate("clamp", |vc| {
                let s = vc.query_selector(cl.q);
                let hi = vc.query_fixed(cl.hi, Rotation::cur());
                slots
                    .iter()
                    .flat_map(|sl| {
                        let [e, out, f] =
                            [1, 3, 4].map(|i| vc.query_advice(sl.cols[i], Rotation::cur()));
                        [
                            s.clone() * (e - hi.clone() + out.clone()) * (hi.clone() - out.clone()),
                            s.clone() * (f - out.clone()) * out,
                        ]
                    })
                    .collect::<Vec<_>>()
            });
        }
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
                let qv = quotient(vc, &cols);
                let [x, r] = [0, 2].map(|i| vc.query_advice(cols[i], Rotation::cur()));
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
            clamp,
        }
    }

    /// Assigns one element at `row` in slot `slot` (slot 0 first: it enables the row's
    /// selectors and sets its `2^shift`, which the other slots share). Values are `(x, q, r)`
    /// and, for ReLU rows, `(out, d)`; for clamp rows `(x, e, r, out, f)` (module doc).
    #[allow(clippy::too_many_arguments)]
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        (row, slot): (usize, usize),
        mul: i64,
        add: i64,
        shift: u32,
        act: Act,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
        let sl = self.slots.get(slot).ok_or(Error::Synthesis)?;
        if slot == 0 {
            self.q_rescale.enable(region, row)?;
        }
        region.assign_fixed(sl.mul, row, fe(i128::from(mul)));
        region.assign_fixed(sl.add, row, fe(i128::from(add)));
        self.assign_common(region, (row, slot), shift, act, v)
    }

    /// Assigns one element whose `mul` and `add` are private: returns the element's cells and
    /// the `mul` and `add` cells (to be bound to the parameter cells).
    pub fn assign_private(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        shift: u32,
        act: Act,
        v: [Value<Fr>; 5],
        mul_add: [Value<Fr>; 2],
    ) -> Result<(RescaleCells, [Cell; 2]), Error> {
        let p = self.private.as_ref().ok_or(Error::Synthesis)?;
        p.q.enable(region, row)?;
        let m = region.assign_advice(p.cols[0], row, mul_add[0]).cell();
        let a = region.assign_advice(p.cols[1], row, mul_add[1]).cell();
        Ok((self.assign_common(region, (row, 0), shift, act, v)?, [m, a]))
    }

    fn assign_common(
        &self,
        region: &mut Region<Fr>,
        (row, slot): (usize, usize),
        shift: u32,
        act: Act,
        v: [Value<Fr>; 5],
    ) -> Result<RescaleCells, Error> {
        let cols = self.slots.get(slot).ok_or(Error::Synthesis)?.cols;
        if slot == 0 {
            region.assign_fixed(self.pow, row, fe(1i128 << shift));
            match act {
                Act::Plain => {}
                Act::Relu => self.q_relu.enable(region, row)?,
                Act::Clamp(c) => {
                    let cl = self.clamp.ok_or(Error::Synthesis)?;
                    cl.q.enable(region, row)?;
                    region.assign_fixed(cl.hi, row, fe(i128::from(c)));
                }
            }
        }
        let x = region.assign_advice(cols[0], row, v[0]).cell();
        let q = region.assign_advice(cols[1], row, v[1]).cell();
        let r = region.assign_advice(cols[2], row, v[2]).cell();
        let (out, d) = if act == Act::Plain {
            (None, None)
        } else {
            (
                Some(region.assign_advice(cols[3], row, v[3]).cell()),
                Some(region.assign_advice(cols[4], row, v[4]).cell()),
            )
        };
        Ok(RescaleCells { x, q, r, out, d })
    }

    /// Fills the slots from `from` on of a clamp row with bound `c` that no element takes:
    /// `x = 0` with `mul = add = 0` and `e = C` (zeros would not satisfy the relation).
    pub fn pad_clamp(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        from: usize,
        c: i64,
    ) -> Result<(), Error> {
        for sl in self.slots.iter().skip(from) {
            region.assign_fixed(sl.mul, row, fe(0));
            region.assign_fixed(sl.add, row, fe(0));
            region.assign_advice(sl.cols[1], row, Value::known(fe(i128::from(c))));
        }
        Ok(())
    }
}
