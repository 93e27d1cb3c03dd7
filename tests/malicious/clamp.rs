//! Lies about a clamp (`Clip(0, C)` applied by its map's rescale), with fixed and private
//! parameters, and a clamp bound outside its range.

use super::*;

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
