//! Products of two computed tensors: `acc[i] = Σ_t a[..]·b[..]` (elementwise `Mul`, a MatMul
//! of activations such as attention's `QKᵀ` and `AV`).
//!
//! An element of one product, or of none, is one arithmetic row `d = c + a·b` (`c` = 0). An
//! element that sums several takes rows of the dot-product chip ([`crate::chips::dot`]) where
//! the shape has it ([`CircuitShape::has_dot`]): `T` products per row
//! ([`CircuitShape::dot_inputs`]), so `⌈n/T⌉` rows for `n` products, each factor a copy of its
//! operand's cell and the slots a short last row leaves copies of the constrained zero. A shape
//! without the chip (a plan made before it existed) chains arithmetic rows, one per product.
//! Either way the last row's accumulator is the element's output.

use std::collections::BTreeMap;

use halo2_proofs::circuit::Cell;
use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::dot::DotConfig;
use crate::chips::val;
use crate::quant::QNode;
use crate::shape::CircuitShape;

/// What the plan of a product node reads of it: how many elements sum each number of products
/// (the same at every shape, read once per planning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `(products, elements)`, by number of products.
    lens: Vec<(usize, usize)>,
    /// Products in all.
    macs: usize,
}

impl Profile {
    /// The profile of a node with these terms per output element.
    pub fn of(terms: &[Vec<(u32, u32)>]) -> Self {
        let mut lens = BTreeMap::new();
        for t in terms {
            *lens.entry(t.len()).or_insert(0usize) += 1;
        }
        Self {
            lens: lens.into_iter().collect(),
            macs: terms.iter().map(Vec::len).sum(),
        }
    }
}

/// Products per dot-product row, where the shape packs them.
fn dot_width(shape: &CircuitShape) -> Option<usize> {
    shape.has_dot().then(|| shape.dot_inputs())
}

/// Rows of an element of `n` products (`t` products per dot row, if the shape has them).
fn element_rows(n: usize, t: Option<usize>) -> usize {
    match t {
        Some(t) if n >= 2 => n.div_ceil(t),
        _ => n.max(1),
    }
}

/// The plan of a product node at `shape`.
pub fn planned(p: &Profile, shape: &CircuitShape) -> Planned {
    let t = dot_width(shape);
    let packed = t.is_some() && p.lens.iter().any(|&(n, _)| n >= 2);
    Planned {
        gadget: if packed {
            "dot-products"
        } else {
            "product-chain"
        }
        .into(),
        rows: Rows {
            main: p.lens.iter().map(|&(n, c)| c * element_rows(n, t)).sum(),
            ..Rows::default()
        },
        macs: p.macs,
    }
}

/// Lays out a product node: each element on dot rows or an arithmetic chain (see the module).
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    terms: &[Vec<(u32, u32)>],
) -> Result<Vec<Src>, Error> {
    let dot = match dot_width(&st.shape) {
        Some(_) => Some((
            st.config.dot.clone().ok_or(Error::Synthesis)?,
            st.zero.ok_or(Error::Synthesis)?,
        )),
        None => None,
    };
    let mut out = Vec::with_capacity(terms.len());
    for (e, t) in terms.iter().enumerate() {
        let cell = match &dot {
            Some((dot, zero)) if t.len() >= 2 => dot_rows(st, cells, (ni, node), e, t, dot, *zero)?,
            _ => chain(st, cells, (ni, node), e, t)?,
        };
        out.push(Src::Cell(cell));
    }
    Ok(out)
}

/// Element `e` of `n` on dot rows: `acc = m·acc[prev] + Σ_s x_s·w_s`, `T` products a row.
fn dot_rows(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    (ni, node): (usize, &QNode),
    e: usize,
    t: &[(u32, u32)],
    dot: &DotConfig,
    zero: Cell,
) -> Result<Cell, Error> {
    let (na, nb) = (node.inputs[0], node.inputs[1]);
    let width = dot.x.len();
    let known = st.known;
    let rows = t.len().div_ceil(width);
    let mut acc = known.then_some(0i128);
    let mut last = None;
    for (j, chunk) in t.chunks(width).enumerate() {
        let mut xv = Vec::with_capacity(width);
        let mut wv = Vec::with_capacity(width);
        let mut srcs = Vec::with_capacity(width);
        for s in 0..width {
            match chunk.get(s) {
                Some(&(i, k)) => {
                    let (a, b) = (st.value(na, i as usize), st.value(nb, k as usize));
                    acc = match (acc, a, b) {
                        (Some(s), Some(x), Some(y)) => Some(s + x * y),
                        _ => None,
                    };
                    xv.push(val(a));
                    wv.push(val(b));
                    srcs.push((cells[na][i as usize], cells[nb][k as usize]));
                }
                None => {
                    xv.push(val(known.then_some(0)));
                    wv.push(val(known.then_some(0)));
                    srcs.push((Src::Cell(zero), Src::Cell(zero)));
                }
            }
        }
        // The last accumulator is the claimed output (the trace's), as in the chain.
        let claim = if j + 1 == rows { st.value(ni, e) } else { acc };
        let c = dot.assign_row(st.region, st.row, j == 0, &xv, &wv, val(claim))?;
        st.row += 1;
        for ((xc, wc), (xs, ws)) in c.x.into_iter().zip(c.w).zip(srcs) {
            st.bind(xc, xs)?;
            st.bind(wc, ws)?;
        }
        last = Some(c.acc);
    }
    last.ok_or(Error::Synthesis)
}

/// Element `e` of `n` as a chain `d = c + a·b` of arithmetic rows, one per product (an empty
/// sum is one row holding 0); the last `d` is the claimed output (the trace's).
fn chain(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    (ni, node): (usize, &QNode),
    e: usize,
    t: &[(u32, u32)],
) -> Result<Cell, Error> {
    let (na, nb) = (node.inputs[0], node.inputs[1]);
    let known = st.known;
    if t.is_empty() {
        let [_, _, _, d] = st.arith([0, 0, 0, 0, -1, 0], [None, None, None, known.then_some(0)])?;
        return Ok(d);
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
    prev.ok_or(Error::Synthesis)
}
