//! The Solidity verifiers in revm: the compact verifier (default) checked against
//! snark-verifier's and against its Rust reference, and the example consumer contract.

mod common;

use zkonnx::evm::{check_deployable, evm_verify, generate_verifier, EvmVerifier, VerifierKind};
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::prover::srs::dev_srs;
use zkonnx::{Model, Prover, QuantSettings};
use zkonnx_evm::compact::{blob, contract, native, CompactVk};
use zkonnx_evm::consumer::{
    compile_consumer, consumer_deploy_code, getter_calldata, submit_calldata,
};
use zkonnx_evm::{encode_calldata, Evm, Solc};

/// A small model (8 inputs, 3 outputs) whose snark-verifier verifier also fits EIP-170.
fn small_prover(weights_seed: u64) -> (Prover, Vec<f32>) {
    small_prover_for(weights_seed, zkonnx::Objective::Prove)
}

/// A small model for `objective`: [`small_prover`]'s, or for the gas objective a two-layer
/// perceptron (laid out lean), with weights from `weights_seed`.
fn small_prover_for(weights_seed: u64, objective: zkonnx::Objective) -> (Prover, Vec<f32>) {
    let dir = common::temp_dir("evm-small");
    let path = dir.join(format!("small-{objective}-{weights_seed}.onnx"));
    let bytes = match objective {
        zkonnx::Objective::Prove | zkonnx::Objective::Balanced => {
            common::onnx::mixed_model_seeded(weights_seed)
        }
        zkonnx::Objective::Gas => common::onnx::mlp_seeded(weights_seed),
    };
    std::fs::write(&path, bytes).expect("write");
    let model = Model::load(&path).expect("import");
    let samples: Vec<Vec<f32>> = (0..4)
        .map(|s| common::onnx::rand_vec(200 + s, 8, 1.0))
        .collect();
    let compiled = model
        .compile_planned(
            &samples,
            QuantSettings::default(),
            zkonnx::Visibility::default(),
            objective,
        )
        .expect("compile");
    // snark-verifier's unrolled verifier grows with the columns: keep the fixture's layout
    // narrow (packing at most 2×2, one range lane), whatever the planner's fastest plan for it is.
    let compiled = match objective {
        zkonnx::Objective::Prove => common::narrowed(compiled),
        _ => compiled,
    };
    let k = compiled.k();
    (
        Prover::setup(compiled, dev_srs(k, 3)).expect("setup"),
        samples[0].clone(),
    )
}

fn verifier(prover: &Prover, kind: VerifierKind) -> EvmVerifier {
    generate_verifier(
        &prover.verifier_key(),
        &prover.compiled().settings,
        true,
        kind,
    )
    .expect("verifier (compiled with solc-js: npm ci --prefix verifier-contract)")
}

/// Both verifiers deployed on one chain; answers (compact, snark-verifier) for a proof.
struct Both {
    evm: Evm,
    compact: zkonnx_evm::node::Address,
    vk: zkonnx_evm::node::Address,
    unrolled: zkonnx_evm::node::Address,
}

impl Both {
    fn new(compact: &EvmVerifier, unrolled: &EvmVerifier) -> Self {
        let mut evm = Evm::new();
        let c = compact.compiled.as_ref().expect("compiled");
        let (compact_addr, _) = evm.deploy(&c.creation).expect("deploy compact");
        let (vk, _) = evm
            .deploy(&compact.vk_creation().expect("vk"))
            .expect("deploy vk");
        let u = unrolled.compiled.as_ref().expect("compiled");
        let (unrolled_addr, _) = evm.deploy(&u.creation).expect("deploy snark-verifier");
        Both {
            evm,
            compact: compact_addr,
            vk,
            unrolled: unrolled_addr,
        }
    }

    fn answers(&mut self, instances: &[Fr], proof: &[u8]) -> (bool, bool) {
        let out = self
            .evm
            .call(
                self.compact,
                &contract::verify_calldata(self.vk.into_array(), instances, proof),
            )
            .expect("call compact");
        let compact = out.success && out.output.last() == Some(&1);
        let unrolled = self
            .evm
            .call(self.unrolled, &encode_calldata(instances, proof))
            .expect("call snark-verifier")
            .success;
        (compact, unrolled)
    }
}

