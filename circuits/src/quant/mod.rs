//! Quantization: from the f32 Graph IR to the integer QGraph (DESIGN.md §3).
//!
//! Every activation is a fixed-point integer at scale `2^input_scale` (tensors that feed a
//! square root at twice that). A linear layer multiplies by weights at scale `2^param_scale`
//! (or exact small integers at scale 0) and is brought back by a rounding division whose
//! remainder the circuit range-checks; a following ReLU is fused into that division. Nonlinear
//! functions read a table whose domain calibration chose; division and square root are exact
//! integer operations checked by the circuit.

mod bounds;
mod calibrate;
mod discrete;
mod exec;
pub mod interp;
mod quantize;
mod settings;
mod shared_tables;
mod table;
mod validate;

pub use bounds::check_bounds_any_params;
pub use calibrate::{calibrate, check_input, Calibration};
pub use exec::{div_one, isqrt, quantize_input, rescale_one, run_quantized, Trace};
pub use quantize::quantize_graph;
pub use settings::{
    Interpolation, QuantSettings, Target, DEFAULT_INPUT_SCALE, DEFAULT_PARAM_SCALE,
    DEFAULT_RANGE_MARGIN, DEFAULT_TABLE_BITS, DEFAULT_TABLE_MARGIN,
};
pub use table::{Table, TABLE_VALUE_CAP};
pub use validate::{MAX_BITS, MAX_NODE_ELEMENTS, MAX_TABLE_ENTRIES};

use serde::{Deserialize, Serialize};

use crate::ir::Linear;

/// Where a segment of a split model ([`crate::split`]) sits in its model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SegmentOf {
    /// Its position, from 0.
    pub index: usize,
    /// How many segments the model has.
    pub count: usize,
    /// The model's nodes it computes: `start..end`.
    pub start: usize,
    /// End (exclusive) of its nodes.
    pub end: usize,
}

impl SegmentOf {
    /// Whether it is the first segment (it takes the model's input).
    pub fn is_first(&self) -> bool {
        self.index == 0
    }

    /// Whether it is the last segment (it gives the model's output).
    pub fn is_last(&self) -> bool {
        self.index + 1 == self.count
    }
}

/// Where an element of a quantized rewiring or division comes from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum QRef {
    /// Element `idx` of input `slot`.
    In(u32, u32),
    /// An integer constant (at the node's scale).
    Const(i64),
}

/// A quantized operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum QOp {
    /// The model input (public instance), at the activation scale.
    Input,
    /// Integer sparse linear map `acc = L(x)` (no rescaling; scale is the sum of scales).
    Linear {
        /// The map with integer weights.
        map: Linear<i64>,
    },
    /// Elementwise `q = floor((x·mul + add) / 2^shift)`, then `max(q, 0)` if `relu`, and
    /// `min(max(q, 0), clamp)` with a clamp (`relu` is then set too).
    ///
    /// `|q| < 2^bits` is enforced (range check), `add` already holds the rounding offset;
    /// an identity ([`QOp::is_identity`]) with fixed parameters is not laid out on the pooled
    /// layout (its output is its input, bounded by its inputs' bounds instead).
    Rescale {
        /// Multiplier per element.
        mul: Vec<i64>,
        /// Addend per element (bias and rounding offset).
        add: Vec<i64>,
        /// Right shift.
        shift: u32,
        /// Whether a ReLU follows.
        relu: bool,
        /// The clamp's upper bound `C` (`0 ≤ C < 2^bits`), with `relu`: a ReLU6 or a clip.
        #[serde(default)]
        clamp: Option<i64>,
        /// Bound on the quotient: `|q| < 2^bits`.
        bits: u32,
    },
    /// Rewiring: every output element is an input element or a constant.
    Gather {
        /// Source of every output element.
        map: Vec<QRef>,
    },
    /// `acc[i] = Σ_t a[terms[i][t].0] · b[terms[i][t].1]` (scale: sum of the inputs' scales).
    Bilinear {
        /// Index pairs of every output.
        terms: Vec<Vec<(u32, u32)>>,
    },
    /// `y = table(x)` elementwise.
    Lookup {
        /// Index into [`QGraph::tables`].
        table: usize,
    },
    /// `q = round(num · 2^shift / den)` with `den > 0`; `|q| < 2^bits`, `0 ≤ r < 2·den < 2^rbits`.
    Div {
        /// Numerators.
        num: Vec<QRef>,
        /// Denominators.
        den: Vec<QRef>,
        /// Extra fractional bits of the quotient.
        shift: u32,
        /// Bound on the quotient.
        bits: u32,
        /// Bound on the remainder.
        rbits: u32,
    },
    /// `s = floor(sqrt(x · 2^exp))`, `0 ≤ s < 2^bits`.
    Sqrt {
        /// Extra fractional bits of the radicand.
        exp: u32,
        /// Bound on the root.
        bits: u32,
    },
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

