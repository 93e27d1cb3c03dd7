//! The reference integer executor: the single source of truth for witness values.

use crate::error::{CircuitsError, Result};
use crate::quant::{QGraph, QOp};

/// Every node's integer output for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// `values[i]` is node `i`'s output, flattened.
    pub values: Vec<Vec<i64>>,
}

impl Trace {
    /// The model output.
    pub fn output<'a>(&'a self, q: &QGraph) -> &'a [i64] {
        &self.values[q.output]
    }
}

/// `(q, r)` with `x·mul + add = q·2^shift + r`, `0 ≤ r < 2^shift` (floor division).
pub fn rescale_one(x: i64, mul: i64, add: i64, shift: u32) -> (i128, i128) {
    let z = i128::from(x) * i128::from(mul) + i128::from(add);
    let q = z >> shift; // arithmetic shift = floor division by 2^shift
    (q, z - (q << shift))
}

/// Quantizes a float input to the model's input scale.
pub fn quantize_input(q: &QGraph, input: &[f32]) -> Result<Vec<i64>> {
    let node = q.input();
    if input.len() != node.len() {
        return Err(CircuitsError::InputLength {
            name: node.name.clone(),
            shape: node.shape.clone(),
            expected: node.len(),
            got: input.len(),
        });
    }
    let s = (node.scale as f64).exp2();
    input
        .iter()
        .enumerate()
        .map(|(index, &x)| {
            if !x.is_finite() {
                return Err(CircuitsError::NonFinite {
                    what: "input".into(),
                    index,
                    value: x,
                });
            }
            let v = (f64::from(x) * s).round();
            if v.abs() >= 2f64.powi(40) {
                return Err(CircuitsError::OutOfRange {
                    node: node.name.clone(),
                    index,
                    value: v as i128,
                    bits: 40,
                });
            }
            Ok(v as i64)
        })
        .collect()
}

/// Runs the quantized graph on an integer input.
pub fn run_quantized(q: &QGraph, input: &[i64]) -> Result<Trace> {
    let mut values: Vec<Vec<i64>> = Vec::with_capacity(q.nodes.len());
    for node in &q.nodes {
        let out = match &node.op {
            QOp::Input => input.to_vec(),
            QOp::Reshape => values[node.inputs[0]].clone(),
            QOp::Linear {
                weight,
                out_features,
                in_features,
            } => {
                let x = &values[node.inputs[0]];
                let rows = x.len() / in_features;
                let mut y = Vec::with_capacity(rows * out_features);
                for r in 0..rows {
                    let xr = &x[r * in_features..(r + 1) * in_features];
                    for o in 0..*out_features {
                        let w = &weight[o * in_features..(o + 1) * in_features];
                        let acc: i128 = w
                            .iter()
                            .zip(xr)
                            .map(|(a, b)| i128::from(*a) * i128::from(*b))
                            .sum();
                        y.push(i64::try_from(acc).map_err(|_| CircuitsError::Overflow {
                            node: node.name.clone(),
                        })?);
                    }
                }
                y
            }
            QOp::Rescale {
                mul,
                add,
                shift,
                relu,
                bits,
            } => {
                let x = &values[node.inputs[0]];
                let lim = 1i128 << bits;
                let mut y = Vec::with_capacity(x.len());
                for (index, (&xv, (&m, &a))) in x.iter().zip(mul.iter().zip(add)).enumerate() {
                    let (qv, _) = rescale_one(xv, m, a, *shift);
                    if qv <= -lim || qv >= lim {
                        return Err(CircuitsError::OutOfRange {
                            node: node.name.clone(),
                            index,
                            value: qv,
                            bits: *bits,
                        });
                    }
                    let v = if *relu { qv.max(0) } else { qv };
                    y.push(v as i64);
                }
                y
            }
        };
        values.push(out);
    }
    Ok(Trace { values })
}
