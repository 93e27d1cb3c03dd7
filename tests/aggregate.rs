//! Aggregation of a 2-segment split into one proof (the second segment's public values over
//! several instance columns): it verifies natively (proof and
//! accumulator) and with the compact Solidity verifier in revm; a changed public value or
//! accumulator limb is rejected; proofs that do not
//! link are refused before proving, and a malicious prover that folds them in anyway (segment 1
//! proved on another input, the link constraint's cells unequal) gets no accepted proof.
//!
//! One outer key generation and two outer proofs at k = 20: the heaviest test (~9.5 min on 2
//! cores, ~9 GB).

mod common;

use zkonnx::aggregate::chain_cells;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::prover::aggregate::{self as agg, Chain, Inner};
use zkonnx::prover::srs::{dev_srs, fit_srs};
use zkonnx::split::SplitProver;
use zkonnx::{Objective, Transcript};
use zkonnx_evm::compact::{blob, contract, native, CompactVk};
use zkonnx_evm::Evm;

#[test]
fn aggregated_chain_verifies_and_tampering_is_rejected() {
    // Sixteen inputs through a ReLU, broadcast to 512 public outputs: the second segment's
    // public values outnumber its rows, so its proof spreads them over several instance
    // columns, which the outer circuit must read column by column.
    use common::onnx::{model, node, tensor_i64};
    let bytes = model(
        ("x", &[1, 16, 1]),
        ("y", &[1, 16, 32]),
        &[
            node("Relu", &["x"], "h", vec![]),
            node("Expand", &["h", "shape"], "y", vec![]),
        ],
        vec![tensor_i64("shape", vec![1, 16, 32])],
    );
    let (_, samples, c) = common::compile_built("aggregate", bytes, (70, 2, 16));
    let x = samples[0].clone();
    let s = c.split(2, Objective::Prove).expect("split");
    let columns: Vec<usize> = s
        .segments
        .iter()
        .map(|g| g.plan.shape.instance_columns)
        .collect();
    assert!(
        columns[0] == 1 && columns[1] > 1,
        "instance columns per segment: {columns:?}"
    );
    let outer = dev_srs(20, 11);
    let p = SplitProver::setup(s, outer.clone()).expect("setup");
    let prove_all = |x: &[f32]| -> Vec<zkonnx::Proof> {
        let inputs = p.split().segment_inputs(x).expect("segment inputs");
        p.provers()
            .iter()
            .zip(&inputs)
            .map(|(q, xi)| {
                q.prove_quantized_with(xi, Transcript::Poseidon)
                    .expect("prove")
            })
            .collect()
    };
    let x2: Vec<f32> = x.iter().map(|v| -v * 0.5 + 0.25).collect();
    let (a, b) = (prove_all(&x), prove_all(&x2));
    let seg_params: Vec<_> = p
        .provers()
        .iter()
        .map(|q| fit_srs(outer.clone(), q.compiled().k()).expect("fit"))
        .collect();
    let vks: Vec<_> = p.provers().iter().map(|q| q.verifier_key()).collect();
    let inners = |proofs: &[&zkonnx::Proof]| -> Vec<Inner<'_>> {
        vks.iter()
            .zip(proofs)
            .zip(&seg_params)
            .map(|((k, proof), params)| Inner {
                params,
                vk: &k.vk,
                instances: proof.instances.clone(),
                proof: proof.bytes.clone(),
            })
            .collect()
    };
    let layouts: Vec<_> = p
        .provers()
        .iter()
        .map(|q| q.compiled().settings.instance_layout())
        .collect();
    let (links, exposed) = chain_cells(&layouts).expect("cells");
    let honest = Chain::new(&inners(&[&a[0], &a[1]]), links.clone(), exposed.clone())
        .expect("an honest chain");
    let other = Chain::new(&inners(&[&b[0], &b[1]]), links.clone(), exposed.clone())
        .expect("another input's chain");
    // Segment 0 on one input, segment 1 on another: each proof verifies, the link does not.
    let mixed = inners(&[&a[0], &b[1]]);
    assert!(Chain::new(&mixed, links.clone(), exposed.clone()).is_err());

    let (pk, shape) = agg::setup(&outer, &honest).expect("outer setup");
    let (bytes, instances) = agg::prove(&outer, &pk, &shape, &honest).expect("outer proof");
    let vk = pk.get_vk();
    assert!(agg::verify(&outer, vk, &instances, &bytes));
    assert_eq!(instances.len(), agg::ACCUMULATOR_LIMBS + exposed.len());
    assert_eq!(
        &instances[agg::ACCUMULATOR_LIMBS..],
        honest.exposed_values()
    );
    // The last exposed values are the model's public outputs.
    let outputs = &a[1].instances[layouts[1].outputs.clone()];
    assert!(instances.ends_with(outputs));

    for at in [agg::ACCUMULATOR_LIMBS - 1, instances.len() - 1] {
        let mut changed = instances.clone();
        changed[at] += Fr::one();
        assert!(
            !agg::verify(&outer, vk, &changed, &bytes),
            "instance {at} changed"
        );
    }
    // The compact Solidity verifier decides the accumulator too: the outer key's blob fits
    // EIP-170, revm and the native reference accept the proof, and a changed limb of the
    // accumulator (a valid-looking but different point pair) is rejected by both.
    let cvk = CompactVk::with_accumulator(&outer, vk, &[instances.len()], 0).expect("compact key");
    let key = blob::encode(&cvk);
    let mut evm = Evm::new();
    let (cv, _) = evm
        .deploy(&contract::compact_verifier().expect("build").creation)
        .expect("deploy the verifier");
    let (kv, _) = evm
        .deploy(&blob::data_creation(&key))
        .expect("deploy the outer key under EIP-170");
    let mut in_evm = |inst: &[Fr]| {
        let out = evm
            .call(
                cv,
                &contract::verify_calldata(kv.into_array(), inst, &bytes),
            )
            .expect("call");
        (out.success && out.output.last() == Some(&1), out.gas_used)
    };
    let (accepted, gas) = in_evm(&instances);
    assert!(accepted && native::verify(&cvk, &instances, &bytes));
    eprintln!("compact verifier: {gas} gas, key {} bytes", key.len() + 1);
    let mut changed = instances.clone();
    changed[2] += Fr::one();
    assert!(!in_evm(&changed).0 && !native::verify(&cvk, &changed, &bytes));

    assert!(agg::accumulator(&instances).is_some());
    let mut wide = instances.clone();
    wide[0] = Fr::from(1u64 << 63) * Fr::from(1u64 << 30);
    assert!(
        agg::accumulator(&wide).is_none(),
        "a limb of 93 bits is no encoding"
    );

    // A malicious prover folds segment 0 of one input with segment 1 of another, skipping the
    // native check: the copy constraint of the link cannot hold, so no accepted proof comes out.
    let tampered = Chain {
        snarks: vec![honest.snarks[0].clone(), other.snarks[1].clone()],
        links,
        exposed,
    };
    let accepted = match agg::prove(&outer, &pk, &shape, &tampered) {
        Ok((bytes, instances)) => agg::verify(&outer, vk, &instances, &bytes),
        Err(_) => false,
    };
    assert!(!accepted, "a chain that does not link was aggregated");
}
