//! Linear maps: packed multiply-add rows (`A` accumulators × `T` inputs per row, fixed
//! weights) or, with private parameters, one dot product per output on `T`-wide rows whose
//! weight cells are copies of the range-checked parameter cells.

use halo2_proofs::circuit::Value;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::{Layout, Planned, Rows, Src};
use crate::chips::{fe, val};
use crate::ir::{Elem, Group, Linear};
use crate::quant::QNode;
use crate::shape::CircuitShape;

/// A group's size: outputs, gathered inputs, present inputs.
type Size = (usize, usize, usize);

/// What a linear map's rows depend on, read once per planning: its groups reduced to their
/// sizes (outputs, gathered inputs, present inputs) and, per size, how many windows each
/// class of that size has ([`classes`]: groups that can share a multiply-add row's weights).
/// A convolution's thousands of windows come to a handful of sizes (the padded borders'), so the
/// planner's thousands of packings cost a handful of terms each rather than a pass over every
/// gathered input (ONNX's dilated-pool tests: minutes per compile before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Per size, `(windows in a class, classes with that many)`.
    blocks: Vec<(Size, Vec<(usize, usize)>)>,
    macs: usize,
}

impl Profile {
    /// The profile of `map`.
    pub fn of(map: &Linear<i64>) -> Self {
        let mut blocks: std::collections::BTreeMap<_, std::collections::BTreeMap<usize, usize>> =
            Default::default();
        for class in classes(map) {
            let g = &map.groups[class[0]];
            let used = g.inputs.iter().filter(|i| i.is_some()).count();
            *blocks
                .entry((g.outputs.len(), g.inputs.len(), used))
                .or_default()
                .entry(class.len())
                .or_insert(0) += 1;
        }
        Self {
            blocks: blocks
                .into_iter()
                .map(|(size, counts)| (size, counts.into_iter().collect()))
                .collect(),
            macs: map.macs(),
        }
    }

    /// Main rows with `a` accumulators, `t` inputs and `p` windows per row.
    pub fn rows(&self, a: usize, t: usize, p: usize) -> usize {
        let p = p.max(1);
        self.blocks
            .iter()
            .map(|&((outputs, len, used), ref classes)| {
                let per_row = p * stacked(outputs, used, a, t);
                let batches: usize = classes.iter().map(|&(w, n)| n * w.div_ceil(per_row)).sum();
                batches * outputs.div_ceil(a) * chunks(len, used, t)
            })
            .sum()
    }
}

/// How many groups of `outputs` outputs and `used` present inputs one window holds: a group
/// that leaves most of a row empty (a sum's one output of two inputs, a small pooling window)
/// shares its window with others of its class, block-diagonally — group `i` of the window
/// on accumulators `i·outputs..` and inputs `i·used..`, the weights between them 0. Every group
/// of a class has the same weights, so the row's fixed cells are the same for every window.
/// *Why:* a 2×2 max-pool's pairwise sums took one accumulator and two inputs of a 4×4 row.
/// 1 (a group per window) where the group takes more than one row or has nothing to stack.
pub fn stacked(outputs: usize, used: usize, a: usize, t: usize) -> usize {
    if outputs == 0 || used == 0 || outputs > a || used > t {
        1
    } else {
        (a / outputs).min(t / used)
    }
}

/// The groups of `map` that can be windows of one multiply-add row, each class in the order of
/// its first group and each class's groups in their order: the same weight block, the same
/// number of outputs and the same present inputs (so every row's weights are the same for
/// all of them).
pub fn classes(map: &Linear<i64>) -> Vec<Vec<usize>> {
    use std::collections::hash_map::Entry;
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut index: std::collections::HashMap<(u32, usize, Vec<bool>), usize> = Default::default();
    for (gi, g) in map.groups.iter().enumerate() {
        let present = g.inputs.iter().map(Option::is_some).collect();
        match index.entry((g.mat, g.outputs.len(), present)) {
            Entry::Occupied(e) => out[*e.get()].push(gi),
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(vec![gi]);
            }
        }
    }
    out
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
            main: map.rows(
                shape.accs_per_row,
                shape.inputs_per_row,
                shape.windows_per_row,
            ),
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
            main: map.rows(1, shape.dot_inputs(), 1),
            ..Rows::default()
        },
        macs: map.macs,
    }
}