#[test]
fn compact_and_snark_verifier_agree_on_honest_and_tampered_proofs() {
    differential(zkonnx::Objective::Prove);
}

/// The same on the lean layout (the gas objective's circuits).
#[test]
fn compact_and_snark_verifier_agree_on_lean_circuits() {
    let (prover, _) = small_prover_for(0, zkonnx::Objective::Gas);
    assert!(
        prover.compiled().plan.shape.lean.is_some(),
        "the small model qualifies for the lean layout"
    );
    differential(zkonnx::Objective::Gas);
}

/// Honest proofs accepted, tampered ones rejected, by both Solidity verifiers and the Rust
/// reference of the compact one.
fn differential(objective: zkonnx::Objective) {
    let (prover, x) = small_prover_for(0, objective);
    let compact = verifier(&prover, VerifierKind::Compact);
    let unrolled = verifier(&prover, VerifierKind::SnarkVerifier);
    check_deployable(compact.compiled.as_ref().expect("compiled")).expect("fits EIP-170");
    check_deployable(unrolled.compiled.as_ref().expect("compiled")).expect("fits EIP-170");
    let mut both = Both::new(&compact, &unrolled);
    let vk = prover.verifier_key();
    let columns = zkonnx::prover::proof::instance_column_lengths(
        &vk.vk,
        prover.compiled().settings.num_inputs + prover.compiled().settings.num_outputs,
    );
    let cvk = CompactVk::new(&vk.params, &vk.vk, &columns).expect("compact vk");

    let proof = prover.prove(&x).expect("prove");
    let (inst, bytes) = (&proof.instances, &proof.bytes);
    assert_eq!(both.answers(inst, bytes), (true, true), "honest proof");
    assert!(native::verify(&cvk, inst, bytes));

    // A flipped byte in a witness commitment, the quotient, an evaluation, W and W'.
    let w = cvk.num_witnesses();
    let positions = [
        5,
        64 * w + 7,
        64 * (w + cvk.quotient_chunks) + 31,
        bytes.len() - 100,
        bytes.len() - 1,
    ];
    for pos in positions {
        let mut bad = bytes.clone();
        bad[pos] ^= 1;
        assert_eq!(
            both.answers(inst, &bad),
            (false, false),
            "byte {pos} flipped"
        );
        assert!(!native::verify(&cvk, inst, &bad), "byte {pos} (native)");
    }
    // A changed instance (first input, last output).
    for i in [0, inst.len() - 1] {
        let mut bad = inst.clone();
        bad[i] += Fr::one();
        assert_eq!(both.answers(&bad, bytes), (false, false), "instance {i}");
        assert!(!native::verify(&cvk, &bad, bytes));
    }
    // An instance sent as y + r (the same field element, another word): both refuse it
    // (issue 17 #3: snark-verifier's loads reduced it modulo r).
    let r = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
        .expect("hex");
    for i in [0, inst.len() - 1] {
        let mut data = encode_calldata(inst, bytes);
        let word = &mut data[32 * i..32 * (i + 1)];
        let mut carry = 0u16;
        for j in (0..32).rev() {
            let s = u16::from(word[j]) + u16::from(r[j]) + carry;
            word[j] = s as u8;
            carry = s >> 8;
        }
        assert_eq!(carry, 0);
        let out = both.evm.call(both.unrolled, &data).expect("call");
        assert!(!out.success, "snark-verifier accepted instance {i} + r");
    }
    // A truncated proof, an extended one, a missing instance.
    assert_eq!(
        both.answers(inst, &bytes[..bytes.len() - 32]),
        (false, false)
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0u8; 32]);
    assert!(!both.answers(inst, &longer).0);
    assert!(!both.answers(&inst[1..], bytes).0);

    // A proof of another circuit (same shape, other weights) under this circuit's key.
    let (other, x2) = small_prover_for(7, objective);
    let other_proof = other.prove(&x2).expect("prove other");
    assert_eq!(
        both.answers(&other_proof.instances, &other_proof.bytes),
        (false, false),
        "another circuit's proof"
    );
    assert!(!native::verify(
        &cvk,
        &other_proof.instances,
        &other_proof.bytes
    ));
}

