//! Rewiring operators: no arithmetic, only where each element comes from.

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{broadcast_index, broadcast_shape, for_each_index, norm_axis, numel, strides};
use super::{attr, attr_i, attr_ints, attr_s, load_const, Const, Importer, Value};

type R<T> = Result<T, String>;

/// Resolves an ONNX Reshape target (with 0 = copy and -1 = infer).
pub(crate) fn reshape_target(input: &[usize], target: &[f32], allowzero: bool) -> R<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        let t = t as i64;
        match t {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err("more than one -1 in the target shape".into());
                }
                out.push(1);
            }
            0 if !allowzero => out.push(
                *input
                    .get(i)
                    .ok_or("0 in the target shape past the input's rank")?,
            ),
            t if t >= 0 => out.push(t as usize),
            t => return Err(format!("invalid dimension {t} in the target shape")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!(
            "cannot reshape {input:?} ({total} values) to {out:?}"
        ));
    }
    Ok(out)
}

fn ints(c: &Const) -> Vec<i64> {
    c.data.iter().map(|&x| x as i64).collect()
}

impl Importer {
    /// The same elements under a new shape.
    fn reshaped(&mut self, v: Value, shape: Vec<usize>) -> Value {
        match v {
            Value::Const(c) => Value::Const(Const {
                shape,
                data: c.data,
            }),
            v => {
                let n = numel(&shape) as u32;
                let picks: Vec<Pick> = (0..n).map(|i| Pick::V(0, i)).collect();
                self.rewire(&[v], shape, &picks)
            }
        }
    }

    /// Axes from the attribute (old opsets) or the given input (newer ones).
    fn axes(&self, node: &pb::NodeProto, input: usize) -> R<Option<Vec<i64>>> {
        if let Some(a) = attr_ints(node, "axes") {
            return Ok(Some(a));
        }
        Ok(self.const_input(node, input, "axes")?.map(|c| ints(&c)))
    }

    pub(crate) fn lower_shape_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let out = match op {
            "Constant" => self.lower_constant(node)?,
            "Identity" => self.req(node, 0)?,
            "Dropout" => self.lower_dropout(node)?,
            "Cast" | "CastLike" => {
                let to = self.cast_target(node);
                let v = self.req(node, 0)?;
                // 1 float, 10 float16, 11 double, 16 bfloat16: values pass through.
                match (to, v) {
                    (1 | 10 | 11 | 16, v) => v,
                    (_, Value::Const(c)) => Value::Const(Const {
                        shape: c.shape,
                        data: c.data.iter().map(|x| x.trunc()).collect(),
                    }),
                    (_, Value::Dyn(_)) => {
                        return Err(format!(
                        "a cast of a computed tensor to a non-float type ({to}) is not supported"
                    ))
                    }
                }
            }
            "Shape" => {
                let s = self.shape_of(&self.req(node, 0)?);
                let rank = s.len() as i64;
                let start = norm_clamp(attr_i(node, "start", 0), rank);
                let end = norm_clamp(attr_i(node, "end", rank), rank);
                let data: Vec<f32> = s[start..end.max(start)].iter().map(|&d| d as f32).collect();
                Value::Const(Const {
                    shape: vec![data.len()],
                    data,
                })
            }
            "Size" => {
                let s = self.shape_of(&self.req(node, 0)?);
                Value::Const(Const {
                    shape: vec![],
                    data: vec![numel(&s) as f32],
                })
            }
            "ConstantOfShape" => {
                let shape: Vec<usize> = self
                    .const_input(node, 0, "the shape")?
                    .map(|c| c.data.iter().map(|&x| x as usize).collect())
                    .unwrap_or_default();
                let v = match attr(node, "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => load_const(t)?.data.first().copied().unwrap_or(0.0),
                    None => 0.0,
                };
                Value::Const(Const {
                    data: vec![v; numel(&shape)],
                    shape,
                })
            }
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => self.lower_reshape(node, op)?,
            "Transpose" => {
                let v = self.req(node, 0)?;
                let s = self.shape_of(&v);
                let perm: Vec<usize> = match attr_ints(node, "perm") {
                    Some(p) => p.iter().map(|&x| x as usize).collect(),
                    None => (0..s.len()).rev().collect(),
                };
                if perm.len() != s.len() || perm.iter().any(|&p| p >= s.len()) {
                    return Err(format!("perm {perm:?} does not fit rank {}", s.len()));
                }
                let out: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
                let st = strides(&s);
                let mut picks = Vec::with_capacity(numel(&out));
                for_each_index(&out, |_, idx| {
                    let off: usize = idx.iter().zip(&perm).map(|(&i, &p)| i * st[p]).sum();
                    picks.push(Pick::V(0, off as u32));
                });
                self.rewire(&[v], out, &picks)
            }
            "ReverseSequence" => self.reverse_sequence(node)?,
            "Concat" => self.lower_concat(node)?,
            "Split" => return Ok(Some(self.lower_split(node)?)),
            "Slice" => self.lower_slice(node)?,
            "Gather" => self.lower_gather(node)?,
            "Pad" => self.lower_pad(node)?,
            "Compress" => self.compress(node)?,
            "Expand" => {
                let v = self.req(node, 0)?;
                let s = self.shape_of(&v);
                let target: Vec<usize> = self
                    .const_input(node, 1, "the shape")?
                    .ok_or("Expand needs a shape")?
                    .data
                    .iter()
                    .map(|&x| x as usize)
                    .collect();
                let out = broadcast_shape(&s, &target).ok_or("shapes do not broadcast")?;
                let map = broadcast_index(&s, &out).ok_or("shapes do not broadcast")?;
                let picks: Vec<Pick> = map.iter().map(|&i| Pick::V(0, i)).collect();
                self.rewire(&[v], out, &picks)
            }
            "Tile" => self.lower_tile(node)?,
            "Where" => self.lower_where(node)?,
            _ => return Ok(None),
        };
        Ok(Some(vec![out]))
    }
}

