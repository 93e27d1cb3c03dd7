//! The Graph IR: a model as a list of nodes over f32 tensors, with constants folded in.
//!
//! Every node produces exactly one tensor; node 0 is the graph input. Nodes are in
//! topological order, so executing them in order is always valid.

mod float_exec;

pub use float_exec::run_float;

use serde::{Deserialize, Serialize};

/// An operation of the Graph IR.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Op {
    /// The graph input.
    Input,
    /// `y[r, :] = W · x[r, :] + b` for every row `r` of the input, with constant `W` (`out × inp`, row-major).
    Dense {
        /// Weights, `out_features × in_features`, row-major.
        weight: Vec<f32>,
        /// Bias of length `out_features`, if any.
        bias: Option<Vec<f32>>,
        /// Number of outputs per row.
        out_features: usize,
        /// Number of inputs per row.
        in_features: usize,
    },
    /// Elementwise `y = x · mul + add` with constants already broadcast to the tensor's shape.
    Affine {
        /// Multiplier per element.
        mul: Vec<f32>,
        /// Addend per element.
        add: Vec<f32>,
    },
    /// Elementwise `max(x, 0)`.
    Relu,
    /// Same values, new shape (Reshape, Flatten, Identity).
    Reshape,
}

/// One node of the graph.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    /// Name of the ONNX node this came from (for error messages).
    pub name: String,
    /// The ONNX operator this came from.
    pub op_type: String,
    /// The operation.
    pub op: Op,
    /// Indices of the input nodes.
    pub inputs: Vec<usize>,
    /// Output shape.
    pub shape: Vec<usize>,
}

impl Node {
    /// Number of elements of the output tensor.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the output tensor is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A model: nodes in topological order, node 0 is the input, `output` names the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Graph {
    /// All nodes; `nodes[0]` is the input.
    pub nodes: Vec<Node>,
    /// Index of the node whose tensor is the model output.
    pub output: usize,
}

impl Graph {
    /// The input node.
    pub fn input(&self) -> &Node {
        &self.nodes[0]
    }

    /// The output node.
    pub fn output_node(&self) -> &Node {
        &self.nodes[self.output]
    }

    /// How many nodes consume the output of node `i` (the graph output counts as one).
    pub fn consumers(&self, i: usize) -> usize {
        let uses = self.nodes.iter().filter(|n| n.inputs.contains(&i)).count();
        uses + usize::from(self.output == i)
    }
}
