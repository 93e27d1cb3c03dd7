//! From the f32 Graph IR to the integer QGraph: scales, integer weights, range bounds, tables.

use super::bounds::check_bounds;
use super::discrete::discrete_bounds;
use super::shared_tables;
use super::{Calibration, QGraph, QNode, QOp, QRef, QuantSettings, Table};
use crate::error::{CircuitsError, Result};
use crate::ir::{Func, Graph, Node, Op, Ref};

mod functions;
mod linear;
mod selection;

/// Weights that are small integers are used exactly, at scale 0.
const EXACT_WEIGHT_LIMIT: f32 = (1 << 20) as f32;

fn quantize(x: f32, scale: i32, what: &str, index: usize) -> Result<i64> {
    if !x.is_finite() {
        return Err(CircuitsError::NonFinite {
            what: what.into(),
            index,
            value: x,
        });
    }
    let v = (f64::from(x) * f64::from(scale).exp2()).round();
    if v.abs() >= 2f64.powi(62) {
        return Err(CircuitsError::Overflow { node: what.into() });
    }
    Ok(v as i64)
}

/// The smallest range a computed value's check allows (real units, 2^-5): room for the
/// quantization error it inherits, whatever its calibrated range.
const NOISE_FLOOR: f64 = 1.0 / 32.0;

/// Bits `b` such that every calibrated value fits `|q| < 2^b` with the margin applied.
fn bits_for(max_abs: f64, scale: u32, margin: f64) -> u32 {
    let m = (max_abs * (scale as f64).exp2() * margin).ceil() + 1.0;
    (m.log2().ceil() as u32).max(1)
}

/// `(multiplier, shift)` that bring an accumulator at scale `acc` to scale `out`.
fn rescale_params(acc: i32, out: i32) -> (i64, u32) {
    if acc >= out {
        (1, (acc - out) as u32)
    } else {
        (1i64 << (out - acc), 0)
    }
}

/// The rounding offset of a right shift.
fn half(shift: u32) -> i64 {
    if shift > 0 {
        1i64 << (shift - 1)
    } else {
        0
    }
}

/// What a rescale applies after rounding.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Nothing.
    Plain,
    /// `max(q, 0)`.
    Relu,
    /// `min(max(q, 0), C)` with `C` the bound (a float) at the output's scale.
    Clamp(f32),
}

/// The integer bound `C` of a clamp to `[0, hi]` at `scale` fractional bits, at most
/// `2^bits − 1`: the quotient is below `2^bits` (the range check, and the integer execution
/// refuses more), so a larger bound never binds, and the circuit's checks of `C − q` stay
/// within `bits` (`chips::rescale`).
fn clamp_bound(hi: f32, scale: u32, bits: u32) -> i64 {
    let c = (f64::from(hi) * 2f64.powi(scale as i32)).round();
    let top = (1i64 << bits.min(62)) - 1;
    if c.is_nan() || c <= 0.0 {
        0
    } else if c >= top as f64 {
        top
    } else {
        c as i64
    }
}

/// Whether constant weights are exact small integers (then used at scale 0).
fn exact(ws: &[f32]) -> bool {
    ws.iter()
        .all(|w| w.fract() == 0.0 && w.abs() <= EXACT_WEIGHT_LIMIT)
}

/// Most bits constant weights take beyond the parameter scale.
const WEIGHT_EXTRA_BITS: i32 = 16;

/// The fewest fractional bits, from the parameter scale `sp` up to [`WEIGHT_EXTRA_BITS`] more,
/// at which no weight of `ws` rounds by more than `limit`.
fn fewest_weight_bits<'w>(ws: impl Iterator<Item = &'w f32> + Clone, sp: i32, limit: f64) -> i32 {
    let err = |s: i32| {
        let u = f64::from(s).exp2();
        ws.clone()
            .map(|&w| (f64::from(w) - (f64::from(w) * u).round() / u).abs())
            .fold(0f64, f64::max)
    };
    (sp..sp + WEIGHT_EXTRA_BITS)
        .find(|&s| err(s) <= limit)
        .unwrap_or(sp + WEIGHT_EXTRA_BITS)
}