impl Importer {
    /// `Constant`: its value attribute as a constant (a tensor, one or several floats or ints).
    fn lower_constant(&mut self, node: &pb::NodeProto) -> R<Value> {
        let c = if let Some(a) = attr(node, "value") {
            load_const(a.t.as_ref().ok_or("Constant without a tensor value")?)?
        } else if let Some(a) = attr(node, "value_float") {
            Const {
                shape: vec![],
                data: vec![a.f],
            }
        } else if let Some(a) = attr(node, "value_floats") {
            Const {
                shape: vec![a.floats.len()],
                data: a.floats.clone(),
            }
        } else if let Some(a) = attr(node, "value_int") {
            Const {
                shape: vec![],
                data: vec![a.i as f32],
            }
        } else if let Some(a) = attr(node, "value_ints") {
            Const {
                shape: vec![a.ints.len()],
                data: a.ints.iter().map(|&v| v as f32).collect(),
            }
        } else {
            return Err("Constant with an unsupported value attribute".into());
        };
        Ok(Value::Const(c))
    }

    /// `Dropout`: its input at inference; a training-mode dropout with a positive ratio is
    /// refused (it drops random elements).
    fn lower_dropout(&mut self, node: &pb::NodeProto) -> R<Value> {
        // Inference is the identity; a training-mode dropout is random.
        let training = match self.input(node, 2)? {
            Some(Value::Const(c)) => c.data.iter().any(|&v| v != 0.0),
            Some(Value::Dyn(_)) => true,
            None => false,
        };
        // A computed ratio counts as positive.
        let ratio = match self.input(node, 1)? {
            Some(Value::Const(c)) => c.data.first().copied().unwrap_or(0.5),
            Some(Value::Dyn(_)) => 1.0,
            None => 0.5,
        };
        if training && ratio > 0.0 {
            return Err(
                "a training-mode dropout drops random elements, which cannot be proved \
                 (export the model in eval mode)"
                    .into(),
            );
        }
        self.req(node, 0)
    }

