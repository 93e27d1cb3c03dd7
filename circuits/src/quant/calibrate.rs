//! Calibration: the range of every tensor of the float model on calibration inputs.

use serde::{Deserialize, Serialize};

use crate::error::{CircuitsError, Result};
use crate::ir::{run_float, Graph};

/// Per-node ranges observed on the calibration inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    /// `max_abs[i]` is the largest |value| of node `i`'s output.
    pub max_abs: Vec<f64>,
    /// `min[i]` is the smallest value of node `i`'s output.
    #[serde(default)]
    pub min: Vec<f64>,
    /// How many inputs were used.
    pub samples: usize,
}

/// Runs the float graph on every input and records ranges.
pub fn calibrate(graph: &Graph, inputs: &[Vec<f32>]) -> Result<Calibration> {
    if inputs.is_empty() {
        return Err(CircuitsError::InvalidModel(
            "calibration needs at least one input".into(),
        ));
    }
    let mut max_abs = vec![0f64; graph.nodes.len()];
    let mut min = vec![f64::INFINITY; graph.nodes.len()];
    for input in inputs {
        check_input(graph, input)?;
        let vals = run_float(graph, input);
        for (i, v) in vals.iter().enumerate() {
            for &x in v {
                let x = f64::from(x);
                if !x.is_finite() {
                    return Err(CircuitsError::InvalidModel(format!(
                        "node '{}' ({}) computes a non-finite value on the calibration data",
                        graph.nodes[i].name, graph.nodes[i].op_type
                    )));
                }
                max_abs[i] = max_abs[i].max(x.abs());
                min[i] = min[i].min(x);
            }
        }
    }
    Ok(Calibration {
        max_abs,
        min,
        samples: inputs.len(),
    })
}

/// Checks an input's length and finiteness against the graph's input node.
pub fn check_input(graph: &Graph, input: &[f32]) -> Result<()> {
    let node = graph.input();
    if input.len() != node.len() {
        return Err(CircuitsError::InputLength {
            name: node.name.clone(),
            shape: node.shape.clone(),
            expected: node.len(),
            got: input.len(),
        });
    }
    if let Some((index, &value)) = input.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(CircuitsError::NonFinite {
            what: "input".into(),
            index,
            value,
        });
    }
    Ok(())
}