/// Packed multiply-add rows for a map with fixed weights: with `P` windows per row, the groups
/// of each class ([`classes`]) `P` at a time, else every group alone in its order.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    node: &QNode,
    map: &Linear<i64>,
) -> Result<Vec<Src>, Error> {
    let (a, t, p) = (
        st.shape.accs_per_row,
        st.shape.inputs_per_row,
        st.shape.windows_per_row,
    );
    let stack = |g: &Group| stacked(g.outputs.len(), g.inputs.iter().flatten().count(), a, t);
    // A row per group in the map's order unless windows or stacks share rows (the layout of
    // plans from before either existed); only then are the classes needed.
    let shared = p > 1 || map.groups.iter().any(|g| stack(g) > 1);
    let batches: Vec<(Vec<usize>, usize)> = if shared {
        classes(map)
            .iter()
            .flat_map(|c| {
                let s = stack(&map.groups[c[0]]);
                c.chunks(p * s).map(move |b| (b.to_vec(), s))
            })
            .collect()
    } else {
        (0..map.groups.len()).map(|g| (vec![g], 1)).collect()
    };
    let mut out = vec![Src::Const(0); node.len()];
    for (batch, s) in &batches {
        assign_batch(st, cells, node, map, batch, *s, &mut out)?;
    }
    Ok(out)
}

/// Where a row's accumulators and inputs come from when `s` groups stack in each window
/// ([`stacked`]): accumulator `a` of block `blk` is (group of the window, output row), input
/// `t` of chunk `j` is (group of the window, position among its present inputs).
struct Placement {
    s: usize,
    outputs: usize,
    used: usize,
    a_per: usize,
    t_per: usize,
}

impl Placement {
    fn acc(&self, blk: usize, a: usize) -> Option<(usize, usize)> {
        let (i, r) = if self.s > 1 {
            (a / self.outputs, a % self.outputs)
        } else {
            (0, blk * self.a_per + a)
        };
        (i < self.s && r < self.outputs).then_some((i, r))
    }

    fn input(&self, j: usize, t: usize) -> Option<(usize, usize)> {
        let (i, pos) = if self.s > 1 {
            (t / self.used, t % self.used)
        } else {
            (0, j * self.t_per + t)
        };
        (i < self.s && pos < self.used).then_some((i, pos))
    }
}

