//! Visibility of input, parameters and output: every combination proves and verifies, hashed
//! instances are the native Poseidon hashes and bind the proof, private weights stay out of
//! the verifying key, and a consumer contract pinned to a model hash refuses other weights.

mod common;

use std::sync::Arc;

use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::circuits::quant::QOp;
use zkonnx::circuits::CircuitsError;
use zkonnx::evm::{consumer_layout, generate_verifier, VerifierKind};
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::halo2_proofs::halo2curves::ff::Field;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{data, CompiledModel, Model, Prover, QuantSettings, Vis, Visibility};
use zkonnx_evm::compact::contract;
use zkonnx_evm::consumer::{compile_consumer, consumer_deploy_code, submit_calldata};
use zkonnx_evm::{Evm, Solc};

fn mlp_digits() -> (Model, Vec<f32>) {
    let dir = common::shared_models();
    let model = Model::load(dir.join("mlp_digits.onnx")).expect("import");
    let x = data::read_input(&dir.join("mlp_digits.input.json")).expect("input");
    (model, x)
}

fn compile(model: &Model, x: &[f32], vis: Visibility) -> CompiledModel {
    model
        .compile_with(&[x.to_vec()], QuantSettings::default(), vis)
        .expect("compile")
}

/// The same compiled model with one weight of its first linear layer changed by `delta`.
fn with_other_weights(c: &CompiledModel, delta: i64) -> CompiledModel {
    let mut other = c.clone();
    let q = Arc::make_mut(&mut other.model);
    let map = q
        .nodes
        .iter_mut()
        .find_map(|n| match &mut n.op {
            QOp::Linear { map } => Some(map),
            _ => None,
        })
        .expect("a linear layer");
    map.mats[0].data[5] += delta;
    assert_eq!(q.param_bits(), c.model.param_bits(), "same circuit");
    other
}

#[test]
fn every_visibility_combination_proves_and_verifies() {
    let (model, x) = mlp_digits();
    let mut srs = None;
    for input in [Vis::Public, Vis::Private, Vis::Hashed] {
        for params in [Vis::Fixed, Vis::Private, Vis::Hashed] {
            for output in [Vis::Public, Vis::Hashed] {
                let vis = Visibility {
                    input,
                    params,
                    output,
                };
                let c = compile(&model, &x, vis);
                let srs = srs.get_or_insert_with(|| dev_srs(14, 7));
                assert!(c.k() <= 14, "{vis}: k = {}", c.k());
                let prover = Prover::setup(c.clone(), srs.clone()).expect("setup");
                let proof = prover.prove(&x).expect("prove");
                let vk = prover.verifier_key();
                let ok = |inst: &[Fr]| {
                    zkonnx::prover::proof::verify(&vk.params, &vk.vk, inst, &proof.bytes)
                };
                assert!(ok(&proof.instances), "{vis}: honest proof rejected");

                // The instances are the native values and hashes, in the layout's order.
                let layout = c.settings.instance_layout();
                assert_eq!(proof.instances.len(), layout.len, "{vis}");
                let mut expected = Vec::new();
                if input == Vis::Hashed {
                    expected.push((layout.input_hash, c.input_hash(&x).expect("hash")));
                }
                if params == Vis::Hashed {
                    expected.push((layout.param_hash, c.param_hash()));
                }
                if output == Vis::Hashed {
                    expected.push((layout.output_hash, c.output_hash(&x).expect("hash")));
                }
                for (at, h) in &expected {
                    let at = at.expect("hash instance");
                    assert_eq!(proof.instances[at], *h, "{vis}: hash at {at}");
                    // A changed hash instance is rejected.
                    let mut bad = proof.instances.clone();
                    bad[at] += Fr::ONE;
                    assert!(!ok(&bad), "{vis}: changed hash at {at} accepted");
                }
                assert_eq!(
                    layout.inputs.len(),
                    if input == Vis::Public { x.len() } else { 0 }
                );
                // Private and hashed outputs do not appear in the proof file.
                assert_eq!(proof.to_file().outputs.is_empty(), output != Vis::Public);
                if output == Vis::Public {
                    let mut bad = proof.instances.clone();
                    bad[layout.outputs.start] += Fr::ONE;
                    assert!(!ok(&bad), "{vis}: changed output accepted");
                }
            }
        }
    }
}

/// Public input and output, hashed parameters: the provenance setting.
const HASHED_PARAMS: Visibility = Visibility {
    input: Vis::Public,
    params: Vis::Hashed,
    output: Vis::Public,
};

#[test]
fn hashed_weights_bind_the_proof_to_the_model() {
    let (model, x) = mlp_digits();
    let c = compile(&model, &x, HASHED_PARAMS);
    let other = with_other_weights(&c, 1);
    assert_ne!(other.param_hash(), c.param_hash());
    let trace = Arc::new(other.witness(&x).expect("witness"));
    let circuit = ModelCircuit::with_trace(other.model.clone(), other.plan.clone(), trace.clone());
    // Claiming the original model's hash with other weights fails ...
    let mut claimed = ModelCircuit::instances(&other.model, &other.plan.shape, &trace);
    let at = c.settings.instance_layout().param_hash.expect("hash");
    claimed[at] = c.param_hash();
    let mock = MockProver::run(
        c.k(),
        &circuit,
        ModelCircuit::instance_columns(&other.plan.shape, &claimed),
    )
    .expect("synthesis");
    assert!(
        mock.verify().is_err(),
        "other weights passed as the pinned model"
    );
    // ... while their own hash is accepted.
    let own = ModelCircuit::instances(&other.model, &other.plan.shape, &trace);
    let mock = MockProver::run(
        c.k(),
        &circuit,
        ModelCircuit::instance_columns(&other.plan.shape, &own),
    )
    .expect("synthesis");
    assert!(mock.verify().is_ok());
}

