//! Indexing by constant index tensors: `GatherND`, `ScatterElements` (and the older
//! `Scatter`) and `ScatterND`. With the indices known at import time every output element is
//! an element of the data, of the updates, or (a scatter with `reduction = add`) their sum:
//! a rewiring, or one linear map; with `max`, `min` or `mul` (torch's `scatter_reduce`: a graph
//! network's max aggregation over fixed edges) the max or product tree of each element's group.
//! `ScatterElements` with computed indices (`none` or `add`) compares every index with every
//! position along its axis (one-hot rows, as a `Gather` by a computed index does); other
//! computed indices are refused. Negative indices count from the end.

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{norm_axis, numel, strides};
use super::{attr_i, attr_s, Const, Importer, Value};

type R<T> = Result<T, String>;

/// An index along an axis of `dim` elements (negative: from the end), checked.
fn index(v: f32, dim: usize) -> R<usize> {
    let i = v as i64;
    let j = if i < 0 { i + dim as i64 } else { i };
    if v.fract() != 0.0 || j < 0 || j >= dim as i64 {
        return Err(format!("index {v} is out of range for an axis of {dim}"));
    }
    Ok(j as usize)
}

impl Importer {
    pub(crate) fn lower_scatter_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let data = self.req(node, 0)?;
        let ds = self.shape_of(&data);
        if let ("ScatterElements" | "Scatter", Value::Dyn(ii)) = (op, self.req(node, 1)?) {
            let upd = self.req(node, 2)?;
            let axis = norm_axis(attr_i(node, "axis", 0), ds.len())?;
            let r = attr_s(node, "reduction", "none");
            return self
                .scatter_elements_dyn(&r, data, ii, upd, axis)
                .map(|v| Some(vec![v]));
        }
        let idx = self
            .const_input(node, 1, "the indices")?
            .ok_or("the indices are missing")?;
        let out = match op {
            "GatherND" => self.gather_nd(node, data, &idx, &ds)?,
            "ScatterElements" | "Scatter" | "ScatterND" => {
                let upd = self.req(node, 2)?;
                let us = self.shape_of(&upd);
                let targets = if op == "ScatterND" {
                    scatter_nd_targets(&idx, &ds, &us)?
                } else {
                    let axis = norm_axis(attr_i(node, "axis", 0), ds.len())?;
                    scatter_elements_targets(&idx, &ds, &us, axis)?
                };
                self.scatter(node, data, upd, &targets)?
            }
            _ => return Ok(None),
        };
        Ok(Some(vec![out]))
    }

    /// `GatherND`: every index tuple's slice of the data; with `batch_dims = b`, the first `b`
    /// axes of the data and the indices are batch axes and each batch element's tuples index
    /// its own part of the data.
    fn gather_nd(
        &mut self,
        node: &pb::NodeProto,
        data: Value,
        idx: &Const,
        ds: &[usize],
    ) -> R<Value> {
        let b = usize::try_from(attr_i(node, "batch_dims", 0))
            .map_err(|_| "batch_dims is negative".to_string())?;
        let k = *idx.shape.last().ok_or("scalar indices")?;
        if b >= idx.shape.len() || b >= ds.len() || idx.shape[..b] != ds[..b] {
            return Err(format!(
                "batch_dims {b} does not fit indices {:?} and data {ds:?}",
                idx.shape
            ));
        }
        if k == 0 || b + k > ds.len() {
            return Err(format!(
                "index tuples of {k} for data of rank {} after {b} batch axes",
                ds.len()
            ));
        }
        let mut shape = idx.shape[..idx.shape.len() - 1].to_vec();
        shape.extend_from_slice(&ds[b + k..]);
        // The output's size is checked against the importer's budget before it is built.
        let total = numel(&shape);
        let st = strides(ds);
        let slice = numel(&ds[b + k..]);
        let per_batch = numel(&ds[b..]);
        let tuples_per_batch = numel(&idx.shape[b..idx.shape.len() - 1]);
        let mut picks = Vec::with_capacity(total);
        for (t, tuple) in idx.data.chunks(k).enumerate() {
            let mut base = t / tuples_per_batch.max(1) * per_batch;
            for (a, &v) in tuple.iter().enumerate() {
                base += index(v, ds[b + a])? * st[b + a];
            }
            picks.extend((0..slice).map(|r| Pick::V(0, (base + r) as u32)));
        }
        Ok(self.rewire(&[data], shape, &picks))
    }

    /// `data` with `updates[u]` written to (or, `reduction = add`, added at) `targets[u]`.
    fn scatter(
        &mut self,
        node: &pb::NodeProto,
        data: Value,
        upd: Value,
        targets: &[usize],
    ) -> R<Value> {
        let ds = self.shape_of(&data);
        let n = numel(&ds);
        match attr_s(node, "reduction", "none").as_str() {
            "none" => {
                let mut picks: Vec<Pick> = (0..n as u32).map(|i| Pick::V(0, i)).collect();
                for (u, &t) in targets.iter().enumerate() {
                    picks[t] = Pick::V(1, u as u32);
                }
                Ok(self.rewire(&[data, upd], ds, &picks))
            }
            "add" => {
                // y = data + Σ updates at their targets: constants into the bias.
                let mut entries: Vec<Vec<(u32, u32, f32)>> = vec![Vec::new(); n];
                let mut bias = vec![0f32; n];
                let mut inputs = Vec::new();
                for (v, pos) in [(&data, None), (&upd, Some(targets))] {
                    let at = |i: usize| pos.map_or(i, |p| p[i]);
                    match v {
                        Value::Const(c) => {
                            for (i, &x) in c.data.iter().enumerate() {
                                bias[at(i)] += x;
                            }
                        }
                        Value::Dyn(d) => {
                            let slot = inputs.len() as u32;
                            inputs.push(*d);
                            for i in 0..numel(&self.nodes[*d].shape) {
                                entries[at(i)].push((slot, i as u32, 1.0));
                            }
                        }
                    }
                }
                if inputs.is_empty() {
                    return Ok(Value::Const(Const {
                        shape: ds,
                        data: bias,
                    }));
                }
                for e in entries.iter_mut().filter(|e| e.is_empty()) {
                    e.push((0, 0, 0.0));
                }
                let bias = bias.iter().any(|&b| b != 0.0).then_some(bias);
                Ok(Value::Dyn(self.linear_entries(inputs, &entries, bias, ds)))
            }
            r @ ("max" | "min" | "mul") => self.scatter_reduce(r, data, upd, targets),
            r => Err(format!("reduction '{r}' is not supported")),
        }
    }
}

