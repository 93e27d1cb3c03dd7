//! Exact division `q = floor(2^s·n / d)` (rounded) of computed values: two arithmetic rows
//! per element and three range checks.

use halo2_proofs::plonk::Error;

use super::ref_src;
use super::{Layout, Planned, Rows, Src};
use crate::chips::range::RangeConfig;
use crate::quant::{QNode, QRef};
use crate::shape::CircuitShape;

/// A division's operands and widths.
pub(crate) struct Params<'a> {
    pub num: &'a [QRef],
    pub den: &'a [QRef],
    pub shift: u32,
    pub bits: u32,
    pub rbits: u32,
}

/// The plan of a division of `n` elements: per element the remainder and its complement
/// (`rbits` bits each) and the quotient (`bits + 1` signed bits) on the lane.
pub fn planned(n: usize, bits: u32, rbits: u32, shape: &CircuitShape) -> Planned {
    let l = shape.limb_bits;
    Planned {
        gadget: "exact-div".into(),
        rows: Rows {
            main: 2 * n,
            lane: n * (2 * RangeConfig::rows(rbits, l) + RangeConfig::rows(bits + 1, l)),
            func: 0,
        },
        macs: 0,
    }
}

/// Two rows per element: `2^(s+1)·n + d − 2·q·d − r = 0` and `2·d − r − t − 1 = 0`, with
/// `r, t ∈ [0, 2^rbits)` (so `0 ≤ r < 2d`, `d ≥ 1`) and `|q| < 2^bits`.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    p: Params<'_>,
) -> Result<Vec<Src>, Error> {
    let Params {
        num,
        den,
        shift,
        bits,
        rbits,
    } = p;
    let mut out = Vec::with_capacity(num.len());
    for (e, (&n, &d)) in num.iter().zip(den).enumerate() {
        let (nv, dv) = (st.ref_value(node, n), st.ref_value(node, d));
        // The claimed quotient is the trace's; the remainder follows from it.
        let qv = st.value(ni, e);
        let rv = match (nv, dv, qv) {
            (Some(a), Some(b), Some(q)) => Some((a << (shift + 1)) + b - 2 * q * b),
            _ => None,
        };
        let tv = match (dv, rv) {
            (Some(b), Some(r)) => Some(2 * b - r - 1),
            _ => None,
        };
        let [cq, cd, cn, cr] =
            st.arith([-2, 0, 1, 1i128 << (shift + 1), -1, 0], [qv, dv, nv, rv])?;
        st.bind(cd, ref_src(cells, node, d))?;
        st.bind(cn, ref_src(cells, node, n))?;
        let [cd2, _, cr2, ct] = st.arith([0, 2, 0, -1, -1, -1], [dv, None, rv, tv])?;
        st.region.constrain_equal(cd2, cd);
        st.region.constrain_equal(cr2, cr);
        st.check(cr, rv, 0, rbits)?;
        st.check(ct, tv, 0, rbits)?;
        st.check(cq, qv, 1i128 << bits, bits + 1)?;
        out.push(Src::Cell(cq));
    }
    Ok(out)
}