impl QOp {
    /// Whether this is a rescale that leaves every element as it is (`mul = 1`, `add = 0`, no
    /// shift, no ReLU): what an exact integer map (a sum, a difference, the second half of a
    /// maximum) gets when its output is already at its scale.
    ///
    /// When it reads a linear map, the pooled layout with fixed parameters lays none out
    /// ([`QGraph::passes_through`]): its output cells are the map's accumulators, which the
    /// multiply-add gate determines, so a range check there would bound a value nobody can
    /// choose; [`bounds`] bounds it by its input instead of by `bits`. With parameters in advice
    /// the prover picks `mul` and `add`, so it is a rescale like any other. The integer
    /// execution still refuses a value beyond `bits` (the calibrated range).
    pub fn is_identity(&self) -> bool {
        matches!(self, QOp::Rescale { mul, add, shift: 0, relu: false, .. }
            if mul.iter().all(|&m| m == 1) && add.iter().all(|&a| a == 0))
    }

    /// Whether this is a rescale without a shift: `q = x·mul + add` exactly (no remainder),
    /// what an exact map or affine step at its scale gets (a clip's `6 − r`, a standalone ReLU,
    /// the ReLU of a sum). With fixed parameters the pooled layout copies its remainder from
    /// the constrained zero (`layout::input_zero`) rather than range-checking it, and checks
    /// `q` only for a ReLU: without one `q` is a function of its input, bounded by
    /// `|mul|·bound + |add|` ([`bounds`]).
    pub fn is_exact_rescale(&self) -> bool {
        matches!(self, QOp::Rescale { shift: 0, .. })
    }

    /// Whether the pooled layout leaves this rescale's output unchecked with fixed parameters:
    /// an exact rescale ([`QOp::is_exact_rescale`]) without a ReLU.
    pub fn is_unchecked_rescale(&self) -> bool {
        matches!(
            self,
            QOp::Rescale {
                shift: 0,
                relu: false,
                ..
            }
        )
    }
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
    /// Lookup tables of nonlinear functions.
    #[serde(default)]
    pub tables: Vec<Table>,
    /// Signed width of the quantized input: `|x| < 2^(input_bits - 1)` on the calibrated
    /// range (enforced in the circuit when the input is private or hashed).
    #[serde(default = "default_input_bits")]
    pub input_bits: u32,
    /// The ONNX inputs, in the order their elements sit in the input node.
    #[serde(default)]
    pub inputs: Vec<crate::ir::IoSpec>,
    /// The ONNX outputs, in the order their elements sit in the output tensor.
    #[serde(default)]
    pub outputs: Vec<crate::ir::IoSpec>,
    /// Set when this graph is one segment of a split model ([`crate::split`]).
    #[serde(default)]
    pub segment: Option<SegmentOf>,
}

