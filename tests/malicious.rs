//! The malicious-prover harness: the honest proving key, a floor planner that rewrites chosen
//! advice values (`common::tamper`), and real proofs (plus MockProver, which names the failing
//! constraint). Every attack here produced a proof that verified before the fix it names
//! (issue 17) or is a lie about one gadget's output; each must now be refused, on both layouts.

mod common;
#[path = "common/tamper.rs"]
mod tamper;

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

/// Attack 1 (issue 17): public inputs moved off the integers by a field inverse, the output
/// unchanged. Every input is now a range-checked cell bound to its instance.
#[test]
fn non_integer_public_inputs_are_refused_on_both_layouts() {
    let samples = vec![vec![0.3, -0.2], vec![-0.4, 0.5], vec![0.9, 0.1]];
    let c = compile(&two_to_one(), "mal-nonint", &samples, Visibility::default());
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let lin = c
        .model
        .nodes
        .iter()
        .find_map(|n| match &n.op {
            QOp::Linear { map } => Some(map.mats[0].data.clone()),
            _ => None,
        })
        .expect("a linear map");
    let (w0, w1) = (fe(i128::from(lin[0])), fe(i128::from(lin[1])));
    let t = Fr::from(7).invert().expect("invertible");
    let (x0, x1) = (
        fe(i128::from(trace.values[0][0])),
        fe(i128::from(trace.values[0][1])),
    );
    let (y0, y1) = (x0 + w1 * t, x1 - w0 * t);
    // Both inputs on one multiply-add row (T = 2), so the accumulator is unchanged.
    for plan in [plan_where(&c, pooled(2)), plan_where(&c, lean_t(2))] {
        let honest = honest_instances(&c.model, &plan, &trace);
        let o = attack(&c.model, &plan, &trace, &[], &honest);
        assert!(
            o.proof_verifies && o.mock_satisfied,
            "the honest proof verifies"
        );
        let mut bad = honest.clone();
        bad[0] = y0;
        bad[1] = y1;
        let o = attack(&c.model, &plan, &trace, &[(x0, y0), (x1, y1)], &bad);
        let what = plan.shape.describe();
        assert!(
            o.rewritten >= 2,
            "{what}: the attack rewrote the input cells"
        );
        assert!(
            !o.mock_satisfied,
            "{what}: MockProver refuses non-integer inputs"
        );
        assert!(
            !o.proof_verifies,
            "{what}: a proof with non-integer inputs verifies"
        );
    }
}

/// A layer that reads three of four inputs, one of them with zero weights.
fn partly_read() -> Vec<u8> {
    let nodes = [
        node("Slice", &["x", "st", "en", "ax"], "s", vec![]),
        node("Gemm", &["s", "w", "b"], "h", vec![("transB", Attr::I(1))]),
        node("Relu", &["h"], "y", vec![]),
    ];
    model(
        ("x", &[1, 4]),
        ("y", &[1, 2]),
        &nodes,
        vec![
            tensor_i64("st", vec![0]),
            tensor_i64("en", vec![3]),
            tensor_i64("ax", vec![1]),
            tensor("w", &[2, 3], vec![0.5, -0.25, 0.0, 0.3, 0.6, 0.0]),
            tensor("b", &[2], vec![0.1, 0.2]),
        ],
    )
}

/// Attack 4 (issue 17): a public input that no node reads (sliced away, or read with zero
/// weights) was unbound, so a proof held for any value of it. Every instance is now bound.
#[test]
fn unread_public_inputs_are_bound_on_both_layouts() {
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(40 + s, 4, 0.8)).collect();
    let c = compile(
        &partly_read(),
        "mal-unread",
        &samples,
        Visibility::default(),
    );
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    for plan in [plan_where(&c, pooled(1)), plan_where(&c, lean_t(1))] {
        let honest = honest_instances(&c.model, &plan, &trace);
        let what = plan.shape.describe();
        let o = attack(&c.model, &plan, &trace, &[], &honest);
        assert!(o.proof_verifies, "{what}: the honest proof verifies");
        for unread in [2, 3] {
            let mut bad = honest.clone();
            bad[unread] += Fr::ONE;
            let o = attack(&c.model, &plan, &trace, &[], &bad);
            assert!(
                !o.proof_verifies && !o.mock_satisfied,
                "{what}: a proof holds for another value of unread input {unread}"
            );
        }
    }
}

