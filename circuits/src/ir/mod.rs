//! The Graph IR: a model as a list of primitive nodes over f32 tensors, constants folded in.
//!
//! The importer lowers every ONNX operator to a handful of primitives, so quantization, the
//! reference executors and the circuit each handle only these:
//! - [`Op::Linear`]: a sparse linear map with constant weights over elements gathered from one
//!   or more inputs (Gemm, MatMul by a constant, Conv, ConvTranspose, pooling averages,
//!   reductions, sums and differences of tensors);
//! - [`Op::Affine`], [`Op::Relu`] and [`Op::Clamp`] (elementwise);
//! - [`Op::Gather`]: pure rewiring (reshape, transpose, slice, concat, pad, broadcast);
//! - [`Op::Bilinear`]: sums of products of two computed tensors (MatMul of activations, Mul);
//! - [`Op::Func`]: an elementwise nonlinear function proven by a lookup table;
//! - [`Op::Select`]: an entry of a constant tensor at a computed index, proven by a lookup in
//!   a table of the tensor's entries (Gather and GatherElements of constant data: embeddings
//!   of computed token ids, tree traversals);
//! - [`Op::Div`] and [`Op::Sqrt`]: exact integer division and square root (witness + check);
//! - [`Op::Step`] and [`Op::Floor`]: a comparison with zero and rounding down, each one
//!   range-checked division in the circuit (comparisons, logic, `Cast` to an integer type,
//!   `ArgMax`, tree ensembles and one-hot lookups are built from them).
//!
//! Every node produces exactly one tensor; node 0 is the graph input. Nodes are in
//! topological order, so executing them in order is always valid.

mod composite;
mod float_exec;
mod func;
pub mod fuse;

pub use composite::{Composite, Step, MAX_STEPS};
pub use float_exec::run_float;
pub use func::{Func, Trig};

use serde::{Deserialize, Serialize};

/// An element of one of the node's inputs: `(slot, index)` where `slot` indexes `Node::inputs`.
pub type Elem = (u32, u32);

/// Where an element of a rewired tensor comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Ref {
    /// Element `idx` of input `slot`.
    In(u32, u32),
    /// A constant.
    Const(f32),
}

/// A dense weight block, row-major.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mat<T> {
    /// Rows (outputs).
    pub rows: usize,
    /// Columns (inputs).
    pub cols: usize,
    /// `rows × cols` values.
    pub data: Vec<T>,
}

/// One block of a [`Op::Linear`]: `y[outputs[r]] = Σ_j mat[r][j] · x[inputs[j]]`.
///
/// An input of `None` is a zero (padding): its weight is not used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    /// Index of the weight block in the op's `mats`.
    pub mat: u32,
    /// The gathered inputs, one per column of the block.
    pub inputs: Vec<Option<Elem>>,
    /// The output elements, one per row of the block.
    pub outputs: Vec<u32>,
}

/// A sparse linear map with constant weights: a list of dense blocks over gathered inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Linear<T> {
    /// Weight blocks.
    pub mats: Vec<Mat<T>>,
    /// Blocks of the map; every output element is in exactly one group.
    pub groups: Vec<Group>,
}

impl<T: Copy> Linear<T> {
    /// A dense layer applied to every row of an input: `y[r, o] = Σ_i W[o, i] x[r, i]`.
    pub fn dense(weight: Vec<T>, out_features: usize, in_features: usize, rows: usize) -> Self {
        let groups = (0..rows)
            .map(|r| Group {
                mat: 0,
                inputs: (0..in_features)
                    .map(|i| Some((0, (r * in_features + i) as u32)))
                    .collect(),
                outputs: (0..out_features)
                    .map(|o| (r * out_features + o) as u32)
                    .collect(),
            })
            .collect();
        Self {
            mats: vec![Mat {
                rows: out_features,
                cols: in_features,
                data: weight,
            }],
            groups,
        }
    }

    /// Multiply-adds of the map (padding excluded).
    pub fn macs(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.outputs.len() * g.inputs.iter().filter(|i| i.is_some()).count())
            .sum()
    }

    /// Runs the map with `get` reading an input element and `mul_add` accumulating.
    pub fn eval<A: Copy>(
        &self,
        len: usize,
        zero: A,
        get: impl Fn(Elem) -> A,
        mul_add: impl Fn(A, T, A) -> A,
    ) -> Vec<A> {
        let mut out = vec![zero; len];
        for g in &self.groups {
            let m = &self.mats[g.mat as usize];
            let xs: Vec<Option<A>> = g.inputs.iter().map(|i| i.map(&get)).collect();
            for (r, &o) in g.outputs.iter().enumerate() {
                let row = &m.data[r * m.cols..(r + 1) * m.cols];
                let mut acc = zero;
                for (w, x) in row.iter().zip(&xs) {
                    if let Some(x) = x {
                        acc = mul_add(acc, *w, *x);
                    }
                }
                out[o as usize] = acc;
            }
        }
        out
    }
}

