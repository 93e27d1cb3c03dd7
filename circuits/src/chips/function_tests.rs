//! MockProver tests of function rows in the range lanes: a function row between two range
//! checks of one lane, honest and malicious (`crate::chips::range`, "Function rows").

use halo2_proofs::circuit::{Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::test_circuit::{satisfied, ChipCase};
use super::{fe, val, ChipConfig};
use crate::ir::Func;
use crate::quant::Table;
use crate::shape::CircuitShape;

const SHAPE: CircuitShape = CircuitShape {
    inputs_per_row: 2,
    accs_per_row: 2,
    windows_per_row: 1,
    limb_bits: 4,
    max_limbs: 3,
    range_lanes: 2,
    k: 8,
    arith: false,
    functions: true,
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

/// Two tables over the inputs −32..31 (4 fractional bits in and out).
fn tables() -> Vec<Table> {
    [Func::Tanh, Func::Sigmoid]
        .into_iter()
        .map(|f| Table {
            f,
            frac: 4,
            out_scale: 4,
            lo: -32,
            size: 64,
            step: false,
            balanced: false,
            values: Vec::new(),
        })
        .collect()
}

/// In lane `lane`: a check of `v ∈ [0, 2^6)` (two rows), a function row of table `id` with
/// input `x` (copied from a main cell) and claimed output `y` (copied to a main cell), then a
/// check of `w ∈ [0, 2^6)`.
#[derive(Clone, Debug)]
struct Case {
    lane: usize,
    v: i128,
    id: usize,
    x: i128,
    y: i128,
    w: i128,
}

impl Case {
    fn honest(id: usize, x: i64) -> Self {
        Self {
            lane: 1,
            v: 37,
            id,
            x: i128::from(x),
            y: i128::from(tables()[id].value(x)),
            w: 50,
        }
    }
}

impl ChipCase for Case {
    const SHAPE: CircuitShape = SHAPE;

    fn tables() -> Vec<Table> {
        tables()
    }

    fn lay(&self, c: &ChipConfig, region: &mut Region<'_, Fr>) -> Result<(), Error> {
        let a = c.advice[0];
        let vc = region.assign_advice(a, 0, val(Some(self.v))).cell();
        let xc = region.assign_advice(a, 1, val(Some(self.x))).cell();
        let wc = region.assign_advice(a, 2, val(Some(self.w))).cell();
        let mut row = c
            .range
            .check(region, self.lane, 0, vc, Some(self.v), 0, 6)?;
        let (fx, fy) = c.range.function(
            region,
            self.lane,
            row,
            self.id,
            val(Some(self.x)),
            val(Some(self.y)),
        )?;
        row += 1;
        region.constrain_equal(fx, xc);
        // The output is read elsewhere, as a later gadget would.
        let yc = region.assign_advice(a, 3, Value::known(fe(self.y))).cell();
        region.constrain_equal(fy, yc);
        c.range
            .check(region, self.lane, row, wc, Some(self.w), 0, 6)?;
        Ok(())
    }
}

#[test]
fn honest_function_rows_hold_in_either_lane_and_table() {
    for id in 0..2 {
        for x in [-32, -1, 0, 7, 31] {
            for lane in 0..2 {
                assert!(
                    satisfied(Case {
                        lane,
                        ..Case::honest(id, x)
                    }),
                    "table {id}, x = {x}, lane {lane}"
                );
            }
        }
    }
}

#[test]
fn a_wrong_function_output_is_refused() {
    for id in 0..2 {
        for x in [-32, -5, 0, 9, 31] {
            let h = Case::honest(id, x);
            for d in [1, -1, 1 << 20] {
                assert!(
                    !satisfied(Case {
                        y: h.y + d,
                        ..h.clone()
                    }),
                    "table {id}, x = {x}, y {d:+}"
                );
            }
            // Nor the output another table gives at that input, nor zero (the range entries'
            // output) where the function is not zero.
            let other = i128::from(tables()[1 - id].value(x));
            if other != h.y {
                assert!(
                    !satisfied(Case {
                        y: other,
                        ..h.clone()
                    }),
                    "table {id}, x = {x}: other table"
                );
            }
            if h.y != 0 {
                assert!(!satisfied(Case { y: 0, ..h }), "table {id}, x = {x}: zero");
            }
        }
    }
}

#[test]
fn an_input_outside_the_tables_domain_is_refused() {
    for x in [-33i128, 32, 1 << 16, -(1 << 16)] {
        for id in 0..2 {
            let h = Case::honest(id, 0);
            // Whatever the claimed output: the nearest entry's, or zero.
            for y in [
                h.y,
                0,
                i128::from(tables()[id].value(x.clamp(-32, 31) as i64)),
            ] {
                assert!(
                    !satisfied(Case { x, y, ..h.clone() }),
                    "table {id}, x = {x}, y = {y}"
                );
            }
        }
    }
}

#[test]
fn range_checks_beside_function_rows_still_bound_their_values() {
    // Out of [0, 2^6) before and after the function row, whose table holds inputs up to 31
    // and outputs of either sign: a range row cannot borrow a function entry.
    for bad in [64i128, -1, 100, 1 << 10] {
        let h = Case::honest(0, 3);
        assert!(
            !satisfied(Case {
                v: bad,
                ..h.clone()
            }),
            "v = {bad}"
        );
        assert!(!satisfied(Case { w: bad, ..h }), "w = {bad}");
    }
    assert!(satisfied(Case {
        v: 63,
        w: 0,
        ..Case::honest(1, -20)
    }));
}
