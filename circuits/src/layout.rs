//! The layout planner: from a QGraph to rows, columns and k (DESIGN.md §4).
//!
//! The circuit has one pool of `width` advice columns shared by the gadgets (matrix-vector
//! blocks use `T + A` of them, elementwise rows use five), plus range-check lanes of two
//! advice columns each that run alongside the main rows. The planner chooses the packing
//! `(A, T)`, the limb width of range checks, the number of range lanes and `k` by the prover's
//! work at reference timings ([`crate::cost`]), so that neither the main rows nor the range checks set `k` alone
//! when another balance is cheaper.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chips::poseidon::hash_group_rows;
use crate::chips::range::RangeConfig;
use crate::cost::prove_cost;
use crate::gadgets::{planned_with, rescale, Prepared};
use crate::lean::LeanModel;
use crate::quant::{QGraph, QOp};
pub use crate::shape::{limbs, CircuitShape, LeanShape};
use crate::visibility::{InstanceLayout, Vis, Visibility};

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
    /// Range-lane rows used (range checks and function rows).
    pub lookup_rows: usize,
    /// Function rows among them (lookups of nonlinear functions).
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
    /// Function rows used (they fill the range lanes beside the checks).
    #[serde(default)]
    pub func_rows: usize,
    /// Rows of the lookup table.
    pub table_rows: usize,
    /// Per-layer figures (shared by the candidates that differ only in lane count).
    pub layers: Arc<[LayerPlan]>,
    /// The prover's estimated work, microseconds at reference timings
    /// ([`crate::cost::prove_cost`]): the proving cost plans are ranked by.
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
    /// Both: the least verification gas among plans whose proving cost is at most
    /// [`BALANCED_PLAN_MAX_SLOWDOWN`] times the fastest plan's.
    Balanced,
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Objective::Prove => "prove",
            Objective::Gas => "gas",
            Objective::Balanced => "balanced",
        })
    }
}

/// With [`Objective::Gas`], how much more proving cost ([`crate::cost`]) than the fastest plan
/// the planner accepts for a cheaper verification.
pub const GAS_PLAN_MAX_SLOWDOWN: f64 = 16.0;

/// With [`Objective::Balanced`], how much more proving cost than the fastest plan the planner
/// accepts for a cheaper verification.
pub const BALANCED_PLAN_MAX_SLOWDOWN: f64 = 2.0;

impl Objective {
    /// The most proving cost, as a multiple of the fastest plan's, this objective accepts.
    pub fn max_slowdown(self) -> f64 {
        match self {
            Objective::Prove => 1.0,
            Objective::Gas => GAS_PLAN_MAX_SLOWDOWN,
            Objective::Balanced => BALANCED_PLAN_MAX_SLOWDOWN,
        }
    }
}

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
    // An instance column past the first: its permutation commitment, evaluations and share of a
    // grand product, as a fixed column's and a little more.
    const PER_INSTANCE_COLUMN: u64 = 12_000;
    BASE + PER_ADVICE * shape.advice_columns() as u64
        + PER_FIXED * shape.fixed_columns() as u64
        + PER_LOOKUP * shape.lookups() as u64
        + PER_INSTANCE * instances as u64
        + PER_INSTANCE_COLUMN * shape.instance_columns.saturating_sub(1) as u64
        + HASH_GATES * u64::from(shape.visibility.any_hashed())
}

/// The largest runtime code of a contract (EIP-170): the compact verifier keeps a circuit's
/// verifying key as the code of a data contract, so a plan whose key is larger cannot be
/// verified on chain.
pub const MAX_VK_BYTES: usize = 24_576;

/// Estimated size in bytes of the compact verifier's verifying-key data contract for a pooled
/// `shape`: a commitment and evaluations per fixed and copy-constrained column, query slots per
/// advice column and lookup, the gate program (growing with the multiply-add block `A·T`) and
/// Poseidon's gates when something is hashed. Fitted to 33 keys of the shared models (every
/// visibility; packings 2×2 to 16×2 and 12×8): within −1.6 % to +2.6 % of the real size.
pub fn estimate_vk_bytes(shape: &CircuitShape) -> usize {
    2_730
        + 128 * shape.fixed_columns()
        + 168 * shape.advice_columns()
        + 200 * shape.equality_columns()
        + 272 * shape.lookups()
        + 5 * shape.accs_per_row * shape.inputs_per_row * shape.windows_per_row
        + 1_200 * usize::from(shape.visibility.any_hashed())
}