impl Importer {
    /// A scatter with `reduction = max | min | mul`: every data element reduced with the
    /// updates that land on it (ONNX applies them one by one, which is the same), by the max
    /// tree or the product tree over one tensor of the data followed by the updates.
    fn scatter_reduce(&mut self, r: &str, data: Value, upd: Value, targets: &[usize]) -> R<Value> {
        let ds = self.shape_of(&data);
        let (n, nu) = (numel(&ds), targets.len());
        let picks: Vec<Pick> = (0..n as u32)
            .map(|i| Pick::V(0, i))
            .chain((0..nu as u32).map(|u| Pick::V(1, u)))
            .collect();
        let cat = self.rewire(&[data, upd], vec![n + nu], &picks);
        let mut groups: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
        for (u, &t) in targets.iter().enumerate() {
            groups[t].push((n + u) as u32);
        }
        let ci = match cat {
            Value::Const(c) => {
                let fold = |g: &Vec<u32>| {
                    let v = g.iter().map(|&i| c.data[i as usize]);
                    match r {
                        "max" => v.fold(f32::NEG_INFINITY, f32::max),
                        "min" => v.fold(f32::INFINITY, f32::min),
                        _ => v.product(),
                    }
                };
                return Ok(Value::Const(Const {
                    shape: ds,
                    data: groups.iter().map(fold).collect(),
                }));
            }
            Value::Dyn(ci) => ci,
        };
        Ok(Value::Dyn(match r {
            "max" => self.reduce_max(ci, &groups, ds)?,
            "min" => {
                let neg = self.neg(Value::Dyn(ci))?;
                let ni = self.dyn_of(&neg, "the negated values")?;
                let m = self.reduce_max(ni, &groups, ds)?;
                return self.neg(Value::Dyn(m));
            }
            _ => self.product_groups(ci, &groups, ds)?,
        }))
    }
}

