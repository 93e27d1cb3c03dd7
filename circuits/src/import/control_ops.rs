//! Control flow over static shapes: `Scan` unrolled along its scan axis, `Loop` unrolled when
//! its trip count and condition are known at import time, and `If` (a constant condition
//! takes its branch; a computed one proves both branches and selects).
//!
//! A body is a subgraph lowered like the main graph, once per iteration: its inputs,
//! initializers and node outputs are bound in a scope dropped after the iteration, and it may
//! read the enclosing graph's values by name. The number of body nodes lowered by one node is
//! bounded ([`MAX_UNROLLED`]) before anything is built, so a hostile trip count is an error.

use tract_onnx::pb;

use super::build::{scalar, Pick};
use super::tensor::{norm_axis, numel};
use super::{attr, attr_i, attr_ints, load_const, registry, Const, Importer, Value};

type R<T> = Result<T, String>;

/// Largest number of body-node lowerings one control-flow node, and the whole model, may
/// unroll to.
pub(crate) const MAX_UNROLLED: usize = 1 << 17;

fn graph_attr<'a>(node: &'a pb::NodeProto, name: &str) -> R<&'a pb::GraphProto> {
    attr(node, name)
        .and_then(|a| a.g.as_ref())
        .ok_or_else(|| format!("the '{name}' subgraph is missing"))
}

/// A body's initializers, loaded once for every iteration.
fn body_consts(body: &pb::GraphProto) -> R<Vec<(String, Const)>> {
    body.initializer
        .iter()
        .map(|t| {
            load_const(t)
                .map(|c| (t.name.clone(), c))
                .map_err(|e| format!("body initializer '{}': {e}", t.name))
        })
        .collect()
}

/// A body's operators the importer does not know, named at once.
fn check_known(body: &pb::GraphProto) -> R<()> {
    let unknown: Vec<&str> = body
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .filter(|op| !registry::is_known(op))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "its body uses operators zkonnx does not support: {}",
            unknown.join(", ")
        ))
    }
}

fn check_budget(iterations: usize, body: &pb::GraphProto) -> R<()> {
    match iterations.checked_mul(body.node.len().max(1)) {
        Some(n) if n <= MAX_UNROLLED => Ok(()),
        _ => Err(format!(
            "unrolling {iterations} iterations of a {}-node body is over the importer's budget \
             of {MAX_UNROLLED} node lowerings",
            body.node.len()
        )),
    }
}

/// The constant scalar of a value, if it is one.
fn const_scalar(v: &Value) -> Option<f32> {
    match v {
        Value::Const(c) if c.data.len() == 1 => Some(c.data[0]),
        _ => None,
    }
}