/// Whether a plan's verifying key fits a data contract ([`MAX_VK_BYTES`]) with a 4 % margin
/// for the estimate's error ([`estimate_vk_bytes`]); the lean layout's keys (a handful of
/// columns) always do.
pub fn deployable(shape: &CircuitShape) -> bool {
    shape.lean.is_some() || estimate_vk_bytes(shape) * 104 <= MAX_VK_BYTES * 100
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

fn layers_for(q: &QGraph, nodes: &[Prepared], shape: &CircuitShape) -> Vec<LayerPlan> {
    q.nodes
        .iter()
        .zip(nodes)
        .map(|(n, prep)| {
            let p = planned_with(q, n, prep, shape);
            LayerPlan {
                name: n.name.clone(),
                op_type: n.op_type.clone(),
                gadget: p.gadget.into_owned(),
                rows: p.rows.main,
                lookup_rows: p.rows.lane + p.rows.func,
                func_rows: p.rows.func,
                macs: p.macs,
            }
        })
        .collect()
}

/// What the planner needs of a model's range checks, computed once per planning rather than
/// per packing and limb width (`QGraph::param_bits` reads every parameter, `output_bits` runs
/// the bound analysis over the whole graph).
#[derive(Debug, Clone)]
struct Checks {
    /// The private parameters' width (when they are checked).
    params: Option<u32>,
    /// The hashed output's width (when it is checked).
    output: Option<u32>,
    /// Every check's width ([`check_bits`]).
    bits: std::collections::BTreeSet<u32>,
    /// An upper bound of every check's width (sets `max_limbs`).
    max: u32,
}

impl Checks {
    /// `bounded`: [`QGraph::lookup_bounded`]; `dot_products`: whether the layout packs products
    /// of computed tensors ([`CircuitShape::dot_products`]).
    fn of(q: &QGraph, vis: Visibility, bounded: &[bool], dot_products: bool) -> Self {
        let params = vis.params_in_advice().then(|| q.param_bits());
        let output = (vis.output == Vis::Hashed).then(|| q.output_bits());
        let mut bits = std::collections::BTreeSet::from([q.input_bits]);
        bits.extend(params.iter().flat_map(|&b| [b, 0]));
        if input_zero(q, vis, dot_products) {
            bits.insert(0);
        }
        bits.extend(output);
        let mut max = q.input_bits.max(1);
        for b in params.iter().chain(&output) {
            max = max.max(*b);
        }
        for (n, &lookup_bound) in q.nodes.iter().zip(bounded) {
            match &n.op {
                // The widths the rescale gadget checks (its planner and assignment read the
                // same `Checks`): an exact rescale checks only a ReLU's halves, one that only
                // lookups read only its remainder.
                QOp::Rescale { shift, .. } => {
                    let exact = *shift == 0 && params.is_none();
                    let c = rescale::Checks::of(&n.op, lookup_bound);
                    for b in c.map(|c| c.widths(exact)).unwrap_or_default() {
                        bits.insert(b);
                        max = max.max(b);
                    }
                }
                QOp::Div { bits: b, rbits, .. } => {
                    bits.extend([*rbits, *b + 1]);
                    max = max.max((*rbits).max(*b + 1));
                }
                QOp::Sqrt { bits: b, .. } => {
                    bits.extend([*b + 1, *b]);
                    max = max.max(*b + 1);
                }
                _ => {}
            }
        }
        Self {
            params,
            output,
            bits,
            max,
        }
    }

    /// The limb widths the range table holds at `limb`-bit limbs ([`range_widths`]).
    fn widths(&self, limb: u32) -> u64 {
        self.bits
            .iter()
            .fold(1, |w, &b| w | RangeConfig::widths(b, limb))
    }
}

/// What the planner reads of a model once per planning rather than per packing and limb
/// width: its range checks' widths, each node's [`Prepared`] figures and which optional gates
/// the model needs (`QGraph::uses_constants` reads every gathered element: seconds, at
/// thousands of packings, for a model with millions of them).
struct Reads {
    checks: Checks,
    nodes: Vec<Prepared>,
    arith: bool,
    functions: bool,
    constants: bool,
    dot_products: bool,
    clamps: bool,
}

fn prepare(q: &QGraph, vis: Visibility) -> Reads {
    let bounded = q.lookup_bounded();
    let dot_products = q.has_product_sums();
    Reads {
        checks: Checks::of(q, vis, &bounded, dot_products),
        nodes: q
            .nodes
            .iter()
            .zip(&bounded)
            .map(|(n, &b)| {
                if b {
                    Prepared::LookupBound
                } else {
                    Prepared::of(n)
                }
            })
            .collect(),
        arith: q.uses_arith(),
        functions: !q.tables.is_empty(),
        constants: q.uses_constants(),
        dot_products,
        clamps: q.has_clamps(),
    }
}

/// Whether the pooled layout of `q` with visibility `vis` holds a constrained zero beside its
/// input checks: the cell that exact rescales' remainders are copies of
/// ([`QOp::is_exact_rescale`]) and that the padding of packed products is bound to
/// (`dot_products`, [`crate::gadgets::bilinear`]). With parameters in advice those remainders
/// are range-checked and the zero sits with the parameters, where private dot products pad
/// with it too.
pub fn input_zero(q: &QGraph, vis: Visibility, dot_products: bool) -> bool {
    !vis.params_in_advice() && (dot_products || q.has_exact_rescales())
}

/// Rows the visibility settings add: range checks of private values, packing and hashing.
fn visibility_layers(q: &QGraph, shape: &CircuitShape, checks: &Checks) -> Vec<LayerPlan> {
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
            lookup_rows: n * RangeConfig::rows(bits, shape.limb_bits)
                + extra_checks * RangeConfig::rows(0, shape.limb_bits),
            func_rows: 0,
            macs: 0,
        });
    };
    // Every input element is range-checked, a public one too (its instance is bound to it);
    // beside them the constrained zero that exact rescales' remainders and the padding of
    // packed products are bound to.
    let zero = usize::from(input_zero(q, vis, shape.dot_products));
    group("input", vis.input, q.input().len(), q.input_bits, zero);
    if let Some(bits) = checks.params {
        // One more check: the constrained zero that pads private dot products.
        group("params", vis.params, q.params().len(), bits, 1);
    }
    if let Some(bits) = checks.output {
        group("output", vis.output, q.output_node().len(), bits, 0);
    }
    out
}