/// Attack 2 (issue 17), as SECURITY.md states it: the lean layout bounds every input element
/// by `|x| < 2^W` (W its width), the pooled layout by the compiled input width. A private
/// input at `2^W` is refused by both the pre-proof check and the circuit.
#[test]
fn private_inputs_are_bounded_as_documented() {
    let samples = vec![vec![0.3, -0.2], vec![-0.4, 0.5], vec![0.9, 0.1]];
    let vis = Visibility {
        input: Vis::Private,
        ..Visibility::default()
    };
    let c = compile(&two_to_one(), "mal-private", &samples, vis);
    for plan in [plan_where(&c, pooled(1)), plan_where(&c, lean_t(1))] {
        let bound = match plan.shape.lean {
            Some(l) => l.width,
            None => c.model.input_bits - 1,
        };
        let what = plan.shape.describe();
        let at = |v: i64| vec![v, 3];
        assert!(ModelCircuit::check_input(&c.model, &plan.shape, &at((1 << bound) - 1)).is_ok());
        assert!(
            ModelCircuit::check_input(&c.model, &plan.shape, &at(1 << bound)).is_err(),
            "{what}: an input of 2^{bound} passes the check"
        );
        // The circuit itself: an honest trace of an in-range input, then its first element
        // rewritten to 2^bound (every copy of it).
        let trace =
            Arc::new(zkonnx::circuits::quant::run_quantized(&c.model, &[1000, 3]).expect("trace"));
        let inst = honest_instances(&c.model, &plan, &trace);
        let over = fe(1i128 << bound);
        let o = attack(&c.model, &plan, &trace, &[(fe(1000), over)], &inst);
        assert!(o.rewritten >= 1, "{what}: the attack was mounted");
        assert!(
            !o.proof_verifies && !o.mock_satisfied,
            "{what}: an input of 2^{bound} proves"
        );
    }
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

/// One lie per gadget: an element of each node's output claimed one higher than computed (all
/// its copies moved with it, the output instance too when it is the output), on real proofs;
/// and for the rescale, division and square root, lies that keep the gadget's own equation
/// (the quotient up by one, the remainder down by the divisor): only the range checks of the
/// remainders can refuse those.
#[test]
fn a_lie_about_any_gadget_output_is_refused() {
    // Two range lanes: the checks that refuse the equation-keeping lies alternate between them.
    lie_about_every_gadget(pooled_in(2, 2), 1);
}

/// The same lies where a main row holds two rescaled elements side by side (6×6 packing: a
/// twelve-column pool, so two five-column slots), lies in either slot. At 6×6 the sum's
/// groups (one output of two inputs) stack three to a window, so the lies about its elements
/// 0 and 1 are about the accumulators of two groups on one row.
#[test]
fn a_lie_about_a_rescale_in_any_slot_of_a_row_is_refused() {
    lie_about_every_gadget(pooled(6), 2);
}

fn lie_about_every_gadget(pick: impl Fn(&LayoutPlan) -> bool, slots: usize) {
    let samples: Vec<Vec<f32>> = (0..4).map(|s| rand_vec(60 + s, 6, 1.0)).collect();
    let c = compile(
        &common::onnx::every_primitive(),
        "mal-gadgets",
        &samples,
        Visibility::default(),
    );
    let plan = plan_where(&c, pick);
    assert_eq!(plan.shape.rescale_slots(), slots);
    // The residual sum reads a map's accumulator unrounded (through an identity, at the
    // accumulator's scale).
    let unrounded = |i: usize| {
        let m = &c.model.nodes[i];
        c.model.passes_through(m) && m.scale > c.model.settings.input_scale
    };
    assert!(
        c.model
            .nodes
            .iter()
            .any(|n| matches!(n.op, QOp::Linear { .. }) && n.inputs.iter().any(|&i| unrounded(i))),
        "a sum of an unrounded accumulator"
    );
    // Groups stack on a row wherever the packing leaves room (one output of two inputs: the
    // sum) and nowhere at 2×2.
    let stacks = c.model.nodes.iter().any(|n| match &n.op {
        QOp::Linear { map } => map.groups.iter().any(|g| {
            let used = g.inputs.iter().flatten().count();
            zkonnx::circuits::gadgets::linear::stacked(
                g.outputs.len(),
                used,
                plan.shape.accs_per_row,
                plan.shape.inputs_per_row,
            ) > 1
        }),
        _ => false,
    });
    assert_eq!(
        stacks,
        plan.shape.accs_per_row > 2,
        "stacked groups at this packing"
    );
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    let out_start = honest.len() - c.model.output_node().len();
    let mut attacked = Vec::new();
    let mut compensated = Vec::new();
    let mut rescale_slots_lied = std::collections::BTreeSet::new();
    let mut identity_read = false;
    for (ni, n) in c.model.nodes.iter().enumerate() {
        // An identity rescale holds no cells either: its elements are its linear map's
        // accumulators, attacked as that map's.
        if matches!(n.op, QOp::Input | QOp::Gather { .. }) || c.model.passes_through(n) {
            continue;
        }
        // A lone element in each slot of a row (element e of a rescale takes slot e % slots).
        for (e, v) in
            (0..slots).filter_map(|s| lone_element(&c.model, &trace, ni, |e| e % slots == s))
        {
            let mut lies = vec![(vec![(fe(i128::from(v)), fe(i128::from(v) + 1))], None)];
            if n.op.is_unchecked_rescale() {
                // x·mul + add = q + r: (q + 1, r − 1) keeps the row's equation; the remainder
                // (0, like thousands of cells) is the cell assigned right after the quotient.
                lies.push((
                    vec![(fe(i128::from(v)), fe(i128::from(v) + 1))],
                    Some((fe(0), fe(-1))),
                ));
            } else if let QOp::Rescale {
                shift,
                relu: false,
                mul,
                add,
                ..
            } = &n.op
            {
                // x·mul + add = q·2^s + r: (q + 1, r − 2^s) keeps the row's equation.
                let x = i128::from(trace.values[n.inputs[0]][e]);
                let r = x * i128::from(mul[e]) + i128::from(add[e]) - (i128::from(v) << shift);
                lies.push((
                    vec![
                        (fe(i128::from(v)), fe(i128::from(v) + 1)),
                        (fe(r), fe(r - (1i128 << shift))),
                    ],
                    None,
                ));
            }
            let val_of = |r: &QRef| -> i128 {
                match *r {
                    QRef::In(s, i) => i128::from(trace.values[n.inputs[s as usize]][i as usize]),
                    QRef::Const(c) => i128::from(c),
                }
            };
            let v128 = i128::from(v);
            match &n.op {
                QOp::Div {
                    num, den, shift, ..
                } => {
                    // 2^(s+1)·n + d − 2·q·d = r and 2d − r − 1 = t: (q + 1, r − 2d, t + 2d).
                    let (nv, dv) = (val_of(&num[e]), val_of(&den[e]));
                    let r = (nv << (shift + 1)) + dv - 2 * v128 * dv;
                    let t = 2 * dv - r - 1;
                    lies.push((
                        vec![
                            (fe(v128), fe(v128 + 1)),
                            (fe(r), fe(r - 2 * dv)),
                            (fe(t), fe(t + 2 * dv)),
                        ],
                        None,
                    ));
                    compensated.push("div");
                }
                QOp::Sqrt { exp, .. } => {
                    // 2^e·x − s² = r1 and 2s − r1 = r2: (s + 1, r1 − 2s − 1, r2 + 4s + 3).
                    let x = i128::from(trace.values[n.inputs[0]][e]);
                    let r1 = (x << exp) - v128 * v128;
                    let r2 = 2 * v128 - r1;
                    lies.push((
                        vec![
                            (fe(v128), fe(v128 + 1)),
                            (fe(r1), fe(r1 - 2 * v128 - 1)),
                            (fe(r2), fe(r2 + 4 * v128 + 3)),
                        ],
                        None,
                    ));
                    compensated.push("sqrt");
                }
                // Without a shift the equation-keeping lie moves the remainder to −1, which its
                // copy of the constrained zero refuses (so do the gates that read the output
                // here; `a_lie_about_an_exact_rescale_is_refused` tells it at the output).
                _ if n.op.is_unchecked_rescale() => compensated.push("exact rescale"),
                QOp::Rescale { relu: false, .. } => compensated.push("rescale"),
                _ => {}
            }
            for (subst, then) in lies {
                let mut inst = honest.clone();
                if ni == c.model.output {
                    inst[out_start + e] = subst[0].1;
                }
                let o = attack_then(&c.model, &plan, &trace, &subst, then, &inst);
                assert!(o.rewritten >= 1, "'{}': the lie was told", n.name);
                if then.is_some() {
                    assert!(
                        o.rewritten >= 2,
                        "'{}': the remainder was rewritten",
                        n.name
                    );
                }
                assert!(
                    !o.proof_verifies && !o.mock_satisfied,
                    "'{}' ({}): a lie about element {e} proves",
                    n.name,
                    n.op_type
                );
            }
            if let QOp::Rescale { relu: false, .. } = n.op {
                rescale_slots_lied.insert(e % slots);
            }
            if c.model
                .nodes
                .iter()
                .any(|m| c.model.passes_through(m) && m.inputs == [ni])
            {
                identity_read = true;
            }
            attacked.push(n.op_type.clone());
        }
    }
    assert_eq!(
        rescale_slots_lied.len(),
        slots,
        "equation-keeping rescale lies per slot"
    );
    assert!(attacked.len() >= 6, "gadgets attacked: {attacked:?}");
    // The dot product of two activations (a sum of five products on dot-product rows).
    assert!(
        attacked.iter().any(|o| o == "MatMul"),
        "no lie about a sum of products: {attacked:?}"
    );
    assert!(
        identity_read,
        "no lie about a map whose rescale is the identity (its accumulators are its value)"
    );
    for g in ["rescale", "exact rescale", "div", "sqrt"] {
        assert!(
            compensated.contains(&g),
            "no equation-keeping lie about a {g}: {compensated:?}"
        );
    }
}

/// Convolution windows side by side (two per multiply-add row, both reading the row's weight
/// columns): a lie about a running accumulator of either window is refused, on both maps (a
/// padded Conv and a strided ConvTranspose). A running sum (after the first of several rows of
/// an output) is copied nowhere and checked by nothing but the multiply-add gate of its window,
/// so this is the lie a missing or miswired window gate would let through; a lie about a map's
/// output is also refused by the rescale that reads it.
#[test]
fn a_lie_about_either_window_of_a_row_is_refused() {
    use zkonnx::circuits::gadgets::linear::classes;
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(100 + s, 32, 1.0)).collect();
    let c = compile(
        &common::onnx::padded_convs(),
        "mal-windows",
        &samples,
        Visibility::default(),
    );
    let t = 4;
    let plan = plan_where(&c, |p| {
        p.shape.lean.is_none()
            && (
                p.shape.accs_per_row,
                p.shape.inputs_per_row,
                p.shape.windows_per_row,
            ) == (2, t, 2)
            && p.shape.limb_bits == 8
            && p.shape.range_lanes == 1
    });
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    assert!(attack(&c.model, &plan, &trace, &[], &honest).proof_verifies);
    let mut lied = std::collections::BTreeSet::new();
    for n in &c.model.nodes {
        let QOp::Linear { map } = &n.op else {
            continue;
        };
        // The groups of a class go two at a time, in order: group `class[i]` is window `i % 2`.
        for class in classes(map) {
            for (i, &gi) in class.iter().enumerate() {
                let w = i % 2;
                let g = &map.groups[gi];
                let present: Vec<(usize, (u32, u32))> = g
                    .inputs
                    .iter()
                    .enumerate()
                    .filter_map(|(col, e)| e.map(|e| (col, e)))
                    .collect();
                if lied.contains(&(n.name.clone(), w)) || present.len() <= t {
                    continue;
                }
                // Output 0's sum after its first row (the first `t` present inputs).
                let m = &map.mats[g.mat as usize];
                let partial: i128 = present[..t]
                    .iter()
                    .map(|&(col, (s, e))| {
                        i128::from(m.data[col])
                            * i128::from(trace.values[n.inputs[s as usize]][e as usize])
                    })
                    .sum();
                if partial.abs() < 1 << 20 {
                    continue;
                }
                let o = attack(
                    &c.model,
                    &plan,
                    &trace,
                    &[(fe(partial), fe(partial + 1))],
                    &honest,
                );
                if o.rewritten != 1 {
                    // The value is in another cell too: not the lie this test tells.
                    continue;
                }
                assert!(
                    !o.proof_verifies && !o.mock_satisfied,
                    "'{}': a lie about a running sum in window {w} proves",
                    n.name
                );
                lied.insert((n.name.clone(), w));
            }
        }
    }
    assert_eq!(lied.len(), 4, "both windows of both maps: {lied:?}");
}