impl Importer {
    pub(crate) fn lower_control_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        Ok(Some(match op {
            "Scan" => self.scan(node)?,
            "Loop" => self.unroll_loop(node)?,
            "If" => self.if_then_else(node)?,
            _ => return Ok(None),
        }))
    }

    /// Lowers `body` once with its inputs bound to `args`; returns its outputs. Every name
    /// the body binds is restored afterwards (an outer value it shadowed comes back).
    fn run_body(
        &mut self,
        body: &pb::GraphProto,
        consts: &[(String, Const)],
        args: &[Value],
        label: &str,
    ) -> R<Vec<Value>> {
        if body.input.len() != args.len() {
            return Err(format!(
                "the body declares {} inputs where {} are given",
                body.input.len(),
                args.len()
            ));
        }
        let (outer_name, outer_op) = (self.cur_name.clone(), self.cur_op.clone());
        let mut saved: Vec<(String, Option<Value>)> = Vec::new();
        let result = self.run_body_scoped(body, consts, args, label, &outer_name, &mut saved);
        for (name, prev) in saved.into_iter().rev() {
            match prev {
                Some(v) => self.values.insert(name, v),
                None => self.values.remove(&name),
            };
        }
        self.cur_name = outer_name;
        self.cur_op = outer_op;
        result
    }

    fn run_body_scoped(
        &mut self,
        body: &pb::GraphProto,
        consts: &[(String, Const)],
        args: &[Value],
        label: &str,
        outer: &str,
        saved: &mut Vec<(String, Option<Value>)>,
    ) -> R<Vec<Value>> {
        let mut bind = |imp: &mut Self, name: &str, v: Value| {
            let prev = imp.values.insert(name.to_string(), v);
            saved.push((name.to_string(), prev));
        };
        for (name, c) in consts {
            bind(self, name, Value::Const(c.clone()));
        }
        for (vi, a) in body.input.iter().zip(args) {
            bind(self, &vi.name, a.clone());
        }
        for (i, n) in body.node.iter().enumerate() {
            self.unrolled += 1;
            if self.unrolled > MAX_UNROLLED {
                return Err(format!(
                    "{label}: control flow unrolls to more than {MAX_UNROLLED} node lowerings \
                     in this model (nested bodies multiply)"
                ));
            }
            let name = if n.name.is_empty() {
                format!("#{i}")
            } else {
                n.name.clone()
            };
            self.cur_name = format!("{outer}/{label}/{name}");
            self.cur_op = n.op_type.clone();
            let outs = registry::lower(self, n)
                .map_err(|e| format!("{label}, body node '{name}' ({}): {e}", n.op_type))?;
            for (out, v) in n.output.iter().zip(outs) {
                if !out.is_empty() {
                    bind(self, out, v);
                }
            }
        }
        body.output
            .iter()
            .map(|o| {
                self.get(&o.name)
                    .cloned()
                    .map_err(|_| format!("{label}: body output '{}' is not produced", o.name))
            })
            .collect()
    }

    /// Element `i` along `axis` (the axis removed).
    fn take_along(&mut self, v: &Value, axis: usize, i: usize) -> Value {
        let s = self.shape_of(v);
        let outer = numel(&s[..axis]);
        let inner = numel(&s[axis + 1..]);
        let d = s[axis];
        let mut picks = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for r in 0..inner {
                picks.push(Pick::V(0, ((o * d + i) * inner + r) as u32));
            }
        }
        let mut shape = s;
        shape.remove(axis);
        self.rewire(std::slice::from_ref(v), shape, &picks)
    }

    /// The values stacked along a new `axis` (they must share a shape).
    fn stack(&mut self, vals: &[Value], axis: i64) -> R<Value> {
        let s = self.shape_of(&vals[0]);
        if let Some(other) = vals.iter().map(|v| self.shape_of(v)).find(|o| *o != s) {
            return Err(format!(
                "scan outputs change shape between iterations ({s:?} then {other:?})"
            ));
        }
        let axis = norm_axis(axis, s.len() + 1)?;
        let outer = numel(&s[..axis]);
        let inner = numel(&s[axis..]);
        let t = vals.len();
        let mut picks = Vec::with_capacity(outer * t * inner);
        for o in 0..outer {
            for (k, _) in vals.iter().enumerate() {
                for r in 0..inner {
                    picks.push(Pick::V(k, (o * inner + r) as u32));
                }
            }
        }
        let mut shape = s;
        shape.insert(axis, t);
        Ok(self.rewire(vals, shape, &picks))
    }

    /// `Scan` (opset ≥ 9): state variables carried through the body, scan inputs sliced along
    /// their axes, scan outputs stacked.
    fn scan(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        if self.opset < 9 {
            return Err(
                "Scan before opset 9 (a batch axis and sequence lengths) is not supported; \
                 re-export with opset 9 or later"
                    .into(),
            );
        }
        let body = graph_attr(node, "body")?;
        check_known(body)?;
        let n_in = node.input.len();
        let m = attr_i(node, "num_scan_inputs", 0);
        if m < 1 || m as usize > n_in {
            return Err(format!("num_scan_inputs = {m} for {n_in} inputs"));
        }
        let m = m as usize;
        let n = n_in - m;
        if body.output.len() < n {
            return Err(format!(
                "the body has {} outputs for {n} state variables",
                body.output.len()
            ));
        }
        let k = body.output.len() - n;
        if node.output.len() > n + k {
            return Err(format!(
                "{} outputs where the body gives {}",
                node.output.len(),
                n + k
            ));
        }
        let ints = |name: &str, len: usize| -> R<Vec<i64>> {
            let v = attr_ints(node, name).unwrap_or_else(|| vec![0; len]);
            if v.len() == len {
                Ok(v)
            } else {
                Err(format!("{name} has {} entries for {len}", v.len()))
            }
        };
        let (in_axes, in_dirs) = (
            ints("scan_input_axes", m)?,
            ints("scan_input_directions", m)?,
        );
        let (out_axes, out_dirs) = (
            ints("scan_output_axes", k)?,
            ints("scan_output_directions", k)?,
        );
        let mut state = (0..n).map(|i| self.req(node, i)).collect::<R<Vec<_>>>()?;
        let scans = (n..n_in)
            .map(|i| self.req(node, i))
            .collect::<R<Vec<_>>>()?;
        let mut len = None;
        let mut axes = Vec::with_capacity(m);
        for (s, &a) in scans.iter().zip(&in_axes) {
            let shape = self.shape_of(s);
            let axis = norm_axis(a, shape.len())?;
            match len {
                Some(l) if l != shape[axis] => {
                    return Err(format!(
                        "scan inputs of different lengths ({l} and {})",
                        shape[axis]
                    ))
                }
                _ => len = Some(shape[axis]),
            }
            axes.push(axis);
        }
        let t_len = len.unwrap_or(0);
        if t_len == 0 {
            return Err("a scan of length 0 (its outputs would be empty)".into());
        }
        check_budget(t_len, body)?;
        let consts = body_consts(body)?;
        let mut per_iter: Vec<Vec<Value>> = vec![Vec::with_capacity(t_len); k];
        for t in 0..t_len {
            let mut args = state.clone();
            for (j, s) in scans.iter().enumerate() {
                let i = if in_dirs[j] != 0 { t_len - 1 - t } else { t };
                args.push(self.take_along(s, axes[j], i));
            }
            let mut res = self.run_body(body, &consts, &args, &format!("iteration {t}"))?;
            let outs = res.split_off(n);
            state = res;
            for (acc, v) in per_iter.iter_mut().zip(outs) {
                acc.push(v);
            }
        }
        let mut result = state;
        for (j, mut vals) in per_iter.into_iter().enumerate() {
            if out_dirs[j] != 0 {
                vals.reverse();
            }
            result.push(self.stack(&vals, out_axes[j])?);
        }
        result.truncate(node.output.len());
        Ok(result)
    }

    /// `Loop` with a constant trip count (or a condition that turns false at import time):
    /// each iteration's condition must be a constant, loop-carried values are threaded, scan
    /// outputs stacked along a new first axis.
    fn unroll_loop(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let body = graph_attr(node, "body")?;
        check_known(body)?;
        let trips = match self.input(node, 0)? {
            None => None,
            Some(v) => Some(const_scalar(&v).ok_or(
                "the trip count depends on the input (only loops of a known length unroll)",
            )?),
        };
        let mut cond = match self.input(node, 1)? {
            None => true,
            Some(v) => const_scalar(&v).ok_or("the loop condition depends on the input")? != 0.0,
        };
        let n = node.input.len().saturating_sub(2);
        if body.input.len() != n + 2 || body.output.len() < n + 1 {
            return Err(format!(
                "the body has {} inputs and {} outputs for {n} loop-carried values",
                body.input.len(),
                body.output.len()
            ));
        }
        let k = body.output.len() - 1 - n;
        let limit = match trips {
            Some(t) if t.is_nan() || t < 0.0 => return Err(format!("a trip count of {t}")),
            Some(t) => {
                let t = t.min(MAX_UNROLLED as f32 + 1.0) as usize;
                check_budget(t, body)?;
                t
            }
            None => usize::MAX,
        };
        let consts = body_consts(body)?;
        let mut carried = (2..n + 2)
            .map(|i| self.req(node, i))
            .collect::<R<Vec<_>>>()?;
        let mut per_iter: Vec<Vec<Value>> = vec![Vec::new(); k];
        let mut t = 0;
        while cond && t < limit {
            check_budget(t + 1, body)?;
            let mut args = vec![scalar(t as f32), scalar(1.0)];
            args.extend(carried.iter().cloned());
            let mut res = self.run_body(body, &consts, &args, &format!("iteration {t}"))?;
            cond = const_scalar(&res[0])
                .ok_or("the loop condition computed by the body depends on the input")?
                != 0.0;
            let outs = res.split_off(n + 1);
            carried = res.split_off(1);
            for (acc, v) in per_iter.iter_mut().zip(outs) {
                acc.push(v);
            }
            t += 1;
        }
        let mut result = carried;
        for vals in per_iter {
            if vals.is_empty() {
                return Err("a loop that runs no iteration has empty scan outputs".into());
            }
            result.push(self.stack(&vals, 0)?);
        }
        result.truncate(node.output.len());
        Ok(result)
    }

    /// `If`: a constant condition lowers its branch only; a computed one lowers both and
    /// selects elementwise (`else + c·(then − else)`), which needs outputs of equal shapes.
    fn if_then_else(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let c = self.req(node, 0)?;
        let then_g = graph_attr(node, "then_branch")?;
        let else_g = graph_attr(node, "else_branch")?;
        let run = |imp: &mut Self, g: &pb::GraphProto, label: &str| -> R<Vec<Value>> {
            check_known(g)?;
            let consts = body_consts(g)?;
            imp.run_body(g, &consts, &[], label)
        };
        if let Some(x) = const_scalar(&c) {
            return if x != 0.0 {
                run(self, then_g, "then")
            } else {
                run(self, else_g, "else")
            };
        }
        if numel(&self.shape_of(&c)) != 1 {
            return Err("the condition must hold one element".into());
        }
        let a = run(self, then_g, "then")?;
        let b = run(self, else_g, "else")?;
        if a.len() != b.len() {
            return Err(format!(
                "the branches give {} and {} outputs",
                a.len(),
                b.len()
            ));
        }
        let mut out = Vec::with_capacity(a.len());
        for (x, y) in a.into_iter().zip(b) {
            let (sx, sy) = (self.shape_of(&x), self.shape_of(&y));
            if sx != sy {
                return Err(format!(
                    "a computed condition selects between branch outputs of shapes {sx:?} and \
                     {sy:?}; they must be equal"
                ));
            }
            out.push(self.select(c.clone(), x, y)?);
        }
        Ok(out)
    }
}