/// The widths in bits of every range check the pooled layout makes for `q` (each width once):
/// the input (and private parameters, with the zero that pads private dot products, and a
/// hashed output), and per node those of its gadget (`gadgets::rescale`, `div`, `sqrt`).
pub fn check_bits(q: &QGraph, shape: &CircuitShape) -> std::collections::BTreeSet<u32> {
    Checks::of(q, shape.visibility, &q.lookup_bounded(), shape.dot_products).bits
}

/// The limb widths the range table holds for `q` at `limb`-bit limbs (a bit set,
/// [`RangeConfig::widths`]): those its checks use, and 0 (unused lane rows hold `(0, 0)`).
pub fn range_widths(q: &QGraph, shape: &CircuitShape) -> u64 {
    Checks::of(q, shape.visibility, &q.lookup_bounded(), shape.dot_products).widths(shape.limb_bits)
}

/// Plans the circuit for a quantized graph with the given visibility, minimising `objective`.
pub fn plan(q: &QGraph, vis: Visibility, objective: Objective) -> LayoutPlan {
    // Every objective's choice is on the frontier of proving cost and gas: a plan another
    // matches or beats on both is never the least of either key.
    let (mut cands, reads) = candidates_with(q, vis);
    let fastest = cands.iter().map(|c| c.cost).fold(f64::INFINITY, f64::min);
    if objective != Objective::Prove {
        cands.retain(|c| c.cost <= objective.max_slowdown() * fastest);
    }
    let key = |c: &LayoutPlan| match objective {
        Objective::Prove => (c.cost, c.est_verify_gas as f64),
        Objective::Gas | Objective::Balanced => (c.est_verify_gas as f64, c.cost),
    };
    let mut best = cands
        .into_iter()
        .reduce(|b, c| if key(&c) < key(&b) { c } else { b })
        .expect("at least one candidate");
    best.objective = objective;
    with_layers(q, &reads, best)
}

