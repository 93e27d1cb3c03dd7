//! The layout planner: from a QGraph to rows, columns and k (DESIGN.md §4).
//!
//! The circuit has one pool of `width` advice columns shared by the gadgets (matrix-vector
//! blocks use `T + A` of them, elementwise rows use five), plus a range-check lane of two
//! advice columns that runs alongside the main rows. The planner chooses the packing
//! `(A, T)`, the limb width of range checks and `k` by a simple committed-area cost model.

use serde::{Deserialize, Serialize};

use crate::chips::poseidon::hash_rows;
use crate::hash::per_element;
use crate::lean::LeanModel;
use crate::quant::{QGraph, QOp};
use crate::visibility::{InstanceLayout, Vis, Visibility};

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
    /// Whether the general arithmetic gate exists (products, division, square root).
    #[serde(default)]
    pub arith: bool,
    /// Whether the function lane and the table's output column exist.
    #[serde(default)]
    pub functions: bool,
    /// Whether a column of constants exists.
    #[serde(default)]
    pub constants: bool,
    /// Visibility of the input, the parameters and the output.
    #[serde(default)]
    pub visibility: Visibility,
    /// The lean layout ([`crate::lean`]) with `inputs_per_row` inputs per multiply-add row;
    /// `None` for the pooled layout.
    #[serde(default)]
    pub lean: Option<LeanShape>,
}

/// Parameters of the lean layout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeanShape {
    /// Bits of every range check and shift of every rescale (`W`).
    pub width: u32,
}

impl Default for CircuitShape {
    fn default() -> Self {
        Self {
            inputs_per_row: 4,
            accs_per_row: 4,
            limb_bits: 8,
            max_limbs: 1,
            k: 10,
            arith: false,
            functions: false,
            constants: false,
            visibility: Visibility {
                input: Vis::Public,
                params: Vis::Fixed,
                output: Vis::Public,
            },
            lean: None,
        }
    }
}

impl CircuitShape {
    /// Whether a lean layout carries the Poseidon chip (a group is hashed).
    pub fn lean_hashing(&self) -> bool {
        self.lean.is_some() && self.visibility.any_hashed()
    }

    /// Widths `(input, output)` that hashed inputs and outputs are packed with: the calibrated
    /// widths in the pooled layout, `W + 1` in the lean one (what its bit rows prove).
    pub fn hash_widths(&self, q: &QGraph) -> (u32, u32) {
        match self.lean {
            Some(l) => (l.width + 1, l.width + 1),
            None => (q.input_bits, q.output_bits()),
        }
    }

    /// The layout in words: `packing AxT, L-bit limbs`, or `lean, T input(s) per row, W-bit checks`.
    pub fn describe(&self) -> String {
        match self.lean {
            Some(l) => format!(
                "lean, {} input(s) per row, {}-bit checks",
                self.inputs_per_row, l.width
            ),
            None => format!(
                "packing {}x{}, {}-bit limbs",
                self.accs_per_row, self.inputs_per_row, self.limb_bits
            ),
        }
    }

    /// Width of the shared advice pool (Poseidon needs six columns, private parameters seven).
    pub fn width(&self) -> usize {
        let mut w = (self.inputs_per_row + self.accs_per_row).max(crate::chips::ELEMENT_COLUMNS);
        if self.visibility.any_hashed() {
            w = w.max(6);
        }
        if self.visibility.params_in_advice() {
            w = w.max(7);
        }
        w
    }

    /// Products per row of the private dot-product chip.
    pub fn dot_inputs(&self) -> usize {
        (self.width() - 1) / 2
    }

    /// Lookup arguments (range limbs, and function tables when present; none when lean).
    pub fn lookups(&self) -> usize {
        if self.lean.is_some() {
            return 0;
        }
        1 + usize::from(self.functions)
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
        if self.lean.is_some() {
            return (self.inputs_per_row + 1).max(3) + 3 * usize::from(self.lean_hashing());
        }
        self.width() + 2 + 2 * usize::from(self.functions)
    }

    /// Columns with copy constraints (the permutation argument), the instance column included.
    pub fn equality_columns(&self) -> usize {
        if self.lean.is_some() {
            return self.inputs_per_row + 1 + 3 * usize::from(self.lean_hashing());
        }
        // The pool, the range lane's value column, the instance and constants columns.
        self.width() + 2 + 2 * usize::from(self.functions) + usize::from(self.constants)
    }

