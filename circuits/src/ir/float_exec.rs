//! A plain f32 executor of the Graph IR, used for calibration.

use super::{Graph, Op};

/// Runs the graph on one input and returns every node's output tensor (flattened).
///
/// The caller checks the input length against the input node's shape.
pub fn run_float(graph: &Graph, input: &[f32]) -> Vec<Vec<f32>> {
    let mut values: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let out = match &node.op {
            Op::Input => input.to_vec(),
            Op::Dense {
                weight,
                bias,
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
                        let mut acc: f64 = bias.as_ref().map_or(0.0, |b| f64::from(b[o]));
                        for (wi, xi) in w.iter().zip(xr) {
                            acc += f64::from(*wi) * f64::from(*xi);
                        }
                        y.push(acc as f32);
                    }
                }
                y
            }
            Op::Affine { mul, add } => values[node.inputs[0]]
                .iter()
                .zip(mul.iter().zip(add))
                .map(|(x, (m, a))| x * m + a)
                .collect(),
            Op::Relu => values[node.inputs[0]].iter().map(|x| x.max(0.0)).collect(),
            Op::Reshape => values[node.inputs[0]].clone(),
        };
        values.push(out);
    }
    values
}
