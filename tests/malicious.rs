//! The malicious-prover harness: the honest proving key, a floor planner that rewrites chosen
//! advice values (`common::tamper`), and real proofs (plus MockProver, which names the failing
//! constraint). Every attack here produced a proof that verified before the fix it names
//! (issue 17) or is a lie about one gadget's output; each must now be refused, on both layouts.

mod common;
#[path = "common/tamper.rs"]
mod tamper;

#[path = "malicious/clamp.rs"]
mod clamp;
#[path = "malicious/gadgets.rs"]
mod gadgets;
#[path = "malicious/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::sync::Arc;

use common::onnx::{model, node, rand_vec, tensor, tensor_i64, Attr};
use tamper::{with_cells, with_subst_then, Tampered};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::field::fe;
use zkonnx::circuits::layout::{candidates, LayoutPlan};
use zkonnx::circuits::quant::{QGraph, QOp, QRef, Trace};
use zkonnx::halo2_proofs::dev::{MockProver, VerifyFailure};
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::halo2_proofs::halo2curves::ff::Field;
use zkonnx::prover::{keys::keygen, proof, srs::dev_srs};
use zkonnx::{CompiledModel, Model, Objective, QuantSettings, Vis, Visibility};

fn compile(bytes: &[u8], name: &str, samples: &[Vec<f32>], vis: Visibility) -> CompiledModel {
    compile_with(bytes, name, samples, vis, QuantSettings::default())
}

fn compile_with(
    bytes: &[u8],
    name: &str,
    samples: &[Vec<f32>],
    vis: Visibility,
    settings: QuantSettings,
) -> CompiledModel {
    let dir = common::temp_dir(name);
    let path = dir.join("model.onnx");
    std::fs::write(&path, bytes).expect("write model");
    Model::load(&path)
        .expect("import")
        .compile_planned(samples, settings, vis, Objective::Prove)
        .expect("compile")
}

/// The candidate plan of `c` that `pick` selects.
fn plan_where(c: &CompiledModel, pick: impl Fn(&LayoutPlan) -> bool) -> LayoutPlan {
    candidates(&c.model, c.plan.shape.visibility)
        .into_iter()
        .find(|p| pick(p))
        .expect("such a plan")
}

fn lean_t(t: usize) -> impl Fn(&LayoutPlan) -> bool {
    move |p| p.shape.lean.is_some() && p.shape.inputs_per_row == t
}

fn pooled(a: usize) -> impl Fn(&LayoutPlan) -> bool {
    pooled_in(a, 1)
}

/// A pooled plan of packing `a`×`a` whose range checks spread over `lanes` lanes.
fn pooled_in(a: usize, lanes: usize) -> impl Fn(&LayoutPlan) -> bool {
    move |p| {
        p.shape.lean.is_none()
            && p.shape.accs_per_row == a
            && p.shape.inputs_per_row == a
            && p.shape.limb_bits == 8
            && p.shape.range_lanes == lanes
    }
}

/// What an attack ends in.
struct Outcome {
    /// Whether the real proof verified against the attacker's instances.
    proof_verifies: bool,
    /// Whether MockProver found every constraint satisfied.
    mock_satisfied: bool,
    /// Advice cells the attack rewrote (0 means the attack was not mounted at all).
    rewritten: usize,
    /// Whether MockProver found a lookup failing.
    lookup_fails: bool,
    /// Whether MockProver found a gate's constraint unsatisfied.
    gate_fails: bool,
    /// Whether MockProver found a copy constraint broken.
    copy_fails: bool,
}

/// How an attack rewrites the honest witness.
enum Lies<'a> {
    /// By value, and the cell assigned right after the first rewritten one
    /// ([`tamper::with_subst_then`]).
    Values(&'a [(Fr, Fr)], Option<(Fr, Fr)>),
    /// By position `(advice column, row, value)`, and by value ([`tamper::with_cells`]).
    Cells(&'a [(usize, usize, Fr)], &'a [(Fr, Fr)]),
}

impl Lies<'_> {
    fn run<R>(&self, f: impl FnOnce() -> R) -> (R, usize) {
        match *self {
            Lies::Values(subst, then) => with_subst_then(subst, then, f),
            Lies::Cells(at, subst) => with_cells(at, subst, f),
        }
    }
}

