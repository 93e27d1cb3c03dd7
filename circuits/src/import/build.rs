//! Builders of IR node patterns shared by the operator lowerings.

use super::{Const, Importer, Value};
use crate::ir::{Func, Graph, Group, Linear, Mat, Op, Ref};

/// One element of a rewired tensor: element `idx` of value `v` (an index into the value list
/// given to [`Importer::rewire`]), or a constant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pick {
    V(usize, u32),
    C(f32),
}

/// A constant scalar.
pub(crate) fn scalar(v: f32) -> Value {
    Value::Const(Const {
        shape: vec![],
        data: vec![v],
    })
}

/// A constant tensor of whole numbers (shapes, indices, pads) of shape `shape`.
pub(crate) fn ints(shape: Vec<usize>, v: Vec<i64>) -> Value {
    Value::Const(Const {
        shape,
        data: v.into_iter().map(|x| x as f32).collect(),
    })
}

/// The single output of a lowering ([`Importer::lower_as`]).
pub(crate) fn one(v: Vec<Value>) -> Result<Value, String> {
    v.into_iter()
        .next()
        .ok_or_else(|| "a lowering gave no output".to_string())
}

/// Identity index list `0..n`.
pub(crate) fn iota(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

impl Importer {
    /// A rewired tensor: constant if every element is, else a `Gather` node.
    pub(crate) fn rewire(&mut self, vals: &[Value], shape: Vec<usize>, picks: &[Pick]) -> Value {
        let all_const = picks.iter().all(|p| match p {
            Pick::C(_) => true,
            Pick::V(v, _) => matches!(vals[*v], Value::Const(_)),
        });
        let cval = |v: usize, i: u32| match &vals[v] {
            Value::Const(c) => c.data[i as usize],
            Value::Dyn(_) => 0.0,
        };
        if all_const {
            let data = picks
                .iter()
                .map(|p| match *p {
                    Pick::C(c) => c,
                    Pick::V(v, i) => cval(v, i),
                })
                .collect();
            return Value::Const(Const { shape, data });
        }
        let mut inputs: Vec<usize> = Vec::new();
        let mut slots: std::collections::HashMap<usize, u32> = Default::default();
        let mut slot_of = |node: usize| -> u32 {
            *slots.entry(node).or_insert_with(|| {
                inputs.push(node);
                (inputs.len() - 1) as u32
            })
        };
        let mut mask: super::mask::Mask = vec![None; picks.len()];
        let map: Vec<Ref> = picks
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let c = match *p {
                    Pick::C(c) => c,
                    Pick::V(v, i) => match &vals[v] {
                        Value::Const(c) => c.data[i as usize],
                        Value::Dyn(n) => {
                            mask[k] = self.masked.get(n).and_then(|m| m[i as usize]);
                            return Ref::In(slot_of(*n), i);
                        }
                    },
                };
                // A masked constant's stand-in is 0 (`mask`).
                mask[k] = super::mask::offset_of(c);
                Ref::Const(if mask[k].is_some() { 0.0 } else { c })
            })
            .collect();
        let any_mask = mask.iter().any(Option::is_some);
        // A rewiring that is the identity of one tensor is that tensor itself.
        if inputs.len() == 1 && self.nodes[inputs[0]].shape == shape {
            let ident = map
                .iter()
                .enumerate()
                .all(|(k, r)| *r == Ref::In(0, k as u32));
            if ident {
                return Value::Dyn(inputs[0]);
            }
        }
        let idx = self.emit(Op::Gather { map }, inputs, shape);
        if any_mask {
            self.masked.insert(idx, mask);
        }
        Value::Dyn(idx)
    }

    /// `y[i] = Σ_t w_t · x_t[idx_t[i]]`: an elementwise linear combination of tensors.
    pub(crate) fn combine(&mut self, terms: &[(usize, &[u32], f32)], shape: Vec<usize>) -> usize {
        let n: usize = shape.iter().product();
        let mut inputs: Vec<usize> = Vec::new();
        let slots: Vec<u32> = terms
            .iter()
            .map(|(node, _, _)| {
                if let Some(s) = inputs.iter().position(|x| x == node) {
                    s as u32
                } else {
                    inputs.push(*node);
                    (inputs.len() - 1) as u32
                }
            })
            .collect();
        let mat = Mat {
            rows: 1,
            cols: terms.len(),
            data: terms.iter().map(|t| t.2).collect(),
        };
        let groups = (0..n)
            .map(|i| Group {
                mat: 0,
                inputs: terms
                    .iter()
                    .zip(&slots)
                    .map(|((_, idx, _), &s)| Some((s, idx[i])))
                    .collect(),
                outputs: vec![i as u32],
            })
            .collect();
        self.emit(
            Op::Linear {
                map: Linear {
                    mats: vec![mat],
                    groups,
                },
                bias: None,
            },
            inputs,
            shape,
        )
    }

    /// A linear map where output `o` is `bias[o] + Σ (source, weight)` over `entries[o]`
    /// (elements of `x`); outputs with the same weights share one block.
    pub(crate) fn weighted(
        &mut self,
        x: usize,
        entries: &[Vec<(u32, f32)>],
        bias: Option<Vec<f32>>,
        shape: Vec<usize>,
    ) -> usize {
        let entries: Vec<Vec<(u32, u32, f32)>> = entries
            .iter()
            .map(|e| e.iter().map(|&(i, w)| (0, i, w)).collect())
            .collect();
        self.linear_entries(vec![x], &entries, bias, shape)
    }

    /// A linear map where output `o` is `bias[o] + Σ w · inputs[slot][idx]` over
    /// `entries[o]`; outputs with the same weights share one block.
    pub(crate) fn linear_entries(
        &mut self,
        inputs: Vec<usize>,
        entries: &[Vec<(u32, u32, f32)>],
        bias: Option<Vec<f32>>,
        shape: Vec<usize>,
    ) -> usize {
        let mut mats: Vec<Mat<f32>> = Vec::new();
        let mut seen: std::collections::HashMap<Vec<u32>, u32> = Default::default();
        let groups = entries
            .iter()
            .enumerate()
            .map(|(o, e)| {
                let key: Vec<u32> = e.iter().map(|&(_, _, w)| w.to_bits()).collect();
                let m = *seen.entry(key).or_insert_with(|| {
                    mats.push(Mat {
                        rows: 1,
                        cols: e.len(),
                        data: e.iter().map(|&(_, _, w)| w).collect(),
                    });
                    (mats.len() - 1) as u32
                });
                Group {
                    mat: m,
                    inputs: e.iter().map(|&(s, i, _)| Some((s, i))).collect(),
                    outputs: vec![o as u32],
                }
            })
            .collect();
        self.emit(
            Op::Linear {
                map: Linear { mats, groups },
                bias,
            },
            inputs,
            shape,
        )
    }

    pub(crate) fn relu(&mut self, x: usize) -> usize {
        let shape = self.nodes[x].shape.clone();
        self.emit(Op::Relu, vec![x], shape)
    }

    /// `min(max(x, 0), hi)` for `hi > 0`.
    pub(crate) fn clamp(&mut self, x: usize, hi: f32) -> usize {
        let shape = self.nodes[x].shape.clone();
        self.emit(Op::Clamp { hi }, vec![x], shape)
    }

    pub(crate) fn affine(&mut self, x: usize, mul: Vec<f32>, add: Vec<f32>) -> usize {
        let shape = self.nodes[x].shape.clone();
        self.emit(Op::Affine { mul, add }, vec![x], shape)
    }

    pub(crate) fn func(&mut self, x: usize, f: Func) -> usize {
        let shape = self.nodes[x].shape.clone();
        self.emit(Op::Func { f }, vec![x], shape)
    }

    /// `max(x[a[i]], y[b[i]]) = y[b[i]] + relu(x[a[i]] − y[b[i]])`.
    pub(crate) fn max_of(
        &mut self,
        x: usize,
        a: &[u32],
        y: usize,
        b: &[u32],
        shape: Vec<usize>,
    ) -> usize {
        self.extremum(x, a, y, b, shape, true)
    }

    /// `min(x[a[i]], y[b[i]]) = x[a[i]] − relu(x[a[i]] − y[b[i]])`.
    pub(crate) fn min_of(
        &mut self,
        x: usize,
        a: &[u32],
        y: usize,
        b: &[u32],
        shape: Vec<usize>,
    ) -> usize {
        self.extremum(x, a, y, b, shape, false)
    }

    fn extremum(
        &mut self,
        x: usize,
        a: &[u32],
        y: usize,
        b: &[u32],
        shape: Vec<usize>,
        max: bool,
    ) -> usize {
        let d = self.combine(&[(x, a, 1.0), (y, b, -1.0)], shape.clone());
        let r = self.relu(d);
        let id = iota(a.len());
        if max {
            self.combine(&[(r, &id, 1.0), (y, b, 1.0)], shape)
        } else {
            self.combine(&[(x, a, 1.0), (r, &id, -1.0)], shape)
        }
    }

    /// The maximum of every group of elements of `x` (a tree of pairwise maxima), shaped
    /// `shape` (one element per group).
    pub(crate) fn reduce_max(
        &mut self,
        x: usize,
        groups: &[Vec<u32>],
        shape: Vec<usize>,
    ) -> Result<usize, String> {
        if groups.iter().any(Vec::is_empty) {
            return Err("a maximum over an empty window".into());
        }
        self.tree_reduce(x, groups, shape, |imp, cur, a, b| {
            imp.max_of(cur, a, cur, b, vec![a.len()])
        })
    }

    /// `Π x[g]` for every group `g` of element indices of `x` (pairwise products, as deep as
    /// log₂ of the largest group), as a tensor of shape `shape` (one element per group).
    pub(crate) fn product_groups(
        &mut self,
        x: usize,
        groups: &[Vec<u32>],
        shape: Vec<usize>,
    ) -> Result<usize, String> {
        if groups.iter().any(Vec::is_empty) {
            return Err("a product over an empty axis".into());
        }
        self.tree_reduce(x, groups, shape, |imp, cur, a, b| {
            let terms = a.iter().zip(b).map(|(&i, &j)| vec![(i, j)]).collect();
            imp.emit(
                Op::Bilinear { terms, scale: 1.0 },
                vec![cur, cur],
                vec![a.len()],
            )
        })
    }

    /// Reduces every (non-empty) group of elements of `x` by a tree of pairwise operations:
    /// at each level `pair(cur, a, b)` combines elements `a[i]` and `b[i]` of `cur` into a
    /// tensor of `a.len()` elements, and an odd element is carried as it is. The result has
    /// one element per group, shaped `shape`.
    fn tree_reduce(
        &mut self,
        x: usize,
        groups: &[Vec<u32>],
        shape: Vec<usize>,
        mut pair: impl FnMut(&mut Self, usize, &[u32], &[u32]) -> usize,
    ) -> Result<usize, String> {
        let (mut cur, mut groups) = (x, groups.to_vec());
        while groups.iter().any(|g| g.len() > 1) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (mut picks, mut next) = (Vec::new(), Vec::with_capacity(groups.len()));
            for g in &groups {
                let mut ng = Vec::with_capacity(g.len().div_ceil(2));
                for p in g.chunks(2) {
                    ng.push(picks.len() as u32);
                    match *p {
                        [i, j] => {
                            picks.push(Pick::V(0, a.len() as u32));
                            a.push(i);
                            b.push(j);
                        }
                        [i] => picks.push(Pick::V(1, i)),
                        _ => {}
                    }
                }
                next.push(ng);
            }
            let m = pair(self, cur, &a, &b);
            let level = vec![picks.len()];
            let v = self.rewire(&[Value::Dyn(m), Value::Dyn(cur)], level, &picks);
            cur = self.dyn_of(&v, "a reduction level")?;
            groups = next;
        }
        let picks: Vec<Pick> = groups.iter().map(|g| Pick::V(0, g[0])).collect();
        let v = self.rewire(&[Value::Dyn(cur)], shape, &picks);
        self.dyn_of(&v, "a reduction")
    }

    /// `y[g] = w · Σ_{i ∈ groups[g]} x[i]`.
    pub(crate) fn sum_groups(
        &mut self,
        x: usize,
        groups: &[Vec<u32>],
        w: f32,
        shape: Vec<usize>,
    ) -> usize {
        let mut mats: Vec<Mat<f32>> = Vec::new();
        let gs = groups
            .iter()
            .enumerate()
            .map(|(o, g)| {
                let m = match mats.iter().position(|m| m.cols == g.len()) {
                    Some(m) => m,
                    None => {
                        mats.push(Mat {
                            rows: 1,
                            cols: g.len(),
                            data: vec![w; g.len()],
                        });
                        mats.len() - 1
                    }
                };
                Group {
                    mat: m as u32,
                    inputs: g.iter().map(|&i| Some((0, i))).collect(),
                    outputs: vec![o as u32],
                }
            })
            .collect();
        self.emit(
            Op::Linear {
                map: Linear { mats, groups: gs },
                bias: None,
            },
            vec![x],
            shape,
        )
    }

    /// A value as a computed tensor; constants are rejected with `what` in the message.
    pub(crate) fn dyn_of(&self, v: &Value, what: &str) -> Result<usize, String> {
        match v {
            Value::Dyn(i) => Ok(*i),
            Value::Const(_) => Err(format!("{what} must depend on the input")),
        }
    }
}

