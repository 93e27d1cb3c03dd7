//! Products of two computed tensors: a chain `d = c + a·b` of arithmetic rows per output
//! element, one row per term (an empty sum is one row holding 0).

use halo2_proofs::circuit::Cell;
use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::quant::QNode;

/// The plan of a product chain with these terms per output element.
pub fn planned(terms: &[Vec<(u32, u32)>]) -> Planned {
    Planned {
        gadget: "product-chain".into(),
        rows: Rows {
            main: terms.iter().map(|t| t.len().max(1)).sum(),
            ..Rows::default()
        },
        macs: terms.iter().map(Vec::len).sum(),
    }
}

/// `d = c + a·b` chains, one row per term; the last `d` is the claimed output (the trace's).
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    terms: &[Vec<(u32, u32)>],
) -> Result<Vec<Src>, Error> {
    let (na, nb) = (node.inputs[0], node.inputs[1]);
    let known = st.known;
    let mut out = Vec::with_capacity(terms.len());
    for (e, t) in terms.iter().enumerate() {
        if t.is_empty() {
            let [_, _, _, d] =
                st.arith([0, 0, 0, 0, -1, 0], [None, None, None, known.then_some(0)])?;
            out.push(Src::Cell(d));
            continue;
        }
        let mut acc = known.then_some(0i128);
        let mut prev: Option<Cell> = None;
        for (k, &(i, j)) in t.iter().enumerate() {
            let (a, b) = (st.value(na, i as usize), st.value(nb, j as usize));
            let next = if k + 1 == t.len() {
                st.value(ni, e)
            } else {
                match (acc, a, b) {
                    (Some(s), Some(x), Some(y)) => Some(s + x * y),
                    _ => None,
                }
            };
            let kc = if k == 0 { 0 } else { 1 };
            let [ca, cb, cc, cd] = st.arith(
                [1, 0, 0, kc, -1, 0],
                [a, b, if k == 0 { known.then_some(0) } else { acc }, next],
            )?;
            st.bind(ca, cells[na][i as usize])?;
            st.bind(cb, cells[nb][j as usize])?;
            if let Some(p) = prev {
                st.region.constrain_equal(cc, p);
            }
            prev = Some(cd);
            acc = next;
        }
        out.push(Src::Cell(prev.ok_or(Error::Synthesis)?));
    }
    Ok(out)
}