    /// Fixed columns shared by the gadgets of main rows: the most any of them needs
    /// (matrix-vector weights and chain mask; rescale multiplier, addend and `2^shift`;
    /// arithmetic coefficients; Poseidon round constants and absorb flags).
    pub fn fixed_pool(&self) -> usize {
        let mut n = (self.inputs_per_row * self.accs_per_row + 1).max(3);
        if self.visibility.any_hashed() || self.arith {
            n = n.max(6);
        }
        n
    }

    /// Fixed columns (the shared pool, range lane, table, selectors before compression).
    pub fn fixed_columns(&self) -> usize {
        if self.lean.is_some() {
            // Weights and the three kind columns; Poseidon's constants, flags and selectors.
            return self.inputs_per_row + 3 + 8 * usize::from(self.lean_hashing());
        }
        // pool, range (tag, offset), table (2), selectors (4, before compression).
        self.fixed_pool()
            + 2
            + 2
            + 4
            + usize::from(self.arith)
            + 2 * usize::from(self.functions)
            + usize::from(self.constants)
            + 3 * usize::from(self.visibility.any_hashed())
            + usize::from(self.visibility.params_in_advice())
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
    /// Lookup rows used (range lane and function lane).
    pub lookup_rows: usize,
    /// Function-lane rows used (lookups of nonlinear functions).
    #[serde(default)]
    pub func_rows: usize,
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
    /// Function-lane rows used.
    #[serde(default)]
    pub func_rows: usize,
    /// Rows of the lookup table.
    pub table_rows: usize,
    /// Per-layer figures.
    pub layers: Vec<LayerPlan>,
    /// Estimated committed area (columns × rows): the prover's cost.
    pub cost: f64,
    /// Estimated gas of one verification by the compact Solidity verifier
    /// ([`estimate_verify_gas`]).
    #[serde(default)]
    pub est_verify_gas: u64,
    /// What the planner minimised.
    #[serde(default)]
    pub objective: Objective,
}

/// What the planner minimises.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Proving time and memory (the committed area): the default.
    #[default]
    Prove,
    /// On-chain verification gas: the fewest columns, among plans whose proving cost is at most
    /// [`GAS_PLAN_MAX_SLOWDOWN`] times the fastest plan's.
    Gas,
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Objective::Prove => "prove",
            Objective::Gas => "gas",
        })
    }
}

/// With [`Objective::Gas`], how much more proving cost (committed area) than the fastest plan
/// the planner accepts for a cheaper verification.
pub const GAS_PLAN_MAX_SLOWDOWN: f64 = 16.0;

/// Estimated gas of verifying a proof of `shape` with `instances` public instances on the
/// compact Solidity verifier (transaction included).
///
/// Every column is one commitment in the verifier's multi-scalar multiplication (an `ecMul`
/// and an `ecAdd`, ~6,150 gas) plus its evaluations in calldata and in the opening; advice
/// columns also bring a permutation commitment and part of a grand product. The coefficients
/// are fitted to revm measurements of the shared models (mlp_digits at packings 1×1, 2×2 and
/// 4×4, mlp_wide at 2×2, 4×4 and 8×8, hashed variants): the estimate ranks plans, the EVM
/// run (`zkonnx run --evm`) gives the exact figure.
pub fn estimate_verify_gas(shape: &CircuitShape, instances: usize) -> u64 {
    if shape.lean.is_some() {
        return estimate_lean_gas(shape, instances);
    }
    const BASE: u64 = 275_000; // pairing, transaction, transcript, quotient and opening work
    const PER_ADVICE: u64 = 17_900;
    const PER_FIXED: u64 = 9_500;
    const PER_LOOKUP: u64 = 25_000;
    const PER_INSTANCE: u64 = 430;
    const HASH_GATES: u64 = 50_000;
    BASE + PER_ADVICE * shape.advice_columns() as u64
        + PER_FIXED * shape.fixed_columns() as u64
        + PER_LOOKUP * shape.lookups() as u64
        + PER_INSTANCE * instances as u64
        + HASH_GATES * u64::from(shape.visibility.any_hashed())
}

