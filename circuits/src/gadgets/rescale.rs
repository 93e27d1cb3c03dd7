//! Rescale (with an optional ReLU): `x·mul + add = q·2^s + r` per element, as many elements per
//! main row as the row has slots ([`crate::chips::rescale`], `CircuitShape::rescale_slots`);
//! the remainder, and the output (`q`, or `max(q, 0)` and `max(q, 0) − q` with ReLU, or a
//! clamp's `e` and `f`) are range-checked on the lanes.

use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::range::RangeConfig;
use crate::chips::rescale::Act;
use crate::chips::val;
use crate::quant::{rescale_one, QNode, QOp};
use crate::shape::CircuitShape;

/// A rescale's constants, and what it checks.
pub(crate) struct Params<'a> {
    pub mul: &'a [i64],
    pub add: &'a [i64],
    pub checks: Checks,
}

/// What a rescale range-checks, as the planner and the assignment both read it.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// A ReLU: the output's two halves are checked.
    pub relu: bool,
    /// A clamp's bound `C` (with `relu`): its `e` and `f` are checked instead.
    pub clamp: Option<i64>,
    /// The shift (the remainder's width).
    pub shift: u32,
    /// The output's calibrated width.
    pub bits: u32,
    /// Whether the output (without a ReLU) is checked: not when only lookups read it
    /// ([`crate::quant::QGraph::lookup_bounded`]).
    pub output: bool,
}

impl Checks {
    /// What a rescale node checks (`lookup_bound`: only lookups read its output); `None` for
    /// other operations. The planner and the assignment both read it from here.
    pub fn of(op: &QOp, lookup_bound: bool) -> Option<Self> {
        match *op {
            QOp::Rescale {
                relu,
                clamp,
                shift,
                bits,
                ..
            } => Some(Self {
                relu,
                clamp: clamp.filter(|_| relu),
                shift,
                bits,
                output: !lookup_bound,
            }),
            _ => None,
        }
    }

    /// The widths of the range checks made per element (`exact`: laid out as exact, see
    /// [`lane_rows`]): the remainder's `shift` bits, then the output's `bits + 1` signed bits,
    /// or with a ReLU its two halves of `bits` bits each (a clamp's `e` and `f` alike).
    pub fn widths(&self, exact: bool) -> Vec<u32> {
        let mut w = Vec::with_capacity(3);
        if !exact {
            w.push(self.shift);
        }
        if self.relu {
            w.extend([self.bits, self.bits]);
        } else if !exact && self.output {
            w.push(self.bits + 1);
        }
        w
    }
}

/// Lane rows per element: the remainder (`shift` bits), and the output (`bits + 1` signed
/// bits, or with ReLU its two halves of `bits` bits). An exact rescale (no shift) with fixed
/// parameters copies its remainder from the constrained zero ([`crate::layout::input_zero`])
/// and checks its output only for a ReLU
/// ([`crate::quant::QOp::is_exact_rescale`]); one that only lookups read checks its remainder
/// alone.
pub fn lane_rows(c: Checks, shape: &CircuitShape) -> usize {
    c.widths(exact(c.shift, shape))
        .into_iter()
        .map(|b| RangeConfig::rows(b, shape.limb_bits))
        .sum()
}

/// Whether a rescale by `2^shift` is laid out as exact: no shift, fixed parameters.
fn exact(shift: u32, shape: &CircuitShape) -> bool {
    shift == 0 && !shape.visibility.params_in_advice()
}

/// The plan of a rescale of `n` elements.
pub fn planned(n: usize, c: Checks, shape: &CircuitShape) -> Planned {
    Planned {
        gadget: match (c.relu, c.clamp) {
            (true, Some(_)) => "rescale+clamp",
            (true, None) => "rescale+relu",
            (false, _) => "rescale",
        }
        .into(),
        rows: Rows {
            main: n.div_ceil(shape.rescale_slots()),
            lane: n * lane_rows(c, shape),
            func: 0,
        },
        macs: 0,
    }
}

/// Lays out a rescale; `params` is the offset of its multipliers among private parameters.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    node: &QNode,
    p: Params<'_>,
    params: Option<usize>,
) -> Result<Vec<Src>, Error> {
    let Params {
        mul,
        add,
        checks:
            Checks {
                relu,
                clamp,
                shift,
                bits,
                output: check_output,
            },
    } = p;
    let act = match (relu, clamp) {
        (true, Some(c)) => Act::Clamp(c),
        (true, None) => Act::Relu,
        (false, _) => Act::Plain,
    };
    let src = node.inputs[0];
    let known = st.known;
    let slots = st.shape.rescale_slots();
    let exact = exact(shift, &st.shape);
    let mut out = Vec::with_capacity(node.len());
    for e in 0..node.len() {
        let slot = e % slots;
        let x = st.value(src, e);
        let qr = x.map(|x| rescale_one(x as i64, mul[e], add[e], shift));
        let qv = qr.map(|(q, _)| q);
        let rv = qr.map(|(_, r)| r);
        // Cells 1, 3 and 4: `q`, `max(q, 0)`, `max(q, 0) − q`; for a clamp to `[0, C]`:
        // `e = C − out + max(q − C, 0)`, `out`, `f = out + max(−q, 0)` (`chips::rescale`).
        let (qv, ov, dv) = match act {
            Act::Clamp(c) => {
                let c = i128::from(c);
                let ov = qv.map(|q| q.clamp(0, c));
                (
                    qv.map(|q| c - q.clamp(0, c) + (q - c).max(0)),
                    ov,
                    qv.map(|q| q.clamp(0, c) + (-q).max(0)),
                )
            }
            _ => (qv, qv.map(|q| q.max(0)), qv.map(|q| q.max(0) - q)),
        };
        let v = [val(x), val(qv), val(rv), val(ov), val(dv)];
        let c = match params {
            None => st.config.rescale.assign(
                st.region,
                (st.row, slot),
                mul[e],
                add[e],
                shift,
                act,
                v,
            )?,
            Some(off) => {
                let ma = [mul[e], add[e]].map(|p| val(known.then_some(i128::from(p))));
                let (c, [mc, ac]) = st
                    .config
                    .rescale
                    .assign_private(st.region, st.row, shift, act, v, ma)?;
                st.region.constrain_equal(mc, st.params[off + e]);
                st.region
                    .constrain_equal(ac, st.params[off + mul.len() + e]);
                c
            }
        };
        if let (Act::Clamp(c), true) = (act, e + 1 == node.len()) {
            st.config
                .rescale
                .pad_clamp(st.region, st.row, slot + 1, c)?;
        }
        if slot + 1 == slots || e + 1 == node.len() {
            st.row += 1;
        }
        st.bind(c.x, cells[src][e])?;
        if exact {
            // `x·mul + add = q`: the remainder is 0, and `q` a function of `x`.
            st.bind(c.r, Src::Cell(st.zero.ok_or(Error::Synthesis)?))?;
        } else {
            st.check(c.r, rv, 0, shift)?;
        }
        match (c.out, c.d) {
            (Some(o), Some(d)) => {
                // A ReLU checks its two halves `out` and `d`; a clamp its `e` (cell 1) and `f`.
                let (first, fv) = if clamp.is_some() { (c.q, qv) } else { (o, ov) };
                st.check(first, fv, 0, bits)?;
                st.check(d, dv, 0, bits)?;
                out.push(Src::Cell(o));
            }
            _ => {
                if !exact && check_output {
                    st.check(c.q, qv, 1i128 << bits, bits + 1)?;
                }
                out.push(Src::Cell(c.q));
            }
        }
    }
    Ok(out)
}
