//! MockProver tests of each chip, honest and malicious.

use halo2_proofs::circuit::{Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::test_circuit::{satisfied, ChipCase};
use super::{fe, val, ChipConfig};
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

/// What one test circuit lays out.
#[derive(Clone, Debug)]
enum Case {
    /// Two MAC rows: weights `w[row][a][t]`, inputs `x[row][t]`, claimed accumulators `acc[row][a]`.
    Mac {
        w: [[[i64; 2]; 2]; 2],
        x: [[i64; 2]; 2],
        acc: [[i128; 2]; 2],
    },
    /// One rescale row (with optional ReLU) with claimed `q, r, out, d` and range widths.
    Rescale {
        x: i64,
        mul: i64,
        add: i64,
        shift: u32,
        relu: bool,
        bits: u32,
        q: i128,
        r: i128,
        out: i128,
        d: i128,
    },
    /// A range check of `v + offset` to `bits` bits.
    Range { v: i128, offset: i128, bits: u32 },
}

impl ChipCase for Case {
    const SHAPE: CircuitShape = SHAPE;

    fn lay(&self, c: &ChipConfig, region: &mut Region<'_, Fr>) -> Result<(), Error> {
        match self {
            Case::Mac { w, x, acc } => {
                for row in 0..2 {
                    let xv: Vec<Value<Fr>> =
                        x[row].iter().map(|&v| val(Some(i128::from(v)))).collect();
                    let wv: Vec<Vec<Fr>> = w[row]
                        .iter()
                        .map(|r| r.iter().map(|&v| fe(i128::from(v))).collect())
                        .collect();
                    let av: Vec<Value<Fr>> = acc[row].iter().map(|&v| val(Some(v))).collect();
                    // Start at row 1 so that row 0 (the "previous" of the first) is unused.
                    c.mac
                        .assign_row(region, row + 1, row == 0, &wv, &[(&xv, &av)])?;
                }
            }
            &Case::Rescale {
                x,
                mul,
                add,
                shift,
                relu,
                bits,
                q,
                r,
                out,
                d,
            } => {
                let cells = c.rescale.assign(
                    region,
                    (0, 0),
                    mul,
                    add,
                    shift,
                    if relu {
                        super::rescale::Act::Relu
                    } else {
                        super::rescale::Act::Plain
                    },
                    [
                        val(Some(i128::from(x))),
                        val(Some(q)),
                        val(Some(r)),
                        val(Some(out)),
                        val(Some(d)),
                    ],
                )?;
                let mut lane = c.range.check(region, 0, 0, cells.r, Some(r), 0, shift)?;
                if relu {
                    lane += c.range.check(
                        region,
                        0,
                        lane,
                        cells.out.expect("relu"),
                        Some(out),
                        0,
                        bits,
                    )?;
                    c.range
                        .check(region, 0, lane, cells.d.expect("relu"), Some(d), 0, bits)?;
                } else {
                    c.range
                        .check(region, 0, lane, cells.q, Some(q), 1i128 << bits, bits + 1)?;
                }
            }
            &Case::Range { v, offset, bits } => {
                let cell = region
                    .assign_advice(c.advice[0], 0, Value::known(fe(v)))
                    .cell();
                // In the second lane: its gate and lookup hold on their own.
                c.range.check(region, 1, 0, cell, Some(v), offset, bits)?;
            }
        }
        Ok(())
    }
}

fn mac_case(acc_delta: i128) -> Case {
    let w = [[[3, -2], [5, 7]], [[-1, 4], [2, 0]]];
    let x = [[10, 20], [-3, 6]];
    let a0 = [3 * 10 - 2 * 20, 5 * 10 + 7 * 20];
    let a1 = [a0[0] + 3 + 4 * 6, a0[1] - 6];
    Case::Mac {
        w,
        x,
        acc: [
            [i128::from(a0[0]), i128::from(a0[1])],
            [i128::from(a1[0]) + acc_delta, i128::from(a1[1])],
        ],
    }
}

#[test]
fn mac_accepts_honest_products() {
    assert!(satisfied(mac_case(0)));
}

#[test]
fn mac_rejects_a_wrong_product() {
    assert!(!satisfied(mac_case(1)));
}

fn rescale(x: i64, add: i64, shift: u32, relu: bool, bits: u32) -> Case {
    let (q, r) = crate::quant::rescale_one(x, 1, add, shift);
    Case::Rescale {
        x,
        mul: 1,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        out: q.max(0),
        d: q.max(0) - q,
    }
}

#[test]
fn rescale_accepts_floor_division() {
    assert!(satisfied(rescale(1000, 8, 4, false, 8)));
    assert!(satisfied(rescale(-1000, 8, 4, false, 8)));
    assert!(satisfied(rescale(-1000, 8, 4, true, 8)));
    assert!(satisfied(rescale(1000, 8, 4, true, 8)));
}

#[test]
fn rescale_rejects_a_remainder_out_of_range() {
    // 1008 = 63·16 + 0, claimed as 62·16 + 16: the relation holds but r = 16 ≥ 2^4.
    let Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        ..
    } = rescale(1000, 8, 4, false, 8)
    else {
        unreachable!()
    };
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q: 62,
        r: 16,
        out: 62,
        d: 0
    }));
    // A negative remainder: 64·16 − 16.
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q: 64,
        r: -16,
        out: 64,
        d: 0
    }));
}