/// The rows of groups `batch` of one class, `s` stacked in each window ([`stacked`]) and the
/// windows side by side: window `w` holds groups `batch[w·s..(w + 1)·s]`; every row's weights
/// are those of the class (block-diagonal when `s > 1`).
fn assign_batch(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    node: &QNode,
    map: &Linear<i64>,
    batch: &[usize],
    s: usize,
    out: &mut [Src],
) -> Result<(), Error> {
    let shape = st.shape;
    let (t_per, a_per) = (shape.inputs_per_row, shape.accs_per_row);
    let known = st.known;
    let zero = known.then_some(0);
    let g0 = &map.groups[*batch.first().ok_or(Error::Synthesis)?];
    let m = &map.mats[g0.mat as usize];
    let cols = present(g0);
    let k = cols.len();
    let chunks = chunks(g0.inputs.len(), k, t_per);
    let place = Placement {
        s,
        outputs: g0.outputs.len(),
        used: k,
        a_per,
        t_per,
    };
    let windows: Vec<&[usize]> = batch.chunks(s).collect();
    // Per window, per stacked group: its present inputs (the same columns in every group of a
    // class) and their values.
    let wins: Vec<Vec<Vec<Elem>>> = windows
        .iter()
        .map(|w| {
            w.iter()
                .map(|&gi| {
                    present(&map.groups[gi])
                        .into_iter()
                        .map(|(_, e)| e)
                        .collect()
                })
                .collect()
        })
        .collect();
    let xs: Vec<Vec<Vec<Option<i128>>>> = wins
        .iter()
        .map(|w| {
            w.iter()
                .map(|g| {
                    g.iter()
                        .map(|&(sl, e)| st.value(node.inputs[sl as usize], e as usize))
                        .collect()
                })
                .collect()
        })
        .collect();
    let blocks = if s > 1 {
        1
    } else {
        g0.outputs.len().div_ceil(a_per)
    };
    for blk in 0..blocks {
        let mut acc: Vec<Vec<Option<i128>>> = vec![vec![zero; a_per]; wins.len()];
        for j in 0..chunks {
            // The row's weights (0 past the block's outputs and inputs, and between stacked
            // groups).
            let mut wi = vec![vec![0i128; t_per]; a_per];
            for (a, wa) in wi.iter_mut().enumerate() {
                let Some((ia, r)) = place.acc(blk, a) else {
                    continue;
                };
                for (t, w) in wa.iter_mut().enumerate() {
                    if let Some((it, pos)) = place.input(j, t) {
                        if it == ia {
                            *w = i128::from(m.data[r * m.cols + cols[pos].0]);
                        }
                    }
                }
            }
            let mut vals = Vec::with_capacity(wins.len());
            for (x, acc) in xs.iter().zip(acc.iter_mut()) {
                let xv: Vec<Option<i128>> = (0..t_per)
                    .map(|t| match place.input(j, t) {
                        Some((i, pos)) => x.get(i).map_or(zero, |g| g[pos]),
                        None => zero,
                    })
                    .collect();
                for (a, wa) in wi.iter().enumerate() {
                    for (&w, &xx) in wa.iter().zip(&xv) {
                        if let (Some(s), Some(xx)) = (acc[a].as_mut(), xx) {
                            *s += w * xx;
                        }
                    }
                }
                vals.push((
                    xv.iter().map(|&v| val(v)).collect::<Vec<Value<Fr>>>(),
                    acc.iter().map(|&v| val(v)).collect::<Vec<Value<Fr>>>(),
                ));
            }
            let w: Vec<Vec<Fr>> = wi
                .iter()
                .map(|wa| wa.iter().map(|&v| fe(v)).collect())
                .collect();
            let row_windows: Vec<crate::chips::mac::WindowValues<'_>> = vals
                .iter()
                .map(|(x, a)| (x.as_slice(), a.as_slice()))
                .collect();
            let row_cells =
                st.config
                    .mac
                    .assign_row(st.region, st.row, j == 0, &w, &row_windows)?;
            for ((xc, ac), (win, gis)) in row_cells.into_iter().zip(wins.iter().zip(&windows)) {
                for (t, c) in xc.into_iter().enumerate() {
                    if let Some(&(sl, e)) = place
                        .input(j, t)
                        .and_then(|(i, pos)| win.get(i).map(|g| &g[pos]))
                    {
                        st.bind(c, cells[node.inputs[sl as usize]][e as usize])?;
                    }
                }
                if j + 1 == chunks {
                    for (a, c) in ac.into_iter().enumerate() {
                        let o = place
                            .acc(blk, a)
                            .and_then(|(i, r)| gis.get(i).map(|&gi| map.groups[gi].outputs[r]));
                        if let Some(o) = o {
                            out[o as usize] = Src::Cell(c);
                        }
                    }
                }
            }
            st.row += 1;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::{classes, stacked, Profile};
    use crate::ir::{Group, Linear, Mat};

    /// Groups over two weight blocks: five full windows of block 0, two with input 1 absent,
    /// one of block 1 (the same sizes as block 0's full ones), one of block 0 with an absent
    /// input in another place.
    fn map() -> Linear<i64> {
        let g = |mat: u32, present: [bool; 3], base: u32| Group {
            mat,
            inputs: present
                .iter()
                .enumerate()
                .map(|(i, &p)| p.then_some((0, base + i as u32)))
                .collect(),
            outputs: vec![2 * base, 2 * base + 1],
        };
        let full = [true; 3];
        let groups = vec![
            g(0, full, 0),
            g(0, [true, false, true], 1),
            g(0, full, 2),
            g(1, full, 3),
            g(0, full, 4),
            g(0, [true, false, true], 5),
            g(0, full, 6),
            g(0, [false, true, true], 7),
            g(0, full, 8),
        ];
        let mat = Mat {
            rows: 2,
            cols: 3,
            data: vec![1; 6],
        };
        Linear {
            mats: vec![mat.clone(), mat],
            groups,
        }
    }

    #[test]
    fn windows_share_a_row_only_with_the_same_weights_and_present_inputs() {
        let m = map();
        assert_eq!(
            classes(&m),
            vec![vec![0, 2, 4, 6, 8], vec![1, 5], vec![3], vec![7]]
        );
        let p = Profile::of(&m);
        // One window per row: every group alone. At (a, t) = (1, 1) each of the six groups of
        // three inputs takes 2 blocks of 3 rows, each of the three of two inputs 2 of 2.
        assert_eq!(p.rows(1, 1, 1), 6 * 2 * 3 + 3 * 2 * 2);
        // a = 2, t = 3: one row per window batch.
        assert_eq!(p.rows(2, 3, 1), 9);
        assert_eq!(p.rows(2, 3, 2), 3 + 1 + 1 + 1);
        assert_eq!(p.rows(2, 3, 4), 2 + 1 + 1 + 1);
        assert_eq!(p.rows(2, 3, 8), 4);
        // a = 1, t = 2: two blocks, each 2 chunks for 3 inputs, 1 for 2.
        assert_eq!(p.rows(1, 2, 2), 3 * 2 * 2 + 2 + 2 * 2 + 2);
        // a = 4, t = 6: two groups stack in a window (2 outputs of 3 or 2 inputs each), so the
        // five full windows take 3 rows, and 2 with two windows per row; a = 4, t = 3: a group
        // fills the inputs, nothing stacks.
        assert_eq!(stacked(2, 3, 4, 6), 2);
        assert_eq!(stacked(2, 2, 4, 6), 2);
        assert_eq!(p.rows(4, 6, 1), 3 + 1 + 1 + 1);
        assert_eq!(p.rows(4, 6, 2), 2 + 1 + 1 + 1);
        assert_eq!(stacked(2, 3, 4, 3), 1);
        assert_eq!(p.rows(4, 3, 1), 9);
        // A sum's groups (one output of two inputs) stack four to a 4×8 row; a group of more
        // outputs than accumulators, or none, stacks with nothing.
        assert_eq!(stacked(1, 2, 4, 8), 4);
        assert_eq!(stacked(5, 2, 4, 8), 1);
        assert_eq!(stacked(1, 0, 4, 8), 1);
    }
}
