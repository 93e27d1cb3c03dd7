//! MockProver tests of a rescale row holding two elements side by side (a twelve-column pool:
//! two slots), honest and malicious: each slot's own gate, multiplier and addend, the shared
//! `2^shift` and selectors, and range checks of either slot's remainder and output.

use halo2_proofs::circuit::Region;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::rescale::Act;
use super::test_circuit::{satisfied, ChipCase};
use super::{val, ChipConfig};
use crate::shape::CircuitShape;

/// Two slots a row (shared with the clamp tests).
pub(super) const SHAPE: CircuitShape = CircuitShape {
    inputs_per_row: 6,
    accs_per_row: 6,
    windows_per_row: 1,
    limb_bits: 4,
    max_limbs: 3,
    range_lanes: 1,
    k: 8,
    arith: false,
    functions: false,
    constants: false,
    dot_products: false,
    clamps: false,
    visibility: crate::visibility::Visibility {
        input: crate::visibility::Vis::Public,
        params: crate::visibility::Vis::Fixed,
        output: crate::visibility::Vis::Public,
    },
    lean: None,
    instance_columns: 1,
};

const SHIFT: u32 = 4;
const BITS: u32 = 6;

/// One element: input, multiplier, addend and claimed `(q, r, out, d)`.
#[derive(Clone, Copy, Debug)]
struct El {
    x: i64,
    mul: i64,
    add: i64,
    q: i128,
    r: i128,
    out: i128,
    d: i128,
}

impl El {
    fn honest(x: i64, mul: i64, add: i64) -> Self {
        let (q, r) = crate::quant::rescale_one(x, mul, add, SHIFT);
        Self {
            x,
            mul,
            add,
            q,
            r,
            out: q.max(0),
            d: q.max(0) - q,
        }
    }
}

/// One rescale row of `els` (one or two elements), with or without ReLU, and every element's
/// range checks in the lane.
#[derive(Clone, Debug)]
struct Row {
    relu: bool,
    els: Vec<El>,
}

impl ChipCase for Row {
    const SHAPE: CircuitShape = SHAPE;

    fn lay(&self, c: &ChipConfig, region: &mut Region<'_, Fr>) -> Result<(), Error> {
        let mut lane = 0;
        for (slot, e) in self.els.iter().enumerate() {
            let v = [i128::from(e.x), e.q, e.r, e.out, e.d].map(|v| val(Some(v)));
            let cells =
                c.rescale
                    .assign(region, (0, slot), e.mul, e.add, SHIFT, act(self.relu), v)?;
            let mut check = |cell, v, off, bits| {
                let n = c.range.check(region, 0, lane, cell, Some(v), off, bits)?;
                lane += n;
                Ok::<_, Error>(())
            };
            check(cells.r, e.r, 0, SHIFT)?;
            match (cells.out, cells.d) {
                (Some(o), Some(d)) => {
                    check(o, e.out, 0, BITS)?;
                    check(d, e.d, 0, BITS)?;
                }
                _ => check(cells.q, e.q, 1i128 << BITS, BITS + 1)?,
            }
        }
        Ok(())
    }
}

fn act(relu: bool) -> Act {
    if relu {
        Act::Relu
    } else {
        Act::Plain
    }
}

fn pair(relu: bool) -> Row {
    Row {
        relu,
        els: vec![El::honest(37, 3, 5), El::honest(-29, 2, -7)],
    }
}

#[test]
fn the_shape_gives_two_slots() {
    assert_eq!(SHAPE.rescale_slots(), 2);
}

#[test]
fn honest_rows_of_one_or_two_elements_hold() {
    for relu in [false, true] {
        assert!(satisfied(pair(relu)), "relu {relu}");
        // The node's last row: slot 1 unused (zeros).
        let mut one = pair(relu);
        one.els.truncate(1);
        assert!(satisfied(one), "relu {relu}, one element");
    }
}

#[test]
fn a_lie_in_either_slot_is_refused() {
    for relu in [false, true] {
        for slot in 0..2 {
            let lie = |f: &dyn Fn(&mut El)| {
                let mut row = pair(relu);
                f(&mut row.els[slot]);
                satisfied(row)
            };
            // The quotient one higher: the slot's own gate.
            assert!(!lie(&|e| e.q += 1), "relu {relu}, slot {slot}: q + 1");
            // ... with the remainder down by 2^shift (the gate holds): the remainder's check.
            assert!(
                !lie(&|e| {
                    e.q += 1;
                    e.r -= 1 << SHIFT;
                    e.out = e.q.max(0);
                    e.d = e.out - e.q;
                }),
                "relu {relu}, slot {slot}: (q + 1, r − 2^s)"
            );
            // The other slot's multiplier or addend does not apply to this one.
            let other = pair(relu).els[1 - slot];
            assert!(
                !lie(&|e| *e = El {
                    mul: other.mul,
                    add: other.add,
                    ..*e
                }),
                "relu {relu}, slot {slot}: the other slot's constants"
            );
        }
    }
    // ReLU: a negative quotient passed through (out = q, d = 0) breaks out's range check.
    let mut row = pair(true);
    assert!(row.els[1].q < 0);
    row.els[1].out = row.els[1].q;
    row.els[1].d = 0;
    assert!(!satisfied(row));
}