    /// `Reshape`, `Flatten`, `Squeeze` and `Unsqueeze` (`op`): the same elements under a new
    /// shape.
    fn lower_reshape(&mut self, node: &pb::NodeProto, op: &str) -> R<Value> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let shape = match op {
            "Flatten" => {
                let rank = s.len() as i64;
                let mut axis = attr_i(node, "axis", 1);
                if axis < 0 {
                    axis += rank;
                }
                if !(0..=rank).contains(&axis) {
                    return Err(format!("axis {axis} out of range for rank {rank}"));
                }
                let a = axis as usize;
                vec![s[..a].iter().product(), s[a..].iter().product()]
            }
            "Reshape" => {
                let target = match attr_ints(node, "shape") {
                    Some(t) => t.iter().map(|&x| x as f32).collect(),
                    None => {
                        self.const_input(node, 1, "the target shape")?
                            .ok_or("Reshape needs a shape input")?
                            .data
                    }
                };
                reshape_target(&s, &target, attr_i(node, "allowzero", 0) != 0)?
            }
            "Squeeze" => {
                let axes = self.axes(node, 1)?;
                let axes: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&x| norm_axis(x, s.len()))
                        .collect::<R<Vec<_>>>()?,
                    None => (0..s.len()).filter(|&i| s[i] == 1).collect(),
                };
                if let Some(&a) = axes.iter().find(|&&a| s[a] != 1) {
                    return Err(format!("cannot squeeze axis {a} of size {}", s[a]));
                }
                s.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            }
            _ => {
                let axes = self.axes(node, 1)?.ok_or("Unsqueeze needs axes")?;
                let rank = s.len() + axes.len();
                let axes: Vec<usize> = axes
                    .iter()
                    .map(|&x| norm_axis(x, rank))
                    .collect::<R<Vec<_>>>()?;
                let mut it = s.iter();
                (0..rank)
                    .map(|i| {
                        if axes.contains(&i) {
                            1
                        } else {
                            *it.next().unwrap_or(&1)
                        }
                    })
                    .collect()
            }
        };
        Ok(self.reshaped(v, shape))
    }

    /// `Concat` along its axis.
    fn lower_concat(&mut self, node: &pb::NodeProto) -> R<Value> {
        let vals: Vec<Value> = (0..node.input.len())
            .filter_map(|i| self.input(node, i).transpose())
            .collect::<R<Vec<_>>>()?;
        let shapes: Vec<Vec<usize>> = vals.iter().map(|v| self.shape_of(v)).collect();
        let rank = shapes.first().ok_or("Concat without inputs")?.len();
        let axis = norm_axis(attr_i(node, "axis", 0), rank)?;
        if shapes.iter().any(|s| s.len() != rank) {
            return Err(format!("inputs of ranks {shapes:?} do not concatenate"));
        }
        let mut out = shapes[0].clone();
        out[axis] = shapes.iter().map(|s| s[axis]).sum();
        for s in &shapes {
            if s.len() != rank || (0..rank).any(|a| a != axis && s[a] != out[a]) {
                return Err(format!(
                    "shapes {shapes:?} do not concatenate on axis {axis}"
                ));
            }
        }
        let starts: Vec<usize> = shapes
            .iter()
            .scan(0, |acc, s| {
                let st = *acc;
                *acc += s[axis];
                Some(st)
            })
            .collect();
        let mut picks = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, idx| {
            let i = idx[axis];
            let v = starts.iter().rposition(|&s| s <= i).unwrap_or(0);
            let mut local = idx.to_vec();
            local[axis] = i - starts[v];
            let st = strides(&shapes[v]);
            let off: usize = local.iter().zip(&st).map(|(a, b)| a * b).sum();
            picks.push(Pick::V(v, off as u32));
        });
        Ok(self.rewire(&vals, out, &picks))
    }

    /// `Split` along its axis into the given sizes or equal parts: one value per output.
    fn lower_split(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let axis = norm_axis(attr_i(node, "axis", 0), s.len())?;
        let parts: Vec<usize> = match attr_ints(node, "split") {
            Some(p) => p.iter().map(|&x| x as usize).collect(),
            None => match self.const_input(node, 1, "split")? {
                Some(c) => c.data.iter().map(|&x| x as usize).collect(),
                None => {
                    let n = node.output.len().max(1);
                    let each = s[axis].div_ceil(n);
                    (0..n)
                        .map(|k| each.min(s[axis].saturating_sub(k * each)))
                        .collect()
                }
            },
        };
        if parts.iter().sum::<usize>() != s[axis] {
            return Err(format!(
                "split sizes {parts:?} do not add up to {}",
                s[axis]
            ));
        }
        let st = strides(&s);
        let mut outs = Vec::new();
        let mut start = 0;
        for p in parts {
            let mut shape = s.clone();
            shape[axis] = p;
            let mut picks = Vec::with_capacity(numel(&shape));
            for_each_index(&shape, |_, idx| {
                let off: usize = idx
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| (if a == axis { i + start } else { i }) * st[a])
                    .sum();
                picks.push(Pick::V(0, off as u32));
            });
            outs.push(self.rewire(std::slice::from_ref(&v), shape, &picks));
            start += p;
        }
        Ok(outs)
    }

    /// `Slice` by constant starts, ends, axes and steps.
    fn lower_slice(&mut self, node: &pb::NodeProto) -> R<Value> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let (starts, ends, axes, steps) = if self.opset < 10 {
            (
                attr_ints(node, "starts").ok_or("Slice needs starts")?,
                attr_ints(node, "ends").ok_or("Slice needs ends")?,
                attr_ints(node, "axes"),
                None,
            )
        } else {
            let get = |i: usize, w: &str| -> R<Option<Vec<i64>>> {
                Ok(self.const_input(node, i, w)?.map(|c| ints(&c)))
            };
            (
                get(1, "starts")?.ok_or("Slice needs starts")?,
                get(2, "ends")?.ok_or("Slice needs ends")?,
                get(3, "axes")?,
                get(4, "steps")?,
            )
        };
        let axes: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&x| norm_axis(x, s.len())).collect::<R<_>>()?,
            None => (0..starts.len()).collect(),
        };
        let steps_len = steps.as_ref().map_or(axes.len(), Vec::len);
        if starts.len() != axes.len() || ends.len() != axes.len() || steps_len != axes.len() {
            return Err(format!(
                "{} starts, {} ends, {} axes and {steps_len} steps: they must be as many",
                starts.len(),
                ends.len(),
                axes.len()
            ));
        }
        let mut begin = vec![0i64; s.len()];
        let mut step = vec![1i64; s.len()];
        let mut out = s.clone();
        for (k, &a) in axes.iter().enumerate() {
            let d = s[a] as i64;
            let st = steps.as_ref().map_or(1, |x| x[k]);
            if st == 0 {
                return Err("a slice step of 0".into());
            }
            let clampv = |x: i64, lo: i64, hi: i64| x.clamp(lo, hi);
            let norm = |x: i64| if x < 0 { x + d } else { x };
            let (b, e) = if st > 0 {
                (clampv(norm(starts[k]), 0, d), clampv(norm(ends[k]), 0, d))
            } else {
                (
                    clampv(norm(starts[k]), -1, d - 1),
                    clampv(norm(ends[k]), -1, d - 1),
                )
            };
            let len = if st > 0 {
                ((e - b).max(0) + st - 1) / st
            } else {
                ((b - e).max(0) + (-st) - 1) / (-st)
            };
            begin[a] = b;
            step[a] = st;
            out[a] = len as usize;
        }
        let st = strides(&s);
        let mut picks = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, idx| {
            let off: i64 = idx
                .iter()
                .enumerate()
                .map(|(a, &i)| (begin[a] + i as i64 * step[a]) * st[a] as i64)
                .sum();
            picks.push(Pick::V(0, off as u32));
        });
        Ok(self.rewire(&[v], out, &picks))
    }

    /// `Gather` by constant indices: a rewiring.
    fn lower_gather(&mut self, node: &pb::NodeProto) -> R<Value> {
        let data = self.req(node, 0)?;
        let idx = match self.req(node, 1)? {
            Value::Const(c) => c,
            Value::Dyn(_) => {
                return Err(
                    "indices must be constant (a lookup by computed indices is not supported)"
                        .into(),
                )
            }
        };
        let s = self.shape_of(&data);
        let axis = norm_axis(attr_i(node, "axis", 0), s.len())?;
        let mut out: Vec<usize> = s[..axis].to_vec();
        out.extend(&idx.shape);
        out.extend(&s[axis + 1..]);
        let st = strides(&s);
        let ir = idx.shape.len();
        let mut picks = Vec::with_capacity(numel(&out));
        let mut bad = None;
        for_each_index(&out, |_, m| {
            let iflat: usize = {
                let ist = strides(&idx.shape);
                m[axis..axis + ir]
                    .iter()
                    .zip(&ist)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let mut j = idx.data[iflat] as i64;
            if j < 0 {
                j += s[axis] as i64;
            }
            if j < 0 || j >= s[axis] as i64 {
                bad = Some(j);
                j = 0;
            }
            let mut off = j as usize * st[axis];
            for a in 0..axis {
                off += m[a] * st[a];
            }
            for a in axis + 1..s.len() {
                off += m[a - 1 + ir] * st[a];
            }
            picks.push(Pick::V(0, off as u32));
        });
        if let Some(j) = bad {
            return Err(format!(
                "index {j} is out of range for axis size {}",
                s[axis]
            ));
        }
        Ok(self.rewire(&[data], out, &picks))
    }

    /// `Pad` (constant, edge or reflect mode; the latter two repeat the input's own elements).
    fn lower_pad(&mut self, node: &pb::NodeProto) -> R<Value> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let mode = attr_s(node, "mode", "constant");
        let (pads, value) = if self.opset < 11 {
            (
                attr_ints(node, "pads")
                    .or_else(|| attr_ints(node, "paddings"))
                    .ok_or("Pad needs pads")?,
                super::attr_f(node, "value", 0.0),
            )
        } else {
            let p = self.const_input(node, 1, "pads")?.ok_or("Pad needs pads")?;
            let val = self
                .const_input(node, 2, "the pad value")?
                .and_then(|c| c.data.first().copied())
                .unwrap_or(0.0);
            (ints(&p), val)
        };
        let r = s.len();
        let (mut pb, mut pe) = (vec![0i64; r], vec![0i64; r]);
        let axes: Vec<usize> = match self.const_input(node, 3, "axes")? {
            Some(a) => ints(&a)
                .iter()
                .map(|&x| norm_axis(x, r))
                .collect::<R<_>>()?,
            None => (0..r).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(format!("{} pads for {} axes", pads.len(), axes.len()));
        }
        for (k, &a) in axes.iter().enumerate() {
            pb[a] = pads[k];
            pe[a] = pads[k + axes.len()];
        }
        let out: Vec<usize> = (0..r)
            .map(|a| (s[a] as i64 + pb[a] + pe[a]).max(0) as usize)
            .collect();
        let st = strides(&s);
        let mut picks = Vec::with_capacity(numel(&out));
        let mut err = None;
        for_each_index(&out, |_, idx| {
            let mut off = 0i64;
            let mut pad = false;
            for a in 0..r {
                let d = s[a] as i64;
                let mut i = idx[a] as i64 - pb[a];
                if i < 0 || i >= d {
                    match mode.as_str() {
                        "reflect" => {
                            if d == 1 {
                                i = 0;
                            } else {
                                let period = 2 * (d - 1);
                                let m = i.rem_euclid(period);
                                i = if m < d { m } else { period - m };
                            }
                        }
                        "edge" => i = i.clamp(0, d - 1),
                        "wrap" => i = i.rem_euclid(d.max(1)),
                        "constant" => pad = true,
                        other => err = Some(other.to_string()),
                    }
                }
                off += i.clamp(0, (d - 1).max(0)) * st[a] as i64;
            }
            picks.push(if pad {
                Pick::C(value)
            } else {
                Pick::V(0, off as u32)
            });
        });
        if let Some(m) = err {
            return Err(format!("pad mode '{m}' is not supported"));
        }
        Ok(self.rewire(&[v], out, &picks))
    }

    /// `Tile` by constant repeats.
    fn lower_tile(&mut self, node: &pb::NodeProto) -> R<Value> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let reps = ints(
            &self
                .const_input(node, 1, "repeats")?
                .ok_or("Tile needs repeats")?,
        );
        if reps.len() != s.len() {
            return Err("repeats do not match the rank".into());
        }
        let out: Vec<usize> = s
            .iter()
            .zip(&reps)
            .map(|(&d, &r)| d * r.max(0) as usize)
            .collect();
        let st = strides(&s);
        let mut picks = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, idx| {
            let off: usize = (0..s.len()).map(|a| (idx[a] % s[a]) * st[a]).sum();
            picks.push(Pick::V(0, off as u32));
        });
        Ok(self.rewire(&[v], out, &picks))
    }

    /// `Where` with a constant condition: each element from one of the two values.
    fn lower_where(&mut self, node: &pb::NodeProto) -> R<Value> {
        let cond = match self.req(node, 0)? {
            Value::Const(c) => c,
            Value::Dyn(_) => return Err("the condition must be constant".into()),
        };
        let (a, b) = (self.req(node, 1)?, self.req(node, 2)?);
        let (sa, sb) = (self.shape_of(&a), self.shape_of(&b));
        let out = broadcast_shape(&cond.shape, &sa)
            .and_then(|s| broadcast_shape(&s, &sb))
            .ok_or("shapes do not broadcast")?;
        let ci = broadcast_index(&cond.shape, &out).ok_or("shapes do not broadcast")?;
        let ai = broadcast_index(&sa, &out).ok_or("shapes do not broadcast")?;
        let bi = broadcast_index(&sb, &out).ok_or("shapes do not broadcast")?;
        let picks: Vec<Pick> = (0..ci.len())
            .map(|k| {
                if cond.data[ci[k] as usize] != 0.0 {
                    Pick::V(0, ai[k])
                } else {
                    Pick::V(1, bi[k])
                }
            })
            .collect();
        Ok(self.rewire(&[a, b], out, &picks))
    }
}