/// Fractional bits for an affine map's multipliers `mul` applied to inputs up to `m_in`: the
/// parameter scale `sp`, or more where the multipliers' rounding at `sp` would move the largest
/// input's image by more than two output steps (`2^−out`). A dequantization
/// `(q − zero)·0.05` of `q` up to 255 erred by 0.006 at 13 bits (0.05 is 409.6/2^13), fifty
/// output steps; an affine map of normalised activations (|x| ≲ 4) keeps `sp`.
fn affine_weight_bits(mul: &[f32], m_in: f64, sp: i32, out: u32) -> i32 {
    if m_in <= 0.0 {
        return sp;
    }
    fewest_weight_bits(mul.iter(), sp, 2.0 * f64::from(out).exp2().recip() / m_in)
}

/// Fractional bits for constant weights `ws`: the parameter scale `sp`, or more where their
/// rounding at `sp` errs by more than 2^-9 of the largest (a mean over 2,400 elements, weights
/// 1/2400, is 3.41/2^13 and rounded to 3: 12 % off; a dense layer's weights, the largest
/// near 1, keep 13 bits whatever their small ones).
///
/// Weights of one magnitude (a mean's `1/n`, a variance's scale) round all the same way, so
/// their error does not average out over a sum: it scales the whole output. They are held to
/// 2^−(sp+1) of their value, what a weight near 1 gets at `sp` bits. *Why (stop 50):* a
/// LayerNorm over 10 features erred 5.8e-4 at the default scales, 1.8× EZKL's, from `0.1`
/// held as 819/2^13 (2.4e-4 off) in both its mean and its variance; `0.1` rounds as badly at
/// 14 bits (1638/2^14), so no single step of the accuracy search found the 15 bits that fix it.
fn linear_weight_bits<'w>(ws: impl Iterator<Item = &'w f32> + Clone, sp: i32) -> i32 {
    let top = ws.clone().fold(0f64, |m, &w| m.max(f64::from(w.abs())));
    if top == 0.0 {
        return sp;
    }
    let uniform = ws.clone().all(|&w| w == 0.0 || f64::from(w.abs()) == top);
    let rel = if uniform { -(sp + 1) } else { -9 };
    fewest_weight_bits(ws, sp, top * 2f64.powi(rel))
}