/// [`estimate_verify_gas`] for the lean layout: a fixed part (pairing, transaction, quotient
/// chunks, opening), then every committed column and every copy-constrained column.
fn estimate_lean_gas(shape: &CircuitShape, instances: usize) -> u64 {
    // Fitted to revm runs of the lean plans of mlp_digits (T = 1, 2, 4; 74 instances) and
    // lenet and mlp_wide (T = 1; 794 instances): within 0.5 %; with hashing (mlp_digits'
    // input and/or output, mlp_wide's input at T = 2): within 0.5 %.
    const BASE: u64 = 236_900;
    const PER_ADVICE: u64 = 5_850;
    const PER_FIXED: u64 = 7_500;
    const PER_EQUALITY: u64 = 13_700;
    const PER_PERMUTATION_CHUNK: u64 = 10_000;
    const PER_INSTANCE: u64 = 330;
    const HASH_GATES: u64 = 30_000;
    BASE + PER_ADVICE * shape.advice_columns() as u64
        + PER_FIXED * shape.fixed_columns() as u64
        + PER_EQUALITY * shape.equality_columns() as u64
        + PER_PERMUTATION_CHUNK * shape.equality_columns().div_ceil(2) as u64
        + PER_INSTANCE * instances as u64
        + HASH_GATES * u64::from(shape.lean_hashing())
}

impl LayoutPlan {
    /// Number of lookup arguments.
    pub fn lookups(&self) -> usize {
        self.shape.lookups()
    }
}

/// Range checks a node's gadget performs per output element.
pub fn checks_per_element(op: &QOp) -> usize {
    match op {
        QOp::Rescale { relu: true, .. } => 3,
        QOp::Rescale { relu: false, .. } => 2,
        QOp::Div { .. } | QOp::Sqrt { .. } => 3,
        _ => 0,
    }
}

/// Main rows of a linear map with `A` accumulators and `T` inputs per row.
pub fn linear_rows(map: &crate::ir::Linear<i64>, a: usize, t: usize) -> usize {
    map.groups
        .iter()
        .map(|g| g.outputs.len().div_ceil(a) * g.inputs.len().div_ceil(t))
        .sum()
}

fn layers_for(q: &QGraph, shape: &CircuitShape, max_limbs: usize) -> Vec<LayerPlan> {
    let (a, t) = (shape.accs_per_row, shape.inputs_per_row);
    let private = shape.visibility.params_in_advice();
    q.nodes
        .iter()
        .map(|n| {
            let lanes = checks_per_element(&n.op) * n.len() * max_limbs;
            let (gadget, rows, func_rows, macs) = match &n.op {
                QOp::Input => ("instance".to_string(), 0, 0, 0),
                QOp::Gather { .. } => ("rewire".to_string(), 0, 0, 0),
                QOp::Linear { map } if private => (
                    "private-dot".to_string(),
                    linear_rows(map, 1, shape.dot_inputs()),
                    0,
                    map.macs(),
                ),
                QOp::Linear { map } => (
                    "packed-mac".to_string(),
                    linear_rows(map, a, t),
                    0,
                    map.macs(),
                ),
                QOp::Rescale { relu, .. } => (
                    if *relu { "rescale+relu" } else { "rescale" }.to_string(),
                    n.len(),
                    0,
                    0,
                ),
                QOp::Bilinear { terms } => (
                    "product-chain".to_string(),
                    terms.iter().map(|t| t.len().max(1)).sum(),
                    0,
                    terms.iter().map(Vec::len).sum(),
                ),
                QOp::Lookup { table } => (
                    format!("lookup:{}", q.tables[*table].f.name()),
                    0,
                    n.len(),
                    0,
                ),
                QOp::Div { .. } => ("exact-div".to_string(), 2 * n.len(), 0, 0),
                QOp::Sqrt { .. } => ("exact-sqrt".to_string(), 2 * n.len(), 0, 0),
            };
            LayerPlan {
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                gadget,
                rows,
                lookup_rows: lanes + func_rows,
                func_rows,
                macs,
            }
        })
        .collect()
}

/// Main rows that packing `n` values of `bits` bits takes with `t` values per row.
pub fn pack_rows(n: usize, bits: u32, t: usize) -> usize {
    let per = per_element(bits);
    (n / per) * per.div_ceil(t) + (n % per).div_ceil(t)
}

/// Main rows of packing and hashing `n` values of `bits` bits.
pub fn hash_group_rows(n: usize, bits: u32, t: usize) -> usize {
    pack_rows(n, bits, t) + hash_rows(n.div_ceil(per_element(bits)))
}

