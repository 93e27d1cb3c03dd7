//! The layout planner: from a QGraph to rows, columns and k (DESIGN.md §4).
//!
//! The circuit has one pool of `width` advice columns shared by the gadgets (matrix-vector
//! blocks use `T + A` of them, elementwise rows use five), plus a range-check lane of two
//! advice columns that runs alongside the main rows. The planner chooses the packing
//! `(A, T)`, the limb width of range checks and `k` by a simple committed-area cost model.

use serde::{Deserialize, Serialize};

use crate::quant::{QGraph, QOp};

/// Column counts and sizes that the constraint system depends on (halo2 `Circuit::Params`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CircuitShape {
    /// Inputs `T` per matrix-vector row.
    pub inputs_per_row: usize,
    /// Accumulators `A` per matrix-vector row.
    pub accs_per_row: usize,
    /// Bits per range-check limb (the table holds `[0, 2^t)` for every `t ≤ limb_bits`).
    pub limb_bits: u32,
    /// Most limbs any range-checked value needs.
    pub max_limbs: usize,
    /// log2 of the number of rows.
    pub k: u32,
}

impl Default for CircuitShape {
    fn default() -> Self {
        Self {
            inputs_per_row: 4,
            accs_per_row: 4,
            limb_bits: 8,
            max_limbs: 1,
            k: 10,
        }
    }
}

impl CircuitShape {
    /// Width of the shared advice pool.
    pub fn width(&self) -> usize {
        (self.inputs_per_row + self.accs_per_row).max(crate::chips::ELEMENT_COLUMNS)
    }

    /// Rows at the end of the domain that halo2 reserves (blinding factors and the last row),
    /// plus a small safety margin.
    pub fn reserved_rows(&self) -> usize {
        self.max_limbs.max(3) + 8
    }

    /// Rows usable by the layout.
    pub fn usable_rows(&self) -> usize {
        (1usize << self.k) - self.reserved_rows()
    }

    /// Advice columns committed in the first phase.
    pub fn advice_columns(&self) -> usize {
        self.width() + 2
    }

    /// Fixed columns (weights, gadget constants, table, selectors).
    pub fn fixed_columns(&self) -> usize {
        // weights, chain mask, rescale (mul, add, 2^shift), range (tag, offset), table (2),
        // selectors (4, before compression).
        self.inputs_per_row * self.accs_per_row + 1 + 3 + 2 + 2 + 4
    }
}

/// Number of limbs for a `bits`-bit range check with `limb` bits per limb.
pub fn limbs(bits: u32, limb: u32) -> usize {
    (bits.div_ceil(limb) as usize).max(1)
}

/// Per-layer part of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerPlan {
    /// ONNX node name.
    pub name: String,
    /// ONNX op(s).
    pub op_type: String,
    /// Gadget used.
    pub gadget: String,
    /// Main rows used.
    pub rows: usize,
    /// Range-lane rows used (lookups).
    pub lookup_rows: usize,
    /// Multiply-adds.
    pub macs: usize,
}

/// The full plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayoutPlan {
    /// The chosen shape.
    pub shape: CircuitShape,
    /// Main rows used.
    pub main_rows: usize,
    /// Range-lane rows used.
    pub range_rows: usize,
    /// Rows of the lookup table.
    pub table_rows: usize,
    /// Per-layer figures.
    pub layers: Vec<LayerPlan>,
    /// Estimated committed area (columns × rows), the figure the planner minimises.
    pub cost: f64,
}

impl LayoutPlan {
    /// Number of lookup arguments.
    pub fn lookups(&self) -> usize {
        1
    }
}

fn layers_for(q: &QGraph, a: usize, t: usize, max_limbs: usize) -> Vec<LayerPlan> {
    q.nodes
        .iter()
        .map(|n| {
            let (gadget, rows, lookup_rows, macs) = match &n.op {
                QOp::Input => ("instance", 0, 0, 0),
                QOp::Reshape => ("rewire", 0, 0, 0),
                QOp::Linear {
                    out_features,
                    in_features,
                    ..
                } => {
                    let m = n.len() / out_features;
                    let rows = m * out_features.div_ceil(a) * in_features.div_ceil(t);
                    ("packed-mac", rows, 0, n.len() * in_features)
                }
                QOp::Rescale { relu, .. } => {
                    // Three range checks per element (r, and out and d, or q), `max_limbs` lane
                    // rows each.
                    let per = 3 * max_limbs;
                    (
                        if *relu { "rescale+relu" } else { "rescale" },
                        n.len(),
                        n.len() * per,
                        0,
                    )
                }
            };
            LayerPlan {
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                gadget: gadget.into(),
                rows,
                lookup_rows,
                macs,
            }
        })
        .collect()
}

fn max_bits(q: &QGraph) -> u32 {
    q.nodes
        .iter()
        .map(|n| match &n.op {
            QOp::Rescale { shift, bits, .. } => (*shift).max(*bits + 1),
            _ => 1,
        })
        .max()
        .unwrap_or(1)
}

/// Plans the circuit for a quantized graph.
pub fn plan(q: &QGraph) -> LayoutPlan {
    let mut best: Option<LayoutPlan> = None;
    let mb = max_bits(q);
    for &(a, t) in &[(2usize, 2usize), (4, 4)] {
        for limb in 4..=17u32 {
            let max_limbs = limbs(mb, limb);
            let layers = layers_for(q, a, t, max_limbs);
            let main_rows: usize = layers.iter().map(|l| l.rows).sum();
            let range_rows: usize = layers.iter().map(|l| l.lookup_rows).sum();
            let table_rows = (1usize << (limb + 1)) - 1;
            let mut shape = CircuitShape {
                inputs_per_row: t,
                accs_per_row: a,
                limb_bits: limb,
                max_limbs,
                k: 4,
            };
            let need = main_rows.max(range_rows + max_limbs).max(table_rows);
            while shape.usable_rows() < need {
                shape.k += 1;
            }
            let n = (1u64 << shape.k) as f64;
            // Committed columns: advice, lookup (3), permutation chunks (degree 4 → 2 columns per chunk).
            let perm = (shape.advice_columns() + 1).div_ceil(2);
            let cost = n * (shape.advice_columns() + 3 + perm) as f64
                + 0.1 * n * shape.fixed_columns() as f64;
            let cand = LayoutPlan {
                shape,
                main_rows,
                range_rows,
                table_rows,
                layers,
                cost,
            };
            if best.as_ref().is_none_or(|b| cand.cost < b.cost) {
                best = Some(cand);
            }
        }
    }
    best.expect("at least one candidate")
}
