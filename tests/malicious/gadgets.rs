//! A lie about each gadget's output, in every slot of a row, in either convolution window,
//! about exact and lookup-only rescales, on the lean layout, about a hash, an entry read at a
//! computed index and a packed product.

use super::*;

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

/// The lean layout's gadgets: a lie about a rescaled output (one higher, every copy moved, the
/// output instance too) is refused at one and two inputs per row.
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