/// The plans no other plan beats on both proving cost and verification gas, by proving cost
/// (the first is [`Objective::Prove`]'s choice, the last [`Objective::Gas`]'s when within its
/// slowdown): the trade-off the objectives choose along.
pub fn frontier(q: &QGraph, vis: Visibility) -> Vec<LayoutPlan> {
    let (mut cands, reads) = candidates_with(q, vis);
    cands.sort_by(|a, b| {
        a.cost
            .total_cmp(&b.cost)
            .then(a.est_verify_gas.cmp(&b.est_verify_gas))
    });
    cands
        .into_iter()
        .map(|p| with_layers(q, &reads, p))
        .collect()
}

/// The planner's plan for `q` at `plan`'s own layout — its packing, limb width and lane count,
/// or its lean inputs per row — with `plan`'s objective: rows, `k`, cost, gas and per-layer
/// figures recomputed from the graph. `None` where the planner makes no plan of that layout (a
/// packing, limb width or lane count it does not try; a lean layout the model does not
/// qualify for). A compiled plan equal to it fits its graph (synthesis cannot run out of rows
/// or meet a shape it was not planned for); checking that costs one plan's figures where
/// [`plan`] ranks every candidate (0.3 s of lstm_forecaster's 3.5 s proof, stop 46).
pub fn plan_at(q: &QGraph, plan: &LayoutPlan) -> Option<LayoutPlan> {
    let s = plan.shape;
    let found = if s.lean.is_some() {
        lean_candidates(q, s.visibility)
            .into_iter()
            .find(|c| c.shape == s)
    } else {
        let packing = (s.accs_per_row, s.inputs_per_row, s.windows_per_row);
        let tried = packings().any(|p| p == packing)
            && LIMB_BITS.contains(&s.limb_bits)
            && RANGE_LANES.contains(&s.range_lanes);
        if !tried {
            return None;
        }
        // The plan of the same `k` and instance columns, else the smallest `k` (which then
        // differs from `plan`'s).
        let mut plans = pooled_plans(q, s.visibility, packing, s.limb_bits, &[s.range_lanes]);
        match plans.iter().position(|c| c.shape == s) {
            Some(at) => Some(plans.swap_remove(at)),
            None => plans.into_iter().next(),
        }
    };
    found.map(|p| LayoutPlan {
        objective: plan.objective,
        ..p
    })
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
                windows_per_row: 1,
                limb_bits: 0,
                max_limbs: 1,
                range_lanes: 1,
                k: 4,
                arith: false,
                functions: false,
                constants: false,
                dot_products: false,
                clamps: false,
                visibility: vis,
                lean: Some(LeanShape { width: lean.width }),
                instance_columns: 1,
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
                cost: prove_cost(&shape),
                shape,
                main_rows,
                range_rows: 0,
                func_rows: 0,
                table_rows: 0,
                layers: layers.into(),
                objective: Objective::Prove,
            }
        })
        .collect()
}

/// Inputs per multiply-add row the planner tries for the lean layout.
pub const LEAN_INPUTS_PER_ROW: &[usize] = &[1, 2, 4];

/// Every packing and limb width, each with the smallest `k` that fits, and the lean layout's
/// plans when the model qualifies: every plan, deployable or not ([`plan`] and [`frontier`]
/// choose among those whose verifying key fits a contract, [`deployable`]).
pub fn candidates(q: &QGraph, vis: Visibility) -> Vec<LayoutPlan> {
    candidates_any_size(q, vis, true)
}