/// The lean layout's gadgets: a lie about a rescaled output (one higher, every copy moved, the
/// output instance too) is refused at one and two inputs per row.
/// A negated ReLU at the output (`−relu(Gemm(x))`): the negation is an exact rescale
/// (`q = −x`, no shift) whose output is not range-checked and whose remainder is a copy of the
/// constrained zero. The lie keeps its equation — an output one higher, its remainder (the
/// cell assigned right after it) −1, the output instance claimed one higher too — so only the
/// remainder's copy of the zero refuses it (checked: with the copy dropped this test fails).
#[test]
fn a_lie_about_an_exact_rescale_is_refused() {
    use common::onnx::{model, node, tensor};
    let bytes = model(
        ("x", &[1, 6]),
        ("y", &[1, 4]),
        &[
            node(
                "Gemm",
                &["x", "w", "b"],
                "h",
                vec![("transB", common::onnx::Attr::I(1))],
            ),
            node("Relu", &["h"], "r", vec![]),
            node("Neg", &["r"], "y", vec![]),
        ],
        vec![
            tensor("w", &[4, 6], rand_vec(31, 24, 3.0)),
            tensor("b", &[4], vec![2.0, 3.0, 4.0, 5.0]),
        ],
    );
    let samples: Vec<Vec<f32>> = (0..4).map(|s| rand_vec(70 + s, 6, 1.0)).collect();
    let c = compile(&bytes, "mal-exact", &samples, Visibility::default());
    let out = c.model.output_node();
    assert!(
        out.op.is_unchecked_rescale() && !out.op.is_identity(),
        "the output is an exact rescale: {:?}",
        out.op_type
    );
    let plan = plan_where(&c, pooled(2));
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    assert!(attack(&c.model, &plan, &trace, &[], &honest).proof_verifies);
    let out_start = honest.len() - out.len();
    let (e, v) = lone_element(&c.model, &trace, c.model.output, |_| true).expect("a lone output");
    let (v, v1) = (fe(i128::from(v)), fe(i128::from(v) + 1));
    let mut inst = honest.clone();
    inst[out_start + e] = v1;
    let o = attack_then(
        &c.model,
        &plan,
        &trace,
        &[(v, v1)],
        Some((fe(0), fe(-1))),
        &inst,
    );
    assert!(o.rewritten >= 2, "the output and its remainder rewritten");
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "an exact rescale's output one higher, its remainder −1, proves"
    );
}

