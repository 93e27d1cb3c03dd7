//! Elementwise arithmetic and activations.

use tract_onnx::pb;

use super::build::{iota, Pick};
use super::logic_ops::is_int_type;
use super::tensor::{broadcast_index, broadcast_shape, numel};
use super::{attr, attr_f, attr_s, mask, Const, Importer, Value};
use crate::ir::{Func, Op, Ref, Trig};

type R<T> = Result<T, String>;

/// Most distinct values a constant exponent tensor may hold (each is a power of the whole
/// input).
const MAX_DISTINCT_EXPONENTS: usize = 8;

/// A binary elementwise operator.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl Bin {
    fn eval(self, a: f32, b: f32) -> f32 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Max => a.max(b),
            Bin::Min => a.min(b),
        }
    }
}

impl Importer {
    pub(crate) fn lower_elementwise_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let bin = match op {
            "Add" | "Sum" => Some(Bin::Add),
            "Sub" => Some(Bin::Sub),
            "Mul" => Some(Bin::Mul),
            "Div" => Some(Bin::Div),
            "Max" => Some(Bin::Max),
            "Min" => Some(Bin::Min),
            _ => None,
        };
        if let Some(b) = bin {
            return self.lower_binary(node, b).map(|v| Some(vec![v]));
        }
        if op == "Mean" {
            return self.lower_mean(node).map(|v| Some(vec![v]));
        }
        if op == "Pow" {
            if let Some(v) = self.pow_of_constants_or_by_exp(node)? {
                return Ok(Some(vec![v]));
            }
        }
        if let ("ThresholdedRelu" | "Shrink", Value::Dyn(xi)) = (op, self.req(node, 0)?) {
            // Discontinuous: exact comparisons and products, not a table whose entries (or
            // knots) straddle the jump.
            return self.thresholded(node, op, xi).map(|v| Some(vec![v]));
        }
        let x = match op {
            "Pow" | "Sqrt" | "Reciprocal" | "Relu" | "Sigmoid" | "Tanh" | "Exp" | "Log" | "Erf"
            | "Gelu" | "Softplus" | "Softsign" | "Elu" | "Selu" | "LeakyRelu" | "PRelu"
            | "Clip" | "Abs" | "Neg" | "HardSigmoid" | "Celu" | "HardSwish" | "Mish"
            | "ThresholdedRelu" | "Shrink" => self.req(node, 0)?,
            t if Trig::from_onnx(t).is_some() => self.req(node, 0)?,
            _ => return Ok(None),
        };
        let func = table_function(node, op);
        let xi = match &x {
            Value::Const(c) => {
                // Constant folding through the same float semantics.
                let f = |v: f32| -> Option<f32> {
                    Some(match op {
                        "Relu" => v.max(0.0),
                        "Neg" => -v,
                        "Abs" => v.abs(),
                        "Sqrt" => v.sqrt(),
                        "Reciprocal" => 1.0 / v,
                        _ => func.as_ref()?.eval(f64::from(v)) as f32,
                    })
                };
                let data: Option<Vec<f32>> = c.data.iter().map(|&v| f(v)).collect();
                return match data {
                    Some(data) => Ok(Some(vec![Value::Const(Const {
                        shape: c.shape.clone(),
                        data,
                    })])),
                    None => Err("this operator on constants is not supported".into()),
                };
            }
            Value::Dyn(i) => *i,
        };
        let shape = self.nodes[xi].shape.clone();
        let n = numel(&shape);
        let id = iota(n);
        if let Some(f) = func {
            return Ok(Some(vec![Value::Dyn(self.func(xi, f))]));
        }
        let y = match op {
            "Relu" => self.relu(xi),
            "Neg" => self.affine(xi, vec![-1.0; n], vec![0.0; n]),
            "Abs" => {
                let neg = self.affine(xi, vec![-1.0; n], vec![0.0; n]);
                let r = self.relu(neg);
                self.combine(&[(xi, &id, 1.0), (r, &id, 2.0)], shape)
            }
            "Sqrt" => self.pow_const(xi, 0.5),
            "Reciprocal" => self.reciprocal(xi),
            "LeakyRelu" => {
                let a = attr_f(node, "alpha", 0.01);
                let r = self.relu(xi);
                self.combine(&[(xi, &id, a), (r, &id, 1.0 - a)], shape)
            }
            "PRelu" => self.lower_prelu(node, xi)?,
            "HardSigmoid" => {
                let (a, b) = (attr_f(node, "alpha", 0.2), attr_f(node, "beta", 0.5));
                let z = self.affine(xi, vec![a; n], vec![b; n]);
                self.clip(z, Some(0.0), Some(1.0))
            }
            "Clip" => {
                let bound = |i: usize, name: &str, s: &Self| -> R<Option<f32>> {
                    if s.opset < 11 {
                        return Ok(attr(node, name).map(|a| a.f));
                    }
                    Ok(s.const_input(node, i, name)?
                        .and_then(|c| c.data.first().copied()))
                };
                let (lo, hi) = (bound(1, "min", self)?, bound(2, "max", self)?);
                self.clip(xi, lo, hi)
            }
            "Pow" => {
                let Value::Const(e) = self.req(node, 1)? else {
                    return Err("the exponent must be a constant".into());
                };
                match e.data.as_slice() {
                    [p] => self.pow_const(xi, *p),
                    [p, rest @ ..] if rest.iter().all(|q| q == p) => self.pow_const(xi, *p),
                    _ => return self.powers(xi, e).map(|v| Some(vec![v])),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(vec![Value::Dyn(y)]))
    }

    /// `Add`, `Sum`, `Sub`, `Mul`, `Div`, `Max` and `Min` (`b`) of all inputs, left to right; an
    /// integer `Div` truncates toward zero.
    fn lower_binary(&mut self, node: &pb::NodeProto, b: Bin) -> R<Value> {
        if b == Bin::Mul {
            if let Some(t) = self.sign_times_magnitude(node) {
                return Ok(self.get(&t)?.clone());
            }
        }
        let vals: Vec<Value> = (0..node.input.len())
            .filter_map(|i| self.input(node, i).transpose())
            .collect::<R<_>>()?;
        let mut it = vals.into_iter();
        let mut acc = it.next().ok_or("no inputs")?;
        for v in it {
            acc = self.binary(b, acc, v)?;
        }
        if b == Bin::Div
            && self
                .output_dtype(node)
                .is_some_and(|t| is_int_type(t.into()))
        {
            // Integer division truncates toward zero (C's, and onnxruntime's).
            acc = match acc {
                Value::Const(c) => Value::Const(Const {
                    shape: c.shape,
                    data: c.data.iter().map(|v| v.trunc()).collect(),
                }),
                d => self.trunc(d)?,
            };
        }
        Ok(acc)
    }

    /// `Mean` of all inputs: their sum times `1/n`.
    fn lower_mean(&mut self, node: &pb::NodeProto) -> R<Value> {
        let n = node.input.len();
        let mut acc = self.req(node, 0)?;
        for i in 1..n {
            let v = self.req(node, i)?;
            acc = self.binary(Bin::Add, acc, v)?;
        }
        let c = Value::Const(Const {
            shape: vec![],
            data: vec![1.0 / n as f32],
        });
        self.binary(Bin::Mul, acc, c)
    }

    /// `Pow` of two constants (folded), of a constant positive base to a computed exponent
    /// (`e^(x·ln a)`) or of two computed tensors (`e^(y·ln x)`); `None` for a computed base to a
    /// constant exponent.
    fn pow_of_constants_or_by_exp(&mut self, node: &pb::NodeProto) -> R<Option<Value>> {
        if let (Value::Const(b), Value::Const(e)) = (self.req(node, 0)?, self.req(node, 1)?) {
            // Both constant (torch writes `2 ** k` of a bit shift so): folded, broadcast.
            use super::tensor::{broadcast_index, broadcast_shape};
            let shape = broadcast_shape(&b.shape, &e.shape).ok_or_else(|| {
                format!("shapes {:?} and {:?} do not broadcast", b.shape, e.shape)
            })?;
            let (ib, ie) = broadcast_index(&b.shape, &shape)
                .zip(broadcast_index(&e.shape, &shape))
                .ok_or("the operands do not broadcast")?;
            let data = ib
                .iter()
                .zip(&ie)
                .map(|(&i, &j)| b.data[i as usize].powf(e.data[j as usize]))
                .collect();
            return Ok(Some(Value::Const(Const { shape, data })));
        }
        if let (Value::Const(base), Value::Dyn(e)) = (self.req(node, 0)?, self.req(node, 1)?) {
            // a^x = e^(x·ln a) for a constant positive scalar base.
            let a = match base.data.as_slice() {
                [a] if *a > 0.0 => *a,
                _ => return Err("a computed exponent needs a positive scalar base".into()),
            };
            let n = numel(&self.nodes[e].shape);
            let t = self.affine(e, vec![a.ln(); n], vec![0.0; n]);
            return Ok(Some(Value::Dyn(self.func(t, Func::Exp))));
        }
        if let (Value::Dyn(b), Value::Dyn(e)) = (self.req(node, 0)?, self.req(node, 1)?) {
            // x^y = e^(y·ln x) for a positive computed base.
            let lb = self.func(b, Func::Log);
            let prod = self.binary(Bin::Mul, Value::Dyn(e), Value::Dyn(lb))?;
            let pi = self.dyn_of(&prod, "the product")?;
            return Ok(Some(Value::Dyn(self.func(pi, Func::Exp))));
        }
        Ok(None)
    }

    /// `PRelu` of node `xi` by a constant slope broadcast to its shape (one per channel before
    /// opset 7): `relu(x) + slope·(x − relu(x))`.
    fn lower_prelu(&mut self, node: &pb::NodeProto, xi: usize) -> R<usize> {
        let shape = self.nodes[xi].shape.clone();
        let n = numel(&shape);
        let id = iota(n);
        let slope = match self.req(node, 1)? {
            Value::Const(c) => c,
            Value::Dyn(_) => return Err("the slope must be constant".into()),
        };
        // Before opset 7 a 1-D slope of one value per channel applies to axis 1.
        let mut slope = slope;
        if self.opset < 7 && slope.shape.len() == 1 && shape.len() > 2 && slope.shape[0] == shape[1]
        {
            slope.shape = std::iter::once(shape[1])
                .chain(std::iter::repeat_n(1, shape.len() - 2))
                .collect();
        }
        let map = broadcast_index(&slope.shape, &shape).ok_or_else(|| {
            format!(
                "slope of shape {:?} does not broadcast to {shape:?}",
                slope.shape
            )
        })?;
        let r = self.relu(xi);
        let neg = self.combine(&[(xi, &id, 1.0), (r, &id, -1.0)], shape.clone());
        let t = self.affine(
            neg,
            map.iter().map(|&i| slope.data[i as usize]).collect(),
            vec![0.0; n],
        );
        Ok(self.combine(&[(r, &id, 1.0), (t, &id, 1.0)], shape))
    }

    /// `x^p` for a constant `p`: products for 2 and 3, a square root, a reciprocal, or a
    /// table.
    fn pow_const(&mut self, xi: usize, p: f32) -> usize {
        let shape = self.nodes[xi].shape.clone();
        match p {
            1.0 => xi,
            2.0 => self.square(xi),
            3.0 => {
                let sq = self.square(xi);
                let terms = (0..numel(&shape) as u32).map(|i| vec![(i, i)]).collect();
                self.emit(Op::Bilinear { terms, scale: 1.0 }, vec![sq, xi], shape)
            }
            0.5 => {
                self.widen_radicand(xi);
                self.emit(Op::Sqrt, vec![xi], shape)
            }
            -1.0 => self.reciprocal(xi),
            // Whole powers by products (squarings): exact where a table over x^p's range
            // would be coarse at its small values.
            p if p.fract() == 0.0 && (4.0..=8.0).contains(&p) => {
                let n = numel(&shape) as u32;
                let mul = |imp: &mut Self, a: usize, b: usize| {
                    let terms = (0..n).map(|i| vec![(i, i)]).collect();
                    imp.emit(
                        Op::Bilinear { terms, scale: 1.0 },
                        vec![a, b],
                        shape.clone(),
                    )
                };
                let (mut acc, mut base, mut e) = (None, xi, p as u32);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = Some(match acc {
                            None => base,
                            Some(a) => mul(self, a, base),
                        });
                    }
                    e >>= 1;
                    if e > 0 {
                        base = mul(self, base, base);
                    }
                }
                acc.unwrap_or(xi)
            }
            p => self.func(xi, Func::Pow { p }),
        }
    }

    /// `x^e` for a constant exponent tensor of a few distinct values (broadcast with `x`):
    /// each distinct power of the broadcast input, every element picked from its own.
    fn powers(&mut self, xi: usize, e: Const) -> R<Value> {
        let sx = self.nodes[xi].shape.clone();
        let out = broadcast_shape(&sx, &e.shape)
            .ok_or_else(|| format!("shapes {sx:?} and {:?} do not broadcast", e.shape))?;
        let ie = broadcast_index(&e.shape, &out).ok_or("shapes do not broadcast")?;
        let mut distinct: Vec<f32> = Vec::new();
        for &i in &ie {
            let p = e.data[i as usize];
            if !distinct.contains(&p) {
                distinct.push(p);
            }
        }
        if distinct.len() > MAX_DISTINCT_EXPONENTS {
            return Err(format!(
                "an exponent tensor of {} distinct values (at most {MAX_DISTINCT_EXPONENTS})",
                distinct.len()
            ));
        }
        let xb = self.broadcast_to(Value::Dyn(xi), &out)?;
        let xb = self.dyn_of(&xb, "the base")?;
        let vals: Vec<Value> = distinct
            .iter()
            .map(|&p| Value::Dyn(self.pow_const(xb, p)))
            .collect();
        let picks: Vec<Pick> = ie
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let d = distinct
                    .iter()
                    .position(|&p| p == e.data[i as usize])
                    .unwrap_or(0);
                Pick::V(d, k as u32)
            })
            .collect();
        Ok(self.rewire(&vals, out, &picks))
    }

    fn square(&mut self, x: usize) -> usize {
        let shape = self.nodes[x].shape.clone();
        let terms = (0..numel(&shape) as u32).map(|i| vec![(i, i)]).collect();
        self.emit(Op::Bilinear { terms, scale: 1.0 }, vec![x, x], shape)
    }

    pub(crate) fn reciprocal(&mut self, x: usize) -> usize {
        let shape = self.nodes[x].shape.clone();
        let n = numel(&shape);
        self.emit(
            Op::Div {
                num: vec![Ref::Const(1.0); n],
                den: (0..n as u32).map(|i| Ref::In(0, i)).collect(),
            },
            vec![x],
            shape,
        )
    }

    /// `ThresholdedRelu`: `x·[x > α]`; `Shrink`: `(x − b)·[x > λ] + (x + b)·[x < −λ]`.
    fn thresholded(&mut self, node: &pb::NodeProto, op: &str, xi: usize) -> R<Value> {
        let x = Value::Dyn(xi);
        if op == "ThresholdedRelu" {
            let on = self.step_shifted(x.clone(), -attr_f(node, "alpha", 1.0))?;
            return self.binary(Bin::Mul, x, on);
        }
        let (lambd, bias) = (attr_f(node, "lambd", 0.5), attr_f(node, "bias", 0.0));
        let above = self.step_shifted(x.clone(), -lambd)?;
        let neg = self.neg(x.clone())?;
        let below = self.step_shifted(neg, -lambd)?;
        let hi = self.add_const(x.clone(), -bias)?;
        let lo = self.add_const(x, bias)?;
        let a = self.binary(Bin::Mul, hi, above)?;
        let b = self.binary(Bin::Mul, lo, below)?;
        self.binary(Bin::Add, a, b)
    }

    /// `min(max(x, lo), hi)`: with both bounds (`lo < hi`) `lo + clamp(x − lo, hi − lo)`
    /// ([`Op::Clamp`]); with one, or `hi ≤ lo`, by ReLUs: `lo + relu(x − lo)`, then
    /// `hi − relu(hi − ·)`.
    pub(crate) fn clip(&mut self, x: usize, lo: Option<f32>, hi: Option<f32>) -> usize {
        let n = numel(&self.nodes[x].shape);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            // Both bounds: one clamp of `x − lo` to `[0, hi − lo]`, shifted back.
            if hi > lo && (hi - lo).is_finite() {
                let d = if lo == 0.0 {
                    x
                } else {
                    self.affine(x, vec![1.0; n], vec![-lo; n])
                };
                let c = self.clamp(d, hi - lo);
                return if lo == 0.0 {
                    c
                } else {
                    self.affine(c, vec![1.0; n], vec![lo; n])
                };
            }
        }
        let mut y = x;
        let mut offset = 0.0; // y + offset is the running value
        if let Some(lo) = lo {
            let d = self.affine(y, vec![1.0; n], vec![-lo; n]);
            y = self.relu(d);
            offset = lo;
        }
        if let Some(hi) = hi {
            let d = self.affine(y, vec![-1.0; n], vec![hi - offset; n]);
            let r = self.relu(d);
            return self.affine(r, vec![-1.0; n], vec![hi; n]);
        }
        if offset != 0.0 || y == x {
            return self.affine(y, vec![1.0; n], vec![offset; n]);
        }
        y
    }

    /// Broadcast `v` to `shape` (a rewiring when it grows).
    fn broadcast_to(&mut self, v: Value, shape: &[usize]) -> R<Value> {
        let s = self.shape_of(&v);
        if s == shape {
            return Ok(v);
        }
        let map = broadcast_index(&s, shape).ok_or("shapes do not broadcast")?;
        let picks: Vec<Pick> = map.iter().map(|&i| Pick::V(0, i)).collect();
        Ok(self.rewire(&[v], shape.to_vec(), &picks))
    }

    /// `op(a, b)` with broadcasting, keeping track of additive masks (`mask`): a masked
    /// element keeps its mask through sums and positive scalings (its offset summed or
    /// scaled); any other use of a finite one gets its real value, of a −∞ one is refused.
    pub(crate) fn binary(&mut self, op: Bin, a: Value, b: Value) -> R<Value> {
        // `a − c` for a constant `c` is `a + (−c)`: BERT's and GPT-2's `− 10000·(1 − m)`.
        let (op, b) = match (op, b) {
            (Bin::Sub, Value::Const(c))
                if c.data.iter().any(|&x| mask::offset_of(-x).is_some()) =>
            {
                let data = c.data.iter().map(|&x| -x).collect();
                (
                    Bin::Add,
                    Value::Const(Const {
                        shape: c.shape,
                        data,
                    }),
                )
            }
            (op, b) => (op, b),
        };
        let (sa, sb) = (self.shape_of(&a), self.shape_of(&b));
        let both_const = matches!((&a, &b), (Value::Const(_), Value::Const(_)));
        let (ma, mb) = (mask::mask_of(self, &a), mask::mask_of(self, &b));
        if both_const || (ma.is_none() && mb.is_none()) {
            return self.binary_plain(op, a, b);
        }
        let out = broadcast_shape(&sa, &sb)
            .ok_or_else(|| format!("shapes {sa:?} and {sb:?} do not broadcast"))?;
        let ia = broadcast_index(&sa, &out).ok_or("shapes do not broadcast")?;
        let ib = broadcast_index(&sb, &out).ok_or("shapes do not broadcast")?;
        let spread = |m: &Option<mask::Mask>, idx: &[u32]| -> mask::Mask {
            m.as_ref().map_or(vec![None; idx.len()], |m| {
                idx.iter().map(|&i| m[i as usize]).collect()
            })
        };
        let (ea, eb) = (spread(&ma, &ia), spread(&mb, &ib));
        // A masked element scaled by a positive constant: its offset scaled the same way.
        let scaled = |e: &mask::Mask, k: &Value, idx: &[u32], div: bool| -> Option<mask::Mask> {
            let Value::Const(c) = k else { return None };
            e.iter()
                .zip(idx)
                .map(|(o, &i)| {
                    let k = c.data[i as usize];
                    match o {
                        None => Some(None),
                        Some(_) if !(k > 0.0 && k.is_finite()) => None,
                        Some(o) => Some(Some(if div { o / k } else { o * k })),
                    }
                })
                .collect()
        };
        let mask: Option<mask::Mask> = match op {
            Bin::Add => Some(
                ea.iter()
                    .zip(&eb)
                    .map(|(x, y)| match (x, y) {
                        (Some(x), Some(y)) => Some(x + y),
                        (x, y) => x.or(*y),
                    })
                    .collect(),
            ),
            Bin::Sub if mb.is_none() => Some(ea.clone()),
            Bin::Mul if mb.is_none() => scaled(&ea, &b, &ib, false),
            Bin::Mul if ma.is_none() => scaled(&eb, &a, &ia, false),
            Bin::Div if mb.is_none() => scaled(&ea, &b, &ib, true),
            _ => None,
        };
        let Some(mask) = mask else {
            // Not a sum or a positive scaling: the operands' real values, if they have them.
            let what = "an operand";
            let (a, b) = (self.materialize(a, what)?, self.materialize(b, what)?);
            return self.binary_plain(op, a, b);
        };
        let clean = |v: Value| match v {
            Value::Const(c) => Value::Const(mask::stand_ins(c)),
            d => d,
        };
        let y = self.binary_plain(op, clean(a), clean(b))?;
        if let Value::Dyn(i) = y {
            self.masked.insert(i, mask);
        }
        Ok(y)
    }

    fn binary_plain(&mut self, op: Bin, a: Value, b: Value) -> R<Value> {
        let (sa, sb) = (self.shape_of(&a), self.shape_of(&b));
        let out = broadcast_shape(&sa, &sb)
            .ok_or_else(|| format!("shapes {sa:?} and {sb:?} do not broadcast"))?;
        let ia = broadcast_index(&sa, &out).ok_or("shapes do not broadcast")?;
        let ib = broadcast_index(&sb, &out).ok_or("shapes do not broadcast")?;
        let n = numel(&out);
        match (a, b) {
            (Value::Const(x), Value::Const(y)) => {
                let data = (0..n)
                    .map(|k| op.eval(x.data[ia[k] as usize], y.data[ib[k] as usize]))
                    .collect();
                Ok(Value::Const(Const { shape: out, data }))
            }
            (Value::Dyn(x), Value::Dyn(y)) => Ok(Value::Dyn(match op {
                Bin::Add => self.combine(&[(x, &ia, 1.0), (y, &ib, 1.0)], out),
                Bin::Sub => self.combine(&[(x, &ia, 1.0), (y, &ib, -1.0)], out),
                Bin::Mul => {
                    let terms = ia.iter().zip(&ib).map(|(&i, &j)| vec![(i, j)]).collect();
                    self.emit(Op::Bilinear { terms, scale: 1.0 }, vec![x, y], out)
                }
                Bin::Div => self.emit(
                    Op::Div {
                        num: ia.iter().map(|&i| Ref::In(0, i)).collect(),
                        den: ib.iter().map(|&j| Ref::In(1, j)).collect(),
                    },
                    vec![x, y],
                    out,
                ),
                Bin::Max => self.max_of(x, &ia, y, &ib, out),
                Bin::Min => self.min_of(x, &ia, y, &ib, out),
            })),
            (a, b) => {
                let x_first = matches!(a, Value::Dyn(_));
                let (d, c, ic) = if x_first { (a, b, ib) } else { (b, a, ia) };
                let Value::Const(c) = c else {
                    return Err("internal: operand kinds".into());
                };
                let cv: Vec<f32> = ic.iter().map(|&i| c.data[i as usize]).collect();
                let d = self.broadcast_to(d, &out)?;
                let x = self.dyn_of(&d, "the operand")?;
                Ok(Value::Dyn(match (op, x_first) {
                    (Bin::Add, _) => self.affine(x, vec![1.0; n], cv),
                    (Bin::Sub, true) => {
                        self.affine(x, vec![1.0; n], cv.iter().map(|v| -v).collect())
                    }
                    (Bin::Sub, false) => self.affine(x, vec![-1.0; n], cv),
                    (Bin::Mul, _) => self.affine(x, cv, vec![0.0; n]),
                    (Bin::Div, true) => {
                        if cv.contains(&0.0) {
                            return Err("division by a constant zero".into());
                        }
                        self.affine(x, cv.iter().map(|v| 1.0 / v).collect(), vec![0.0; n])
                    }
                    (Bin::Div, false) => self.emit(
                        Op::Div {
                            num: cv.iter().map(|&v| Ref::Const(v)).collect(),
                            den: (0..n as u32).map(|i| Ref::In(0, i)).collect(),
                        },
                        vec![x],
                        out,
                    ),
                    (Bin::Max, _) => {
                        let dd = self.affine(x, vec![1.0; n], cv.iter().map(|v| -v).collect());
                        let r = self.relu(dd);
                        self.affine(r, vec![1.0; n], cv)
                    }
                    (Bin::Min, _) => {
                        let dd = self.affine(x, vec![-1.0; n], cv.clone());
                        let r = self.relu(dd);
                        self.affine(r, vec![-1.0; n], cv)
                    }
                }))
            }
        }
    }
}