/// Rows the visibility settings add: range checks of private values, packing and hashing.
fn visibility_layers(q: &QGraph, shape: &CircuitShape, max_limbs: usize) -> Vec<LayerPlan> {
    let vis = shape.visibility;
    let t = shape.inputs_per_row;
    let mut out = Vec::new();
    let mut group = |name: &str, v: Vis, n: usize, bits: u32, extra_checks: usize| {
        let hashed = v == Vis::Hashed;
        out.push(LayerPlan {
            name: name.to_string(),
            op_type: format!("{v} {name}"),
            gadget: if hashed { "range+poseidon" } else { "range" }.to_string(),
            rows: if hashed {
                hash_group_rows(n, bits, t)
            } else {
                0
            },
            lookup_rows: (n + extra_checks) * max_limbs,
            func_rows: 0,
            macs: 0,
        });
    };
    if vis.input != Vis::Public {
        group("input", vis.input, q.input().len(), q.input_bits, 0);
    }
    if vis.params_in_advice() {
        // One more check: the constrained zero that pads private dot products.
        group("params", vis.params, q.params().len(), q.param_bits(), 1);
    }
    if vis.output == Vis::Hashed {
        group(
            "output",
            vis.output,
            q.output_node().len(),
            q.output_bits(),
            0,
        );
    }
    out
}

fn max_bits(q: &QGraph, vis: Visibility) -> u32 {
    let mut extra = 1;
    if vis.input != Vis::Public {
        extra = extra.max(q.input_bits);
    }
    if vis.params_in_advice() {
        extra = extra.max(q.param_bits());
    }
    if vis.output == Vis::Hashed {
        extra = extra.max(q.output_bits());
    }
    q.nodes
        .iter()
        .map(|n| match &n.op {
            QOp::Rescale { shift, bits, .. } => (*shift).max(*bits + 1),
            QOp::Div { bits, rbits, .. } => (*rbits).max(*bits + 1),
            QOp::Sqrt { bits, .. } => *bits + 1,
            _ => 1,
        })
        .max()
        .unwrap_or(1)
        .max(extra)
}

/// Plans the circuit for a quantized graph with the given visibility, minimising `objective`.
pub fn plan(q: &QGraph, vis: Visibility, objective: Objective) -> LayoutPlan {
    let mut cands = candidates(q, vis);
    let fastest = cands.iter().map(|c| c.cost).fold(f64::INFINITY, f64::min);
    if objective == Objective::Gas {
        cands.retain(|c| c.cost <= GAS_PLAN_MAX_SLOWDOWN * fastest);
    }
    let key = |c: &LayoutPlan| match objective {
        Objective::Prove => (c.cost, c.est_verify_gas as f64),
        Objective::Gas => (c.est_verify_gas as f64, c.cost),
    };
    let mut best = cands
        .into_iter()
        .reduce(|b, c| if key(&c) < key(&b) { c } else { b })
        .expect("at least one candidate");
    best.objective = objective;
    best
}

/// The lean layout's plans (one per number of inputs per row in [`LEAN_INPUTS_PER_ROW`]);
/// empty if the model does not qualify ([`LeanModel::new`] says why).
pub fn lean_candidates(q: &QGraph, vis: Visibility) -> Vec<LayoutPlan> {
    let Ok(lean) = LeanModel::new(q, vis) else {
        return Vec::new();
    };
    let instances = InstanceLayout::new(vis, q.input().len(), q.output_node().len()).len;
    LEAN_INPUTS_PER_ROW
        .iter()
        .map(|&t| {
            let mut shape = CircuitShape {
                inputs_per_row: t,
                accs_per_row: 1,
                limb_bits: 0,
                max_limbs: 1,
                k: 4,
                arith: false,
                functions: false,
                constants: false,
                visibility: vis,
                lean: Some(LeanShape { width: lean.width }),
            };
            let mut layers = Vec::new();
            for u in &lean.units {
                let node = &q.nodes[u.node];
                let mac_rows: usize = u.elems.iter().map(|e| e.mac_rows(t)).sum();
                let macs: usize = u.elems.iter().map(|e| e.terms.len()).sum();
                layers.push(LayerPlan {
                    name: node.name.clone(),
                    op_type: node.op_type.clone(),
                    gadget: "lean-mac".to_string(),
                    rows: mac_rows,
                    lookup_rows: 0,
                    func_rows: 0,
                    macs,
                });
                layers.push(LayerPlan {
                    name: node.name.clone(),
                    op_type: node.op_type.clone(),
                    gadget: if u.relu {
                        "lean-rescale+relu"
                    } else {
                        "lean-rescale"
                    }
                    .to_string(),
                    rows: lean.unit_rows(u, t) - mac_rows,
                    lookup_rows: 0,
                    func_rows: 0,
                    macs: 0,
                });
            }
            if lean.input_rows() > 0 {
                layers.push(LayerPlan {
                    name: "input".to_string(),
                    op_type: format!("{} input", vis.input),
                    gadget: "lean-range".to_string(),
                    rows: lean.input_rows(),
                    lookup_rows: 0,
                    func_rows: 0,
                    macs: 0,
                });
            }
            if lean.hash_rows(t) > 0 {
                layers.push(LayerPlan {
                    name: "hash".to_string(),
                    op_type: "hashed input/output".to_string(),
                    gadget: "poseidon".to_string(),
                    rows: lean.hash_rows(t),
                    lookup_rows: 0,
                    func_rows: 0,
                    macs: 0,
                });
            }
            let main_rows = lean.rows(t);
            while shape.usable_rows() < main_rows.max(instances) {
                shape.k += 1;
            }
            LayoutPlan {
                est_verify_gas: estimate_verify_gas(&shape, instances),
                cost: committed_area(&shape),
                shape,
                main_rows,
                range_rows: 0,
                func_rows: 0,
                table_rows: 0,
                layers,
                objective: Objective::Prove,
            }
        })
        .collect()
}

