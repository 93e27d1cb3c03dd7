//! Attacks on the inputs (issue 17): public inputs off the integers, public inputs no node
//! reads, private inputs past their documented bound.

use super::*;

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