impl Importer {
    /// `t` where `node` multiplies `sign(t)` by `|t|` or `relu(|t|)` (either order), which is
    /// `t` itself: torch's LPPool export writes `sign(s)·relu(|s|)` of the pooled powers before
    /// their root. Lowered as written, `s` went through a sign, an absolute value and a product
    /// at the activations' scale, and the root could not read it at twice that (a 2-norm of
    /// inputs near 0.04 erred 2e-4, EZKL 6e-5).
    fn sign_times_magnitude(&self, node: &pb::NodeProto) -> Option<String> {
        let [a, b] = node.input.as_slice() else {
            return None;
        };
        let of = |name: &str, op: &str| -> Option<&str> {
            match self.producers.get(name) {
                Some((o, ins)) if o == op && ins.len() == 1 => Some(ins[0].as_str()),
                _ => None,
            }
        };
        let magnitude = |name: &str| of(name, "Abs").or_else(|| of(of(name, "Relu")?, "Abs"));
        [(a, b), (b, a)].into_iter().find_map(|(s, m)| {
            let t = of(s, "Sign")?;
            (magnitude(m)? == t).then(|| t.to_string())
        })
    }

    /// The square root of a mean (or sum) of products — a variance or a mean square, as
    /// exporters write LayerNorm and RMSNorm unfused (`Pow`, `ReduceMean`, `Add`, `Sqrt`) —
    /// keeps its radicand at twice the activations' precision, as the fused
    /// LayerNormalization does: the products are exact there, where at the activations'
    /// scale a variance of 0.001 is 8 steps (a ViT's class-token row: an unfused export erred
    /// 4× the fused one). The chain marked is the products and the sums or affine maps of one
    /// input between them and the root (at most four); any other radicand is left as it is.
    fn widen_radicand(&mut self, xi: usize) {
        let mut chain = Vec::new();
        let mut at = xi;
        loop {
            let n = &self.nodes[at];
            match n.op {
                Op::Bilinear { .. } => {
                    chain.push(at);
                    break;
                }
                Op::Affine { .. } | Op::Linear { .. } if n.inputs.len() == 1 && chain.len() < 4 => {
                    chain.push(at);
                    at = n.inputs[0];
                }
                _ => return,
            }
        }
        for i in chain {
            self.nodes[i].wide = true;
        }
    }
}