#[test]
fn the_compact_verifier_is_one_contract_for_every_circuit() {
    let (a, _) = small_prover(0);
    let (b, _) = small_prover(7);
    let va = verifier(&a, VerifierKind::Compact);
    let vb = verifier(&b, VerifierKind::Compact);
    let (ca, cb) = (
        va.compiled.clone().expect("a"),
        vb.compiled.clone().expect("b"),
    );
    assert_eq!(ca.runtime, cb.runtime);
    assert!(ca.runtime.len() <= zkonnx_evm::EIP170_MAX_RUNTIME_BYTES);
    // ... while the circuits differ in their verifying keys, hence their identities.
    assert_ne!(va.circuit_id(), vb.circuit_id());
    assert_eq!(
        va.circuit_id().expect("id"),
        format!(
            "0x{}",
            hex::encode(blob::circuit_id(va.vk_blob.as_ref().expect("blob")))
        )
    );
}

#[test]
fn evm_verify_reports_gas_and_rejects_a_changed_output() {
    let (prover, x) = small_prover(0);
    let settings = &prover.compiled().settings;
    let v = verifier(&prover, VerifierKind::Compact);
    let c = v.compiled.clone().expect("compiled");
    let key = v.vk_creation();
    let proof = prover.prove(&x).expect("prove");
    let pf = proof.to_file();
    let path = std::path::Path::new("proof.json");
    let ok = evm_verify(&c.creation, key.as_deref(), settings, &pf, path).expect("evm");
    assert!(ok.accepted, "honest proof rejected");
    assert!(ok.verify_gas > 21_000 && ok.deploy_gas > 0 && ok.vk_deploy_gas.is_some());
    eprintln!("compact: verify gas {}", ok.verify_gas);

    // The proof file's outputs must be the proven ones.
    let mut bad = pf.clone();
    let n = bad.outputs.len();
    bad.outputs[n - 1] += 1.0;
    assert!(
        !evm_verify(&c.creation, key.as_deref(), settings, &bad, path)
            .expect("evm")
            .accepted
    );
}

/// Function rows share the range lanes, whose lookup then reads a product (`fs·rv`, degree 2):
/// the compact verifier must accept the honest proof of a model with a function table, as
/// laid out by the planner (several lanes when it chooses them), and refuse a changed output
/// or proof byte.
#[test]
fn the_compact_verifier_checks_function_rows_in_the_range_lanes() {
    let (_, samples, compiled) =
        common::compile_built("every", common::onnx::every_primitive(), (60, 4, 6));
    assert!(compiled.plan.shape.functions && compiled.plan.func_rows > 0);
    let k = compiled.k();
    let prover = Prover::setup(compiled, dev_srs(k, 5)).expect("setup");
    let settings = &prover.compiled().settings;
    let v = verifier(&prover, VerifierKind::Compact);
    let c = v.compiled.clone().expect("compiled");
    let key = v.vk_creation();
    let pf = prover.prove(&samples[0]).expect("prove").to_file();
    let at = std::path::Path::new("proof.json");
    let run = |pf: &zkonnx::ProofFile| {
        evm_verify(&c.creation, key.as_deref(), settings, pf, at)
            .expect("evm")
            .accepted
    };
    assert!(run(&pf), "honest proof rejected");
    let mut bad = pf.clone();
    bad.outputs[0] += 1.0;
    assert!(!run(&bad), "a changed output verified");
    let mut bad = pf.clone();
    let mut bytes = hex::decode(bad.proof.trim_start_matches("0x")).expect("hex");
    bytes[200] ^= 1;
    bad.proof = format!("0x{}", hex::encode(bytes));
    assert!(!run(&bad), "a changed proof verified");
}