struct Builder<'a> {
    graph: &'a Graph,
    cal: &'a Calibration,
    settings: QuantSettings,
    nodes: Vec<QNode>,
    tables: Vec<Table>,
    /// IR node index → quantized node index.
    map: Vec<usize>,
    /// Elements each function is applied to across the model (its nodes share one table).
    func_elements: Vec<(Func, usize)>,
    /// Bounds of the values that follow from comparisons ([`discrete_bounds`]).
    discrete: Vec<Option<f64>>,
    /// The finest resolution each function (at an output scale) is read at ([`shared_tables`]).
    caps: Vec<(Func, u32, i32)>,
    /// The direct tables the nodes asked for.
    asked: Vec<shared_tables::Asked>,
    /// For each node, the residual sum that may take its accumulator unrounded
    /// ([`linear::residual_sums`]).
    residual: Vec<Option<usize>>,
    /// For each linear map whose accumulator a residual sum takes unrounded, its bias (which
    /// the sum adds).
    raw_bias: Vec<Option<Vec<f32>>>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        node: &Node,
        op_type: String,
        op: QOp,
        inputs: Vec<usize>,
        scale: u32,
    ) -> usize {
        self.nodes.push(QNode {
            name: node.name.clone(),
            op_type,
            op,
            inputs,
            shape: node.shape.clone(),
            scale,
        });
        self.nodes.len() - 1
    }

    /// The common scale of a node's inputs (slots listed): the coarsest of theirs, finer
    /// inputs brought to it by a rounding rescale (`ins` then names the rescaled nodes).
    fn common_scale(
        &mut self,
        node: &Node,
        ins: &mut [usize],
        slots: impl Iterator<Item = u32>,
    ) -> Result<Option<u32>> {
        let slots: Vec<usize> = slots.map(|s| s as usize).collect();
        let Some(s) = slots.iter().map(|&k| self.nodes[ins[k]].scale).min() else {
            return Ok(None);
        };
        for &k in &slots {
            let q = ins[k];
            let d = self.nodes[q].scale - s;
            if d == 0 {
                continue;
            }
            let n = self.nodes[q].len();
            let bits = self.bits(node.inputs[k], s);
            self.nodes.push(QNode {
                name: node.name.clone(),
                op_type: format!("{}(align)", node.op_type),
                op: QOp::Rescale {
                    mul: vec![1; n],
                    add: vec![half(d); n],
                    shift: d,
                    relu: false,
                    clamp: None,
                    bits,
                },
                inputs: vec![q],
                shape: self.nodes[q].shape.clone(),
                scale: s,
            });
            let aligned = self.nodes.len() - 1;
            for &j in &slots {
                if ins[j] == q {
                    ins[j] = aligned;
                }
            }
        }
        Ok(Some(s))
    }

    /// The output scale of node `i`: twice the activations' for a tensor that feeds a
    /// square root; for a linear, affine, bilinear or quotient node whose calibrated values
    /// all lie below `2^-7` (fewer than 64 steps at the activations' scale: a quantization
    /// scale, a product of scales, a tiny weight's image) by the size of its factors rather
    /// than by cancellation, as many significant bits as a unit activation has (`scale − 1`),
    /// up to twice the activations' scale. Its consumers align to the coarsest scale they
    /// combine.
    fn out_scale(&self, i: usize) -> u32 {
        let sa = self.settings.input_scale;
        let node = &self.graph.nodes[i];
        if node.wide {
            return 2 * sa;
        }
        let m = self.cal.max_abs[i];
        let small =
            m > 0.0 && m < 2f64.powi(-7) && self.discrete.get(i).copied().flatten().is_none();
        // Small because its factors are (not by cancellation: a difference of two close
        // activations is as coarse as they are, and finer steps would only size its range
        // check from values a proof's rounding does not keep).
        if !small {
            return sa;
        }
        match self.natural_magnitude(i) {
            Some(nat) if m * 8.0 >= nat => {
                ((f64::from(sa) - 1.0 - m.log2()).ceil() as u32).clamp(sa, 2 * sa)
            }
            _ => sa,
        }
    }

    /// The largest `|value|` node `i`'s operation could give on its inputs' calibrated
    /// ranges without cancellation (`Σ |w|·max|x|`): `None` for other operations.
    fn natural_magnitude(&self, i: usize) -> Option<f64> {
        let node = &self.graph.nodes[i];
        let m_in = |slot: usize| node.inputs.get(slot).map_or(0.0, |&j| self.cal.max_abs[j]);
        Some(match &node.op {
            Op::Affine { mul, add } => mul
                .iter()
                .zip(add)
                .map(|(w, a)| f64::from(w.abs()) * m_in(0) + f64::from(a.abs()))
                .fold(0.0, f64::max),
            Op::Linear { map, bias } => {
                let rows = map.groups.iter().flat_map(|g| {
                    let mat = &map.mats[g.mat as usize];
                    (0..g.outputs.len()).map(move |r| {
                        mat.data[r * mat.cols..(r + 1) * mat.cols]
                            .iter()
                            .zip(&g.inputs)
                            .filter_map(|(w, e)| {
                                e.map(|(s, _)| f64::from(w.abs()) * m_in(s as usize))
                            })
                            .sum::<f64>()
                    })
                });
                let b = bias.as_ref().map_or(0.0, |b| {
                    b.iter().fold(0f64, |a, &v| a.max(f64::from(v.abs())))
                });
                rows.fold(0.0, f64::max) + b
            }
            Op::Bilinear { terms, scale } => {
                let t = terms.iter().map(Vec::len).max().unwrap_or(0) as f64;
                f64::from(scale.abs()) * t * m_in(0) * m_in(1)
            }
            Op::Div { .. } => self.cal.max_abs[i],
            _ => return None,
        })
    }

    /// The width of node `i`'s range check at `scale`: its calibrated range with the margin,
    /// or for a value that follows from comparisons the larger of that and its bound.
    fn bits(&self, i: usize, scale: u32) -> u32 {
        let cal = bits_for(self.cal.max_abs[i], scale, self.settings.range_margin);
        match self.discrete.get(i).copied().flatten() {
            Some(b) => cal.max(bits_for(b, scale, 1.0)),
            // A value whose calibrated range is near zero (a residual stream's mean, a bias
            // the data cancels) differs from the float model by the quantization error of
            // what it is computed from, which does not shrink with it: BERT's row means of
            // 2e-4 came out 0.002 and failed a 4-bit check on its own calibration input.
            None => cal.max(bits_for(NOISE_FLOOR, scale, 1.0)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rescale(
        &mut self,
        node: &Node,
        input: usize,
        mul: Vec<i64>,
        add: Vec<i64>,
        shift: u32,
        act: Act,
        bits: u32,
        scale: u32,
    ) -> usize {
        let (relu, clamp) = match act {
            Act::Plain => (false, None),
            Act::Relu => (true, None),
            Act::Clamp(hi) => (true, Some(clamp_bound(hi, scale, bits))),
        };
        let op_type = match act {
            Act::Plain => node.op_type.clone(),
            Act::Relu => format!("{}+Relu", node.op_type),
            Act::Clamp(_) => format!("{}+Clip", node.op_type),
        };
        self.push(
            node,
            op_type,
            QOp::Rescale {
                mul,
                add,
                shift,
                relu,
                clamp,
                bits,
            },
            vec![input],
            scale,
        )
    }

    fn refs(&self, refs: &[Ref], scale: u32, node: &Node) -> Result<Vec<QRef>> {
        refs.iter()
            .enumerate()
            .map(|(k, r)| {
                Ok(match *r {
                    Ref::In(s, i) => QRef::In(s, i),
                    Ref::Const(c) => QRef::Const(quantize(c, scale as i32, &node.name, k)?),
                })
            })
            .collect()
    }

    /// Largest |value| a list of references can take on the calibration data.
    fn refs_max(&self, node: &Node, refs: &[Ref]) -> f64 {
        refs.iter()
            .map(|r| match *r {
                Ref::In(s, _) => self.cal.max_abs[node.inputs[s as usize]],
                Ref::Const(c) => f64::from(c.abs()),
            })
            .fold(0.0, f64::max)
    }

    fn lower(&mut self, i: usize, act: Act) -> Result<usize> {
        let graph = self.graph;
        let node = &graph.nodes[i];
        let sa = self.settings.input_scale;
        let sp = self.settings.param_scale as i32;
        let mut ins: Vec<usize> = node.inputs.iter().map(|&j| self.map[j]).collect();
        let out_scale = self.out_scale(i);
        let n = node.len();
        let idx = match &node.op {
            Op::Input => self.push(node, node.op_type.clone(), QOp::Input, vec![], sa),
            Op::Linear { map, bias } => self.linear(i, (map, bias), act, ins)?,
            Op::Affine { mul, add } => {
                let s_in = self.nodes[ins[0]].scale as i32;
                let m_in = self.cal.max_abs[node.inputs[0]] * self.settings.range_margin;
                let ws = if exact(mul) {
                    0
                } else {
                    affine_weight_bits(mul, m_in, sp, out_scale)
                };
                let acc = s_in + ws;
                let (mf, shift) = rescale_params(acc, out_scale as i32);
                let m = mul
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| Ok(quantize(x, ws, &node.name, k)? * mf))
                    .collect::<Result<Vec<_>>>()?;
                let a = add
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| Ok(quantize(x, acc, &node.name, k)? * mf + half(shift)))
                    .collect::<Result<Vec<_>>>()?;
                let bits = self.bits(i, out_scale);
                self.rescale(node, ins[0], m, a, shift, act, bits, out_scale)
            }
            Op::Relu => {
                // A standalone ReLU: bound its input's range.
                let in_scale = self.nodes[ins[0]].scale;
                let b = self.bits(node.inputs[0], in_scale);
                self.rescale(
                    node,
                    ins[0],
                    vec![1; n],
                    vec![0; n],
                    0,
                    Act::Relu,
                    b,
                    in_scale,
                )
            }
            Op::Clamp { hi } => {
                // A clamp its producer could not take: bound its input's range.
                let in_scale = self.nodes[ins[0]].scale;
                let b = self.bits(node.inputs[0], in_scale);
                let a = Act::Clamp(*hi);
                self.rescale(node, ins[0], vec![1; n], vec![0; n], 0, a, b, in_scale)
            }
            Op::Gather { map } => {
                let slots = map.iter().filter_map(|r| match r {
                    Ref::In(s, _) => Some(*s),
                    Ref::Const(_) => None,
                });
                let s = self.common_scale(node, &mut ins, slots)?.unwrap_or(sa);
                let q = self.refs(map, s, node)?;
                self.push(node, node.op_type.clone(), QOp::Gather { map: q }, ins, s)
            }
            Op::Bilinear { terms, scale } => {
                let acc = (self.nodes[ins[0]].scale + self.nodes[ins[1]].scale) as i32;
                let bil = self.push(
                    node,
                    node.op_type.clone(),
                    QOp::Bilinear {
                        terms: terms.clone(),
                    },
                    ins.clone(),
                    acc as u32,
                );
                let ws = if exact(&[*scale]) {
                    0
                } else {
                    linear_weight_bits(std::iter::once(scale), sp)
                };
                let m = quantize(*scale, ws, &node.name, 0)?;
                let (mf, shift) = rescale_params(acc + ws, out_scale as i32);
                let bits = self.bits(i, out_scale);
                self.rescale(
                    node,
                    bil,
                    vec![m * mf; n],
                    vec![half(shift); n],
                    shift,
                    act,
                    bits,
                    out_scale,
                )
            }
            Op::Func { f } => self.func(i, f.clone(), ins[0], out_scale),
            Op::Div { num, den } => {
                let slots_of = |refs: &[Ref]| -> Vec<u32> {
                    refs.iter()
                        .filter_map(|r| match r {
                            Ref::In(s, _) => Some(*s),
                            Ref::Const(_) => None,
                        })
                        .collect()
                };
                let ns = self
                    .common_scale(node, &mut ins, slots_of(num).into_iter())?
                    .unwrap_or(sa);
                let ds = self
                    .common_scale(node, &mut ins, slots_of(den).into_iter())?
                    .unwrap_or(sa);
                let shift = out_scale as i32 + ds as i32 - ns as i32;
                if shift < 0 {
                    return Err(CircuitsError::InvalidModel(format!(
                        "node '{}' ({}): the numerator's scale is too large for the quotient",
                        node.name, node.op_type
                    )));
                }
                for r in den {
                    let positive = match *r {
                        Ref::In(s, _) => self
                            .cal
                            .min
                            .get(node.inputs[s as usize])
                            .is_none_or(|&m| m > 0.0),
                        Ref::Const(c) => c > 0.0,
                    };
                    if !positive {
                        return Err(CircuitsError::InvalidModel(format!(
                            "node '{}' ({}): zkonnx divides only by positive denominators, and this one is not positive on the calibration data",
                            node.name, node.op_type
                        )));
                    }
                }
                let dmax = self.refs_max(node, den);
                let rbits = bits_for(dmax, ds, self.settings.range_margin) + 1;
                let qn = self.refs(num, ns, node)?;
                let qd = self.refs(den, ds, node)?;
                let bits = self.bits(i, out_scale);
                self.push(
                    node,
                    node.op_type.clone(),
                    QOp::Div {
                        num: qn,
                        den: qd,
                        shift: shift as u32,
                        bits,
                        rbits,
                    },
                    ins,
                    out_scale,
                )
            }
            Op::Sqrt => {
                let s_in = self.nodes[ins[0]].scale;
                if s_in > 2 * out_scale {
                    return Err(CircuitsError::InvalidModel(format!(
                        "node '{}' ({}): the radicand's scale is too large",
                        node.name, node.op_type
                    )));
                }
                let bits = self.bits(i, out_scale);
                self.push(
                    node,
                    node.op_type.clone(),
                    QOp::Sqrt {
                        exp: 2 * out_scale - s_in,
                        bits,
                    },
                    ins,
                    out_scale,
                )
            }
            Op::Step => self.step(i, ins[0]),
            Op::Select {
                values,
                offset,
                groups,
                slice,
            } => self.select(i, ins[0], values, (*offset, *groups, slice), out_scale)?,
            Op::Floor => {
                let s_in = self.nodes[ins[0]].scale;
                let int_bits = self.bits(i, 0);
                let q = self.push(
                    node,
                    format!("{}(floor)", node.op_type),
                    QOp::Rescale {
                        mul: vec![1; n],
                        add: vec![0; n],
                        shift: s_in,
                        relu: false,
                        clamp: None,
                        bits: int_bits,
                    },
                    vec![ins[0]],
                    0,
                );
                let bits = self.bits(i, out_scale);
                self.rescale(
                    node,
                    q,
                    vec![1i64 << out_scale; n],
                    vec![0; n],
                    0,
                    Act::Plain,
                    bits,
                    out_scale,
                )
            }
        };
        Ok(idx)
    }
}

