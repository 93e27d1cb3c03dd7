//! Comparisons, logic and integer operations on computed tensors, and lookups by computed
//! index.
//!
//! Everything here is built from two IR primitives whose circuit form is a range-checked
//! division: [`Op::Step`] (`x > 0` as 0/1) and [`Op::Floor`]. A comparison is therefore a
//! sign fact about a range-checked difference, never a float; a boolean is 0 or 1 by
//! construction. On the quantized grid `a > b` means `a − b` is at least one step (2^-scale),
//! and `a == b` means the quantized values are equal.
//!
//! A lookup by computed index (`Gather`, `GatherElements`, `OneHot`) compares the index with
//! every position of the axis it reads (a one-hot row, each entry one equality) and takes the
//! dot product of that row with the data: a constant table becomes a linear map with the table
//! as weights, a computed one a sum of products.

use tract_onnx::pb;

use super::build::{iota, Pick};
use super::elementwise_ops::Bin;
use super::tensor::{for_each_index, norm_axis, numel, strides};
use super::{attr_i, Const, Importer, Value};
use crate::ir::{Group, Linear, Mat, Op};

/// Rows a comparison of an index with one position takes in the one-hot form, main and
/// range-lane rows together (two sign tests, each a range-checked division, and the
/// arithmetic between them: tiny_gpt's embedding measured 6 main and 8 lane rows), for
/// choosing it or a table ([`Importer::gather_by_table`]).
const ONE_HOT_ROWS: usize = 8;

/// The largest table of constant data a computed index reads by lookup (entries).
const MAX_DATA_TABLE: u64 = 1 << 22;

type R<T> = Result<T, String>;

/// ONNX element types that a `Cast` turns into integers.
pub(crate) fn is_int_type(to: i64) -> bool {
    matches!(to, 2..=7 | 12 | 13)
}