fn norm_clamp(x: i64, rank: i64) -> usize {
    let v = if x < 0 { x + rank } else { x };
    v.clamp(0, rank) as usize
}

impl Importer {
    /// `ReverseSequence`: along `time_axis`, the first `sequence_lens[b]` elements of each
    /// batch `b` (along `batch_axis`) in reverse order, the rest as they are (tf2onnx writes a
    /// Keras recurrent layer's `go_backwards` so).
    fn reverse_sequence(&mut self, node: &pb::NodeProto) -> R<Value> {
        let v = self.req(node, 0)?;
        let s = self.shape_of(&v);
        let lens = match self.req(node, 1)? {
            Value::Const(c) => c.data,
            Value::Dyn(_) => return Err("the sequence lengths must be constants".into()),
        };
        let (ba, ta) = (
            attr_i(node, "batch_axis", 1) as usize,
            attr_i(node, "time_axis", 0) as usize,
        );
        if s.len() < 2 || ba > 1 || ta > 1 || ba == ta || lens.len() != s[ba] {
            return Err(format!(
                "batch axis {ba}, time axis {ta} and {} lengths for an input of shape {s:?}",
                lens.len()
            ));
        }
        if let Some(l) = lens
            .iter()
            .find(|&&l| l.fract() != 0.0 || l < 0.0 || l > s[ta] as f32)
        {
            return Err(format!(
                "a sequence length {l} outside 0..={} (the time axis)",
                s[ta]
            ));
        }
        let st = strides(&s);
        let mut picks = Vec::with_capacity(numel(&s));
        for_each_index(&s, |_, idx| {
            let (b, t) = (idx[ba], idx[ta]);
            let len = lens[b] as usize;
            let src = if t < len { len - 1 - t } else { t };
            let off: usize = idx
                .iter()
                .enumerate()
                .map(|(d, &i)| if d == ta { src } else { i } * st[d])
                .sum();
            picks.push(Pick::V(0, off as u32));
        });
        Ok(self.rewire(&[v], s, &picks))
    }
}