/// The rescale before a direct function table, which only the lookup reads, has its output
/// left unchecked (`QGraph::lookup_bounded`): the lookup holds it to the table's domain. The
/// lie that keeps its equation with an output nobody range-checks — the remainder one higher
/// and the output `2^−shift` lower in the field (a huge value), every copy of it moved — is
/// refused by the function row's lookup, on real proofs.
#[test]
fn a_lie_about_a_rescale_only_a_lookup_reads_is_refused() {
    let bytes = model(
        ("x", &[1, 6]),
        ("y", &[1, 4]),
        &[
            node("Gemm", &["x", "w", "b"], "h", vec![("transB", Attr::I(1))]),
            node("Sigmoid", &["h"], "y", vec![]),
        ],
        vec![
            tensor("w", &[4, 6], rand_vec(33, 24, 1.5)),
            tensor("b", &[4], vec![0.2, -0.3, 0.1, 0.4]),
        ],
    );
    let samples: Vec<Vec<f32>> = (0..4).map(|s| rand_vec(75 + s, 6, 1.0)).collect();
    let direct = QuantSettings {
        interpolation: zkonnx::Interpolation::Never,
        ..QuantSettings::default()
    };
    let c = compile_with(
        &bytes,
        "mal-lookup-bound",
        &samples,
        Visibility::default(),
        direct,
    );
    let bound = c.model.lookup_bounded();
    let ni = bound
        .iter()
        .position(|&b| b)
        .expect("a rescale only a lookup reads");
    let QOp::Rescale {
        mul, add, shift, ..
    } = &c.model.nodes[ni].op
    else {
        panic!("not a rescale");
    };
    let plan = plan_where(&c, pooled(2));
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    assert!(attack(&c.model, &plan, &trace, &[], &honest).proof_verifies);
    let (e, v) = lone_element(&c.model, &trace, ni, |_| true).expect("a lone element");
    let x = i128::from(trace.values[c.model.nodes[ni].inputs[0]][e]);
    let r = x * i128::from(mul[e]) + i128::from(add[e]) - (i128::from(v) << shift);
    // x·mul + add = q·2^s + r holds for (q − 2^−s, r + 1) and for (q + 2^−s, r − 1).
    let inv = Option::<Fr>::from(fe(1i128 << shift).invert()).expect("2^s is invertible");
    let (q1, r1) = if r + 1 < (1i128 << shift) {
        (fe(i128::from(v)) - inv, r + 1)
    } else {
        (fe(i128::from(v)) + inv, r - 1)
    };
    let o = attack_then(
        &c.model,
        &plan,
        &trace,
        &[(fe(i128::from(v)), q1)],
        Some((fe(r), fe(r1))),
        &honest,
    );
    assert!(
        o.rewritten >= 3,
        "the output, its lookup's copy and the remainder rewritten"
    );
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "a rescale's output outside the table, its equation kept, proves"
    );
    // The rescale's gate holds; the function row's lookup refuses the output (the remainder's
    // copy in its range lane is not moved by this harness, so that copy fails too).
    assert!(
        o.lookup_fails,
        "the function row's lookup did not refuse the output"
    );
}

