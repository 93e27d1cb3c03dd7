//! The lean layout (fewest columns, for on-chain gas): which models it takes, that its circuit
//! computes exactly what the reference executor computes (for every number of inputs per
//! row), and that its proofs verify and tampered ones do not.

mod common;

use std::sync::Arc;

use common::onnx::{model, rand_vec, tensor, Attr, N};
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::layout::{lean_candidates, LayoutPlan};
use zkonnx::circuits::lean::{LeanModel, Origin};
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{data, CompiledModel, Model, Objective, Prover, QuantSettings, Visibility};

fn compile(path: &std::path::Path, samples: &[Vec<f32>], objective: Objective) -> CompiledModel {
    Model::load(path)
        .expect("import")
        .compile_planned(
            samples,
            QuantSettings::default(),
            Visibility::default(),
            objective,
        )
        .expect("compile")
}

/// The first input element a multiply-add reads (an input whose weights are all zero is not
/// read, and any value of it proves the same output).
fn first_read_input(c: &CompiledModel) -> usize {
    let lean = LeanModel::new(&c.model, Visibility::default()).expect("lean");
    lean.units
        .iter()
        .flat_map(|u| &u.elems)
        .flat_map(|e| &e.terms)
        .filter_map(|(o, _)| match o {
            Origin::Input(i) => Some(*i),
            _ => None,
        })
        .min()
        .expect("some input is read")
}

/// MockProver accepts `plan`'s circuit with the executor's instances and rejects a changed
/// input and a changed output.
fn assert_matches_executor(c: &CompiledModel, plan: &LayoutPlan, x: &[f32]) {
    let trace = Arc::new(c.witness(x).expect("witness"));
    let inst = ModelCircuit::instances(&c.model, &plan.shape, &trace);
    let circuit = ModelCircuit::with_trace(c.model.clone(), Arc::new(plan.clone()), trace);
    let k = plan.shape.k;
    MockProver::run(k, &circuit, vec![inst.clone()])
        .expect("synthesis")
        .assert_satisfied();
    for i in [first_read_input(c), c.settings.num_inputs, inst.len() - 1] {
        let mut bad = inst.clone();
        bad[i] += Fr::one();
        let p = MockProver::run(k, &circuit, vec![bad]).expect("synthesis");
        assert!(p.verify().is_err(), "instance {i} changed by one must fail");
    }
}