impl Importer {
    /// `Compress` by a constant condition: the slices along `axis` (of the flattened input
    /// without one) where the condition is nonzero, a rewiring. The condition may be shorter
    /// than the axis (the rest is dropped); a longer one is refused, as ONNX does.
    fn compress(&mut self, node: &pb::NodeProto) -> R<Value> {
        let v = self.req(node, 0)?;
        let cond = self
            .const_input(node, 1, "the condition")?
            .ok_or("Compress needs a condition")?;
        let s = self.shape_of(&v);
        let (v, s, axis) = match attr(node, "axis") {
            Some(a) => (v, s.clone(), norm_axis(a.i, s.len())?),
            None => {
                let flat = vec![numel(&s)];
                let picks = (0..numel(&s) as u32)
                    .map(|i| Pick::V(0, i))
                    .collect::<Vec<_>>();
                (self.rewire(&[v], flat.clone(), &picks), flat, 0)
            }
        };
        if cond.data.len() > s[axis] {
            return Err(format!(
                "a condition of {} values for an axis of {}",
                cond.data.len(),
                s[axis]
            ));
        }
        let keep: Vec<usize> = (0..cond.data.len())
            .filter(|&i| cond.data[i] != 0.0)
            .collect();
        if keep.is_empty() {
            return Err("the condition selects nothing (an empty output)".into());
        }
        let mut out = s.clone();
        out[axis] = keep.len();
        let st = strides(&s);
        let mut picks = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, idx| {
            let off: usize = (0..s.len())
                .map(|a| if a == axis { keep[idx[a]] } else { idx[a] } * st[a])
                .sum();
            picks.push(Pick::V(0, off as u32));
        });
        Ok(self.rewire(&[v], out, &picks))
    }
}