#[test]
fn a_lie_about_a_lean_rescale_is_refused() {
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(80 + s, 2, 0.9)).collect();
    let c = compile(&two_to_one(), "mal-lean", &samples, Visibility::default());
    for t in [1, 2] {
        let plan = plan_where(&c, lean_t(t));
        let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
        let honest = honest_instances(&c.model, &plan, &trace);
        let y = i128::from(*trace.output(&c.model).first().expect("an output"));
        let mut bad = honest.clone();
        let last = bad.len() - 1;
        bad[last] = fe(y + 1);
        let o = attack(&c.model, &plan, &trace, &[(fe(y), fe(y + 1))], &bad);
        assert!(o.rewritten >= 1, "T={t}: the lie was told");
        assert!(
            !o.proof_verifies && !o.mock_satisfied,
            "T={t}: a lie about the output proves"
        );
    }
}

/// The Poseidon gadget: a hashed output whose digest is claimed one higher (the digest cell
/// and the instance moved together) is refused, on both layouts.
#[test]
fn a_lie_about_a_hash_is_refused() {
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(90 + s, 2, 0.9)).collect();
    let vis = Visibility {
        input: Vis::Hashed,
        output: Vis::Hashed,
        ..Visibility::default()
    };
    let c = compile(&two_to_one(), "mal-hash", &samples, vis);
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    for plan in [plan_where(&c, pooled(1)), plan_where(&c, lean_t(1))] {
        let honest = honest_instances(&c.model, &plan, &trace);
        let what = plan.shape.describe();
        assert!(
            attack(&c.model, &plan, &trace, &[], &honest).proof_verifies,
            "{what}"
        );
        for i in 0..honest.len() {
            let mut bad = honest.clone();
            bad[i] += Fr::ONE;
            let o = attack(&c.model, &plan, &trace, &[(honest[i], bad[i])], &bad);
            assert!(
                o.rewritten >= 1,
                "{what}: the digest cell {i} was rewritten"
            );
            assert!(
                !o.proof_verifies && !o.mock_satisfied,
                "{what}: a lie about digest {i} proves"
            );
        }
    }
}