/// The plans the planner chooses from: the frontier of proving cost and gas (in the order the
/// plans were made) among [`candidates`] whose verifying key fits a contract ([`deployable`];
/// among all of them, should none fit), the pooled ones without per-layer figures. The planner
/// ranks tens of thousands of plans by their totals and fills in the chosen ones' layers with
/// [`with_layers`]; it holds only the plans no other matches or beats on both cost and gas (a
/// few dozen; holding every plan took 5 MB, most of a small model's compile).
/// Also returns the model's [`Reads`], for filling in the chosen plans' layers.
fn candidates_with(q: &QGraph, vis: Visibility) -> (Vec<LayoutPlan>, Reads) {
    let reads = prepare(q, vis);
    let mut fits = Pareto::default();
    let mut rest = Pareto::default();
    each_candidate(q, vis, &reads, false, |p| {
        if deployable(&p.shape) {
            fits.add(p);
        } else if fits.0.is_empty() {
            rest.add(p);
        }
    });
    let plans = if fits.0.is_empty() { rest.0 } else { fits.0 };
    (plans, reads)
}

/// Plans none of which another in the set matches or beats on both proving cost and gas, in
/// the order they were added (of plans with equal cost and gas, the first).
#[derive(Default)]
struct Pareto(Vec<LayoutPlan>);

impl Pareto {
    fn add(&mut self, p: LayoutPlan) {
        let covers = |a: &LayoutPlan, b: &LayoutPlan| {
            a.cost <= b.cost && a.est_verify_gas <= b.est_verify_gas
        };
        if self.0.iter().any(|f| covers(f, &p)) {
            return;
        }
        self.0.retain(|f| !covers(&p, f));
        self.0.push(p);
    }
}

fn candidates_any_size(q: &QGraph, vis: Visibility, layers: bool) -> Vec<LayoutPlan> {
    let mut out = Vec::new();
    each_candidate(q, vis, &prepare(q, vis), layers, |p| out.push(p));
    out
}

/// Calls `f` with every candidate plan: the lean layout's, then the pooled layout's at every
/// packing, limb width and lane count.
fn each_candidate(
    q: &QGraph,
    vis: Visibility,
    reads: &Reads,
    layers: bool,
    mut f: impl FnMut(LayoutPlan),
) {
    lean_candidates(q, vis).into_iter().for_each(&mut f);
    // 1×1 has the fewest columns (cheapest to verify on chain), 16×16 the fewest rows; the
    // compact verifier is one contract for every circuit, but the verifying key it reads grows
    // with the columns ([`deployable`]: the planner filters on it, this list does not).
    for packing in packings() {
        for limb in LIMB_BITS {
            pooled_plans_with(q, vis, reads, packing, limb, RANGE_LANES, layers)
                .into_iter()
                .for_each(&mut f);
        }
    }
}

/// A pooled plan from [`candidates_with`] with its per-layer figures filled in (the same
/// figures [`pooled_plans`] gives it: they depend on neither `k` nor the lane count).
fn with_layers(q: &QGraph, reads: &Reads, plan: LayoutPlan) -> LayoutPlan {
    if plan.shape.lean.is_some() || !plan.layers.is_empty() {
        return plan;
    }
    let layers = pooled_layers(q, reads, &plan.shape);
    LayoutPlan { layers, ..plan }
}

/// The per-layer figures of the pooled layout at `shape`'s packing and limb width: the nodes',
/// then the visibility groups'.
fn pooled_layers(q: &QGraph, reads: &Reads, shape: &CircuitShape) -> Arc<[LayerPlan]> {
    let base = CircuitShape {
        range_lanes: 1,
        k: 4,
        ..*shape
    };
    let mut layers = layers_for(q, &reads.nodes, &base);
    layers.extend(visibility_layers(q, &base, &reads.checks));
    layers.into()
}

/// The sums of [`pooled_layers`]' figures at `base` (main rows, range-lane rows, function rows
/// among them), without building its per-layer records.
fn pooled_totals(q: &QGraph, reads: &Reads, base: &CircuitShape) -> (usize, usize, usize) {
    let (mut main, mut lane, mut func) = (0, 0, 0);
    for (n, prep) in q.nodes.iter().zip(&reads.nodes) {
        let p = planned_with(q, n, prep, base);
        main += p.rows.main;
        lane += p.rows.lane + p.rows.func;
        func += p.rows.func;
    }
    for l in visibility_layers(q, base, &reads.checks) {
        main += l.rows;
        lane += l.lookup_rows;
        func += l.func_rows;
    }
    (main, lane, func)
}