/// An operation of the Graph IR.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Op {
    /// The graph input.
    Input,
    /// `y = L(x) + bias` with a constant sparse linear map `L`.
    Linear {
        /// The map.
        map: Linear<f32>,
        /// Bias per output element, if any.
        bias: Option<Vec<f32>>,
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
    /// Elementwise `min(max(x, 0), hi)`, `hi > 0`: a ReLU6, a clip to `[lo, hi]` shifted by
    /// `lo` (one range-checked element in the circuit, where two ReLUs took three).
    Clamp {
        /// The upper bound.
        hi: f32,
    },
    /// `y[i] = map[i]`: elements of the inputs or constants (no arithmetic).
    Gather {
        /// Source of every output element.
        map: Vec<Ref>,
    },
    /// `y[i] = scale · Σ_t a[terms[i][t].0] · b[terms[i][t].1]` with `a` = input 0, `b` = input 1.
    Bilinear {
        /// Index pairs of every output.
        terms: Vec<Vec<(u32, u32)>>,
        /// Constant factor.
        scale: f32,
    },
    /// Elementwise nonlinear function (a lookup table in the circuit).
    Func {
        /// The function.
        f: Func,
    },
    /// `y[i] = values[(x[i] + offset)·groups + slice[i]]`, `x` whole numbers in
    /// `[−offset, len/groups − offset)` and `slice[i] < groups`: `groups` interleaved tables
    /// of one index each (a lookup in a table of the values keyed by `groups·x + slice`, which
    /// no index outside that range reaches: it cannot be proved).
    Select {
        /// The tables' entries, index-major.
        values: Vec<f32>,
        /// The first index is `−offset`.
        offset: u32,
        /// Number of interleaved tables.
        groups: u32,
        /// Each element's table.
        slice: Vec<u32>,
    },
    /// `y[i] = num[i] / den[i]`, the denominator positive.
    Div {
        /// Numerators (input elements or constants).
        num: Vec<Ref>,
        /// Denominators (input elements or constants).
        den: Vec<Ref>,
    },
    /// Elementwise `sqrt(x)`, `x ≥ 0`.
    Sqrt,
    /// Elementwise `1` if `x > 0` else `0` (on the quantized grid: `x ≥ one step`).
    Step,
    /// Elementwise `floor(x)`.
    Floor,
}

/// The element type an ONNX graph input or output declares.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum ElemKind {
    /// Real numbers (floating point).
    #[default]
    Float,
    /// Integers (`int8` … `int64`, `uint*`): values must be whole numbers.
    Int,
    /// Booleans: `0` or `1`.
    Bool,
}

/// One ONNX graph input or output as the user sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IoSpec {
    /// Its ONNX name.
    pub name: String,
    /// Its shape (a symbolic dimension is the value bound to its name at import, else 1).
    pub shape: Vec<usize>,
    /// Its element type.
    #[serde(default)]
    pub kind: ElemKind,
    /// The name of every symbolic dimension of a graph input, by axis (`None`: a number, or
    /// an unnamed dimension); empty for outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dim_params: Vec<Option<String>>,
}

impl IoSpec {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    /// Keep this tensor at double precision (it feeds a square root).
    #[serde(default)]
    pub wide: bool,
    /// A bound of `|value|` that holds for every input by construction (a fractional part
    /// `x − floor(x)` is below 1), where calibration would size the range check from the
    /// values it saw: a proof's rounding may meet a value calibration did not.
    #[serde(default)]
    pub bound: Option<f32>,
    /// Never positive, by construction: `x − max` of a group, what a softmax exponentiates. A
    /// function of it needs only the negative half of a table.
    #[serde(default)]
    pub nonpositive: bool,
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
///
/// A model with several ONNX inputs has one input node holding all of them, flattened and
/// concatenated in the order of [`Graph::inputs`]; several ONNX outputs are likewise one output
/// tensor, concatenated in the order of [`Graph::outputs`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Graph {
    /// All nodes; `nodes[0]` is the input.
    pub nodes: Vec<Node>,
    /// Index of the node whose tensor is the model output.
    pub output: usize,
    /// The ONNX inputs, in the order their elements sit in the input node.
    #[serde(default)]
    pub inputs: Vec<IoSpec>,
    /// The ONNX outputs, in the order their elements sit in the output tensor.
    #[serde(default)]
    pub outputs: Vec<IoSpec>,
}

impl Graph {
    /// Multiply-adds of the graph's linear maps and products (what the planner lays out row by
    /// row, and what the compile's memory grows with).
    pub fn macs(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Linear { map, .. } => map
                    .groups
                    .iter()
                    .map(|g| (g.inputs.len() * g.outputs.len()) as u64)
                    .sum(),
                Op::Bilinear { terms, .. } => terms.iter().map(|t| t.len() as u64).sum(),
                _ => 0,
            })
            .sum()
    }

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