/// Constant data read at a computed index is a lookup in a table of its entries
/// ([`zkonnx::circuits::ir::Op::Select`]): an entry claimed one higher than the data's, every
/// copy of it moved, is refused by the lookup, on real proofs.
#[test]
fn a_lie_about_an_entry_read_at_a_computed_index_is_refused() {
    let bytes = model(
        ("x", &[1, 8]),
        ("y", &[1, 8, 4]),
        &[
            node("Floor", &["x"], "f", vec![]),
            node("Cast", &["f"], "i", vec![("to", Attr::I(7))]),
            node("Gather", &["e", "i"], "y", vec![("axis", Attr::I(0))]),
        ],
        vec![tensor("e", &[6, 4], rand_vec(91, 24, 2.0))],
    );
    let samples = vec![vec![0.2, 5.9, 3.5, 1.1, 4.0, 2.7, 0.9, 5.0]];
    let c = compile(&bytes, "mal-data-table", &samples, Visibility::default());
    let ni = c
        .model
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Lookup { table } if c.model.tables[table].is_data()))
        .expect("a lookup in a data table");
    let plan = (*c.plan).clone();
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    assert!(attack(&c.model, &plan, &trace, &[], &honest).proof_verifies);
    let (_, v) = lone_element(&c.model, &trace, ni, |_| true).expect("a lone element");
    let o = attack(
        &c.model,
        &plan,
        &trace,
        &[(fe(i128::from(v)), fe(i128::from(v) + 1))],
        &honest,
    );
    assert!(o.rewritten >= 1, "the entry was rewritten");
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "an entry the data does not hold proves"
    );
    assert!(o.lookup_fails, "the lookup did not refuse the entry");
}