#[test]
fn rescale_rejects_a_wrong_quotient() {
    let Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        ..
    } = rescale(1000, 8, 4, false, 8)
    else {
        unreachable!()
    };
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q: 64,
        r: 0,
        out: 64,
        d: 0
    }));
}

#[test]
fn rescale_rejects_a_quotient_beyond_its_bound() {
    // q = 63 needs 7 bits; with bits = 5 the bound |q| < 32 fails.
    assert!(!satisfied(rescale(1000, 8, 4, false, 5)));
    assert!(!satisfied(rescale(1000, 8, 4, true, 5)));
}

#[test]
fn relu_rejects_outputs_other_than_max_q_0() {
    // q = -63 (x = -1000): honest out = 0, d = 63.
    let base = rescale(-1000, 8, 4, true, 8);
    let Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        ..
    } = base
    else {
        unreachable!()
    };
    assert!(q < 0);
    // Claim out = q (negative): out is out of range.
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        out: q,
        d: 0
    }));
    // Claim out = 5 (d = 5 − q): out·d ≠ 0.
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        out: 5,
        d: 5 - q
    }));
    // Claim d inconsistent with out and q.
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        out: 0,
        d: 0
    }));
    // q = 62 (x = 1000): claiming 0 needs d = -62 < 0.
    let Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        ..
    } = rescale(1000, 8, 4, true, 8)
    else {
        unreachable!()
    };
    assert!(!satisfied(Case::Rescale {
        x,
        mul,
        add,
        shift,
        relu,
        bits,
        q,
        r,
        out: 0,
        d: -q
    }));
}

#[test]
fn range_check_bounds_are_exact() {
    for bits in [0u32, 1, 3, 4, 5, 9, 12] {
        let top = (1i128 << bits) - 1;
        assert!(
            satisfied(Case::Range {
                v: top,
                offset: 0,
                bits
            }),
            "2^{bits}-1 in {bits} bits"
        );
        assert!(
            satisfied(Case::Range {
                v: 0,
                offset: 0,
                bits
            }),
            "0 in {bits} bits"
        );
        assert!(
            !satisfied(Case::Range {
                v: top + 1,
                offset: 0,
                bits
            }),
            "2^{bits} in {bits} bits"
        );
        assert!(
            !satisfied(Case::Range {
                v: -1,
                offset: 0,
                bits
            }),
            "-1 in {bits} bits"
        );
    }
    // With an offset: v + 2^5 ∈ [0, 2^6) ⟺ v ∈ [-32, 32).
    assert!(satisfied(Case::Range {
        v: -32,
        offset: 32,
        bits: 6
    }));
    assert!(!satisfied(Case::Range {
        v: -33,
        offset: 32,
        bits: 6
    }));
    assert!(!satisfied(Case::Range {
        v: 32,
        offset: 32,
        bits: 6
    }));
}