/// Folds an elementwise affine op (a BatchNormalization, a constant scale) into the linear
/// op before it when that op feeds nothing else: `mul·(W·x + b) + add` is one linear op with
/// scaled weight rows. Blocks shared by several groups stay shared where the scale of each
/// row is the same in all of them (a per-channel scale over a convolution).
pub(crate) fn fold_affine(mut g: Graph) -> Graph {
    for i in 0..g.nodes.len() {
        let Op::Affine { mul, add } = &g.nodes[i].op else {
            continue;
        };
        let j = g.nodes[i].inputs[0];
        if j == 0 || g.output == j || g.consumers(j) != 1 || g.nodes[i].wide || g.nodes[j].wide {
            continue;
        }
        let Op::Linear { map, bias } = &g.nodes[j].op else {
            continue;
        };
        let (mul, add) = (mul.clone(), add.clone());
        let mut mats: Vec<Mat<f32>> = Vec::new();
        let mut seen: std::collections::HashMap<(u32, Vec<u32>), u32> = Default::default();
        let mut groups = Vec::with_capacity(map.groups.len());
        for grp in &map.groups {
            let factors: Vec<u32> = grp
                .outputs
                .iter()
                .map(|&o| mul[o as usize].to_bits())
                .collect();
            let id = *seen.entry((grp.mat, factors)).or_insert_with(|| {
                let m = &map.mats[grp.mat as usize];
                let mut data = m.data.clone();
                for (r, &o) in grp.outputs.iter().enumerate() {
                    for w in &mut data[r * m.cols..(r + 1) * m.cols] {
                        *w *= mul[o as usize];
                    }
                }
                mats.push(Mat {
                    rows: m.rows,
                    cols: m.cols,
                    data,
                });
                (mats.len() - 1) as u32
            });
            groups.push(Group {
                mat: id,
                ..grp.clone()
            });
        }
        let new_bias = (0..mul.len())
            .map(|o| bias.as_ref().map_or(0.0, |b| b[o]) * mul[o] + add[o])
            .collect();
        let inputs = g.nodes[j].inputs.clone();
        let op_type = format!("{}+{}", g.nodes[j].op_type, g.nodes[i].op_type);
        let node = &mut g.nodes[i];
        node.op = Op::Linear {
            map: Linear { mats, groups },
            bias: Some(new_bias),
        };
        node.inputs = inputs;
        node.op_type = op_type;
    }
    g
}