/// A model with many public values and little arithmetic (a ReLU of 1,024 inputs: 2,048 public
/// values) spreads them over instance columns instead of taking `k` from them. Its proof
/// verifies natively, in the compact verifier's Rust reference and in the contract. A proof
/// made for other public values — the first or last of any column changed, or all shifted by
/// one place — with the honest witness is refused by all three: every column is bound.
#[test]
fn many_public_values_spread_over_instance_columns() {
    use common::onnx::{model, node};
    use zkonnx::circuits::circuit::ModelCircuit;
    use zkonnx::circuits::layout::MAX_INSTANCE_COLUMNS;
    use zkonnx::prover::{keys::keygen, proof};
    let n = 1024;
    let bytes = model(
        ("x", &[1, n as i64]),
        ("y", &[1, n as i64]),
        &[node("Relu", &["x"], "y", vec![])],
        vec![],
    );
    let (_, samples, compiled) = common::compile_built("wide-public", bytes, (70, 2, n));
    let shape = compiled.plan.shape;
    assert!(
        shape.instance_columns > 1 && shape.usable_rows() < 2 * n,
        "{} at k = {}: the public values should not set k",
        shape.describe(),
        shape.k
    );
    // Settings claiming other instance columns are refused when read: none, more than the
    // planner makes, or too few for the public values at this `k`.
    let mut edited = compiled.settings.clone();
    assert!(edited.validate().is_ok());
    let too_few = (2 * n).div_ceil(shape.usable_rows()) - 1;
    assert!(too_few >= 1);
    for columns in [0, too_few, MAX_INSTANCE_COLUMNS + 1] {
        edited.shape.instance_columns = columns;
        assert!(edited.validate().is_err(), "{columns} instance columns");
    }
    let params = dev_srs(shape.k, 9);
    let pk = keygen(
        &params,
        &ModelCircuit::new(compiled.model.clone(), compiled.plan.clone()),
    )
    .expect("keygen");
    let trace = std::sync::Arc::new(compiled.witness(&samples[0]).expect("witness"));
    let honest = ModelCircuit::instances(&compiled.model, &shape, &trace);
    let circuit = ModelCircuit::with_trace(compiled.model.clone(), compiled.plan.clone(), trace);
    let lengths = proof::instance_column_lengths(pk.get_vk(), honest.len());
    assert_eq!(lengths.len(), shape.instance_columns);
    let cvk = CompactVk::new(&params, pk.get_vk(), &lengths).expect("compact vk");
    let mut evm = Evm::new();
    let (cv, _) = evm
        .deploy(&contract::compact_verifier().expect("compact").creation)
        .expect("deploy");
    let (kv, _) = evm
        .deploy(&blob::data_creation(&blob::encode(&cvk)))
        .expect("deploy key");
    // A proof for `inst` with the honest witness, and the three verifiers' answers to it.
    let mut answers = |inst: &[Fr]| {
        let bytes = proof::prove(&params, &pk, circuit.clone(), inst).expect("prove");
        let out = evm
            .call(
                cv,
                &contract::verify_calldata(kv.into_array(), inst, &bytes),
            )
            .expect("call");
        (
            out.success && out.output.last() == Some(&1),
            native::verify(&cvk, inst, &bytes),
            proof::verify(&params, pk.get_vk(), inst, &bytes),
        )
    };
    assert_eq!(answers(&honest), (true, true, true), "honest");
    let mut start = 0;
    for (c, len) in lengths.iter().enumerate() {
        for at in [start, start + len - 1] {
            let mut bad = honest.clone();
            bad[at] += Fr::one();
            assert_eq!(
                answers(&bad),
                (false, false, false),
                "value {at} (column {c}) claimed one more"
            );
        }
        start += len;
    }
    let mut shifted = honest.clone();
    shifted.rotate_right(1);
    assert_eq!(answers(&shifted), (false, false, false), "shifted");
}

