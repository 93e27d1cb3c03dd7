//! Split proving: segments compute exactly the whole model, their proofs verify as a chain,
//! and every changed boundary (a segment proved on another input, swapped segments, a segment
//! of another model) is rejected.

mod common;

use std::path::Path;
use std::process::Command;

use zkonnx::circuits::quant::{quantize_input, run_quantized};
use zkonnx::circuits::split::{boundary_values, divide, divisible};
use zkonnx::prover::srs::dev_srs;
use zkonnx::split::{verify_chain, ChainVerdict, SegmentProof, SplitProver};
use zkonnx::{CompiledModel, Objective, QuantSettings, Transcript, Vis};

fn compile(name: &str) -> (CompiledModel, Vec<f32>) {
    let (model, x) = common::load_with_input(&common::shared_models(), name);
    let c = model
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    (c, x)
}

/// Every shared model split into 2 and 4 segments: each segment's input is the whole model's
/// boundary values, the chain's output is the whole model's output bit for bit, every
/// multiply-add is in one segment, the links hash at one width, and only the ends keep the
/// user's visibility.
#[test]
fn segments_compute_the_whole_model() {
    let models = [
        "mlp_digits",
        "mlp_wide",
        "lenet",
        "tiny_transformer",
        "lstm_forecaster",
        "lgbm_credit",
        "mobilenet_block",
        "tiny_gpt",
    ];
    for name in models {
        let (c, x) = compile(name);
        let expected = c.witness(&x).expect("witness");
        let xi = quantize_input(&c.model, &x).expect("input");
        for n in [2, 4] {
            let (g, at) = c
                .split_graph_for(n)
                .unwrap_or_else(|e| panic!("{name}: split into {n}: {e}"));
            assert_eq!(at.len(), n - 1, "{name}");
            // Dividing layers into parts changes nothing the model computes.
            let whole = run_quantized(&g, &xi).expect("divided graph");
            assert_eq!(whole.output(&g), expected.output(&c.model), "{name}");
            assert_eq!(g.macs(), c.model.macs(), "{name}");
            let s = c
                .split_at(&g, &at, Objective::Prove)
                .unwrap_or_else(|e| panic!("{name}: split into {n}: {e}"));
            assert_eq!(s.segments.len(), n, "{name}");
            let inputs = s.segment_inputs(&x).expect("segment inputs");
            for (i, (seg, xi)) in s.segments.iter().zip(&inputs).enumerate() {
                let at = seg.model.segment.expect("a segment").start;
                if i > 0 {
                    assert_eq!(
                        xi,
                        &boundary_values(&g, at, &whole.values),
                        "{name}: segment {i}'s input is the whole model's boundary"
                    );
                }
                // Each segment's own trace agrees with the whole model on its nodes.
                let t = run_quantized(&seg.model, xi).expect("segment trace");
                let of = seg.model.segment.expect("a segment");
                let last_own = t.values.len() - usize::from(!of.is_last()) - 1;
                assert_eq!(
                    t.values[last_own],
                    whole.values[of.end - 1],
                    "{name}: segment {i}'s last node"
                );
                let vis = seg.settings.shape.visibility;
                assert_eq!(vis.input == Vis::Hashed, i > 0, "{name} segment {i}");
                assert_eq!(vis.output == Vis::Hashed, i + 1 < n, "{name} segment {i}");
            }
            // Every multiply-add of the model is in exactly one segment.
            let macs: usize = s.segments.iter().map(|seg| seg.model.macs()).sum();
            assert_eq!(macs, c.model.macs(), "{name}: {n} segments");
            for w in s.segments.windows(2) {
                assert_eq!(
                    w[0].settings.hash_bits.output,
                    w[1].settings.hash_bits.input
                );
            }
            assert_eq!(
                s.output(&x).expect("output"),
                expected.output(&c.model),
                "{name}: {n} segments give the whole model's output"
            );
        }
    }
}

/// Dividing any linear layer (with the rescale that alone reads it) into parts changes nothing
/// the model computes, nor its multiply-adds.
#[test]
fn dividing_a_layer_keeps_the_model() {
    for name in ["lenet", "mlp_wide", "mobilenet_block", "tiny_transformer"] {
        let (c, x) = compile(name);
        let xi = quantize_input(&c.model, &x).expect("input");
        let want = c.witness(&x).expect("witness");
        let mut divided = 0;
        for i in 0..c.model.nodes.len() {
            if !divisible(&c.model, i) {
                continue;
            }
            for parts in [2, 3] {
                let g = divide(&c.model, i, parts).expect("divisible");
                g.validate().expect("a valid graph");
                assert!(g.nodes.len() > c.model.nodes.len());
                let t = run_quantized(&g, &xi).expect("run");
                assert_eq!(
                    t.output(&g),
                    want.output(&c.model),
                    "{name}: node {i} in {parts}"
                );
                assert_eq!(g.macs(), c.model.macs(), "{name}: node {i} in {parts}");
                divided += 1;
            }
        }
        assert!(divided > 0, "{name} has a divisible layer");
    }
}