/// The table function ONNX operator `op` is, if it is one (its attributes read from `node`).
fn table_function(node: &pb::NodeProto, op: &str) -> Option<Func> {
    match op {
        "Sigmoid" => Some(Func::Sigmoid),
        "Tanh" => Some(Func::Tanh),
        "Exp" => Some(Func::Exp),
        "Log" => Some(Func::Log),
        "Erf" => Some(Func::Erf),
        "Gelu" => Some(if attr_s(node, "approximate", "none") == "tanh" {
            Func::GeluTanh
        } else {
            Func::Gelu
        }),
        "Softplus" => Some(Func::Softplus),
        "Softsign" => Some(Func::Softsign),
        "Elu" => Some(Func::Elu {
            alpha: attr_f(node, "alpha", 1.0),
        }),
        "Selu" => Some(Func::Selu {
            alpha: attr_f(node, "alpha", 1.673_263_2),
            gamma: attr_f(node, "gamma", 1.050_701),
        }),
        "Celu" => Some(Func::Celu {
            alpha: attr_f(node, "alpha", 1.0),
        }),
        "HardSwish" => Some(Func::HardSwish),
        "Shrink" => Some(Func::Shrink {
            lambd: attr_f(node, "lambd", 0.5),
            bias: attr_f(node, "bias", 0.0),
        }),
        "Mish" => Some(Func::Mish),
        "ThresholdedRelu" => Some(Func::ThresholdedRelu {
            alpha: attr_f(node, "alpha", 1.0),
        }),
        t => Trig::from_onnx(t).map(Func::Trig),
    }
}