/// Inputs per multiply-add row the planner tries for the lean layout.
pub const LEAN_INPUTS_PER_ROW: &[usize] = &[1, 2, 4];

/// The prover's cost of a shape: committed area (advice, lookup and permutation columns ×
/// rows), fixed columns at a tenth (they are committed once, at key generation).
pub fn committed_area(shape: &CircuitShape) -> f64 {
    let n = (1u64 << shape.k) as f64;
    // Permutation chunks: degree 4 → 2 columns per chunk (the pooled layout's count is an
    // upper bound: every advice column and the instance column).
    let perm = match shape.lean {
        Some(_) => shape.equality_columns(),
        None => shape.advice_columns() + 1 + usize::from(shape.constants),
    }
    .div_ceil(2);
    n * (shape.advice_columns() + 3 * shape.lookups() + perm) as f64
        + 0.1 * n * shape.fixed_columns() as f64
}

/// Every packing and limb width, each with the smallest `k` that fits, and the lean layout's
/// plans when the model qualifies.
fn candidates(q: &QGraph, vis: Visibility) -> Vec<LayoutPlan> {
    let mut out = lean_candidates(q, vis);
    let mb = max_bits(q, vis);
    // 1×1 has the fewest columns (cheapest to verify on chain), 8×8 the fewest rows: with
    // the compact verifier (whose size does not grow with the circuit) all are deployable.
    for &(a, t) in &[(1usize, 1usize), (2, 2), (4, 4), (8, 8)] {
        for limb in 4..=17u32 {
            let max_limbs = limbs(mb, limb);
            let mut shape = CircuitShape {
                inputs_per_row: t,
                accs_per_row: a,
                limb_bits: limb,
                max_limbs,
                k: 4,
                arith: q.uses_arith(),
                functions: !q.tables.is_empty(),
                constants: q.uses_constants(),
                visibility: vis,
                lean: None,
            };
            let mut layers = layers_for(q, &shape, max_limbs);
            layers.extend(visibility_layers(q, &shape, max_limbs));
            let main_rows: usize = layers.iter().map(|l| l.rows).sum();
            let func_rows: usize = layers.iter().map(|l| l.func_rows).sum();
            let range_rows: usize = layers.iter().map(|l| l.lookup_rows).sum::<usize>() - func_rows;
            let table_rows = (1usize << (limb + 1)) - 1 + q.table_entries();
            let instances = InstanceLayout::new(vis, q.input().len(), q.output_node().len()).len;
            let need = main_rows
                .max(instances)
                .max(range_rows + max_limbs)
                .max(table_rows)
                .max(func_rows);
            while shape.usable_rows() < need {
                shape.k += 1;
            }
            let cost = committed_area(&shape);
            out.push(LayoutPlan {
                est_verify_gas: estimate_verify_gas(&shape, instances),
                shape,
                main_rows,
                range_rows,
                func_rows,
                table_rows,
                layers,
                cost,
                objective: Objective::Prove,
            });
        }
    }
    out
}