/// Proves `plan`'s circuit of `q` on `trace` with the honest proving key, rewriting advice
/// values by `subst`, and verifies the proof against `instances`.
fn attack(
    q: &Arc<QGraph>,
    plan: &LayoutPlan,
    trace: &Arc<Trace>,
    subst: &[(Fr, Fr)],
    instances: &[Fr],
) -> Outcome {
    attack_then(q, plan, trace, subst, None, instances)
}

/// [`attack`], also rewriting the cell assigned right after the first substituted one
/// ([`tamper::with_subst_then`]).
fn attack_then(
    q: &Arc<QGraph>,
    plan: &LayoutPlan,
    trace: &Arc<Trace>,
    subst: &[(Fr, Fr)],
    then: Option<(Fr, Fr)>,
    instances: &[Fr],
) -> Outcome {
    attack_with(q, plan, trace, Lies::Values(subst, then), instances)
}

/// Proves `plan`'s circuit of `q` on `trace` with the honest proving key, rewriting the
/// witness by `lies`, and verifies the proof against `instances`.
fn attack_with(
    q: &Arc<QGraph>,
    plan: &LayoutPlan,
    trace: &Arc<Trace>,
    lies: Lies<'_>,
    instances: &[Fr],
) -> Outcome {
    let plan = Arc::new(plan.clone());
    let params = dev_srs(plan.shape.k, 7);
    let pk = keygen(&params, &ModelCircuit::new(q.clone(), plan.clone())).expect("keygen");
    let circuit = Tampered(ModelCircuit::with_trace(
        q.clone(),
        plan.clone(),
        trace.clone(),
    ));
    // MockProver may panic on a witness it cannot evaluate: that is a refusal too.
    let (mock, hits) = lies.run(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            MockProver::run(
                plan.shape.k,
                &circuit,
                ModelCircuit::instance_columns(&plan.shape, instances),
            )
            .map(|p| p.verify().err().unwrap_or_default())
            .ok()
        }))
        .ok()
        .flatten()
    });
    let mock_satisfied = mock.as_ref().is_some_and(Vec::is_empty);
    let fails = mock.unwrap_or_default();
    let any = |f: fn(&VerifyFailure) -> bool| fails.iter().any(f);
    let (bytes, _) = lies.run(|| proof::prove(&params, &pk, circuit.clone(), instances));
    let proof_verifies = match bytes {
        Ok(b) => proof::verify(&params, pk.get_vk(), instances, &b),
        Err(_) => false,
    };
    Outcome {
        proof_verifies,
        mock_satisfied,
        rewritten: hits,
        lookup_fails: any(|f| matches!(f, VerifyFailure::Lookup { .. })),
        gate_fails: any(|f| matches!(f, VerifyFailure::ConstraintNotSatisfied { .. })),
        copy_fails: any(|f| matches!(f, VerifyFailure::Permutation { .. })),
    }
}

fn honest_instances(q: &QGraph, plan: &LayoutPlan, trace: &Trace) -> Vec<Fr> {
    ModelCircuit::instances(q, &plan.shape, trace)
}

/// One dense layer from two inputs to one output, with a ReLU: an input shift
/// `(w1·t, −w0·t)` leaves its accumulator unchanged.
fn two_to_one() -> Vec<u8> {
    let nodes = [
        node("Gemm", &["x", "w", "b"], "h", vec![("transB", Attr::I(1))]),
        node("Relu", &["h"], "y", vec![]),
    ];
    model(
        ("x", &[1, 2]),
        ("y", &[1, 1]),
        &nodes,
        vec![
            tensor("w", &[1, 2], vec![0.75, -0.5]),
            tensor("b", &[1], vec![0.4]),
        ],
    )
}

/// An element of node `ni` whose value occurs nowhere else in the trace (so rewriting the
/// value moves exactly that element and its copies), with |value| > 64. Rewirings and identity
/// rescales hold no cells of their own (their elements are copies), so their values are not
/// counted.
fn lone_element(
    q: &QGraph,
    trace: &Trace,
    ni: usize,
    pick: impl Fn(usize) -> bool,
) -> Option<(usize, i64)> {
    let mut count: HashMap<i64, usize> = HashMap::new();
    for (n, vals) in q.nodes.iter().zip(&trace.values) {
        if !matches!(n.op, QOp::Gather { .. }) && !q.passes_through(n) {
            for v in vals {
                *count.entry(*v).or_default() += 1;
            }
        }
    }
    trace.values[ni]
        .iter()
        .enumerate()
        .find(|&(e, v)| pick(e) && v.unsigned_abs() > 64 && count[v] == 1)
        .map(|(e, &v)| (e, v))
}