/// Products of two computed tensors packed `T` to a dot-product row (a MatMul of activations,
/// `h·hᵀ`), on real proofs: a lie about an output (every copy moved) and about a running sum
/// (copied nowhere) are refused by the dot gate; a padding slot of a short last row holding 1
/// where its copy of the constrained zero holds 0 satisfies every gate (its other factor is 0)
/// and is refused by the copy alone. Without that copy, a padding product could add anything to
/// the sum.
#[test]
fn a_lie_about_a_packed_product_is_refused() {
    let bytes = model(
        ("x", &[2, 4]),
        ("y", &[2, 2]),
        &[
            node("MatMul", &["x", "w"], "h", vec![]),
            node(
                "Transpose",
                &["h"],
                "ht",
                vec![("perm", Attr::Ints(vec![1, 0]))],
            ),
            node("MatMul", &["h", "ht"], "y", vec![]),
        ],
        vec![tensor("w", &[4, 4], rand_vec(95, 16, 0.8))],
    );
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(96 + s, 8, 1.0)).collect();
    let c = compile(&bytes, "mal-products", &samples, Visibility::default());
    // 4×4: an eight-column pool, three products a dot row, so each element's four products take
    // a full row, then a row of one product and two padding slots.
    let plan = plan_where(&c, pooled(4));
    assert!(plan.shape.dot_products && plan.shape.dot_inputs() == 3);
    let ni = c
        .model
        .nodes
        .iter()
        .position(|n| matches!(&n.op, QOp::Bilinear { terms } if terms[0].len() == 4))
        .expect("the product of h and its transpose");
    assert_eq!(plan.layers[ni].gadget, "dot-products");
    assert_eq!(plan.layers[ni].rows, 4 * 2, "two rows per element");
    // Main rows follow the nodes' order; element 0's rows are the node's first two.
    let first: usize = plan.layers[..ni].iter().map(|l| l.rows).sum();
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    let run = |at: &[(usize, usize, Fr)], subst: &[(Fr, Fr)], inst: &[Fr]| {
        attack_with(&c.model, &plan, &trace, Lies::Cells(at, subst), inst)
    };
    let o = run(&[], &[], &honest);
    assert!(o.proof_verifies && o.mock_satisfied, "the honest proof");
    // Padding: slot 1's factor x (column 1) of element 0's second row.
    let o = run(&[(1, first + 1, Fr::ONE)], &[], &honest);
    assert_eq!(o.rewritten, 1);
    assert!(!o.proof_verifies && !o.mock_satisfied, "a padding 1 proves");
    assert!(
        o.copy_fails && !o.gate_fails,
        "the padding cell is refused by its copy of the zero, not by a gate"
    );
    // The running sum of element 0's first row (the accumulator, column 2T = 6), one higher.
    let node = &c.model.nodes[ni];
    let QOp::Bilinear { terms } = &node.op else {
        unreachable!("found above")
    };
    let factor = |s: usize, i: u32| i128::from(trace.values[node.inputs[s]][i as usize]);
    let sum: i128 = terms[0][..3]
        .iter()
        .map(|&(i, j)| factor(0, i) * factor(1, j))
        .sum();
    let o = run(&[(6, first, fe(sum))], &[], &honest);
    assert!(
        o.rewritten == 1 && o.proof_verifies,
        "the cell holds the running sum"
    );
    let o = run(&[(6, first, fe(sum + 1))], &[], &honest);
    assert_eq!(o.rewritten, 1);
    assert!(
        !o.proof_verifies && o.gate_fails,
        "a running sum's lie proves"
    );
    // An output, every copy of it moved (the output instance too).
    let (e, v) = lone_element(&c.model, &trace, ni, |_| true).expect("a lone element");
    let mut inst = honest.clone();
    if ni == c.model.output {
        let out_start = honest.len() - c.model.output_node().len();
        inst[out_start + e] = fe(i128::from(v) + 1);
    }
    let o = run(&[], &[(fe(i128::from(v)), fe(i128::from(v) + 1))], &inst);
    assert!(o.rewritten >= 1, "the output was rewritten");
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "a product's lie proves"
    );
}

/// A clamp (a ReLU6: `Clip(0, C)` applied by its map's rescale) that lies about an element above
/// `C`, on real proofs. Passing the quotient through (`out = q`, `e = C − q`, `f = q`, the output
/// instance moved) satisfies every gate: both products are zero and `3·out + e − f − C` is still
/// the quotient. Only the range checks of `e` and `f`, which bind the cells by copy, refuse it;
/// an output moved by one without its parts is refused by the gates.
#[test]
fn a_lie_about_a_clamp_is_refused() {
    let bytes = clamp_model();
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(100 + s, 8, 1.0)).collect();
    clamp_lies(&bytes, &samples);
}

/// `Clip(x·w, 0, 0.5)`: a ReLU6-like clamp that binds above and below on the samples below.
fn clamp_model() -> Vec<u8> {
    model(
        ("x", &[1, 8]),
        ("y", &[1, 6]),
        &[
            node("MatMul", &["x", "w"], "h", vec![]),
            node("Clip", &["h", "zero", "hi"], "y", vec![]),
        ],
        vec![
            tensor("w", &[8, 6], rand_vec(97, 48, 0.8)),
            tensor("zero", &[], vec![0.0]),
            tensor("hi", &[], vec![0.5]),
        ],
    )
}