fn default_input_bits() -> u32 {
    41
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

    /// Whether `node` is an identity rescale ([`QOp::is_identity`]) of a linear map's
    /// accumulators: with fixed parameters the pooled layout gives it no rows, its output
    /// being the map's cells. (An identity of rewired elements, such as the one import puts on
    /// an output that only gathers inputs and constants, is laid out: the output must be cells.)
    pub fn passes_through(&self, node: &QNode) -> bool {
        node.op.is_identity()
            && node
                .inputs
                .first()
                .is_some_and(|&i| matches!(self.nodes[i].op, QOp::Linear { .. }))
    }

    /// For every node, whether it is a rescale with a shift and without a ReLU that only
    /// lookups read (not the output): the one before a function table, which maps its input
    /// into the table's domain. The pooled layout does not range-check its output `q`: every
    /// element is copied into a function row whose lookup holds it to the table's domain
    /// (a few thousand values, far below the `p/2^(shift+2)` that makes the remainder's check
    /// pin `q` down), so a check of `bits + 1` bits would bound a value already bounded.
    /// [`bounds`] takes the table's domain as its bound.
    pub fn lookup_bounded(&self) -> Vec<bool> {
        let mut read_by_lookups = vec![None::<bool>; self.nodes.len()];
        for n in &self.nodes {
            let lookup = matches!(n.op, QOp::Lookup { .. });
            for &i in &n.inputs {
                let r = &mut read_by_lookups[i];
                *r = Some(r.unwrap_or(true) && lookup);
            }
        }
        self.nodes
            .iter()
            .zip(read_by_lookups)
            .enumerate()
            .map(|(i, (n, r))| {
                i != self.output
                    && r == Some(true)
                    && matches!(n.op, QOp::Rescale { shift, relu: false, .. } if shift > 0)
            })
            .collect()
    }

    /// The largest |input| the table of lookup node `ni` holds (its domain's widest end).
    pub fn lookup_domain_bound(&self, ni: usize) -> Option<u64> {
        match self.nodes.get(ni)?.op {
            QOp::Lookup { table } => {
                let t = self.tables.get(table)?;
                let hi =
                    t.lo.checked_add(i64::try_from(t.size).ok()?)?
                        .checked_sub(1)?;
                Some(t.lo.unsigned_abs().max(hi.unsigned_abs()))
            }
            _ => None,
        }
    }

    /// Whether a rescale the pooled layout lays out is exact ([`QOp::is_exact_rescale`]).
    pub fn has_exact_rescales(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.op.is_exact_rescale() && !self.passes_through(n))
    }

    /// Whether a product node sums two or more products for some element (a MatMul of two
    /// computed tensors): what the pooled layout packs on dot-product rows
    /// ([`crate::shape::CircuitShape::dot_products`]).
    pub fn has_product_sums(&self) -> bool {
        self.nodes.iter().any(|n| match &n.op {
            QOp::Bilinear { terms } => terms.iter().any(|t| t.len() >= 2),
            _ => false,
        })
    }

    /// Whether a rescale clamps its output: what the rescale chip's clamp relation serves
    /// ([`crate::shape::CircuitShape::clamps`]).
    pub fn has_clamps(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n.op, QOp::Rescale { clamp: Some(_), .. }))
    }

    /// Total multiply-adds of the linear layers and products.
    pub fn macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                QOp::Linear { map } => map.macs(),
                QOp::Bilinear { terms } => terms.iter().map(Vec::len).sum(),
                _ => 0,
            })
            .sum()
    }

    /// Entries of all lookup tables together.
    pub fn table_entries(&self) -> usize {
        self.tables.iter().map(|t| t.size as usize).sum()
    }

    /// Whether any node needs constant cells (rewiring with constants, constant operands).
    pub fn uses_constants(&self) -> bool {
        self.nodes.iter().any(|n| match &n.op {
            QOp::Gather { map } => map.iter().any(|r| matches!(r, QRef::Const(_))),
            QOp::Div { num, den, .. } => num.iter().chain(den).any(|r| matches!(r, QRef::Const(_))),
            _ => false,
        })
    }

    /// The parameters in their canonical order: for every node, the entries of each weight
    /// matrix of a linear map (row-major), or the multipliers then the addends of a rescale.
    /// This is what `--param-visibility private|hashed` hides and what the model hash covers.
    pub fn params(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for n in &self.nodes {
            match &n.op {
                QOp::Linear { map } => {
                    for m in &map.mats {
                        out.extend_from_slice(&m.data);
                    }
                }
                QOp::Rescale { mul, add, .. } => {
                    out.extend_from_slice(mul);
                    out.extend_from_slice(add);
                }
                _ => {}
            }
        }
        out
    }

    /// Offset of every node's parameters in [`QGraph::params`].
    pub fn param_offsets(&self) -> Vec<usize> {
        let mut at = 0;
        self.nodes
            .iter()
            .map(|n| {
                let here = at;
                at += match &n.op {
                    QOp::Linear { map } => map.mats.iter().map(|m| m.data.len()).sum(),
                    QOp::Rescale { mul, add, .. } => mul.len() + add.len(),
                    _ => 0,
                };
                here
            })
            .collect()
    }

    /// Signed width of the parameters: every one satisfies `|w| < 2^(bits - 1)`.
    pub fn param_bits(&self) -> u32 {
        bits_for(self.params())
    }

    /// Signed width of the output: `|y| < 2^(bits - 1)` for every value the circuit allows.
    pub fn output_bits(&self) -> u32 {
        let bound = bounds::node_bounds(self, None)
            .ok()
            .and_then(|b| b.get(self.output).copied())
            .unwrap_or(f64::MAX);
        signed_bits(bound)
    }

    /// Signed width of every node's values (`|v| < 2^(bits - 1)` for every value the circuit
    /// allows); the error names a node that could overflow.
    pub fn node_bits(&self) -> crate::error::Result<Vec<u32>> {
        Ok(bounds::node_bounds(self, None)?
            .into_iter()
            .map(signed_bits)
            .collect())
    }

    /// Whether any node uses the general arithmetic gate (products, division, square root).
    pub fn uses_arith(&self) -> bool {
        self.nodes.iter().any(|n| {
            matches!(
                n.op,
                QOp::Bilinear { .. } | QOp::Div { .. } | QOp::Sqrt { .. }
            )
        })
    }
}

/// Signed width of values bounded by `|v| ≤ bound` (at most 121).
fn signed_bits(bound: f64) -> u32 {
    ((bound + 1.0).log2().ceil() as u32)
        .saturating_add(1)
        .min(121)
}

/// Bits `b` such that every value satisfies `|v| < 2^(b-1)`.
pub fn bits_for(values: impl IntoIterator<Item = i64>) -> u32 {
    let m = values.into_iter().map(i64::unsigned_abs).max().unwrap_or(0);
    (64 - m.leading_zeros()) + 1
}
