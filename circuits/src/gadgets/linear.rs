//! Linear maps: packed multiply-add rows (`A` accumulators × `T` inputs per row, fixed
//! weights) or, with private parameters, one dot product per output on `T`-wide rows whose
//! weight cells are copies of the range-checked parameter cells.

use halo2_proofs::circuit::Value;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::{fe, val};
use crate::ir::{Elem, Group, Linear};
use crate::quant::QNode;
use crate::shape::CircuitShape;

/// What a linear map's rows depend on, read once per planning: each group reduced to its
/// sizes (outputs, gathered inputs, present inputs) with the number of groups of those sizes.
/// A convolution's thousands of windows come to a handful of sizes (the padded borders'), so the
/// planner's thousands of packings cost a handful of terms each rather than a pass over every
/// gathered input (ONNX's dilated-pool tests: minutes per compile before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    blocks: Vec<((usize, usize, usize), usize)>,
    macs: usize,
}

impl Profile {
    /// The profile of `map`.
    pub fn of(map: &Linear<i64>) -> Self {
        let mut blocks = std::collections::BTreeMap::new();
        for g in &map.groups {
            let used = g.inputs.iter().filter(|i| i.is_some()).count();
            *blocks
                .entry((g.outputs.len(), g.inputs.len(), used))
                .or_insert(0) += 1;
        }
        Self {
            blocks: blocks.into_iter().collect(),
            macs: map.macs(),
        }
    }

    /// Main rows with `a` accumulators and `t` inputs per row.
    pub fn rows(&self, a: usize, t: usize) -> usize {
        self.blocks
            .iter()
            .map(|&((outputs, len, used), n)| n * outputs.div_ceil(a) * chunks(len, used, t))
            .sum()
    }
}

/// Rows per block of a group with `len` gathered inputs of which `used` are present: the
/// absent ones (padding, a transposed convolution's skipped taps) take no row, but a group
/// with inputs keeps one row so that its outputs are cells (an all-padding window is 0).
fn chunks(len: usize, used: usize, t: usize) -> usize {
    if len == 0 {
        0
    } else {
        used.div_ceil(t).max(1)
    }
}

/// The columns of a group whose inputs are present, in order, with their elements.
fn present(g: &Group) -> Vec<(usize, Elem)> {
    g.inputs
        .iter()
        .enumerate()
        .filter_map(|(c, i)| i.map(|e| (c, e)))
        .collect()
}

/// The packed map's plan: one row per block of `A` outputs and chunk of `T` inputs.
pub fn planned(map: &Profile, shape: &CircuitShape) -> Planned {
    Planned {
        gadget: "packed-mac".into(),
        rows: Rows {
            main: map.rows(shape.accs_per_row, shape.inputs_per_row),
            ..Rows::default()
        },
        macs: map.macs,
    }
}

/// The private-weight map's plan: one dot-product row per output and chunk of inputs.
pub fn planned_private(map: &Profile, shape: &CircuitShape) -> Planned {
    Planned {
        gadget: "private-dot".into(),
        rows: Rows {
            main: map.rows(1, shape.dot_inputs()),
            ..Rows::default()
        },
        macs: map.macs,
    }
}