fn clamp_lies(bytes: &[u8], samples: &[Vec<f32>]) {
    let c = compile(bytes, "mal-clamp", samples, Visibility::default());
    let plan = plan_where(&c, pooled(2));
    assert!(plan.shape.clamps && plan.shape.rescale_slots() == 1);
    let ni = c.model.output;
    let QOp::Rescale {
        mul,
        add,
        shift,
        clamp: Some(hi),
        ..
    } = &c.model.nodes[ni].op
    else {
        panic!("the output is not a clamp: {:?}", c.model.nodes[ni].op)
    };
    assert_eq!(plan.layers[ni].gadget, "rescale+clamp");
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let x = &trace.values[c.model.nodes[ni].inputs[0]];
    let q = |e: usize| zkonnx::circuits::quant::rescale_one(x[e], mul[e], add[e], *shift).0;
    let e = (0..6)
        .find(|&e| q(e) > i128::from(*hi))
        .expect("an element above C");
    assert!((0..6).any(|e| q(e) < 0), "an element below 0 too");
    assert_eq!(i128::from(trace.values[ni][e]), i128::from(*hi));
    // One element a row (slot 0: columns x | e | r | out | f), in the node's order.
    let row: usize = plan.layers[..ni].iter().map(|l| l.rows).sum::<usize>() + e;
    let honest = honest_instances(&c.model, &plan, &trace);
    let out_at = honest.len() - 6 + e;
    let run = |at: &[(usize, usize, Fr)], inst: &[Fr]| {
        attack_with(&c.model, &plan, &trace, Lies::Cells(at, &[]), inst)
    };
    let o = run(&[], &honest);
    assert!(o.proof_verifies && o.mock_satisfied, "the honest proof");
    let (c_, qe) = (i128::from(*hi), q(e));
    let mut inst = honest.clone();
    inst[out_at] = fe(qe);
    let o = run(
        &[(1, row, fe(c_ - qe)), (3, row, fe(qe)), (4, row, fe(qe))],
        &inst,
    );
    assert_eq!(o.rewritten, 3);
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "an unclamped output proves"
    );
    assert!(
        o.copy_fails && !o.gate_fails,
        "the gates hold for the lie; the checks' copies refuse it"
    );
    // The output one lower (C − 1) with its instance: the gates refuse it.
    inst[out_at] = fe(c_ - 1);
    let o = run(&[(3, row, fe(c_ - 1))], &inst);
    assert_eq!(o.rewritten, 1);
    assert!(!o.proof_verifies && o.gate_fails, "C − 1 proves");
}

/// With private parameters (the rescale's multiplier and addend in advice, its quotient the
/// clamp's `3·out + e − f − C` all the same) a clamp proves, and an output moved by one (every
/// copy and its instance) is refused.
#[test]
fn a_clamp_with_private_parameters_proves_and_refuses_a_lie() {
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(100 + s, 8, 1.0)).collect();
    let vis = Visibility {
        params: Vis::Private,
        ..Visibility::default()
    };
    let c = compile(&clamp_model(), "mal-clamp-private", &samples, vis);
    let plan = plan_where(&c, |p| p.shape.lean.is_none() && p.shape.limb_bits == 8);
    assert!(plan.shape.clamps && plan.shape.visibility.params_in_advice());
    let ni = c.model.output;
    assert!(matches!(
        c.model.nodes[ni].op,
        QOp::Rescale { clamp: Some(_), .. }
    ));
    let trace = Arc::new(c.witness(&samples[0]).expect("witness"));
    let honest = honest_instances(&c.model, &plan, &trace);
    let o = attack_with(&c.model, &plan, &trace, Lies::Values(&[], None), &honest);
    assert!(o.proof_verifies && o.mock_satisfied, "the honest proof");
    let (e, v) = lone_element(&c.model, &trace, ni, |_| true).expect("a lone element");
    let mut inst = honest.clone();
    let out_start = honest.len() - c.model.output_node().len();
    inst[out_start + e] = fe(i128::from(v) + 1);
    let lie = [(fe(i128::from(v)), fe(i128::from(v) + 1))];
    let o = attack_with(&c.model, &plan, &trace, Lies::Values(&lie, None), &inst);
    assert!(o.rewritten >= 1, "the output was rewritten");
    assert!(
        !o.proof_verifies && !o.mock_satisfied,
        "a clamp's lie proves"
    );
}

/// A compiled graph whose clamp bound the circuit's argument does not cover (negative, at or
/// past `2^bits`, or without its ReLU) is refused when the graph is validated (as a
/// `compiled.json` is on load), before any witness is computed from it.
#[test]
fn a_clamp_bound_outside_its_range_is_refused_by_validation() {
    let samples: Vec<Vec<f32>> = (0..3).map(|s| rand_vec(100 + s, 8, 1.0)).collect();
    let c = compile(
        &clamp_model(),
        "mal-clamp-bound",
        &samples,
        Visibility::default(),
    );
    c.model.validate().expect("the honest graph");
    let ni = c.model.output;
    let QOp::Rescale { bits, .. } = c.model.nodes[ni].op else {
        panic!("the output is not a rescale")
    };
    let edited = |f: &dyn Fn(&mut QOp)| {
        let mut g = (*c.model).clone();
        f(&mut g.nodes[ni].op);
        g.validate()
    };
    let set = |v: i64| {
        move |op: &mut QOp| {
            if let QOp::Rescale { clamp, .. } = op {
                *clamp = Some(v);
            }
        }
    };
    assert!(edited(&set(-1)).is_err(), "a negative bound");
    assert!(edited(&set(1i64 << bits)).is_err(), "a bound of 2^bits");
    assert!(
        edited(&set((1i64 << bits) - 1)).is_ok(),
        "the largest bound"
    );
    let no_relu = |op: &mut QOp| {
        if let QOp::Rescale { relu, .. } = op {
            *relu = false;
        }
    };
    assert!(edited(&no_relu).is_err(), "a clamp without its ReLU");
}