/// Folds an elementwise affine op into the affine ops that read it when only affine ops read
/// it: `mul₂·(mul₁·x + add₁) + add₂` is one affine op of `x`, so the first no longer needs a
/// rescale of its own (each reader gets one rounding instead of two). A LayerNorm's scale and
/// shift read by a GELU's `·0.5` and `·1/√2` were three rescales of every element; they are
/// two. The first op is dropped by [`prune`] once nothing reads it.
pub(crate) fn fold_affine_chains(mut g: Graph) -> Graph {
    for i in 0..g.nodes.len() {
        let Op::Affine { .. } = &g.nodes[i].op else {
            continue;
        };
        let j = g.nodes[i].inputs[0];
        if j == 0 || g.output == j || g.nodes[i].wide || g.nodes[j].wide {
            continue;
        }
        let Op::Affine { mul: m1, add: a1 } = &g.nodes[j].op else {
            continue;
        };
        let affine_reader = |n: &crate::ir::Node| {
            !n.inputs.contains(&j) || (matches!(n.op, Op::Affine { .. }) && !n.wide)
        };
        if !g.nodes.iter().all(affine_reader) {
            continue;
        }
        let (m1, a1, x) = (m1.clone(), a1.clone(), g.nodes[j].inputs[0]);
        let op_type = format!("{}+{}", g.nodes[j].op_type, g.nodes[i].op_type);
        let node = &mut g.nodes[i];
        let Op::Affine { mul, add } = &mut node.op else {
            continue;
        };
        if mul.len() != m1.len() || add.len() != a1.len() || mul.len() != add.len() {
            continue;
        }
        for k in 0..mul.len() {
            add[k] += mul[k] * a1[k];
            mul[k] *= m1[k];
        }
        node.inputs = vec![x];
        node.op_type = op_type;
    }
    g
}

/// Drops nodes the output does not depend on and renumbers the rest.
pub(crate) fn prune(g: Graph) -> Graph {
    let n = g.nodes.len();
    let mut live = vec![false; n];
    live[0] = true;
    live[g.output] = true;
    for i in (0..n).rev() {
        if live[i] {
            for &j in &g.nodes[i].inputs {
                live[j] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; n];
    let mut nodes = Vec::with_capacity(n);
    for (i, mut node) in g.nodes.into_iter().enumerate() {
        if live[i] {
            node.inputs = node.inputs.iter().map(|&j| new_index[j]).collect();
            new_index[i] = nodes.len();
            nodes.push(node);
        }
    }
    Graph {
        output: new_index[g.output],
        nodes,
        inputs: g.inputs,
        outputs: g.outputs,
    }
}