/// The split of mlp_wide and lenet into 2 and 4 segments proves and verifies as a chain.
#[test]
fn split_proofs_verify_as_a_chain() {
    for name in ["mlp_wide", "lenet"] {
        let (c, x) = compile(name);
        for n in [2, 4] {
            let s = c.split(n, Objective::Prove).expect("split");
            let k = s.segments.iter().map(|c| c.k()).max().unwrap_or(1);
            let p = SplitProver::setup(s, dev_srs(k, 7)).expect("setup");
            let proofs = p.prove(&x).expect("prove");
            let parts = p.segment_proofs(&proofs);
            assert_eq!(
                verify_chain(&p.split().manifest, &parts).expect("verify"),
                ChainVerdict::Valid,
                "{name}, {n} segments"
            );
            let last = proofs.last().expect("proofs");
            assert_eq!(
                last.outputs_int,
                c.witness(&x).expect("witness").output(&c.model),
                "{name}: the last segment proves the model's output"
            );
        }
    }
}

/// Segment proofs made for aggregation (Poseidon transcript) verify as a chain, and a proof
/// verifies only with the transcript it was made with.
#[test]
fn poseidon_segment_proofs_verify_only_with_their_transcript() {
    let (c, x) = compile("mlp_digits");
    let s = c.split(2, Objective::Prove).expect("split");
    let k = s.segments.iter().map(|c| c.k()).max().unwrap_or(1);
    let p = SplitProver::setup(s, dev_srs(k, 7)).expect("setup");
    let inputs = p.split().segment_inputs(&x).expect("segment inputs");
    let proofs: Vec<_> = p
        .provers()
        .iter()
        .zip(&inputs)
        .map(|(q, xi)| {
            q.prove_quantized_with(xi, Transcript::Poseidon)
                .expect("prove")
        })
        .collect();
    let parts = p.segment_proofs(&proofs);
    assert!(parts
        .iter()
        .all(|s| s.proof.transcript == Transcript::Poseidon));
    let manifest = &p.split().manifest;
    assert_eq!(
        verify_chain(manifest, &parts).expect("verify"),
        ChainVerdict::Valid
    );
    let mut relabelled = parts.clone();
    relabelled[1].proof.transcript = Transcript::Evm;
    assert!(rejected(verify_chain(manifest, &relabelled)));
    let evm = p.prove(&x).expect("prove");
    let mut evm_parts = p.segment_proofs(&evm);
    assert_eq!(
        verify_chain(manifest, &evm_parts).expect("verify"),
        ChainVerdict::Valid
    );
    evm_parts[0].proof.transcript = Transcript::Poseidon;
    assert!(rejected(verify_chain(manifest, &evm_parts)));
}

fn rejected(v: zkonnx::Result<ChainVerdict>) -> bool {
    !matches!(v, Ok(ChainVerdict::Valid))
}

/// Every changed boundary is rejected: a segment proved on another input, two segments
/// swapped, a segment proof of another model, another model's segment with its own key, a
/// proof whose boundary instance is edited.
#[test]
fn changed_boundaries_are_rejected() {
    let (c, x) = compile("lenet");
    let s = c.split(3, Objective::Prove).expect("split");
    let k = s.segments.iter().map(|c| c.k()).max().unwrap_or(1);
    let srs = dev_srs(k.max(16), 11);
    let p = SplitProver::setup(s, srs.clone()).expect("setup");
    let manifest = &p.split().manifest;
    let good = p.segment_proofs(&p.prove(&x).expect("prove"));
    assert_eq!(
        verify_chain(manifest, &good).expect("verify"),
        ChainVerdict::Valid
    );

    // Segment 1 (then 2) proved on another input (within the calibrated range): its proof
    // verifies alone, the link does not.
    let y: Vec<f32> = x.iter().map(|v| 0.5 * v).collect();
    let other = p.segment_proofs(&p.prove(&y).expect("prove"));
    for i in 1..good.len() {
        let mut mixed = good.clone();
        mixed[i] = other[i].clone();
        assert_eq!(
            verify_chain(manifest, &mixed).expect("verify"),
            ChainVerdict::Rejected {
                segment: i,
                reason: "the boundary hash it took is not the one the segment before it output"
                    .into()
            },
            "segment {i} from another input"
        );
    }
    // The first segment from another input breaks the first link.
    let mut mixed = good.clone();
    mixed[0] = other[0].clone();
    assert!(rejected(verify_chain(manifest, &mixed)));

    // Two segments' proofs swapped.
    let mut swapped = good.clone();
    let (a, b) = (swapped[1].proof.clone(), swapped[2].proof.clone());
    swapped[1].proof = b;
    swapped[2].proof = a;
    assert!(rejected(verify_chain(manifest, &swapped)), "swapped proofs");

    // A segment of another model: its proof under this chain's key, or with its own key.
    let (m2, x2) = compile("mlp_wide");
    let s2 = m2.split(3, Objective::Prove).expect("split");
    let k2 = s2.segments.iter().map(|c| c.k()).max().unwrap_or(1);
    let p2 = SplitProver::setup(s2, dev_srs(k2, 11)).expect("setup");
    let foreign: Vec<SegmentProof> = p2.segment_proofs(&p2.prove(&x2).expect("prove"));
    let mut with_proof = good.clone();
    with_proof[1].proof = foreign[1].proof.clone();
    assert!(rejected(verify_chain(manifest, &with_proof)));
    let mut with_key = good.clone();
    with_key[1] = foreign[1].clone();
    assert!(matches!(
        verify_chain(manifest, &with_key),
        Err(zkonnx::Error::Mismatch(_))
    ));

    // An edited boundary hash instance.
    let mut edited = good.clone();
    let at = edited[1]
        .settings
        .instance_layout()
        .input_hash
        .expect("hashed input");
    edited[1].proof.instances[at] = edited[0].proof.instances[0].clone();
    assert!(rejected(verify_chain(manifest, &edited)));

    // A chain with a segment missing.
    assert!(verify_chain(manifest, &good[..2]).is_err());
}

