//! Quantization: from the f32 Graph IR to the integer QGraph (DESIGN.md §3).
//!
//! Every activation is a fixed-point integer at scale `2^input_scale`. A linear layer
//! multiplies by weights at scale `2^param_scale` and is brought back by a rounding
//! division whose remainder the circuit range-checks. A following ReLU is fused into
//! that division.

mod calibrate;
mod exec;
mod settings;

pub use calibrate::{calibrate, check_input, Calibration};
pub use exec::{quantize_input, rescale_one, run_quantized, Trace};
pub use settings::{QuantSettings, DEFAULT_INPUT_SCALE, DEFAULT_PARAM_SCALE, DEFAULT_RANGE_MARGIN};

use serde::{Deserialize, Serialize};

use crate::error::{CircuitsError, Result};
use crate::ir::{Graph, Op};

/// A quantized operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum QOp {
    /// The model input (public instance), at the activation scale.
    Input,
    /// Integer matrix product per row: `acc = W · x` (no rescaling; scale is the sum of scales).
    Linear {
        /// Integer weights, `out_features × in_features`, row-major.
        weight: Vec<i64>,
        /// Outputs per row.
        out_features: usize,
        /// Inputs per row.
        in_features: usize,
    },
    /// Elementwise `q = floor((x·mul + add) / 2^shift)`, then `max(q, 0)` if `relu`.
    ///
    /// `|q| < 2^bits` is enforced (range check), `add` already holds the rounding offset.
    Rescale {
        /// Multiplier per element.
        mul: Vec<i64>,
        /// Addend per element (bias and rounding offset).
        add: Vec<i64>,
        /// Right shift.
        shift: u32,
        /// Whether a ReLU follows.
        relu: bool,
        /// Bound on the quotient: `|q| < 2^bits`.
        bits: u32,
    },
    /// Same values, new shape.
    Reshape,
}

/// A node of the quantized graph.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QNode {
    /// ONNX node name (for messages).
    pub name: String,
    /// ONNX operator(s) this node implements.
    pub op_type: String,
    /// The operation.
    pub op: QOp,
    /// Input node indices.
    pub inputs: Vec<usize>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Fixed-point scale (fractional bits) of the output.
    pub scale: u32,
}

impl QNode {
    /// Number of output elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The quantized model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QGraph {
    /// Nodes in topological order; `nodes[0]` is the input.
    pub nodes: Vec<QNode>,
    /// Output node index.
    pub output: usize,
    /// The settings used.
    pub settings: QuantSettings,
}

impl QGraph {
    /// Input node.
    pub fn input(&self) -> &QNode {
        &self.nodes[0]
    }

    /// Output node.
    pub fn output_node(&self) -> &QNode {
        &self.nodes[self.output]
    }

    /// Converts integer outputs to reals.
    pub fn dequantize_output(&self, values: &[i64]) -> Vec<f64> {
        let s = (self.output_node().scale as f64).exp2();
        values.iter().map(|&v| v as f64 / s).collect()
    }

    /// Total multiply-adds of the linear layers.
    pub fn macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                QOp::Linear { in_features, .. } => n.len() * in_features,
                _ => 0,
            })
            .sum()
    }
}

fn quantize(x: f32, scale: u32, what: &str, index: usize) -> Result<i64> {
    if !x.is_finite() {
        return Err(CircuitsError::NonFinite {
            what: what.into(),
            index,
            value: x,
        });
    }
    let v = (f64::from(x) * (scale as f64).exp2()).round();
    if v.abs() >= 2f64.powi(62) {
        return Err(CircuitsError::Overflow { node: what.into() });
    }
    Ok(v as i64)
}

/// Bits `b` such that every calibrated value fits `|q| < 2^b` with the margin applied.
fn bits_for(max_abs: f64, scale: u32, margin: f64) -> u32 {
    let m = (max_abs * (scale as f64).exp2() * margin).ceil() + 1.0;
    (m.log2().ceil() as u32).max(1)
}

/// The rescale node of a linear or affine node, with its ReLU fused in if `relu`.
#[allow(clippy::too_many_arguments)]
fn rescale_node(
    node: &crate::ir::Node,
    input: usize,
    mul: Vec<i64>,
    add: Vec<i64>,
    shift: u32,
    bits: u32,
    relu: bool,
    scale: u32,
) -> QNode {
    QNode {
        name: node.name.clone(),
        op_type: if relu {
            format!("{}+Relu", node.op_type)
        } else {
            node.op_type.clone()
        },
        op: QOp::Rescale {
            mul,
            add,
            shift,
            relu,
            bits,
        },
        inputs: vec![input],
        shape: node.shape.clone(),
        scale,
    }
}