#[test]
fn private_weights_stay_out_of_the_verifying_key() {
    let (model, x) = mlp_digits();
    let srs = dev_srs(14, 9);
    let vk_bytes = |c: &CompiledModel| {
        let p = Prover::setup(c.clone(), srs.clone()).expect("setup");
        let vk = p.verifier_key();
        vk.vk.transcript_repr()
    };
    for params in [Vis::Private, Vis::Hashed] {
        let vis = Visibility {
            params,
            ..Visibility::default()
        };
        let c = compile(&model, &x, vis);
        assert_eq!(vk_bytes(&c), vk_bytes(&with_other_weights(&c, 1)), "{vis}");
    }
    let fixed = compile(&model, &x, Visibility::default());
    assert_ne!(vk_bytes(&fixed), vk_bytes(&with_other_weights(&fixed, 1)));
}

#[test]
fn private_input_outside_the_compiled_range_is_a_clear_error() {
    let (model, x) = mlp_digits();
    let vis = Visibility {
        input: Vis::Private,
        ..Visibility::default()
    };
    let c = compile(&model, &x, vis);
    let prover = Prover::setup(c.clone(), dev_srs(c.k(), 1)).expect("setup");
    let big: Vec<f32> = x.iter().map(|v| v * 64.0 + 100.0).collect();
    match prover.prove(&big) {
        Err(zkonnx::Error::Circuits(CircuitsError::OutOfRange { node, .. })) => {
            assert_eq!(node, c.model.input().name);
        }
        other => panic!("expected an out-of-range error, got {other:?}"),
    }
}

#[test]
fn unsupported_visibilities_are_refused() {
    let (model, x) = mlp_digits();
    for vis in [
        Visibility {
            input: Vis::Fixed,
            ..Visibility::default()
        },
        Visibility {
            params: Vis::Public,
            ..Visibility::default()
        },
        Visibility {
            output: Vis::Fixed,
            ..Visibility::default()
        },
    ] {
        let err = model
            .compile_with(std::slice::from_ref(&x), QuantSettings::default(), vis)
            .expect_err("refused");
        assert!(err.to_string().contains("visibility"), "{err}");
    }
}

/// The consumer contract pinned to the model hash accepts the model's proofs and refuses a
/// valid proof (same circuit, same verifying key) made with other weights.
#[test]
fn consumer_pinned_to_the_model_hash_refuses_other_weights() {
    let (model, x) = mlp_digits();
    let c = compile(&model, &x, HASHED_PARAMS);
    let srs = dev_srs(c.k(), 5);
    let prover = Prover::setup(c.clone(), srs.clone()).expect("setup");
    let other = Prover::setup(with_other_weights(&c, 3), srs).expect("setup");
    let v = generate_verifier(
        &prover.verifier_key(),
        &c.settings,
        true,
        VerifierKind::Compact,
    )
    .expect("verifier (solc-js: npm ci --prefix verifier-contract)");
    let consumer = compile_consumer(&Solc::find().expect("solc")).expect("consumer compiles");

    let mut evm = Evm::new();
    let (verifier, _) = evm
        .deploy(&v.compiled.as_ref().expect("compiled").creation)
        .expect("deploy verifier");
    let (key, _) = evm
        .deploy(&v.vk_creation().expect("vk"))
        .expect("deploy key");
    let layout = consumer_layout(&c.settings, Some(c.param_hash()));
    assert!(layout.model_hash.is_some());
    let (consumer_addr, _) = evm
        .deploy(&consumer_deploy_code(
            &consumer,
            verifier.into_array(),
            key.into_array(),
            layout,
        ))
        .expect("deploy consumer");

    let honest = prover.prove(&x).expect("prove");
    let forged = other.prove(&x).expect("prove");
    assert_ne!(honest.instances, forged.instances);
    // The verifier alone accepts both: the other weights make a valid proof of the circuit.
    for p in [&honest, &forged] {
        let out = evm
            .call(
                verifier,
                &contract::verify_calldata(key.into_array(), &p.instances, &p.bytes),
            )
            .expect("call");
        assert!(out.success && out.output.last() == Some(&1));
    }
    let submit = |evm: &mut Evm, p: &zkonnx::Proof| {
        evm.call(consumer_addr, &submit_calldata(&p.bytes, &p.instances))
            .expect("submit")
            .success
    };
    assert!(
        submit(&mut evm, &honest),
        "the pinned model's proof was refused"
    );
    assert!(
        !submit(&mut evm, &forged),
        "a proof with other weights was accepted"
    );
    // Changing the hash instance to the pinned one does not help: the proof no longer verifies.
    let mut relabelled = forged.clone();
    let at = c.settings.instance_layout().param_hash.expect("hash");
    relabelled.instances[at] = c.param_hash();
    assert!(!submit(&mut evm, &relabelled));
}