/// Pad (with a nonzero constant) → Conv → Relu → AveragePool (no ReLU) → Flatten → Gemm:
/// constants folded into addends, sparse convolution groups, signed values feeding a map.
fn conv_model() -> Vec<u8> {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let n = |op, name, inputs, output, attrs| N {
        op,
        name,
        inputs,
        output,
        attrs,
    };
    model(
        ("x", &[1, 1, 5, 5]),
        ("y", &[1, 3]),
        &[
            n("Pad", "pad", &["x", "pads", "cval"], "p", vec![]),
            n(
                "Conv",
                "conv",
                &["p", "w", "b"],
                "c",
                vec![("kernel_shape", ints(&[3, 3]))],
            ),
            n("Relu", "relu", &["c"], "r", vec![]),
            n(
                "AveragePool",
                "pool",
                &["r"],
                "a",
                vec![("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))],
            ),
            n("Flatten", "flat", &["a"], "f", vec![]),
            n(
                "Gemm",
                "fc",
                &["f", "w2"],
                "y",
                vec![("transB", Attr::I(1))],
            ),
        ],
        vec![
            common::onnx::tensor_i64("pads", vec![0, 0, 1, 1, 0, 0, 1, 1]),
            tensor("cval", &[], vec![0.5]),
            tensor("w", &[2, 1, 3, 3], rand_vec(31, 18, 0.6)),
            tensor("b", &[2], vec![0.05, -0.1]),
            tensor("w2", &[3, 8], rand_vec(32, 24, 0.5)),
        ],
    )
}

#[test]
fn lean_circuits_equal_the_executor_for_every_row_width() {
    let dir = common::temp_dir("lean-conv");
    let path = dir.join("conv.onnx");
    std::fs::write(&path, conv_model()).expect("write");
    let samples: Vec<Vec<f32>> = (0..4).map(|s| rand_vec(40 + s, 25, 1.0)).collect();
    let c = compile(&path, &samples, Objective::Gas);
    let lean = LeanModel::new(&c.model, Visibility::default()).expect("qualifies");
    assert!(lean.units.len() >= 3, "conv, pool and fc are lean units");
    // The pad constant (0.5) is folded: no multiply-add reads a constant.
    assert!(
        c.model.uses_constants(),
        "the padding is a rewiring with constants"
    );
    assert!(lean
        .units
        .iter()
        .flat_map(|u| &u.elems)
        .flat_map(|e| &e.terms)
        .all(|(o, _)| !matches!(o, Origin::Const(_))));
    let plans = lean_candidates(&c.model, Visibility::default());
    assert_eq!(plans.len(), 3);
    for plan in &plans {
        for x in &samples[..2] {
            assert_matches_executor(&c, plan, x);
        }
    }
}

#[test]
fn the_gas_objective_lays_mlp_digits_out_lean_and_its_proofs_verify() {
    let dir = common::shared_models();
    let x = data::read_input(&dir.join("mlp_digits.input.json")).expect("input");
    let c = compile(
        &dir.join("mlp_digits.onnx"),
        std::slice::from_ref(&x),
        Objective::Gas,
    );
    let shape = c.plan.shape;
    assert!(
        shape.lean.is_some(),
        "mlp_digits qualifies for the lean layout"
    );
    assert_eq!(shape.lookups(), 0);
    assert!(shape.advice_columns() + shape.fixed_columns() <= 8);
    assert_matches_executor(&c, &c.plan, &x);

    let prover = Prover::setup(c.clone(), dev_srs(c.k(), 7)).expect("setup");
    let proof = prover.prove(&x).expect("prove");
    let vk = prover.verifier_key();
    let path = std::path::Path::new("proof.json");
    let pf = proof.to_file();
    assert!(zkonnx::verify(&vk, &c.settings, &pf, path).expect("verify"));
    for pos in [10, proof.bytes.len() / 2, proof.bytes.len() - 3] {
        let mut bytes = proof.bytes.clone();
        bytes[pos] ^= 1;
        let mut bad = pf.clone();
        bad.proof = format!("0x{}", hex::encode(&bytes));
        assert!(
            !zkonnx::verify(&vk, &c.settings, &bad, path).expect("verify"),
            "byte {pos} flipped"
        );
    }
    let mut inst = proof.instances.clone();
    inst[first_read_input(&c)] += Fr::one();
    let mut bad = pf.clone();
    bad.instances = inst
        .iter()
        .map(zkonnx::prover::artifacts::fr_to_hex)
        .collect();
    assert!(!zkonnx::verify(&vk, &c.settings, &bad, path).expect("verify"));
}

#[test]
fn models_outside_the_lean_gadgets_keep_the_pooled_layout() {
    let dir = common::shared_models();
    let q = |name: &str| {
        let x = data::read_input(&dir.join(format!("{name}.input.json"))).expect("input");
        compile(
            &dir.join(format!("{name}.onnx")),
            std::slice::from_ref(&x),
            Objective::Gas,
        )
    };
    let t = q("tiny_transformer");
    let why = LeanModel::new(&t.model, Visibility::default()).expect_err("not lean");
    assert!(
        why.contains("needs a gadget the lean layout does not have"),
        "{why}"
    );
    assert!(t.plan.shape.lean.is_none());
    // Hashed parameters need Poseidon: pooled as well.
    let m = q("mlp_digits");
    let hashed = Visibility {
        params: zkonnx::Vis::Hashed,
        ..Visibility::default()
    };
    assert!(LeanModel::new(&m.model, hashed).is_err());
    assert!(lean_candidates(&m.model, hashed).is_empty());
}

/// Private and hashed inputs and outputs on the lean layout: the circuit takes the
/// visibilities, the hash instances are the hashes of the values as the circuit packs them
/// (`W + 1` bits), a changed hash is rejected, and proofs verify.
#[test]
fn the_lean_layout_hides_and_hashes_inputs_and_outputs() {
    use zkonnx::Vis;
    let dir = common::shared_models();
    let x = data::read_input(&dir.join("mlp_digits.input.json")).expect("input");
    let model = Model::load(dir.join("mlp_digits.onnx")).expect("import");
    for (input, output) in [
        (Vis::Hashed, Vis::Public),
        (Vis::Private, Vis::Private),
        (Vis::Public, Vis::Hashed),
        (Vis::Hashed, Vis::Hashed),
    ] {
        let vis = Visibility {
            input,
            params: Vis::Fixed,
            output,
        };
        let c = model
            .compile_planned(
                std::slice::from_ref(&x),
                QuantSettings::default(),
                vis,
                Objective::Gas,
            )
            .expect("compile");
        let shape = c.plan.shape;
        let lean = shape.lean.expect("lean");
        assert_eq!(
            (c.settings.hash_bits.input, c.settings.hash_bits.output),
            (lean.width + 1, lean.width + 1)
        );
        let trace = Arc::new(c.witness(&x).expect("witness"));
        let inst = ModelCircuit::instances(&c.model, &shape, &trace);
        let layout = c.settings.instance_layout();
        assert_eq!(inst.len(), layout.len);
        if let Some(at) = layout.input_hash {
            assert_eq!(inst[at], c.input_hash(&x).expect("hash"));
        }
        if let Some(at) = layout.output_hash {
            assert_eq!(inst[at], c.output_hash(&x).expect("hash"));
        }
        let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), trace);
        MockProver::run(shape.k, &circuit, vec![inst.clone()])
            .expect("synthesis")
            .assert_satisfied();
        for at in [layout.input_hash, layout.output_hash]
            .into_iter()
            .flatten()
        {
            let mut bad = inst.clone();
            bad[at] += Fr::one();
            let p = MockProver::run(shape.k, &circuit, vec![bad]).expect("synthesis");
            assert!(p.verify().is_err(), "{vis:?}: a changed hash must fail");
        }
        if input == Vis::Hashed && output == Vis::Hashed {
            let prover = Prover::setup(c.clone(), dev_srs(c.k(), 3)).expect("setup");
            let proof = prover.prove(&x).expect("prove");
            let vk = prover.verifier_key();
            let path = std::path::Path::new("proof.json");
            let pf = proof.to_file();
            assert!(zkonnx::verify(&vk, &c.settings, &pf, path).expect("verify"));
            let mut bad = pf.clone();
            let mut i = proof.instances.clone();
            i[0] += Fr::one();
            bad.instances = i.iter().map(zkonnx::prover::artifacts::fr_to_hex).collect();
            assert!(!zkonnx::verify(&vk, &c.settings, &bad, path).expect("verify"));
        }
    }
}
