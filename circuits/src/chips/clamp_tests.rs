//! MockProver tests of the rescale chip's clamp relation (`min(max(q, 0), C)`): two slots of a
//! twelve-column pool, honest elements below 0, inside `[0, C]` and above `C`, the padding of
//! an unused slot, and every way a clamp could lie about its output.

use halo2_proofs::circuit::Region;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::rescale::Act;
use super::test_circuit::{satisfied, ChipCase};
use super::{val, ChipConfig};
use crate::shape::CircuitShape;

/// The slot tests' two-slot shape, with the clamp relation.
const SHAPE: CircuitShape = CircuitShape {
    clamps: true,
    ..super::slot_tests::SHAPE
};

const SHIFT: u32 = 4;
const BITS: u32 = 7;
/// The bound (a ReLU6 at 2 fractional bits: 6·4 = 24).
const C: i64 = 24;

/// One element: input, multiplier, addend and the claimed `(e, r, out, f)` (module doc of
/// `chips::rescale`).
#[derive(Clone, Copy, Debug)]
struct El {
    x: i64,
    mul: i64,
    add: i64,
    e: i128,
    r: i128,
    out: i128,
    f: i128,
}

impl El {
    fn honest(x: i64, mul: i64, add: i64) -> Self {
        let (q, r) = crate::quant::rescale_one(x, mul, add, SHIFT);
        let c = i128::from(C);
        let out = q.clamp(0, c);
        Self {
            x,
            mul,
            add,
            e: c - out + (q - c).max(0),
            r,
            out,
            f: out + (-q).max(0),
        }
    }

    fn q(&self) -> i128 {
        crate::quant::rescale_one(self.x, self.mul, self.add, SHIFT).0
    }
}

/// One clamp row of `els` (one or two elements; `pad`: the unused slot is padded) with every
/// element's range checks in the lane; `act` is the row's relation.
#[derive(Clone, Debug)]
struct Row {
    act: Act,
    els: Vec<El>,
    pad: bool,
}

impl ChipCase for Row {
    const SHAPE: CircuitShape = SHAPE;

    fn lay(&self, c: &ChipConfig, region: &mut Region<'_, Fr>) -> Result<(), Error> {
        let mut lane = 0;
        for (slot, e) in self.els.iter().enumerate() {
            let v = [i128::from(e.x), e.e, e.r, e.out, e.f].map(|v| val(Some(v)));
            let cells = c
                .rescale
                .assign(region, (0, slot), e.mul, e.add, SHIFT, self.act, v)?;
            let mut check = |cell, v, bits| {
                let n = c.range.check(region, 0, lane, cell, Some(v), 0, bits)?;
                lane += n;
                Ok::<_, Error>(())
            };
            check(cells.r, e.r, SHIFT)?;
            match self.act {
                Act::Clamp(_) => {
                    check(cells.q, e.e, BITS)?;
                    check(cells.d.ok_or(Error::Synthesis)?, e.f, BITS)?;
                }
                _ => {
                    check(cells.out.ok_or(Error::Synthesis)?, e.out, BITS)?;
                    check(cells.d.ok_or(Error::Synthesis)?, e.f, BITS)?;
                }
            }
        }
        if let (Act::Clamp(c_), true) = (self.act, self.pad) {
            c.rescale.pad_clamp(region, 0, self.els.len(), c_)?;
        }
        Ok(())
    }
}

/// Elements whose quotients are below 0, inside `(0, C)`, exactly `C` and above `C`.
fn elements() -> [El; 4] {
    [
        El::honest(-29, 2, -7),
        El::honest(37, 3, 5),
        El::honest(96, 4, 0),
        El::honest(200, 3, 8),
    ]
}

fn row(a: El, b: El) -> Row {
    Row {
        act: Act::Clamp(C),
        els: vec![a, b],
        pad: true,
    }
}

#[test]
fn the_elements_cover_every_region_of_the_clamp() {
    let q = elements().map(|e| e.q());
    assert!(q[0] < 0 && 0 < q[1] && q[1] < i128::from(C), "{q:?}");
    assert!(q[2] == i128::from(C) && q[3] > i128::from(C), "{q:?}");
    assert_eq!(
        elements().map(|e| e.out),
        [0, q[1], i128::from(C), i128::from(C)]
    );
}

#[test]
fn honest_clamps_hold_in_either_slot() {
    let els = elements();
    for a in els {
        for b in els {
            assert!(satisfied(row(a, b)), "{a:?} {b:?}");
        }
    }
}

#[test]
fn an_unused_slot_must_be_padded() {
    for e in elements() {
        let one = |pad| Row {
            act: Act::Clamp(C),
            els: vec![e],
            pad,
        };
        assert!(satisfied(one(true)), "{e:?}");
        // Zeros in the unused slot: `q = 3·0 + 0 − 0 − C ≠ 0`.
        assert!(!satisfied(one(false)), "{e:?}");
    }
}

#[test]
fn a_relu_row_holds_beside_the_clamp_relation() {
    // The clamp term is off where the clamp selector is: a plain ReLU row keeps its relation.
    let relu = |x, mul, add| {
        let (q, r) = crate::quant::rescale_one(x, mul, add, SHIFT);
        El {
            x,
            mul,
            add,
            e: q,
            r,
            out: q.max(0),
            f: q.max(0) - q,
        }
    };
    let r = Row {
        act: Act::Relu,
        els: vec![relu(37, 3, 5), relu(-29, 2, -7)],
        pad: false,
    };
    assert!(satisfied(r));
}

#[test]
fn a_clamp_that_lies_about_its_output_is_refused() {
    let c = i128::from(C);
    let [neg, mid, _, high] = elements();
    let (qn, qm, qh) = (neg.q(), mid.q(), high.q());
    // Each lie keeps both products zero and the quotient right, so only a range check can
    // refuse it: the output left unclamped above C (`e = C − q < 0`), ...
    let unclamped = El {
        e: c - qh,
        out: qh,
        f: qh,
        ..high
    };
    // ... a positive value sent to 0 (`f = −q < 0`), ...
    let zeroed = El {
        e: c,
        out: 0,
        f: -qm,
        ..mid
    };
    // ... a value inside the range raised to C (`e = q − C < 0`), ...
    let raised = El {
        e: qm - c,
        out: c,
        f: c,
        ..mid
    };
    // ... and a negative value passed through (`f = out = q < 0`).
    let passed = El {
        e: c - qn,
        out: qn,
        f: qn,
        ..neg
    };
    for lie in [unclamped, zeroed, raised, passed] {
        let q = 3 * lie.out + lie.e - lie.f - c;
        assert_eq!(q, lie.q(), "the lie {lie:?} keeps the quotient");
        assert!(!satisfied(row(lie, mid)), "{lie:?}");
        assert!(!satisfied(row(mid, lie)), "{lie:?} in slot 1");
    }
    // Moving the output without the parts that make the relation hold: the gates refuse it.
    for (k, d) in [(0usize, 1i128), (1, -1), (2, 1)] {
        let mut lie = [neg, mid, high][k];
        lie.out += d;
        assert!(!satisfied(row(lie, mid)), "{lie:?}");
    }
    // The quotient one higher with the remainder 2^shift lower (every gate holds): the
    // remainder's check.
    let lie = El {
        e: c - (qm + 1),
        out: qm + 1,
        f: qm + 1,
        r: mid.r - (1 << SHIFT),
        ..mid
    };
    assert!(!satisfied(row(lie, neg)), "{lie:?}");
}