/// Accumulators `A` and inputs `T` per row that the planner tries, each against every other
/// ([`packings`]): every size from 1 to 16. *History:* a list of 10 packings, then the sizes
/// {1, 2, 3, 4, 6, 8, 12, 16} (stop 30: every pair the cost model ranked was measured and the
/// ranking held); once rescale rows took several elements (`CircuitShape::rescale_slots`, which
/// follows the pool's width `A + T`), the best plans fell between those sizes (mlp_wide 8×11
/// at k = 13, lenet 4×7, mobilenet_block 3×9: 13–27 % cheaper by the model than the grid's
/// best), so the planner searches them all (256 packings × 14 limb widths × 7 lane counts,
/// ~0.5 s for the largest shared models).
pub const PACKING_SIZES: &[usize] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// Windows per multiply-add row the planner tries (`CircuitShape::windows_per_row`).
pub const WINDOW_COUNTS: &[usize] = &[1, 2, 3, 4, 6, 8];

/// The widest advice pool a packing may make, `(A + T)·P` (16×16 at one window per row).
pub const MAX_POOL_WIDTH: usize = 32;

/// Every packing `(A, T, P)` the planner tries: [`PACKING_SIZES`] squared at one window per
/// row, and at each of [`WINDOW_COUNTS`] the pairs whose pool stays within [`MAX_POOL_WIDTH`].
pub fn packings() -> impl Iterator<Item = (usize, usize, usize)> {
    WINDOW_COUNTS.iter().flat_map(|&p| {
        PACKING_SIZES.iter().flat_map(move |&a| {
            PACKING_SIZES
                .iter()
                .filter(move |&&t| (a + t) * p <= MAX_POOL_WIDTH)
                .map(move |&t| (a, t, p))
        })
    })
}

/// Limb widths the planner tries.
pub const LIMB_BITS: std::ops::RangeInclusive<u32> = 4..=17;

/// The pooled layout's plans at packing `(A, T, P)` and `limb`-bit limbs, per lane count in
/// `lanes`: the smallest `k` that fits the rows, the public values spread over as many instance
/// columns as they need there (at most [`MAX_INSTANCE_COLUMNS`]), then each larger `k` until
/// they fit one column.
pub fn pooled_plans(
    q: &QGraph,
    vis: Visibility,
    packing: (usize, usize, usize),
    limb: u32,
    lanes: &[usize],
) -> Vec<LayoutPlan> {
    pooled_plans_with(q, vis, &prepare(q, vis), packing, limb, lanes, true)
}

/// [`pooled_plans`] with the model's checks and nodes read once for all packings and limb
/// widths; without `layers`, the plans carry totals only (no per-layer records: the planner
/// ranks thousands of plans and fills in the chosen one's with [`with_layers`]).
fn pooled_plans_with(
    q: &QGraph,
    vis: Visibility,
    reads: &Reads,
    (a, t, p): (usize, usize, usize),
    limb: u32,
    lanes: &[usize],
    layers: bool,
) -> Vec<LayoutPlan> {
    let checks = &reads.checks;
    let max_limbs = limbs(checks.max, limb);
    let base = CircuitShape {
        inputs_per_row: t,
        accs_per_row: a,
        windows_per_row: p,
        limb_bits: limb,
        max_limbs,
        range_lanes: 1,
        k: 4,
        arith: reads.arith,
        functions: reads.functions,
        constants: reads.constants,
        dot_products: reads.dot_products,
        clamps: reads.clamps,
        visibility: vis,
        lean: None,
        instance_columns: 1,
    };
    let (layers, (main_rows, lane_rows, func_rows)) = if layers {
        let layers = pooled_layers(q, reads, &base);
        let totals = layers.iter().fold((0, 0, 0), |(m, l, f), p| {
            (m + p.rows, l + p.lookup_rows, f + p.func_rows)
        });
        (layers, totals)
    } else {
        (Arc::from([]), pooled_totals(q, reads, &base))
    };
    let range_rows = lane_rows - func_rows;
    let table_rows = RangeConfig::table_rows(checks.widths(limb)) + q.table_entries();
    let instances = InstanceLayout::new(vis, q.input().len(), q.output_node().len()).len;
    let mut plans = Vec::new();
    for &lanes in lanes {
        let mut shape = CircuitShape {
            range_lanes: lanes,
            ..base
        };
        // Function rows fill the range lanes beside the checks, one row each.
        let need = main_rows
            .max(lane_height(range_rows + func_rows, lanes, max_limbs))
            .max(table_rows);
        while shape.usable_rows() < need {
            shape.k += 1;
        }
        // The public values in as many instance columns as they need at this `k`, then at each
        // larger `k` in fewer, down to one: more columns cost a little per row, a larger `k`
        // doubles every column.
        loop {
            let columns = instances.div_ceil(shape.usable_rows().max(1)).max(1);
            if columns <= MAX_INSTANCE_COLUMNS {
                let shape = CircuitShape {
                    instance_columns: columns,
                    ..shape
                };
                plans.push(LayoutPlan {
                    est_verify_gas: estimate_verify_gas(&shape, instances),
                    cost: prove_cost(&shape),
                    shape,
                    main_rows,
                    range_rows,
                    func_rows,
                    table_rows,
                    layers: Arc::clone(&layers),
                    objective: Objective::Prove,
                });
            }
            if columns == 1 {
                break;
            }
            shape.k += 1;
        }
    }
    plans
}

