//! Exact square root `s = floor(sqrt(2^e·x))`: two arithmetic rows per element and three
//! range checks.

use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::range::RangeConfig;
use crate::quant::QNode;
use crate::shape::CircuitShape;

/// The plan of a square root of `n` elements: per element the two slacks (`bits + 1` bits
/// each) and the root (`bits` bits) on the lane.
pub fn planned(n: usize, bits: u32, shape: &CircuitShape) -> Planned {
    let l = shape.limb_bits;
    Planned {
        gadget: "exact-sqrt".into(),
        rows: Rows {
            main: 2 * n,
            lane: n * (2 * RangeConfig::rows(bits + 1, l) + RangeConfig::rows(bits, l)),
            func: 0,
        },
        macs: 0,
    }
}

/// Two rows per element: `2^e·x − s·s − r1 = 0` and `2s − r1 − r2 = 0`, with
/// `r1, r2 ∈ [0, 2^(bits+1))` and `s ∈ [0, 2^bits)`: then `s = floor(sqrt(2^e·x))`.
#[allow(clippy::needless_range_loop)]
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    exp: u32,
    bits: u32,
) -> Result<Vec<Src>, Error> {
    let src = node.inputs[0];
    let mut out = Vec::with_capacity(node.len());
    for e in 0..node.len() {
        let x = st.value(src, e);
        // The claimed root is the trace's; the two slacks follow from it.
        let s = st.value(ni, e);
        let r1 = match (x, s) {
            (Some(x), Some(s)) => Some((x << exp) - s * s),
            _ => None,
        };
        let r2 = match (s, r1) {
            (Some(s), Some(r)) => Some(2 * s - r),
            _ => None,
        };
        let [ca, cb, cx, cr1] = st.arith([-1, 0, 0, 1i128 << exp, -1, 0], [s, s, x, r1])?;
        st.region.constrain_equal(ca, cb);
        st.bind(cx, cells[src][e])?;
        let [ca2, _, cr1b, cr2] = st.arith([0, 2, 0, -1, -1, 0], [s, None, r1, r2])?;
        st.region.constrain_equal(ca2, ca);
        st.region.constrain_equal(cr1b, cr1);
        st.check(cr1, r1, 0, bits + 1)?;
        st.check(cr2, r2, 0, bits + 1)?;
        st.check(ca, s, 0, bits)?;
        out.push(Src::Cell(ca));
    }
    Ok(out)
}
