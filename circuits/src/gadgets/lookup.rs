//! Function tables: one function-lane row per element, `(tag, x, y)` looked up in the table
//! ([`crate::chips::func`]).

use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::val;
use crate::quant::QNode;

/// The plan of a lookup of `n` elements in the table named `name`.
pub fn planned(n: usize, name: &str) -> Planned {
    Planned {
        gadget: format!("lookup:{name}"),
        rows: Rows {
            func: n,
            ..Rows::default()
        },
        macs: 0,
    }
}

/// One function-lane row per element.
#[allow(clippy::needless_range_loop)]
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    id: usize,
) -> Result<Vec<Src>, Error> {
    let func = st.config.func.as_ref().ok_or(Error::Synthesis)?;
    let src = node.inputs[0];
    let mut out = Vec::with_capacity(node.len());
    for e in 0..node.len() {
        let (x, y) = (st.value(src, e), st.value(ni, e));
        let (xc, yc) = func.assign(st.region, st.frow, id, val(x), val(y))?;
        st.frow += 1;
        st.bind(xc, cells[src][e])?;
        out.push(Src::Cell(yc));
    }
    Ok(out)
}