/// The most instance columns a pooled plan spreads its public values over
/// ([`CircuitShape::instance_columns`]).
pub const MAX_INSTANCE_COLUMNS: usize = 16;

/// Range-lane counts the planner tries (5 since rescale slots made it mlp_digits' best).
pub const RANGE_LANES: &[usize] = &[1, 2, 3, 4, 5, 6, 8];

/// Rows the highest of `lanes` range lanes may reach when `total` lane rows of checks of at most
/// `max_limbs` rows each go to the least-filled lane: the lane that takes the last check was
/// at most average, so it ends below `⌈total/lanes⌉ + max_limbs`.
pub fn lane_height(total: usize, lanes: usize, max_limbs: usize) -> usize {
    if lanes <= 1 {
        total
    } else {
        total.div_ceil(lanes) + max_limbs
    }
}

impl LayoutPlan {
    /// What each resource of the plan needs in rows (main rows, the highest range lane with its
    /// function rows, the lookup table, the fullest instance column for `instances` public
    /// values), and those that set `k`: each needs more rows than `k − 1` would give, so `k`
    /// cannot drop unless all of them shrink. None sets it where the cost model preferred this
    /// `k` to a smaller one with more instance columns ([`LayoutPlan::why_k`] says which).
    pub fn row_needs(&self, instances: usize) -> (Vec<(&'static str, usize)>, Vec<&'static str>) {
        let s = &self.shape;
        let per_column = (
            "instance column",
            instances.div_ceil(s.instance_columns.max(1)),
        );
        let needs = if s.lean.is_some() {
            vec![("main", self.main_rows), per_column]
        } else {
            vec![
                ("main", self.main_rows),
                (
                    "range lane",
                    lane_height(self.range_rows + self.func_rows, s.range_lanes, s.max_limbs),
                ),
                ("table", self.table_rows),
                per_column,
            ]
        };
        let below = CircuitShape {
            k: s.k.saturating_sub(1),
            ..*s
        }
        .usable_rows();
        let by = needs
            .iter()
            .filter(|(_, n)| *n > below)
            .map(|(w, _)| *w)
            .collect();
        (needs, by)
    }

    /// What sets `k`, in words: the resources of [`LayoutPlan::row_needs`] that need more rows
    /// than `k − 1` gives. Where the instance column is the only one and `k − 1` could have
    /// held the public values in more columns, it says so: the cost model chose this `k`.
    pub fn why_k(&self, instances: usize) -> String {
        let (_, by) = self.row_needs(instances);
        let most = if self.shape.lean.is_some() {
            1
        } else {
            MAX_INSTANCE_COLUMNS
        };
        let below = CircuitShape {
            k: self.shape.k.saturating_sub(1),
            ..self.shape
        }
        .usable_rows()
        .max(1);
        let columns_below = instances.div_ceil(below);
        match by.split_last() {
            None => "the smallest k the layout takes".to_string(),
            Some((&"instance column", [])) if columns_below <= most => format!(
                "the cost model (k − 1 would take the public values in {columns_below} \
                 instance columns, not {})",
                self.shape.instance_columns
            ),
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
