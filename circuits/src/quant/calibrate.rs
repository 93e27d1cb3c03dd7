//! Calibration: the range of every tensor of the float model on calibration inputs.

use serde::{Deserialize, Serialize};

use crate::error::{CircuitsError, Result};
use crate::ir::{run_float, ElemKind, Graph};

/// Per-node ranges observed on the calibration inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    /// `max_abs[i]` is the largest |value| of node `i`'s output.
    pub max_abs: Vec<f64>,
    /// `min[i]` is the smallest value of node `i`'s output.
    #[serde(default)]
    pub min: Vec<f64>,
    /// `max[i]` is the largest value of node `i`'s output (empty in files written before it
    /// was recorded: then `max_abs` stands in).
    #[serde(default)]
    pub max: Vec<f64>,
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
    let mut max = vec![f64::NEG_INFINITY; graph.nodes.len()];
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
                max[i] = max[i].max(x);
            }
        }
    }
    Ok(Calibration {
        max_abs,
        min,
        max,
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
    // Integer and boolean inputs must hold whole numbers (0/1): converted explicitly, never
    // rounded silently.
    let mut at = 0;
    for spec in &graph.inputs {
        let part = input.get(at..at + spec.len()).unwrap_or(&[]);
        let bad = part.iter().position(|&x| match spec.kind {
            ElemKind::Float => false,
            ElemKind::Int => x.fract() != 0.0,
            ElemKind::Bool => x != 0.0 && x != 1.0,
        });
        if let Some(j) = bad {
            let kind = if spec.kind == ElemKind::Int {
                "an integer"
            } else {
                "a boolean (0 or 1)"
            };
            return Err(CircuitsError::InvalidInput(format!(
                "input '{}' element {j} is {}, but the model declares it {kind}",
                spec.name, part[j]
            )));
        }
        at += spec.len();
    }
    Ok(())
}
