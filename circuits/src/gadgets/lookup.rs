//! Function tables: one range-lane row per element, `(32 + id, x, y)` looked up in the table
//! ([`crate::chips::range`]).

use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::quant::QNode;

/// The plan of a lookup of `n` elements in the table named `name`.
pub fn planned(n: usize, name: &str) -> Planned {
    Planned {
        gadget: format!("lookup:{name}").into(),
        rows: Rows {
            func: n,
            ..Rows::default()
        },
        macs: 0,
    }
}

/// One function row per element, each in the least-filled range lane.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    id: usize,
) -> Result<Vec<Src>, Error> {
    let src = node.inputs[0];
    (0..node.len())
        .map(|e| {
            let (x, y) = (st.value(src, e), st.value(ni, e));
            Ok(Src::Cell(st.function(id, cells[src][e], x, y)?))
        })
        .collect()
}