#[test]
fn consumer_contract_records_verified_predictions_and_rejects_bad_calls() {
    let (prover, x) = small_prover(0);
    let settings = prover.compiled().settings.clone();
    let v = verifier(&prover, VerifierKind::Compact);
    let consumer = compile_consumer(&Solc::find().expect("solc")).expect("consumer compiles");

    let mut evm = Evm::new();
    let (verifier_addr, _) = evm
        .deploy(&v.compiled.as_ref().expect("compiled").creation)
        .expect("deploy verifier");
    let (vk_addr, _) = evm
        .deploy(&v.vk_creation().expect("vk"))
        .expect("deploy vk");
    let code = consumer_deploy_code(
        &consumer,
        verifier_addr.into_array(),
        vk_addr.into_array(),
        zkonnx::evm::consumer_layout(&settings, None),
    );
    let (consumer_addr, _) = evm.deploy(&code).expect("deploy consumer");

    let proof = prover.prove(&x).expect("prove");
    let ok = evm
        .call(
            consumer_addr,
            &submit_calldata(&proof.bytes, &proof.instances),
        )
        .expect("submit");
    assert!(ok.success, "consumer rejected an honest proof");
    eprintln!("consumer submit gas {}", ok.gas_used);
    let expected = zkonnx::fidelity::argmax(&proof.outputs).expect("outputs") as u64;
    let got = evm
        .call(consumer_addr, &getter_calldata("lastPrediction"))
        .expect("getter");
    assert_eq!(
        u64::from_be_bytes(got.output[24..32].try_into().expect("word")),
        expected
    );

    // A tampered proof reverts.
    let mut bytes = proof.bytes.clone();
    bytes[40] ^= 0x10;
    assert!(
        !evm.call(consumer_addr, &submit_calldata(&bytes, &proof.instances))
            .expect("submit")
            .success
    );
    // Instances of the wrong layout revert before the verifier is called.
    assert!(
        !evm.call(
            consumer_addr,
            &submit_calldata(&proof.bytes, &proof.instances[1..])
        )
        .expect("submit")
        .success
    );
    // A valid proof of another model (another verifying key) is refused: the consumer pins
    // its model's key.
    let (other, x2) = small_prover(7);
    let other_proof = other.prove(&x2).expect("prove other");
    assert!(
        !evm.call(
            consumer_addr,
            &submit_calldata(&other_proof.bytes, &other_proof.instances)
        )
        .expect("submit")
        .success
    );
    let n = evm
        .call(consumer_addr, &getter_calldata("accepted"))
        .expect("getter");
    assert_eq!(n.output[31], 1, "rejected calls must not be recorded");
}

/// `--objective gas` plans fewer columns; on chain that must be measurably cheaper than the
/// default plan, and the planner's estimate must be close to what the EVM charges.
#[test]
fn gas_objective_plans_a_cheaper_verifier() {
    let dir = common::shared_models();
    let model = Model::load(dir.join("mlp_digits.onnx")).expect("import");
    let x = zkonnx::data::read_input(&dir.join("mlp_digits.input.json")).expect("input");
    let vis = zkonnx::Visibility::default();
    let mut measured = Vec::new();
    for objective in [zkonnx::Objective::Prove, zkonnx::Objective::Gas] {
        let compiled = model
            .compile_planned(
                std::slice::from_ref(&x),
                QuantSettings::default(),
                vis,
                objective,
            )
            .expect("compile");
        let estimate = compiled.plan.est_verify_gas;
        let prover = Prover::setup(compiled.clone(), dev_srs(compiled.k(), 5)).expect("setup");
        let v = verifier(&prover, VerifierKind::Compact);
        let c = v.compiled.clone().expect("compiled");
        let pf = prover.prove(&x).expect("prove").to_file();
        let path = std::path::Path::new("proof.json");
        let ok = evm_verify(
            &c.creation,
            v.vk_creation().as_deref(),
            &compiled.settings,
            &pf,
            path,
        )
        .expect("evm");
        assert!(ok.accepted, "{objective}: honest proof rejected");
        let err = (ok.verify_gas as f64 - estimate as f64).abs() / ok.verify_gas as f64;
        eprintln!(
            "{objective}: k={} {}: verify gas {} (estimated {estimate})",
            compiled.k(),
            compiled.plan.shape.describe(),
            ok.verify_gas
        );
        assert!(
            err < 0.1,
            "{objective}: estimate {estimate} vs {} gas",
            ok.verify_gas
        );
        measured.push(ok.verify_gas);
    }
    assert!(
        (measured[1] as f64) < 0.85 * measured[0] as f64,
        "gas objective {} vs prove objective {}",
        measured[1],
        measured[0]
    );
}