/// Packed multiply-add rows for a map with fixed weights.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    node: &QNode,
    map: &Linear<i64>,
) -> Result<Vec<Src>, Error> {
    let shape = st.shape;
    let (t_per, a_per) = (shape.inputs_per_row, shape.accs_per_row);
    let known = st.known;
    let mut out = vec![Src::Const(0); node.len()];
    for g in &map.groups {
        let m = &map.mats[g.mat as usize];
        let cols = present(g);
        let k = cols.len();
        let chunks = chunks(g.inputs.len(), k, t_per);
        let xs: Vec<Option<i128>> = cols
            .iter()
            .map(|&(_, (s, e))| st.value(node.inputs[s as usize], e as usize))
            .collect();
        for blk in 0..g.outputs.len().div_ceil(a_per) {
            let mut acc: Vec<Option<i128>> = vec![known.then_some(0); a_per];
            for j in 0..chunks {
                let mut xv = Vec::with_capacity(t_per);
                let mut w = vec![vec![Fr::ZERO; t_per]; a_per];
                for t in 0..t_per {
                    let pos = j * t_per + t;
                    let used = pos < k;
                    let x = if used { xs[pos] } else { known.then_some(0) };
                    for (a, wa) in w.iter_mut().enumerate() {
                        let r = blk * a_per + a;
                        if r < g.outputs.len() && used {
                            let idx = cols[pos].0;
                            let wi = i128::from(m.data[r * m.cols + idx]);
                            wa[t] = fe(wi);
                            if let (Some(s), Some(xx)) = (acc[a].as_mut(), x) {
                                *s += wi * xx;
                            }
                        }
                    }
                    xv.push(val(x));
                }
                let av: Vec<Value<Fr>> = acc.iter().map(|&v| val(v)).collect();
                let (xc, ac) = st
                    .config
                    .mac
                    .assign_row(st.region, st.row, j == 0, &xv, &w, &av)?;
                for (t, c) in xc.into_iter().enumerate() {
                    let pos = j * t_per + t;
                    if let Some(&(_, (s, e))) = cols.get(pos) {
                        st.bind(c, cells[node.inputs[s as usize]][e as usize])?;
                    }
                }
                if j + 1 == chunks {
                    for (a, c) in ac.into_iter().enumerate() {
                        if let Some(&o) = g.outputs.get(blk * a_per + a) {
                            out[o as usize] = Src::Cell(c);
                        }
                    }
                }
                st.row += 1;
            }
        }
    }
    Ok(out)
}

/// A linear map with private weights: one dot product per output on `T`-wide rows, the
/// weight cells bound to the parameter cells, padding bound to the constrained zero.
pub(crate) fn assign_private(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    node: &QNode,
    map: &Linear<i64>,
    offset: usize,
) -> Result<Vec<Src>, Error> {
    let dot = st.config.dot.as_ref().ok_or(Error::Synthesis)?;
    let zero = st.zero.ok_or(Error::Synthesis)?;
    let t = dot.x.len();
    let known = st.known;
    let mut mat_off = Vec::with_capacity(map.mats.len());
    let mut at = offset;
    for m in &map.mats {
        mat_off.push(at);
        at += m.data.len();
    }
    let mut out = vec![Src::Const(0); node.len()];
    for g in &map.groups {
        let m = &map.mats[g.mat as usize];
        let cols = present(g);
        let chunks = chunks(g.inputs.len(), cols.len(), t);
        for (r, &o) in g.outputs.iter().enumerate() {
            let mut acc = known.then_some(0i128);
            let mut last = None;
            for j in 0..chunks {
                let mut xv = Vec::with_capacity(t);
                let mut wv = Vec::with_capacity(t);
                let mut srcs = Vec::with_capacity(t);
                for s in 0..t {
                    match cols.get(j * t + s).copied() {
                        Some((idx, (slot, e))) => {
                            let x = st.value(node.inputs[slot as usize], e as usize);
                            let wi = r * m.cols + idx;
                            let w = i128::from(m.data[wi]);
                            acc = acc.zip(x).map(|(a, x)| a + w * x);
                            xv.push(val(x));
                            wv.push(val(known.then_some(w)));
                            srcs.push((
                                cells[node.inputs[slot as usize]][e as usize],
                                Src::Cell(st.params[mat_off[g.mat as usize] + wi]),
                            ));
                        }
                        None => {
                            xv.push(val(known.then_some(0)));
                            wv.push(val(known.then_some(0)));
                            srcs.push((Src::Cell(zero), Src::Cell(zero)));
                        }
                    }
                }
                let c = dot.assign_row(st.region, st.row, j == 0, &xv, &wv, val(acc))?;
                st.row += 1;
                for ((xc, wc), (xs, ws)) in c.x.into_iter().zip(c.w).zip(srcs) {
                    st.bind(xc, xs)?;
                    st.bind(wc, ws)?;
                }
                last = Some(c.acc);
            }
            out[o as usize] = Src::Cell(last.ok_or(Error::Synthesis)?);
        }
    }
    Ok(out)
}