/// Quantizes a graph using calibrated ranges.
pub fn quantize_graph(graph: &Graph, cal: &Calibration, settings: QuantSettings) -> Result<QGraph> {
    let sa = settings.input_scale;
    let sp = settings.param_scale;
    if sa > 24 || sp > 24 || sp == 0 {
        return Err(CircuitsError::InvalidModel(format!(
            "scales must be in 1..=24 bits (got input {sa}, param {sp})"
        )));
    }
    let mut nodes: Vec<crate::quant::QNode> = Vec::with_capacity(graph.nodes.len() * 2);
    // Map from graph node index to quantized node index.
    let mut map = vec![usize::MAX; graph.nodes.len()];
    let fused_relu = |i: usize| -> Option<usize> {
        if i == graph.output || graph.consumers(i) != 1 {
            return None;
        }
        graph
            .nodes
            .iter()
            .position(|n| n.inputs.contains(&i))
            .filter(|&j| matches!(graph.nodes[j].op, Op::Relu))
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        if map[i] != usize::MAX {
            continue; // a ReLU fused into its producer
        }
        let inp = node.inputs.first().map(|&j| map[j]);
        let in_scale = inp.map_or(sa, |j| nodes[j].scale);
        let bits = bits_for(cal.max_abs[i], sa, settings.range_margin);
        let mut push = |n: QNode| {
            nodes.push(n);
            nodes.len() - 1
        };
        let idx = match &node.op {
            Op::Input => push(QNode {
                name: node.name.clone(),
                op_type: node.op_type.clone(),
                op: QOp::Input,
                inputs: vec![],
                shape: node.shape.clone(),
                scale: sa,
            }),
            Op::Reshape => push(QNode {
                name: node.name.clone(),
                op_type: node.op_type.clone(),
                op: QOp::Reshape,
                inputs: vec![inp.unwrap_or(0)],
                shape: node.shape.clone(),
                scale: in_scale,
            }),
            Op::Dense {
                weight,
                bias,
                out_features,
                in_features,
            } => {
                let w = weight
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| quantize(x, sp, &node.name, k))
                    .collect::<Result<Vec<_>>>()?;
                let acc_scale = in_scale + sp;
                let lin = push(QNode {
                    name: node.name.clone(),
                    op_type: node.op_type.clone(),
                    op: QOp::Linear {
                        weight: w,
                        out_features: *out_features,
                        in_features: *in_features,
                    },
                    inputs: vec![inp.unwrap_or(0)],
                    shape: node.shape.clone(),
                    scale: acc_scale,
                });
                let shift = acc_scale - sa;
                let offset = if shift > 0 { 1i64 << (shift - 1) } else { 0 };
                let rows = node.len() / out_features;
                let mut add = Vec::with_capacity(node.len());
                for _ in 0..rows {
                    for o in 0..*out_features {
                        let b = match bias {
                            Some(b) => quantize(b[o], acc_scale, &node.name, o)?,
                            None => 0,
                        };
                        add.push(b + offset);
                    }
                }
                let mul = vec![1; node.len()];
                push(rescale_node(
                    node,
                    lin,
                    mul,
                    add,
                    shift,
                    bits,
                    fused_relu(i).is_some(),
                    sa,
                ))
            }
            Op::Affine { mul, add } => {
                let acc_scale = in_scale + sp;
                let m = mul
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| quantize(x, sp, &node.name, k))
                    .collect::<Result<Vec<_>>>()?;
                let shift = acc_scale - sa;
                let offset = if shift > 0 { 1i64 << (shift - 1) } else { 0 };
                let a = add
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| Ok(quantize(x, acc_scale, &node.name, k)? + offset))
                    .collect::<Result<Vec<_>>>()?;
                push(rescale_node(
                    node,
                    inp.unwrap_or(0),
                    m,
                    a,
                    shift,
                    bits,
                    fused_relu(i).is_some(),
                    sa,
                ))
            }
            Op::Relu => {
                // A standalone ReLU: bound its input's range.
                let src = node.inputs[0];
                let b = bits_for(cal.max_abs[src], in_scale, settings.range_margin);
                push(QNode {
                    name: node.name.clone(),
                    op_type: node.op_type.clone(),
                    op: QOp::Rescale {
                        mul: vec![1; node.len()],
                        add: vec![0; node.len()],
                        shift: 0,
                        relu: true,
                        bits: b,
                    },
                    inputs: vec![inp.unwrap_or(0)],
                    shape: node.shape.clone(),
                    scale: in_scale,
                })
            }
        };
        map[i] = idx;
        if let Some(j) =
            fused_relu(i).filter(|_| matches!(node.op, Op::Dense { .. } | Op::Affine { .. }))
        {
            map[j] = idx;
        }
    }
    let q = QGraph {
        nodes,
        output: map[graph.output],
        settings,
    };
    check_bounds(&q)?;
    Ok(q)
}

/// Statically checks that no intermediate can wrap modulo the field (|v| < 2^120 everywhere)
/// and that everything fits the integer executor (i64 values, i128 accumulators).
fn check_bounds(q: &QGraph) -> Result<()> {
    let mut bound: Vec<f64> = Vec::with_capacity(q.nodes.len());
    for n in &q.nodes {
        let b = match &n.op {
            QOp::Input => 2f64.powi(40),
            QOp::Reshape => bound[n.inputs[0]],
            QOp::Linear {
                weight,
                in_features,
                ..
            } => {
                let wmax = weight.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0) as f64;
                wmax * bound[n.inputs[0]] * *in_features as f64
            }
            QOp::Rescale { bits, mul, add, .. } => {
                let m = mul.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0) as f64;
                let a = add.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0) as f64;
                if m * bound[n.inputs[0]] + a >= 2f64.powi(120) {
                    return Err(CircuitsError::Overflow {
                        node: n.name.clone(),
                    });
                }
                if *bits > 60 {
                    return Err(CircuitsError::Overflow {
                        node: n.name.clone(),
                    });
                }
                (*bits as f64).exp2()
            }
        };
        if b >= 2f64.powi(120) {
            return Err(CircuitsError::Overflow {
                node: n.name.clone(),
            });
        }
        bound.push(b);
    }
    Ok(())
}
