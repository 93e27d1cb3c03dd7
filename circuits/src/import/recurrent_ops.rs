//! Recurrent layers (`LSTM`, `GRU`, `RNN`) unrolled over the sequence.
//!
//! Every step is a linear map with constant weights over the step's input and the previous
//! hidden state (one block per batch item), its gates through the function tables, and the
//! elementwise products of gates and states as products of computed tensors. Constant
//! initial states fold into the first step's bias.

use tract_onnx::pb;

use super::build::Pick;
use super::elementwise_ops::Bin;
use super::tensor::numel;
use super::{attr, attr_i, attr_s, Const, Importer, Value};
use crate::ir::{Func, Group, Linear, Mat, Op};

type R<T> = Result<T, String>;

/// Which recurrent cell.
#[derive(Clone, Copy, PartialEq)]
enum Cell {
    Lstm,
    Gru,
    Rnn,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Rnn => 1,
        }
    }
}

/// An activation named by the `activations` attribute.
#[derive(Clone)]
enum Act {
    F(Func),
    Relu,
}

/// One linear term of a step: a tensor, the elements it reads per batch item, and the
/// weights (`out × cols`, row-major).
struct Term<'a> {
    v: &'a Value,
    elems: Vec<Vec<u32>>,
    w: &'a [f32],
}

fn zero(v: &Value) -> bool {
    matches!(v, Value::Const(c) if c.data.iter().all(|&x| x == 0.0))
}