impl Importer {
    pub(crate) fn lower_logic_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let out = match op {
            "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "Equal" => {
                let (a, b) = (self.req(node, 0)?, self.req(node, 1)?);
                self.compare(op, a, b)?
            }
            "Not" => {
                let x = self.req(node, 0)?;
                self.not(x)?
            }
            "And" | "Or" | "Xor" => {
                let (a, b) = (self.req(node, 0)?, self.req(node, 1)?);
                let sum = self.binary(Bin::Add, a, b)?;
                match op {
                    "And" => self.step_shifted(sum, -1.0)?,
                    "Or" => self.step_shifted(sum, 0.0)?,
                    _ => {
                        let any = self.step_shifted(sum.clone(), 0.0)?;
                        let both = self.step_shifted(sum, -1.0)?;
                        self.binary(Bin::Sub, any, both)?
                    }
                }
            }
            "Sign" => {
                let x = self.req(node, 0)?;
                let pos = self.step_shifted(x.clone(), 0.0)?;
                let neg = self.neg(x)?;
                let neg = self.step_shifted(neg, 0.0)?;
                self.binary(Bin::Sub, pos, neg)?
            }
            "Floor" => {
                let x = self.req(node, 0)?;
                self.floor(x)?
            }
            "Ceil" => {
                let x = self.req(node, 0)?;
                let n = self.neg(x)?;
                let f = self.floor(n)?;
                self.neg(f)?
            }
            "Round" => {
                // Ties to even, as ONNX: f = floor(x + 1/2), less 1 where x + 1/2 is a whole
                // number (a tie) and f is odd.
                let x = self.req(node, 0)?;
                let h = self.add_const(x, 0.5)?;
                let f = self.floor(h.clone())?;
                let frac = self.binary(Bin::Sub, h, f.clone())?;
                self.state_bound(&frac, 1.0);
                let inexact = self.step_shifted(frac, 0.0)?;
                let tie = self.not(inexact)?;
                let half = self.binary(
                    Bin::Mul,
                    f.clone(),
                    Value::Const(Const {
                        shape: vec![],
                        data: vec![0.5],
                    }),
                )?;
                let fh = self.floor(half.clone())?;
                // f odd: f/2 − floor(f/2) is 1/2, else 0. As a sign it is 0 or 1 whatever
                // the data (a difference would take its range from calibration, where a
                // proof's rounding may meet the other parity).
                let r = self.binary(Bin::Sub, half, fh)?;
                self.state_bound(&r, 0.5);
                let odd = self.step_shifted(r, 0.0)?;
                let down = self.binary(Bin::Mul, tie, odd)?;
                self.binary(Bin::Sub, f, down)?
            }
            "Mod" => self.modulo(node)?,
            "Cast" | "CastLike" => {
                let to = self.cast_target(node);
                let x = self.req(node, 0)?;
                match (&x, to) {
                    (Value::Dyn(_), t) if is_int_type(t) => self.trunc(x)?,
                    // Cast to bool: nonzero.
                    (Value::Dyn(_), 9) => {
                        let pos = self.step_shifted(x.clone(), 0.0)?;
                        let n = self.neg(x)?;
                        let neg = self.step_shifted(n, 0.0)?;
                        self.binary(Bin::Add, pos, neg)?
                    }
                    (Value::Const(c), 9) => Value::Const(Const {
                        shape: c.shape.clone(),
                        data: c.data.iter().map(|&v| f32::from(v != 0.0)).collect(),
                    }),
                    _ => return Ok(None),
                }
            }
            "IsNaN" | "IsInf" => {
                // Quantized values are always finite.
                let x = self.req(node, 0)?;
                let shape = self.shape_of(&x);
                Value::Const(Const {
                    data: vec![0.0; numel(&shape)],
                    shape,
                })
            }
            "Where" => {
                let c = self.req(node, 0)?;
                if matches!(c, Value::Const(_)) {
                    return Ok(None);
                }
                let (a, b) = (self.req(node, 1)?, self.req(node, 2)?);
                self.select(c, a, b)?
            }
            "ArgMax" | "ArgMin" => {
                let x = self.req(node, 0)?;
                let x = if op == "ArgMin" { self.neg(x)? } else { x };
                self.arg_max(node, x)?
            }
            "Hardmax" => {
                let x = self.req(node, 0)?;
                let xi = self.dyn_of(&x, "the input")?;
                let s = self.nodes[xi].shape.clone();
                let default = if self.opset >= 13 { -1 } else { 1 };
                let axis = norm_axis(attr_i(node, "axis", default), s.len())?;
                if self.opset < 13 && axis + 1 != s.len() {
                    return Err("Hardmax before opset 13 is supported on the last axis only".into());
                }
                let (groups, _) = super::tensor::reduction_groups(&s, &[axis]);
                let first = self.first_max(xi, &groups)?;
                // `first` lists the groups' elements in order: put them back in place.
                let mut picks = vec![Pick::C(0.0); numel(&s)];
                for (k, &e) in groups.iter().flatten().enumerate() {
                    picks[e as usize] = Pick::V(0, k as u32);
                }
                self.rewire(&[Value::Dyn(first)], s, &picks)
            }
            "Gather" => {
                let idx = self.req(node, 1)?;
                if matches!(idx, Value::Const(_)) {
                    return Ok(None);
                }
                let data = self.req(node, 0)?;
                self.gather_dyn(node, data, idx, false)?
            }
            "GatherElements" => {
                let data = self.req(node, 0)?;
                let idx = self.req(node, 1)?;
                self.gather_dyn(node, data, idx, true)?
            }
            "OneHot" => self.one_hot(node)?,
            "TopK" => return self.top_k(node).map(Some),
            _ => return Ok(None),
        };
        Ok(Some(vec![out]))
    }

    /// `-x`.
    pub(crate) fn neg(&mut self, x: Value) -> R<Value> {
        let m = Value::Const(Const {
            shape: vec![],
            data: vec![-1.0],
        });
        self.binary(Bin::Mul, x, m)
    }

    pub(crate) fn add_const(&mut self, x: Value, c: f32) -> R<Value> {
        let c = Value::Const(Const {
            shape: vec![],
            data: vec![c],
        });
        self.binary(Bin::Add, x, c)
    }

    /// `[x + c > 0]`.
    pub(crate) fn step_shifted(&mut self, x: Value, c: f32) -> R<Value> {
        let x = if c != 0.0 { self.add_const(x, c)? } else { x };
        Ok(match x {
            Value::Const(k) => Value::Const(Const {
                shape: k.shape,
                data: k.data.iter().map(|&v| f32::from(v > 0.0)).collect(),
            }),
            Value::Dyn(i) => {
                let shape = self.nodes[i].shape.clone();
                Value::Dyn(self.emit(Op::Step, vec![i], shape))
            }
        })
    }

    /// States that every value of `v` (if computed) is bounded by `b` in absolute value
    /// whatever the input ([`crate::ir::Node::bound`]).
    pub(crate) fn state_bound(&mut self, v: &Value, b: f32) {
        if let Value::Dyn(i) = v {
            self.nodes[*i].bound = Some(b);
        }
    }

    /// `1 − x`.
    pub(crate) fn not(&mut self, x: Value) -> R<Value> {
        let n = self.neg(x)?;
        self.add_const(n, 1.0)
    }

    pub(crate) fn compare(&mut self, op: &str, a: Value, b: Value) -> R<Value> {
        let d = self.binary(Bin::Sub, a, b)?;
        self.test_sign(op, d)
    }

    /// The comparison `op` of `d = a − b` with zero.
    pub(crate) fn test_sign(&mut self, op: &str, d: Value) -> R<Value> {
        match op {
            "Greater" => self.step_shifted(d, 0.0),
            "LessOrEqual" => {
                let g = self.step_shifted(d, 0.0)?;
                self.not(g)
            }
            "Less" => {
                let n = self.neg(d)?;
                self.step_shifted(n, 0.0)
            }
            "GreaterOrEqual" => {
                let n = self.neg(d)?;
                let l = self.step_shifted(n, 0.0)?;
                self.not(l)
            }
            _ => {
                let g = self.step_shifted(d.clone(), 0.0)?;
                let n = self.neg(d)?;
                let l = self.step_shifted(n, 0.0)?;
                let ne = self.binary(Bin::Add, g, l)?;
                self.not(ne)
            }
        }
    }

    pub(crate) fn floor(&mut self, x: Value) -> R<Value> {
        Ok(match x {
            Value::Const(c) => Value::Const(Const {
                shape: c.shape,
                data: c.data.iter().map(|v| v.floor()).collect(),
            }),
            Value::Dyn(i) => {
                let shape = self.nodes[i].shape.clone();
                Value::Dyn(self.emit(Op::Floor, vec![i], shape))
            }
        })
    }

    /// Rounding toward zero: `floor(relu(x)) − floor(relu(−x))`.
    pub(crate) fn trunc(&mut self, x: Value) -> R<Value> {
        let xi = self.dyn_of(&x, "the operand")?;
        let pos = self.relu(xi);
        let n = self.neg(x)?;
        let ni = self.dyn_of(&n, "the operand")?;
        let negp = self.relu(ni);
        let fp = self.floor(Value::Dyn(pos))?;
        let fnn = self.floor(Value::Dyn(negp))?;
        self.binary(Bin::Sub, fp, fnn)
    }

    /// `Mod` by a constant divisor: `a − b·floor(a/b)` (`fmod = 0`, the sign of the divisor)
    /// or `a − b·trunc(a/b)` (`fmod = 1`).
    fn modulo(&mut self, node: &pb::NodeProto) -> R<Value> {
        let a = self.req(node, 0)?;
        let b = match self.req(node, 1)? {
            Value::Const(c) => c,
            Value::Dyn(_) => return Err("the divisor must be constant".into()),
        };
        if b.data.contains(&0.0) {
            return Err("division by a constant zero".into());
        }
        let inv = Value::Const(Const {
            shape: b.shape.clone(),
            data: b.data.iter().map(|v| 1.0 / v).collect(),
        });
        let q = self.binary(Bin::Mul, a.clone(), inv)?;
        let q = if attr_i(node, "fmod", 0) == 1 {
            if matches!(q, Value::Const(_)) {
                self.floor(q)? // folded below; constants never reach here with fmod
            } else {
                self.trunc(q)?
            }
        } else {
            self.floor(q)?
        };
        let bq = self.binary(Bin::Mul, q, Value::Const(b))?;
        self.binary(Bin::Sub, a, bq)
    }

    /// `Where(c, a, b) = b + c·(a − b)` with a computed 0/1 condition.
    pub(crate) fn select(&mut self, c: Value, a: Value, b: Value) -> R<Value> {
        let d = self.binary(Bin::Sub, a, b.clone())?;
        let cd = self.binary(Bin::Mul, c, d)?;
        self.binary(Bin::Add, cd, b)
    }

    /// For every group of `x`'s elements, the one-hot indicator of its first maximum, listed
    /// group after group (element `k` of the result is element `groups.flatten()[k]`).
    pub(crate) fn first_max(&mut self, x: usize, groups: &[Vec<u32>]) -> R<usize> {
        self.max_and_first(x, groups).map(|(_, first)| first)
    }

    fn arg_max(&mut self, node: &pb::NodeProto, x: Value) -> R<Value> {
        let xi = self.dyn_of(&x, "the input")?;
        let rank = self.nodes[xi].shape.len();
        let axis = norm_axis(attr_i(node, "axis", 0), rank)?;
        let keep = attr_i(node, "keepdims", 1) != 0;
        let last = attr_i(node, "select_last_index", 0) != 0;
        self.arg_max_axis(xi, axis, keep, last)
    }

    /// The index of the first (or last) maximum along `axis`.
    pub(crate) fn arg_max_axis(
        &mut self,
        xi: usize,
        axis: usize,
        keep: bool,
        last: bool,
    ) -> R<Value> {
        let s = self.nodes[xi].shape.clone();
        let (mut groups, kept) = super::tensor::reduction_groups(&s, &[axis]);
        if last {
            groups.iter_mut().for_each(|g| g.reverse());
        }
        let first = self.first_max(xi, &groups)?;
        let dim = s[axis];
        let pos: Vec<f32> = (0..dim)
            .map(|i| if last { (dim - 1 - i) as f32 } else { i as f32 })
            .collect();
        let ng = groups.len();
        let out_shape = if keep {
            kept
        } else {
            s.iter()
                .enumerate()
                .filter(|&(a, _)| a != axis)
                .map(|(_, &d)| d)
                .collect()
        };
        Ok(Value::Dyn(self.dot_groups(first, ng, pos, out_shape)))
    }

    /// `y[g] = Σ_i w_i · x[g·|w| + i]` for `ng` consecutive groups of `x`: a one-hot's
    /// position when `w` lists the positions.
    pub(crate) fn dot_groups(
        &mut self,
        first: usize,
        ng: usize,
        pos: Vec<f32>,
        out_shape: Vec<usize>,
    ) -> usize {
        let dim = pos.len();
        let map = Linear {
            mats: vec![Mat {
                rows: 1,
                cols: dim,
                data: pos,
            }],
            groups: (0..ng)
                .map(|g| Group {
                    mat: 0,
                    inputs: (0..dim as u32)
                        .map(|i| Some((0, (g * dim) as u32 + i)))
                        .collect(),
                    outputs: vec![g as u32],
                })
                .collect(),
        };
        self.emit(Op::Linear { map, bias: None }, vec![first], out_shape)
    }

    /// The one-hot rows `[idx[j] == v]` for `v < depth` (a negative index counts from the
    /// end), shaped `idx.shape + [depth]`.
    pub(crate) fn one_hot_rows(&mut self, idx: usize, depth: usize) -> R<usize> {
        let ishape = self.nodes[idx].shape.clone();
        let ni = numel(&ishape);
        // idx' = idx + depth·[idx < 0]
        let neg = self.affine(idx, vec![-1.0; ni], vec![0.0; ni]);
        let is_neg = self.emit(Op::Step, vec![neg], ishape.clone());
        let id = iota(ni);
        let norm = self.combine(
            &[(idx, &id, 1.0), (is_neg, &id, depth as f32)],
            ishape.clone(),
        );
        // d[j, v] = idx'[j] − v
        let rep: Vec<u32> = (0..ni as u32)
            .flat_map(|j| std::iter::repeat_n(j, depth))
            .collect();
        let total = ni * depth;
        let mut shape = ishape;
        shape.push(depth);
        let offs: Vec<f32> = (0..total).map(|k| -((k % depth) as f32)).collect();
        let gathered = self.combine(&[(norm, &rep, 1.0)], vec![total]);
        let d = self.affine(gathered, vec![1.0; total], offs);
        let eq = self.test_sign("Equal", Value::Dyn(d))?;
        let e = self.dyn_of(&eq, "the comparison")?;
        let v = self.rewire(
            &[Value::Dyn(e)],
            shape,
            &(0..total as u32).map(|k| Pick::V(0, k)).collect::<Vec<_>>(),
        );
        self.dyn_of(&v, "the one-hot rows")
    }

    fn one_hot(&mut self, node: &pb::NodeProto) -> R<Value> {
        let idx = self.req(node, 0)?;
        let depth = self
            .const_input(node, 1, "depth")?
            .and_then(|c| c.data.first().copied())
            .ok_or("the depth is missing")?;
        let vals = self
            .const_input(node, 2, "values")?
            .filter(|c| c.data.len() == 2)
            .ok_or("values must be a constant [off, on]")?;
        if !(1.0..=65536.0).contains(&depth) || depth.fract() != 0.0 {
            return Err(format!("depth {depth} is not a whole number in 1..=65536"));
        }
        let depth = depth as usize;
        let ii = self.dyn_of(&idx, "the indices")?;
        let ishape = self.nodes[ii].shape.clone();
        let rows = self.one_hot_rows(ii, depth)?;
        let rank = ishape.len() + 1;
        let axis = norm_axis(attr_i(node, "axis", -1), rank)?;
        // rows is idx.shape + [depth]; move the depth axis to `axis`.
        let mut out = ishape.clone();
        out.insert(axis, depth);
        let rst = strides(&{
            let mut s = ishape.clone();
            s.push(depth);
            s
        });
        let mut picks = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, m| {
            let v = m[axis];
            let mut off = v * rst[rank - 1];
            let mut k = 0;
            for (a, &mi) in m.iter().enumerate() {
                if a != axis {
                    off += mi * rst[k];
                    k += 1;
                }
            }
            picks.push(Pick::V(0, off as u32));
        });
        let h = self.rewire(&[Value::Dyn(rows)], out.clone(), &picks);
        let (off, on) = (vals.data[0], vals.data[1]);
        let n = numel(&out);
        let hi = self.dyn_of(&h, "the one-hot tensor")?;
        Ok(Value::Dyn(self.affine(hi, vec![on - off; n], vec![off; n])))
    }

    /// `Gather` (`elements = false`) or `GatherElements` by computed indices: each output is
    /// the dot product of its index's one-hot row with the data along `axis`.
    fn gather_dyn(
        &mut self,
        node: &pb::NodeProto,
        data: Value,
        idx: Value,
        elements: bool,
    ) -> R<Value> {
        let rank = self.shape_of(&data).len();
        let axis = norm_axis(attr_i(node, "axis", 0), rank)?;
        self.gather_dyn_axis(data, idx, axis, elements)
    }

    /// Computed indices into constant data as lookups ([`Op::Select`]) where that takes
    /// fewer rows than one-hot rows: output `o` reads index `idx[j]` of the slice of `data` at
    /// offset `base` (`entries[o] = (j, base)`, positions `base + v·stride`). Every distinct
    /// slice is a table over the indices `−dim .. dim` (negative ones count from the end, as
    /// ONNX's). `None` where the one-hot form is smaller or the table too large.
    fn gather_by_table(
        &mut self,
        data: &Const,
        idx: usize,
        entries: &[(usize, usize)],
        dim: usize,
        stride: usize,
        out: &[usize],
    ) -> Option<Value> {
        let mut slices: Vec<usize> = entries.iter().map(|e| e.1).collect();
        slices.sort_unstable();
        slices.dedup();
        let size = slices.len().saturating_mul(2 * dim);
        let n = entries.len();
        let ni = numel(&self.nodes[idx].shape);
        // Rows of either form: the table's entries and a few rows an element (the index's
        // rescale, the key's, the lookup), against a comparison of each index with every
        // position and the dot products.
        let table_rows = size.saturating_add(4 * n);
        let one_hot_rows = ni
            .saturating_mul(dim)
            .saturating_mul(ONE_HOT_ROWS)
            .saturating_add(n.saturating_mul(dim) / 16);
        if table_rows >= one_hot_rows || size as u64 > MAX_DATA_TABLE {
            return None;
        }
        let mut values = Vec::with_capacity(size);
        for t in 0..2 * dim {
            let v = if t < dim { t } else { t - dim };
            for &b in &slices {
                values.push(data.data[b + v * stride]);
            }
        }
        let mut picks = Vec::with_capacity(n);
        let mut slice = Vec::with_capacity(n);
        for &(j, b) in entries {
            picks.push(Pick::V(0, j as u32));
            slice.push(slices.binary_search(&b).ok()? as u32);
        }
        let at = self.rewire(&[Value::Dyn(idx)], out.to_vec(), &picks);
        let at = self.dyn_of(&at, "the indices").ok()?;
        Some(Value::Dyn(self.emit(
            Op::Select {
                values,
                offset: dim as u32,
                groups: slices.len() as u32,
                slice,
            },
            vec![at],
            out.to_vec(),
        )))
    }

    /// [`Importer::gather_dyn`] along a given axis.
    pub(crate) fn gather_dyn_axis(
        &mut self,
        data: Value,
        idx: Value,
        axis: usize,
        elements: bool,
    ) -> R<Value> {
        let ds = self.shape_of(&data);
        if axis >= ds.len() {
            return Err(format!("axis {axis} out of range for data of shape {ds:?}"));
        }
        let dim = ds[axis];
        let is = self.shape_of(&idx);
        if elements && is.len() != ds.len() {
            return Err(format!(
                "indices of rank {} for data of rank {}",
                is.len(),
                ds.len()
            ));
        }
        let out: Vec<usize> = if elements {
            is.clone()
        } else {
            ds[..axis]
                .iter()
                .chain(&is)
                .chain(&ds[axis + 1..])
                .copied()
                .collect()
        };
        let ni = numel(&is);
        if let Value::Const(c) = &idx {
            // Constant indices of GatherElements: a rewiring.
            let dst = strides(&ds);
            let mut picks = Vec::with_capacity(ni);
            let mut bad = None;
            for_each_index(&is, |flat, m| {
                let mut j = c.data[flat] as i64;
                if j < 0 {
                    j += dim as i64;
                }
                if !(0..dim as i64).contains(&j) {
                    bad = Some(j);
                    j = 0;
                }
                let off: usize = (0..ds.len())
                    .map(|a| if a == axis { j as usize } else { m[a] } * dst[a])
                    .sum();
                picks.push(Pick::V(0, off as u32));
            });
            if let Some(j) = bad {
                return Err(format!("index {j} is out of range for axis size {dim}"));
            }
            return Ok(self.rewire(&[data], out, &picks));
        }
        let ii = self.dyn_of(&idx, "the indices")?;
        let dst = strides(&ds);
        let ist = strides(&is);
        // For every output element: its one-hot row and the data positions it dots with.
        let row_and_base = |m: &[usize]| -> (usize, usize) {
            if elements {
                let j: usize = m.iter().zip(&ist).map(|(a, b)| a * b).sum();
                let base: usize = (0..ds.len())
                    .filter(|&a| a != axis)
                    .map(|a| m[a] * dst[a])
                    .sum();
                (j, base)
            } else {
                let r = is.len();
                let j: usize = m[axis..axis + r].iter().zip(&ist).map(|(a, b)| a * b).sum();
                let mut base = 0;
                for a in 0..axis {
                    base += m[a] * dst[a];
                }
                for a in axis + 1..ds.len() {
                    base += m[a - 1 + r] * dst[a];
                }
                (j, base)
            }
        };
        let mut entries = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, m| entries.push(row_and_base(m)));
        if let Value::Const(c) = &data {
            if let Some(v) = self.gather_by_table(c, ii, &entries, dim, dst[axis], &out) {
                return Ok(v);
            }
        }
        if ni.saturating_mul(dim) > super::MAX_ONE_HOT {
            return Err(format!(
                "a lookup of {ni} computed indices into {dim} entries is larger than zkonnx \
                 proves ({} comparisons)",
                super::MAX_ONE_HOT
            ));
        }
        let rows = self.one_hot_rows(ii, dim)?; // [ni, dim] flat
        match data {
            Value::Const(c) => {
                // A linear map over the one-hot rows with the table as weights; outputs that
                // read the same row share one block.
                let mut by_row: std::collections::BTreeMap<usize, Vec<(u32, usize)>> =
                    Default::default();
                for (o, &(j, base)) in entries.iter().enumerate() {
                    by_row.entry(j).or_default().push((o as u32, base));
                }
                let mut mats: Vec<Mat<f32>> = Vec::new();
                let mut blocks: std::collections::HashMap<Vec<usize>, u32> = Default::default();
                let mut groups = Vec::new();
                for (j, outs) in by_row {
                    let bases: Vec<usize> = outs.iter().map(|&(_, b)| b).collect();
                    let m = *blocks.entry(bases.clone()).or_insert_with(|| {
                        let data = bases
                            .iter()
                            .flat_map(|&b| (0..dim).map(move |v| (b, v)))
                            .map(|(b, v)| c.data[b + v * dst[axis]])
                            .collect();
                        mats.push(Mat {
                            rows: bases.len(),
                            cols: dim,
                            data,
                        });
                        (mats.len() - 1) as u32
                    });
                    groups.push(Group {
                        mat: m,
                        inputs: (0..dim).map(|v| Some((0, (j * dim + v) as u32))).collect(),
                        outputs: outs.iter().map(|&(o, _)| o).collect(),
                    });
                }
                Ok(Value::Dyn(self.emit(
                    Op::Linear {
                        map: Linear { mats, groups },
                        bias: None,
                    },
                    vec![rows],
                    out,
                )))
            }
            Value::Dyn(d) => {
                let terms = entries
                    .iter()
                    .map(|&(j, base)| {
                        (0..dim)
                            .map(|v| ((j * dim + v) as u32, (base + v * dst[axis]) as u32))
                            .collect()
                    })
                    .collect();
                Ok(Value::Dyn(self.emit(
                    Op::Bilinear { terms, scale: 1.0 },
                    vec![rows, d],
                    out,
                )))
            }
        }
    }
}