fn zkonnx(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkonnx"))
        .args(args)
        .output()
        .expect("run zkonnx")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The CLI flow: split, setup, prove-split, verify-split (exit 0), then a proof from another
/// input in place of segment 1 (exit 1) and a manifest pinning another key (exit 2).
#[test]
fn cli_split_flow() {
    let models = common::bundled_models();
    let dir = common::temp_dir("split-cli");
    let out = dir.join("split");
    let model = models.join("mlp_digits.onnx");
    let input = models.join("mlp_digits.input.json");
    let o = zkonnx(&[
        "split",
        s(&model),
        "--input",
        s(&input),
        "--segments",
        "2",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let srs = dir.join("srs.bin");
    let o = zkonnx(&["srs", "gen", "--k", "12", "-o", s(&srs)]);
    assert!(o.status.success());
    let o = zkonnx(&["setup", "--dir", s(&out), "--srs", s(&srs)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let proofs = dir.join("proofs");
    // Both segments side by side: the same chain as one after the other.
    let o = zkonnx(&[
        "prove-split",
        "--dir",
        s(&out),
        "--srs",
        s(&srs),
        "--input",
        s(&input),
        "--jobs",
        "2",
        "-o",
        s(&proofs),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verify = |p: &Path| zkonnx(&["verify-split", "--dir", s(&out), "--proofs", s(p)]);
    assert_eq!(verify(&proofs).status.code(), Some(0));
    let o = zkonnx(&[
        "prove-split",
        "--dir",
        s(&out),
        "--srs",
        s(&srs),
        "--input",
        s(&input),
        "--jobs",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2), "--jobs 0 is bad input");

    // Segment 1 proved on another input.
    let other_input = dir.join("other.json");
    let x: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&input).expect("input")).expect("json");
    let flipped: Vec<f64> = x["input_data"][0]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| 1.0 - v.as_f64().expect("number"))
        .collect();
    std::fs::write(
        &other_input,
        serde_json::json!({ "input_data": [flipped] }).to_string(),
    )
    .expect("write");
    let other = dir.join("other-proofs");
    let o = zkonnx(&[
        "prove-split",
        "--dir",
        s(&out),
        "--srs",
        s(&srs),
        "--input",
        s(&other_input),
        "-o",
        s(&other),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::copy(other.join("proof-1.json"), proofs.join("proof-1.json")).expect("copy");
    let o = verify(&proofs);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("segment 1"));

    // Another SRS of the same size: the reduced SRS kept beside each segment's key is not
    // its first powers, so it is not used; the segment keys are not of that SRS: refused.
    let srs2 = dir.join("srs2.bin");
    let o = zkonnx(&["srs", "gen", "--k", "12", "--seed", "99", "-o", s(&srs2)]);
    assert!(o.status.success());
    let o = zkonnx(&[
        "prove-split",
        "--dir",
        s(&out),
        "--srs",
        s(&srs2),
        "--input",
        s(&input),
        "-o",
        s(&dir.join("proofs-srs2")),
    ]);
    // (Were the kept SRS taken anyway, these proofs would verify with the keys: exit 0.)
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A manifest that pins another verifying key for segment 0.
    let path = out.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("manifest")).expect("json");
    m["segments"][0]["vk_digest"] = serde_json::json!("00".repeat(32));
    std::fs::write(&path, m.to_string()).expect("write");
    let o = verify(&other);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