/// On every shared model the gas plan is never estimated dearer than the prove plan, stays
/// within the allowed slowdown, and the prove plan is never the larger committed area.
#[test]
fn planner_objectives_trade_rows_for_columns_within_the_cap() {
    let dir = common::shared_models();
    for name in ["mlp_digits", "lenet", "mlp_wide", "tiny_transformer"] {
        let model = Model::load(dir.join(format!("{name}.onnx"))).expect("import");
        let x = zkonnx::data::read_input(&dir.join(format!("{name}.input.json"))).expect("input");
        let plan = |objective| {
            model
                .compile_planned(
                    std::slice::from_ref(&x),
                    QuantSettings::default(),
                    zkonnx::Visibility::default(),
                    objective,
                )
                .expect("compile")
                .plan
        };
        let (prove, gas) = (plan(zkonnx::Objective::Prove), plan(zkonnx::Objective::Gas));
        assert_eq!(gas.objective, zkonnx::Objective::Gas);
        assert!(gas.est_verify_gas <= prove.est_verify_gas, "{name}");
        assert!(prove.cost <= gas.cost, "{name}");
        assert!(
            gas.cost <= zkonnx::circuits::layout::GAS_PLAN_MAX_SLOWDOWN * prove.cost,
            "{name}: {} vs {}",
            gas.cost,
            prove.cost
        );
        assert!(
            gas.shape.advice_columns() + gas.shape.fixed_columns()
                <= prove.shape.advice_columns() + prove.shape.fixed_columns(),
            "{name}"
        );
    }
}

/// The compact verifier on every shared model (default layouts): the honest proof is accepted
/// in revm and by the Rust reference; a flipped proof byte and a changed instance are rejected
/// by both.
#[test]
fn compact_verifier_on_every_shared_model() {
    let dir = common::shared_models();
    for name in ["mlp_digits", "lenet", "mlp_wide", "tiny_transformer"] {
        let model = Model::load(dir.join(format!("{name}.onnx"))).expect("import");
        let x = zkonnx::data::read_input(&dir.join(format!("{name}.input.json"))).expect("input");
        let compiled = model
            .compile(std::slice::from_ref(&x), QuantSettings::default())
            .expect("compile");
        let prover = Prover::setup(compiled.clone(), dev_srs(compiled.k(), 9)).expect("setup");
        let v = verifier(&prover, VerifierKind::Compact);
        let mut evm = Evm::new();
        let (cv, _) = evm
            .deploy(&v.compiled.as_ref().expect("compiled").creation)
            .expect("deploy");
        let (kv, _) = evm
            .deploy(&v.vk_creation().expect("vk"))
            .expect("deploy key");
        let vk = prover.verifier_key();
        let columns = zkonnx::prover::proof::instance_column_lengths(
            &vk.vk,
            compiled.settings.instance_layout().len,
        );
        let cvk = CompactVk::new(&vk.params, &vk.vk, &columns).expect("compact vk");
        // The planner's estimate of the key's size (which keeps its plans deployable) is
        // within the 4 % margin it allows for.
        let bytes = blob::data_runtime(&blob::encode(&cvk)).len();
        let est = zkonnx::circuits::layout::estimate_vk_bytes(&compiled.plan.shape);
        assert!(
            est * 104 >= bytes * 100 && bytes * 104 >= est * 100,
            "{name}: key of {bytes} bytes, estimated {est}"
        );
        assert!(
            bytes <= zkonnx::circuits::layout::MAX_VK_BYTES,
            "{name}: {bytes} bytes"
        );
        assert_eq!(
            zkonnx::circuits::layout::MAX_VK_BYTES,
            zkonnx_evm::EIP170_MAX_RUNTIME_BYTES
        );
        let proof = prover.prove(&x).expect("prove");
        let mut answers = |inst: &[Fr], bytes: &[u8]| {
            let out = evm
                .call(cv, &contract::verify_calldata(kv.into_array(), inst, bytes))
                .expect("call");
            let native = native::verify(&cvk, inst, bytes);
            assert_eq!(
                out.success && out.output.last() == Some(&1),
                native,
                "{name}"
            );
            native
        };
        assert!(answers(&proof.instances, &proof.bytes), "{name}: honest");
        let mut bad = proof.bytes.clone();
        bad[64 * cvk.num_witnesses() + 9] ^= 1;
        assert!(!answers(&proof.instances, &bad), "{name}: flipped byte");
        let mut inst = proof.instances.clone();
        inst[0] += Fr::one();
        assert!(!answers(&inst, &proof.bytes), "{name}: changed input");
    }
}