impl Importer {
    /// `ScatterElements` with computed indices (reduction `none` or `add`): every index compared
    /// with every position along the axis (the one-hot rows `Gather` uses). `add`: each data
    /// element plus `Σ_u [idx_u = its position]·upd_u` over the updates in its line. `none`:
    /// the updates applied in order, as onnxruntime and torch do (ONNX leaves duplicates
    /// undefined; the last one wins there), `y ← y + [idx_u = its position]·(upd_u − y)` for the
    /// `k`-th update of every line at step `k`. An index outside the axis hits nothing.
    fn scatter_elements_dyn(
        &mut self,
        r: &str,
        data: Value,
        idx: usize,
        upd: Value,
        axis: usize,
    ) -> R<Value> {
        use super::elementwise_ops::Bin;
        if r != "none" && r != "add" {
            return Err(format!(
                "reduction '{r}' with computed indices is not supported (constant indices: any)"
            ));
        }
        let ds = self.shape_of(&data);
        let us = self.nodes[idx].shape.clone();
        if self.shape_of(&upd) != us || us.len() != ds.len() {
            return Err(format!(
                "indices {us:?} and updates {:?} must share a shape of the data's rank {}",
                self.shape_of(&upd),
                ds.len()
            ));
        }
        if us
            .iter()
            .zip(&ds)
            .enumerate()
            .any(|(a, (u, d))| a != axis && u > d)
        {
            return Err(format!("updates {us:?} are larger than the data {ds:?}"));
        }
        let dim = ds[axis];
        let nu = numel(&us);
        if nu.saturating_mul(dim) > super::MAX_ONE_HOT {
            return Err(format!(
                "a scatter of {nu} computed indices into {dim} positions is larger than zkonnx \
                 proves ({} comparisons)",
                super::MAX_ONE_HOT
            ));
        }
        let n = numel(&ds);
        // `none` applies the updates in `us[axis]` steps over the whole data.
        if r == "none" && us[axis].saturating_mul(n) > super::tensor::MAX_ELEMENTS {
            return Err(format!(
                "a scatter of {} updates per line into {n} elements is over the importer's \
                 budget of {} terms",
                us[axis],
                super::tensor::MAX_ELEMENTS
            ));
        }
        let rows = self.one_hot_rows(idx, dim)?; // [nu, dim]
        let (ust, dst) = (strides(&us), strides(&ds));
        // Update u's line in the data: its offset there, and its step (coordinate on the axis).
        let line = |u: usize| -> (usize, usize) {
            let mut base = 0;
            for a in 0..us.len() {
                if a != axis {
                    base += (u / ust[a]) % us[a] * dst[a];
                }
            }
            (base, (u / ust[axis]) % us[axis])
        };
        let steps = if r == "add" { 1 } else { us[axis] };
        let mut acc = data;
        let mut sum: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        for k in 0..steps {
            let mut pe = vec![Pick::C(0.0); n];
            let mut pu = vec![Pick::C(0.0); n];
            for u in 0..nu {
                let (base, step) = line(u);
                for v in 0..dim {
                    let p = base + v * dst[axis];
                    if r == "add" {
                        sum[p].push(((u * dim + v) as u32, u as u32));
                    } else if step == k {
                        pe[p] = Pick::V(0, (u * dim + v) as u32);
                        pu[p] = Pick::V(0, u as u32);
                    }
                }
            }
            if r == "add" {
                break;
            }
            let eq = self.rewire(&[Value::Dyn(rows)], ds.clone(), &pe);
            let up = self.rewire(std::slice::from_ref(&upd), ds.clone(), &pu);
            let diff = self.binary(Bin::Sub, up, acc.clone())?;
            let change = self.binary(Bin::Mul, eq, diff)?;
            acc = self.binary(Bin::Add, acc, change)?;
        }
        if r == "none" {
            return Ok(acc);
        }
        let contrib = match &upd {
            Value::Const(c) => {
                let w: Vec<Vec<(u32, u32, f32)>> = sum
                    .iter()
                    .map(|l| match l.as_slice() {
                        [] => vec![(0, 0, 0.0)],
                        l => l.iter().map(|&(e, u)| (0, e, c.data[u as usize])).collect(),
                    })
                    .collect();
                self.linear_entries(vec![rows], &w, None, ds.clone())
            }
            Value::Dyn(d) => self.emit(
                crate::ir::Op::Bilinear {
                    terms: sum,
                    scale: 1.0,
                },
                vec![rows, *d],
                ds.clone(),
            ),
        };
        self.binary(Bin::Add, acc, Value::Dyn(contrib))
    }
}

/// Flat targets in the data of every update element of `ScatterElements` along `axis`.
fn scatter_elements_targets(idx: &Const, ds: &[usize], us: &[usize], axis: usize) -> R<Vec<usize>> {
    if idx.shape != us || us.len() != ds.len() {
        return Err(format!(
            "indices {:?} and updates {us:?} must share a shape of the data's rank {}",
            idx.shape,
            ds.len()
        ));
    }
    let (ust, dst) = (strides(us), strides(ds));
    (0..idx.data.len())
        .map(|u| {
            let mut t = 0;
            for a in 0..us.len() {
                let c = (u / ust[a]) % us[a];
                let c = if a == axis {
                    index(idx.data[u], ds[a])?
                } else {
                    c
                };
                if c >= ds[a] {
                    return Err(format!("update position {c} past the data's axis {a}"));
                }
                t += c * dst[a];
            }
            Ok(t)
        })
        .collect()
}

/// Flat targets of every update element of `ScatterND`.
fn scatter_nd_targets(idx: &Const, ds: &[usize], us: &[usize]) -> R<Vec<usize>> {
    let k = *idx.shape.last().ok_or("scalar indices")?;
    if k == 0 || k > ds.len() {
        return Err(format!("index tuples of {k} for data of rank {}", ds.len()));
    }
    let mut want = idx.shape[..idx.shape.len() - 1].to_vec();
    want.extend_from_slice(&ds[k..]);
    if us != want.as_slice() {
        return Err(format!("updates of shape {us:?} where {want:?} is needed"));
    }
    let st = strides(ds);
    let slice = numel(&ds[k..]);
    let mut targets = Vec::with_capacity(numel(us));
    for tuple in idx.data.chunks(k) {
        let mut base = 0;
        for (a, &v) in tuple.iter().enumerate() {
            base += index(v, ds[a])? * st[a];
        }
        targets.extend((0..slice).map(|r| base + r));
    }
    Ok(targets)
}