impl Importer {
    pub(crate) fn lower_recurrent_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let cell = match op {
            "LSTM" => Cell::Lstm,
            "GRU" => Cell::Gru,
            "RNN" => Cell::Rnn,
            _ => return Ok(None),
        };
        self.recurrent(node, cell).map(Some)
    }

    fn recurrent(&mut self, node: &pb::NodeProto, cell: Cell) -> R<Vec<Value>> {
        let x = self.req(node, 0)?;
        let xs = self.shape_of(&x);
        let layout = attr_i(node, "layout", 0);
        if xs.len() != 3 {
            return Err(format!("the input has shape {xs:?}, expected rank 3"));
        }
        let (seq, batch, isz) = if layout == 0 {
            (xs[0], xs[1], xs[2])
        } else {
            (xs[1], xs[0], xs[2])
        };
        let hsz = usize::try_from(attr_i(node, "hidden_size", 0)).unwrap_or(0);
        let g = cell.gates();
        let w = self.const_req_input(node, 1, "W")?;
        let r = self.const_req_input(node, 2, "R")?;
        let dirs = match attr_s(node, "direction", "forward").as_str() {
            "forward" | "reverse" => 1,
            "bidirectional" => 2,
            d => return Err(format!("unknown direction '{d}'")),
        };
        let reverse = attr_s(node, "direction", "forward") == "reverse";
        let hsz = if hsz == 0 && w.shape.len() == 3 {
            w.shape[1] / g
        } else {
            hsz
        };
        if w.shape != [dirs, g * hsz, isz] || r.shape != [dirs, g * hsz, hsz] {
            return Err(format!(
                "weights of shapes {:?} and {:?} do not fit {dirs} direction(s), {g} gates, \
                 hidden size {hsz} and input size {isz}",
                w.shape, r.shape
            ));
        }
        let b = match self.const_input(node, 3, "B")? {
            Some(b) if b.data.len() == dirs * 2 * g * hsz => b.data,
            Some(b) => return Err(format!("bias of shape {:?}", b.shape)),
            None => vec![0.0; dirs * 2 * g * hsz],
        };
        if let Some(lens) = self.const_input(node, 4, "sequence_lens")? {
            if lens.data.iter().any(|&l| l as usize != seq) {
                return Err("sequence_lens shorter than the sequence are not supported".into());
            }
        }
        if attr(node, "clip").is_some() {
            return Err("the clip attribute is not supported".into());
        }
        if cell == Cell::Lstm {
            if attr_i(node, "input_forget", 0) != 0 {
                return Err("input_forget (coupled gates) is not supported".into());
            }
            if let Some(p) = self.const_input(node, 7, "P")? {
                if p.data.iter().any(|&v| v != 0.0) {
                    return Err("peephole weights are not supported".into());
                }
            }
        }
        let acts = self.activations(node, cell, dirs)?;
        let state_shape = vec![batch, hsz];
        let init = |s: &mut Self, i: usize, d: usize| -> R<Value> {
            match s.input(node, i)? {
                None => Ok(Value::Const(Const {
                    shape: state_shape.clone(),
                    data: vec![0.0; batch * hsz],
                })),
                Some(v) => s.slice_dir(v, d, batch, hsz),
            }
        };
        let lbr = attr_i(node, "linear_before_reset", 0) != 0;
        let mut ys: Vec<Vec<Value>> = Vec::with_capacity(dirs);
        let mut last_h = Vec::with_capacity(dirs);
        let mut last_c = Vec::with_capacity(dirs);
        for d in 0..dirs {
            let mut h = init(self, 5, d)?;
            let mut c = init(self, 6, d)?;
            let back = reverse || d == 1;
            let mut outs = vec![None; seq];
            let wd = &w.data[d * g * hsz * isz..(d + 1) * g * hsz * isz];
            let rd = &r.data[d * g * hsz * hsz..(d + 1) * g * hsz * hsz];
            let bd = &b[d * 2 * g * hsz..(d + 1) * 2 * g * hsz];
            let a = &acts[d * 3..d * 3 + 3];
            for step in 0..seq {
                let t = if back { seq - 1 - step } else { step };
                let x_elems: Vec<Vec<u32>> = (0..batch)
                    .map(|bi| {
                        (0..isz)
                            .map(|k| {
                                let flat = if layout == 0 {
                                    (t * batch + bi) * isz + k
                                } else {
                                    (bi * seq + t) * isz + k
                                };
                                flat as u32
                            })
                            .collect()
                    })
                    .collect();
                let h_elems: Vec<Vec<u32>> = (0..batch)
                    .map(|bi| (0..hsz).map(|k| (bi * hsz + k) as u32).collect())
                    .collect();
                let gw = |k: usize| &wd[k * hsz * isz..(k + 1) * hsz * isz];
                let gr = |k: usize| &rd[k * hsz * hsz..(k + 1) * hsz * hsz];
                let wb = |k: usize| &bd[k * hsz..(k + 1) * hsz];
                let rb = |k: usize| &bd[(g + k) * hsz..(g + k + 1) * hsz];
                let both = |k: usize| -> Vec<f32> {
                    wb(k).iter().zip(rb(k)).map(|(a, b)| a + b).collect()
                };
                let xt = |k: usize| Term {
                    v: &x,
                    elems: x_elems.clone(),
                    w: gw(k),
                };
                // Gate k: its activation of x_t·W_k + h·R_k + Wb_k + Rb_k.
                let gate = |s: &mut Self, k: usize, act: &Act| -> R<Value> {
                    let h_term = Term {
                        v: &h,
                        elems: h_elems.clone(),
                        w: gr(k),
                    };
                    let pre = s.step_linear(batch, hsz, &[xt(k), h_term], &both(k))?;
                    s.activate(pre, act)
                };
                match cell {
                    Cell::Rnn => h = gate(self, 0, &a[0])?,
                    Cell::Lstm => {
                        // Gate order i, o, f, c.
                        let i = gate(self, 0, &a[0])?;
                        let o = gate(self, 1, &a[0])?;
                        let f = gate(self, 2, &a[0])?;
                        let cand = gate(self, 3, &a[1])?;
                        let fc = self.mul_values(f, c.clone())?;
                        let ig = self.mul_values(i, cand)?;
                        c = self.add_values(fc, ig)?;
                        let tc = self.activate(c.clone(), &a[2])?;
                        h = self.mul_values(o, tc)?;
                    }
                    Cell::Gru => {
                        // Gate order z, r, h.
                        let z = gate(self, 0, &a[0])?;
                        let rg = gate(self, 1, &a[0])?;
                        let pre = if lbr {
                            let hr = self.step_linear(
                                batch,
                                hsz,
                                &[Term {
                                    v: &h,
                                    elems: h_elems.clone(),
                                    w: gr(2),
                                }],
                                rb(2),
                            )?;
                            let gated = self.mul_values(rg, hr)?;
                            let xw = self.step_linear(batch, hsz, &[xt(2)], wb(2))?;
                            self.add_values(xw, gated)?
                        } else {
                            let rh = self.mul_values(rg, h.clone())?;
                            self.step_linear(
                                batch,
                                hsz,
                                &[
                                    xt(2),
                                    Term {
                                        v: &rh,
                                        elems: h_elems.clone(),
                                        w: gr(2),
                                    },
                                ],
                                &both(2),
                            )?
                        };
                        let cand = self.activate(pre, &a[1])?;
                        // h = cand + z·(h − cand)
                        let diff = self.binary(Bin::Sub, h.clone(), cand.clone())?;
                        let zd = self.mul_values(z, diff)?;
                        h = self.add_values(cand, zd)?;
                    }
                }
                outs[t] = Some(h.clone());
            }
            ys.push(
                outs.into_iter()
                    .map(|v| v.ok_or_else(|| "internal: missing step".to_string()))
                    .collect::<R<_>>()?,
            );
            last_h.push(h);
            last_c.push(c);
        }
        // Y: [seq, dirs, batch, H] (layout 0) or [batch, seq, dirs, H].
        let flat: Vec<Value> = ys.iter().flatten().cloned().collect();
        let y_shape = if layout == 0 {
            vec![seq, dirs, batch, hsz]
        } else {
            vec![batch, seq, dirs, hsz]
        };
        let mut picks = Vec::with_capacity(numel(&y_shape));
        super::tensor::for_each_index(&y_shape, |_, m| {
            let (t, d, bi, k) = if layout == 0 {
                (m[0], m[1], m[2], m[3])
            } else {
                (m[1], m[2], m[0], m[3])
            };
            picks.push(Pick::V(d * seq + t, (bi * hsz + k) as u32));
        });
        let y = self.rewire(&flat, y_shape, &picks);
        let stack = |s: &mut Self, vals: &[Value]| -> Value {
            let shape = if layout == 0 {
                vec![dirs, batch, hsz]
            } else {
                vec![batch, dirs, hsz]
            };
            let mut picks = Vec::with_capacity(numel(&shape));
            super::tensor::for_each_index(&shape, |_, m| {
                let (d, bi, k) = if layout == 0 {
                    (m[0], m[1], m[2])
                } else {
                    (m[1], m[0], m[2])
                };
                picks.push(Pick::V(d, (bi * hsz + k) as u32));
            });
            s.rewire(vals, shape, &picks)
        };
        let yh = stack(self, &last_h);
        let yc = stack(self, &last_c);
        Ok(vec![y, yh, yc])
    }

    fn const_req_input(&self, node: &pb::NodeProto, i: usize, what: &str) -> R<Const> {
        self.const_input(node, i, what)?
            .ok_or_else(|| format!("{what} is missing"))
    }

    /// Direction `d` of an initial state `[dirs, batch, H]`, as `[batch, H]`.
    fn slice_dir(&mut self, v: Value, d: usize, batch: usize, hsz: usize) -> R<Value> {
        let s = self.shape_of(&v);
        if numel(&s) < (d + 1) * batch * hsz {
            return Err(format!("an initial state of shape {s:?}"));
        }
        let picks: Vec<Pick> = (0..batch * hsz)
            .map(|k| Pick::V(0, (d * batch * hsz + k) as u32))
            .collect();
        Ok(self.rewire(&[v], vec![batch, hsz], &picks))
    }

    fn activations(&self, node: &pb::NodeProto, cell: Cell, dirs: usize) -> R<Vec<Act>> {
        let per = match cell {
            Cell::Lstm => 3,
            Cell::Gru => 2,
            Cell::Rnn => 1,
        };
        let defaults: &[&str] = match cell {
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Cell::Gru => &["Sigmoid", "Tanh"],
            Cell::Rnn => &["Tanh"],
        };
        let names: Vec<String> = match attr(node, "activations") {
            Some(a) if !a.strings.is_empty() => a
                .strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            _ => (0..dirs)
                .flat_map(|_| defaults.iter().map(|s| s.to_string()))
                .collect(),
        };
        if names.len() != per * dirs {
            return Err(format!(
                "{} activations given, expected {}",
                names.len(),
                per * dirs
            ));
        }
        if attr(node, "activation_alpha").is_some() || attr(node, "activation_beta").is_some() {
            return Err("activation_alpha/beta are not supported".into());
        }
        let mut out = Vec::with_capacity(3 * dirs);
        for d in 0..dirs {
            for k in 0..3 {
                let name = &names[d * per + k.min(per - 1)];
                out.push(match name.to_ascii_lowercase().as_str() {
                    "sigmoid" => Act::F(Func::Sigmoid),
                    "tanh" => Act::F(Func::Tanh),
                    "relu" => Act::Relu,
                    "softsign" => Act::F(Func::Softsign),
                    "softplus" => Act::F(Func::Softplus),
                    other => return Err(format!("activation '{other}' is not supported")),
                });
            }
        }
        Ok(out)
    }

    fn activate(&mut self, v: Value, act: &Act) -> R<Value> {
        Ok(match v {
            Value::Const(c) => Value::Const(Const {
                shape: c.shape,
                data: c
                    .data
                    .iter()
                    .map(|&x| match act {
                        Act::F(f) => f.eval(f64::from(x)) as f32,
                        Act::Relu => x.max(0.0),
                    })
                    .collect(),
            }),
            Value::Dyn(i) => Value::Dyn(match act {
                Act::F(f) => self.func(i, f.clone()),
                Act::Relu => self.relu(i),
            }),
        })
    }

    /// `a ⊙ b`, with zero constants short-cut.
    fn mul_values(&mut self, a: Value, b: Value) -> R<Value> {
        if zero(&a) {
            return Ok(a);
        }
        if zero(&b) {
            return Ok(b);
        }
        self.binary(Bin::Mul, a, b)
    }

    /// `a + b`, with zero constants short-cut.
    fn add_values(&mut self, a: Value, b: Value) -> R<Value> {
        if zero(&a) {
            return Ok(b);
        }
        if zero(&b) {
            return Ok(a);
        }
        self.binary(Bin::Add, a, b)
    }

    /// `y[b, o] = Σ_terms Σ_j W[o, j] · v[elems[b][j]] + bias[o]`, shaped `[batch, out]`;
    /// constant terms fold into the bias.
    fn step_linear(
        &mut self,
        batch: usize,
        out: usize,
        terms: &[Term<'_>],
        bias: &[f32],
    ) -> R<Value> {
        let mut bias_b: Vec<f32> = (0..batch).flat_map(|_| bias.iter().copied()).collect();
        let mut inputs = Vec::new();
        let mut cols = 0;
        let mut dyn_terms = Vec::new();
        for t in terms {
            let width = t.elems.first().map_or(0, Vec::len);
            match t.v {
                Value::Const(c) => {
                    for (bi, el) in t.elems.iter().enumerate() {
                        for o in 0..out {
                            let s: f32 = el
                                .iter()
                                .enumerate()
                                .map(|(j, &e)| t.w[o * width + j] * c.data[e as usize])
                                .sum();
                            bias_b[bi * out + o] += s;
                        }
                    }
                }
                Value::Dyn(n) => {
                    let slot = match inputs.iter().position(|x| x == n) {
                        Some(s) => s,
                        None => {
                            inputs.push(*n);
                            inputs.len() - 1
                        }
                    } as u32;
                    dyn_terms.push((t, slot, width));
                    cols += width;
                }
            }
        }
        if dyn_terms.is_empty() {
            return Ok(Value::Const(Const {
                shape: vec![batch, out],
                data: bias_b,
            }));
        }
        let mut data = Vec::with_capacity(out * cols);
        for o in 0..out {
            for (t, _, width) in &dyn_terms {
                data.extend_from_slice(&t.w[o * width..(o + 1) * width]);
            }
        }
        let groups = (0..batch)
            .map(|bi| Group {
                mat: 0,
                inputs: dyn_terms
                    .iter()
                    .flat_map(|(t, slot, _)| t.elems[bi].iter().map(move |&e| Some((*slot, e))))
                    .collect(),
                outputs: (0..out).map(|o| (bi * out + o) as u32).collect(),
            })
            .collect();
        let map = Linear {
            mats: vec![Mat {
                rows: out,
                cols,
                data,
            }],
            groups,
        };
        Ok(Value::Dyn(self.emit(
            Op::Linear {
                map,
                bias: Some(bias_b),
            },
            inputs,
            vec![batch, out],
        )))
    }
}