/// Quantizes a graph using calibrated ranges, each chain of elementwise operations of one
/// tensor first fused into one function ([`crate::ir::fuse`]) unless `settings.unfused`.
pub fn quantize_graph(graph: &Graph, cal: &Calibration, settings: QuantSettings) -> Result<QGraph> {
    if cal.max_abs.len() != graph.nodes.len() {
        return Err(CircuitsError::InvalidModel(
            "the calibration does not belong to this model".into(),
        ));
    }
    let fused = if settings.unfused {
        None
    } else {
        crate::ir::fuse::fuse_elementwise(graph)
    };
    match fused {
        Some((fused, kept)) => {
            let pick = |v: &[f64]| -> Vec<f64> {
                if v.len() == graph.nodes.len() {
                    kept.iter().map(|&i| v[i]).collect()
                } else {
                    Vec::new()
                }
            };
            let cal = Calibration {
                max_abs: pick(&cal.max_abs),
                min: pick(&cal.min),
                max: pick(&cal.max),
                samples: cal.samples,
            };
            quantize_nodes(&fused, &cal, settings)
        }
        None => quantize_nodes(graph, cal, settings),
    }
}

/// [`quantize_graph`] of the graph as it is.
fn quantize_nodes(graph: &Graph, cal: &Calibration, settings: QuantSettings) -> Result<QGraph> {
    let sa = settings.input_scale;
    let sp = settings.param_scale;
    if sa > 24 || sp > 24 || sp == 0 || sa == 0 {
        return Err(CircuitsError::InvalidModel(format!(
            "scales must be in 1..=24 bits (got input {sa}, param {sp})"
        )));
    }
    if !(4..=20).contains(&settings.table_bits) {
        return Err(CircuitsError::InvalidModel(format!(
            "table bits must be in 4..=20 (got {})",
            settings.table_bits
        )));
    }
    if cal.max_abs.len() != graph.nodes.len() {
        return Err(CircuitsError::InvalidModel(
            "the calibration does not belong to this model".into(),
        ));
    }
    // A ReLU or clamp that alone reads a map or product is applied by its rescale.
    let fused_relu = |i: usize| -> Option<(usize, Act)> {
        if i == graph.output || graph.consumers(i) != 1 {
            return None;
        }
        if !matches!(
            graph.nodes[i].op,
            Op::Linear { .. } | Op::Affine { .. } | Op::Bilinear { .. }
        ) {
            return None;
        }
        graph
            .nodes
            .iter()
            .position(|n| n.inputs.contains(&i))
            .and_then(|j| match graph.nodes[j].op {
                Op::Relu => Some((j, Act::Relu)),
                Op::Clamp { hi } => Some((j, Act::Clamp(hi))),
                _ => None,
            })
    };
    let mut func_elements: Vec<(Func, usize)> = Vec::new();
    for n in &graph.nodes {
        if let Op::Func { f } = &n.op {
            match func_elements.iter_mut().find(|(g, _)| g == f) {
                Some((_, total)) => *total += n.len(),
                None => func_elements.push((f.clone(), n.len())),
            }
        }
    }
    let discrete = discrete_bounds(graph);
    let residual = if settings.rounded_maps {
        vec![None; graph.nodes.len()]
    } else {
        linear::residual_sums(graph, |i| fused_relu(i).map_or(Act::Plain, |(_, a)| a))
    };
    let build = |caps: Vec<(Func, u32, i32)>| -> Result<Builder<'_>> {
        let mut b = Builder {
            graph,
            cal,
            settings,
            func_elements: func_elements.clone(),
            discrete: discrete.clone(),
            nodes: Vec::with_capacity(graph.nodes.len() * 2),
            tables: Vec::new(),
            map: vec![usize::MAX; graph.nodes.len()],
            caps,
            asked: Vec::new(),
            residual: residual.clone(),
            raw_bias: vec![None; graph.nodes.len()],
        };
        for i in 0..graph.nodes.len() {
            if b.map[i] != usize::MAX {
                continue; // a ReLU fused into its producer
            }
            let fused = fused_relu(i);
            let idx = b.lower(i, fused.map_or(Act::Plain, |(_, a)| a))?;
            b.map[i] = idx;
            if let Some((j, _)) = fused {
                b.map[j] = idx;
            }
        }
        Ok(b)
    };
    let mut b = build(Vec::new())?;
    // Past the default table bits, a function's direct tables hold at most 2^b entries
    // together ([`shared_tables`]): where they do not, again, reading coarser.
    if settings.table_bits > super::settings::DEFAULT_TABLE_BITS {
        let caps = shared_tables::caps(&b.asked, 1 << settings.table_bits);
        if !caps.is_empty() {
            b = build(caps)?;
        }
    }
    let q = QGraph {
        inputs: graph.inputs.clone(),
        outputs: graph.outputs.clone(),
        output: b.map[graph.output],
        nodes: b.nodes,
        settings,
        tables: b.tables,
        input_bits: bits_for(cal.max_abs[0], sa, settings.range_margin) + 1,
        segment: None,
    };
    check_bounds(&q)?;
    Ok(q)
}
