//! The `zkonnx` command line, as the acceptance checks use it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn zkonnx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkonnx"))
        .args(args)
        .output()
        .expect("run zkonnx")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_model(name: &str) -> std::path::PathBuf {
    let models = common::shared_models();
    let w = common::temp_dir(&format!("cli-{name}"));
    let o = zkonnx(&[
        "run",
        s(&models.join(format!("{name}.onnx"))),
        "--input",
        s(&models.join(format!("{name}.input.json"))),
        "--workdir",
        s(&w),
    ]);
    assert_eq!(code(&o), 0, "zkonnx run {name}: {}", stderr(&o));
    w
}

fn report(w: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(w.join("report.json")).expect("report"))
        .expect("json")
}

fn verify(w: &Path, proof: &Path) -> Output {
    zkonnx(&[
        "verify",
        "--proof",
        s(proof),
        "--vk",
        s(&w.join("vk.bin")),
        "--settings",
        s(&w.join("settings.json")),
    ])
}

/// Toggles the lowest bit of hex digit `i` of a hex string (with its `0x`).
fn toggle_hex_digit(h: &str, i: usize) -> String {
    let d = u8::from_str_radix(&h[i..i + 1], 16).expect("hex digit") ^ 1;
    format!("{}{:x}{}", &h[..i], d, &h[i + 1..])
}

/// Changes one bit of proof byte `byte`.
fn flip_proof_byte(p: &mut serde_json::Value, byte: usize) {
    let h = p["proof"].as_str().expect("hex").to_string();
    p["proof"] = serde_json::Value::String(toggle_hex_digit(&h, 2 + 2 * byte));
}

/// Changes the last public instance (an output) by ±1.
fn change_last_instance(p: &mut serde_json::Value) {
    let inst = p["instances"].as_array_mut().expect("instances");
    let last = inst.len() - 1;
    let h = inst[last].as_str().expect("hex").to_string();
    inst[last] = serde_json::Value::String(toggle_hex_digit(&h, h.len() - 1));
}

fn edit_proof(w: &Path, name: &str, f: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("proof.json")).expect("proof"))
            .expect("json");
    f(&mut p);
    let out = w.join(name);
    std::fs::write(&out, serde_json::to_string(&p).expect("json")).expect("write");
    out
}

#[test]
fn run_verify_and_tamper_on_mlp_digits() {
    let w = run_model("mlp_digits");
    let r = report(&w);
    for key in [
        "k",
        "rows",
        "advice_columns",
        "lookups",
        "compile_s",
        "setup_s",
        "prove_s",
        "verify_s",
        "peak_rss_mb",
        "proof_bytes",
        "outputs",
        "max_abs_err",
    ] {
        assert!(r.get(key).is_some(), "report.json lacks {key}");
    }
    assert!(r["max_abs_err"].as_f64().expect("number") <= 0.05);
    assert_eq!(r["outputs"].as_array().expect("outputs").len(), 10);

    assert_eq!(code(&verify(&w, &w.join("proof.json"))), 0);

    // One proof byte changed.
    let bad = edit_proof(&w, "byte.json", |p| flip_proof_byte(p, 50));
    assert_eq!(code(&verify(&w, &bad)), 1);

    // One output instance changed.
    let bad = edit_proof(&w, "instance.json", change_last_instance);
    assert_eq!(code(&verify(&w, &bad)), 1);

    // Bad input: missing file, malformed JSON, wrong key file.
    assert_eq!(code(&verify(&w, &w.join("missing.json"))), 2);
    std::fs::write(w.join("broken.json"), "{ not json").expect("write");
    let o = verify(&w, &w.join("broken.json"));
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("broken.json"), "{}", stderr(&o));
    let o = zkonnx(&[
        "verify",
        "--proof",
        s(&w.join("proof.json")),
        "--vk",
        s(&w.join("settings.json")),
        "--settings",
        s(&w.join("settings.json")),
    ]);
    assert_eq!(code(&o), 2);
}

#[test]
fn step_by_step_flow_matches_run() {
    let models = common::shared_models();
    let w = common::temp_dir("cli-steps");
    let model = models.join("mlp_digits.onnx");
    let input = models.join("mlp_digits.input.json");
    let o = zkonnx(&[
        "compile",
        s(&model),
        "--calibration",
        s(&models.join("mlp_digits.eval.json")),
        "-o",
        s(&w),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("max_abs_err"),
        "compile prints fidelity: {}",
        stderr(&o)
    );
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("settings.json")).expect("settings"))
            .expect("json");
    let k = settings["shape"]["k"].as_u64().expect("k").to_string();
    let srs = w.join("srs.bin");
    let o = zkonnx(&["srs", "gen", "--k", &k, "-o", s(&srs)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("INSECURE"));
    assert_eq!(
        code(&zkonnx(&["setup", "--dir", s(&w), "--srs", s(&srs)])),
        0
    );
    let o = zkonnx(&[
        "prove",
        "--dir",
        s(&w),
        "--srs",
        s(&srs),
        "--input",
        s(&input),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&verify(&w, &w.join("proof.json"))), 0);
    // Four provers at once into one workdir: every write is atomic, so the proof left there
    // is one whole proof that verifies, and no temporary file is left behind.
    let provers: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_zkonnx"))
                .args([
                    "prove",
                    "--dir",
                    s(&w),
                    "--srs",
                    s(&srs),
                    "--input",
                    s(&input),
                ])
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut p in provers {
        assert!(p.wait().expect("wait").success());
    }
    assert_eq!(code(&verify(&w, &w.join("proof.json"))), 0);
    let leftovers: Vec<_> = std::fs::read_dir(&w)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A corrupted SRS is a clear error.
    let mut b = std::fs::read(&srs).expect("srs");
    b.truncate(b.len() / 2);
    std::fs::write(&srs, b).expect("write");
    let o = zkonnx(&[
        "prove",
        "--dir",
        s(&w),
        "--srs",
        s(&srs),
        "--input",
        s(&input),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("corrupt SRS"), "{}", stderr(&o));
}

#[test]
fn bad_inputs_are_clear_errors_not_panics() {
    let models = common::shared_models();
    let w = common::temp_dir("cli-bad");
    let input = models.join("mlp_digits.input.json");
    let run = |model: &Path, input: &Path| {
        zkonnx(&["run", s(model), "--input", s(input), "--workdir", s(&w)])
    };

    let o = run(&w.join("missing.onnx"), &input);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.onnx"), "{}", stderr(&o));

    std::fs::write(w.join("text.onnx"), "hello, not a model").expect("write");
    let o = run(&w.join("text.onnx"), &input);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("not a valid ONNX model"),
        "{}",
        stderr(&o)
    );

    std::fs::write(w.join("short.json"), r#"{"input_data": [[0.1, 0.2, 0.3]]}"#).expect("write");
    let o = run(&models.join("mlp_digits.onnx"), &w.join("short.json"));
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("of 3 values") && stderr(&o).contains("'input' (64 values)"),
        "{}",
        stderr(&o)
    );

    let dir = common::temp_dir("cli-unsupported");
    let bad = dir.join("unsupported.onnx");
    let node =
        |op: &'static str, name: &'static str, i: &'static str, o: &'static str| common::onnx::N {
            op,
            name,
            inputs: std::slice::from_ref(Box::leak(Box::new(i))),
            output: o,
            attrs: vec![],
        };
    std::fs::write(
        &bad,
        common::onnx::model(
            ("x", &[1, 64]),
            ("y", &[1, 64]),
            &[
                node("NonZero", "nonzero_1", "x", "a"),
                node("Relu", "relu_2", "a", "b"),
                node("Det", "det_3", "b", "y"),
            ],
            vec![],
        ),
    )
    .expect("write model");
    let o = run(&bad, &models.join("mlp_digits.input.json"));
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("unsupported")
            && e.contains("nonzero_1")
            && e.contains("NonZero")
            && e.contains("det_3")
            && e.contains("Det"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn run_mlp_wide() {
    let w = run_model("mlp_wide");
    let r = report(&w);
    assert!(r["max_abs_err"].as_f64().expect("number") <= 0.05, "{r}");
    assert_eq!(r["macs"].as_u64(), Some(784 * 512 + 512 * 512 + 512 * 10));
    assert_eq!(code(&verify(&w, &w.join("proof.json"))), 0);
}

#[test]
fn evm_verifier_and_evm_verify_from_the_cli() {
    let w = common::temp_dir("cli-evm");
    let (model, _) = common::write_mixed_case(&w, 300);
    let o = zkonnx(&[
        "run",
        s(&model),
        "--input",
        s(&w.join("input.json")),
        "--workdir",
        s(&w),
        "--evm",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(&w);
    let runtime = r["verifier_runtime_bytes"]
        .as_u64()
        .expect("verifier_runtime_bytes");
    assert!(runtime > 0 && runtime <= 24_576, "{runtime}");
    assert!(r["verify_gas"].as_u64().expect("verify_gas") > 21_000);
    assert!(r["deploy_gas"].as_u64().is_some());

    assert_eq!(r["verifier"], "compact");
    assert!(r["verifier_key_bytes"].as_u64().expect("vk bytes") <= 24_576);
    assert!(r["circuit_id"].as_str().expect("id").starts_with("0x"));

    // evm-verifier writes the source, the bytecode and the verifying-key data contract.
    let o = zkonnx(&[
        "evm-verifier",
        "--vk",
        s(&w.join("vk.bin")),
        "--settings",
        s(&w.join("settings.json")),
        "-o",
        s(&w.join("V2.sol")),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read_to_string(w.join("V2.sol"))
        .expect("sol")
        .contains("contract CompactVerifier"));
    assert!(w.join("VerifierKey.bin").is_file());
    let bin = w.join("Verifier.bin");
    let evm_verify = |proof: &Path| {
        zkonnx(&[
            "evm-verify",
            "--proof",
            s(proof),
            "--verifier",
            s(&bin),
            "--settings",
            s(&w.join("settings.json")),
        ])
    };
    let o = evm_verify(&w.join("proof.json"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("gas"));

    let bad = edit_proof(&w, "evm-byte.json", |p| flip_proof_byte(p, 70));
    assert_eq!(code(&evm_verify(&bad)), 1);
    let bad = edit_proof(&w, "evm-output.json", change_last_instance);
    assert_eq!(code(&evm_verify(&bad)), 1);

    // A verifier without code accepts nothing (issue 17 #6): an empty Verifier.bin, and
    // creation code that deploys no runtime code (STOP), without a VerifierKey.bin beside them.
    for (name, hex) in [("empty", ""), ("stop", "0x00")] {
        let d = w.join(name);
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join("Verifier.bin"), hex).expect("write");
        let o = zkonnx(&[
            "evm-verify",
            "--proof",
            s(&bad),
            "--verifier",
            s(&d.join("Verifier.bin")),
            "--settings",
            s(&w.join("settings.json")),
        ]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("accepted"));
    }
}

#[test]
fn mlp_digits_verifies_on_chain_with_the_compact_verifier() {
    // mlp_digits has 74 public instances and 38 preprocessed commitments: snark-verifier's
    // straight-line verifier is over EIP-170, the compact one is not.
    let models = common::shared_models();
    let w = common::temp_dir("cli-evm-digits");
    let o = zkonnx(&[
        "run",
        s(&models.join("mlp_digits.onnx")),
        "--input",
        s(&models.join("mlp_digits.input.json")),
        "--workdir",
        s(&w),
        "--evm",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = report(&w);
    assert_eq!(r["evm_verified"], true);
    assert!(r["verifier_runtime_bytes"].as_u64().expect("size") <= 24_576);
    assert!(r["verify_gas"].as_u64().expect("gas") > 21_000);

    // A changed output is rejected on-chain too.
    let bad = edit_proof(&w, "digits-output.json", change_last_instance);
    let o = zkonnx(&[
        "evm-verify",
        "--proof",
        s(&bad),
        "--verifier",
        s(&w.join("Verifier.bin")),
        "--settings",
        s(&w.join("settings.json")),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    // snark-verifier's verifier of the same circuit is refused with a clear message.
    let o = zkonnx(&[
        "evm-verifier",
        "--snark-verifier",
        "--vk",
        s(&w.join("vk.bin")),
        "--settings",
        s(&w.join("settings.json")),
        "-o",
        s(&w.join("Unrolled.sol")),
    ]);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(e.contains("EIP-170") && e.contains("24,576"), "{e}");
}

/// The CNN and the transformer block prove and verify from the CLI, with outputs within 2 % of
/// the largest float reference output (onnxruntime's, `NAME.output.json`).
#[test]
fn run_lenet_and_tiny_transformer_within_fidelity() {
    for name in ["lenet", "tiny_transformer"] {
        let w = run_model(name);
        let r = report(&w);
        assert_eq!(r["verified"].as_bool(), Some(true), "{name}");
        let reference =
            zkonnx::data::read_output(&common::shared_models().join(format!("{name}.output.json")))
                .expect("reference");
        let max_ref = reference
            .iter()
            .fold(0f64, |m, &x| m.max(f64::from(x).abs()));
        let err = r["max_abs_err"].as_f64().expect("max_abs_err");
        assert!(
            err <= 0.02 * max_ref,
            "{name}: max abs err {err} vs 0.02 × {max_ref}"
        );
    }
}

/// `inspect` prints every layer's gadget and estimated time, the totals and the floor; with a
/// run's report it compares the measured prove time.
#[test]
fn inspect_prints_the_plan_and_compares_a_run() {
    let models = common::shared_models();
    let w = run_model("mlp_digits");
    let o = zkonnx(&[
        "inspect",
        s(&models.join("mlp_digits.onnx")),
        "--input",
        s(&models.join("mlp_digits.input.json")),
        "--report",
        s(&w.join("report.json")),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("packed-mac") && out.contains("rescale+relu"),
        "{out}"
    );
    // The plan inspected is the plan the run proved.
    assert!(
        out.contains(&format!("total: k={} ", report(&w)["k"])),
        "{out}"
    );
    assert!(
        out.contains("rows needed of") && out.contains("k set by"),
        "{out}"
    );
    assert!(out.contains("estimated prove memory"), "{out}");
    assert!(
        out.contains("estimated prove") && out.contains("measured prove"),
        "{out}"
    );
}

/// Rewrites the JSON header of a key file (`magic, u32 length, JSON, body`) with `f`.
fn edit_key_header(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let b = std::fs::read(path).expect("key");
    let len = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&b[12..12 + len]).expect("header");
    f(&mut h);
    let js = serde_json::to_vec(&h).expect("json");
    let mut out = b[..8].to_vec();
    out.extend_from_slice(&(js.len() as u32).to_le_bytes());
    out.extend_from_slice(&js);
    out.extend_from_slice(&b[12 + len..]);
    std::fs::write(path, out).expect("write key");
}

/// Issue 17 #7, #9, #12: settings.json is bound to the keys, prove refuses artifacts that do
/// not belong together before writing a proof, and key headers are bounded.
#[test]
fn inconsistent_artifacts_are_refused() {
    let w = run_model("mlp_digits");
    let models = common::shared_models();
    let input = models.join("mlp_digits.input.json");
    let settings_path = w.join("settings.json");
    let original = std::fs::read_to_string(&settings_path).expect("settings");
    assert_eq!(code(&verify(&w, &w.join("proof.json"))), 0);

    // The verifying key checked against the SRS it must come from (issue 17 #5).
    let with_srs = |srs: &Path| {
        zkonnx(&[
            "verify",
            "--proof",
            s(&w.join("proof.json")),
            "--vk",
            s(&w.join("vk.bin")),
            "--settings",
            s(&settings_path),
            "--srs",
            s(srs),
        ])
    };
    assert_eq!(code(&with_srs(&w.join("srs.bin"))), 0);
    let k0 = report(&w)["k"].as_u64().expect("k").to_string();
    let foreign = w.join("foreign-srs.bin");
    assert_eq!(
        code(&zkonnx(&[
            "srs",
            "gen",
            "--k",
            &k0,
            "--seed",
            "5",
            "-o",
            s(&foreign)
        ])),
        0
    );
    let o = with_srs(&foreign);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not made from this SRS"),
        "{}",
        stderr(&o)
    );

    // Edited settings: fewer outputs, another output scale, a huge input count.
    let edits: [(&str, serde_json::Value); 3] = [
        ("num_outputs", serde_json::json!(9)),
        ("output_scale", serde_json::json!(3)),
        ("num_inputs", serde_json::json!(u64::MAX / 2)),
    ];
    for (field, value) in edits {
        let mut s: serde_json::Value = serde_json::from_str(&original).expect("json");
        s[field] = value;
        std::fs::write(&settings_path, s.to_string()).expect("write");
        let o = verify(&w, &w.join("proof.json"));
        assert_eq!(code(&o), 2, "edited {field}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    std::fs::write(&settings_path, &original).expect("restore");

    let prove = |srs: &Path| {
        zkonnx(&[
            "prove",
            "--dir",
            s(&w),
            "--srs",
            s(srs),
            "--input",
            s(&input),
            "-o",
            s(&w.join("new-proof.json")),
        ])
    };
    // A proving key used with another SRS: refused, and no proof written.
    let k = report(&w)["k"].as_u64().expect("k").to_string();
    let other_srs = w.join("other-srs.bin");
    let o = zkonnx(&["srs", "gen", "--k", &k, "--seed", "99", "-o", s(&other_srs)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = prove(&other_srs);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("do not belong together"),
        "{}",
        stderr(&o)
    );
    assert!(!w.join("new-proof.json").exists());
    assert_eq!(code(&prove(&w.join("srs.bin"))), 0, "the right SRS proves");

    // A verifying key of another setup (same model, another SRS) beside the proving key.
    let w2 = common::temp_dir("cli-mlp_digits-seed7");
    let o = zkonnx(&[
        "run",
        s(&models.join("mlp_digits.onnx")),
        "--input",
        s(&input),
        "--workdir",
        s(&w2),
        "--srs-seed",
        "7",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let vk = std::fs::read(w.join("vk.bin")).expect("vk");
    std::fs::copy(w2.join("vk.bin"), w.join("vk.bin")).expect("copy");
    let o = prove(&w.join("srs.bin"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not belong"), "{}", stderr(&o));
    std::fs::write(w.join("vk.bin"), &vk).expect("restore vk");

    // Key headers out of bounds, and a truncated proving key: typed errors, no panic.
    for (field, value) in [
        ("inputs_per_row", serde_json::json!(50_000_000)),
        ("windows_per_row", serde_json::json!(0)),
        ("max_limbs", serde_json::json!(1_000_000_000u64)),
        ("k", serde_json::json!(40)),
    ] {
        edit_key_header(&w.join("vk.bin"), |h| h["shape"][field] = value);
        let o = verify(&w, &w.join("proof.json"));
        assert_eq!(code(&o), 2, "vk {field}: {}", stderr(&o));
        assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
        std::fs::write(w.join("vk.bin"), &vk).expect("restore vk");
    }
    // compiled.json edited (#13): an input index out of order, an output out of range, a
    // plan the planner would not make. Each is refused on load, before anything runs.
    let compiled_path = w.join("compiled.json");
    let compiled = std::fs::read_to_string(&compiled_path).expect("compiled");
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 5] = [
        ("does not come before", |c| {
            c["model"]["nodes"][1]["inputs"] = serde_json::json!([7])
        }),
        ("output node", |c| {
            c["model"]["output"] = serde_json::json!(999)
        }),
        ("plan", |c| c["plan"]["main_rows"] = serde_json::json!(1)),
        // A lane count the planner never tries, in the plan and the settings alike.
        ("plan", |c| {
            c["plan"]["shape"]["range_lanes"] = serde_json::json!(7);
            c["settings"]["shape"]["range_lanes"] = serde_json::json!(7);
        }),
        // A layout the planner tries, but whose rows and k are not the ones written.
        ("plan", |c| {
            let t = c["plan"]["shape"]["inputs_per_row"].as_u64().expect("T");
            let other = serde_json::json!(if t == 1 { 2 } else { t - 1 });
            c["plan"]["shape"]["inputs_per_row"] = other.clone();
            c["settings"]["shape"]["inputs_per_row"] = other;
        }),
    ];
    for (want, f) in edits {
        let mut c: serde_json::Value = serde_json::from_str(&compiled).expect("json");
        f(&mut c);
        std::fs::write(&compiled_path, c.to_string()).expect("write");
        let o = prove(&w.join("srs.bin"));
        assert_eq!(code(&o), 2, "{want}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{want}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    std::fs::write(&compiled_path, &compiled).expect("restore");

    let pk = std::fs::read(w.join("pk.bin")).expect("pk");
    std::fs::write(w.join("pk.bin"), &pk[..pk.len() / 3]).expect("truncate");
    let o = prove(&w.join("srs.bin"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// Issue 20: where no GPU prover can run (this default build has none), `--device auto`
/// proves on the CPU and says why, and `--device cuda` is a clear error (exit 2, no proof).
#[cfg(not(feature = "cuda"))]
#[test]
fn device_auto_falls_back_and_device_cuda_is_refused() {
    let w = run_model("mlp_digits");
    let input = common::shared_models().join("mlp_digits.input.json");
    let prove = |device: &str, out: &Path| {
        zkonnx(&[
            "prove",
            "--dir",
            s(&w),
            "--srs",
            s(&w.join("srs.bin")),
            "--input",
            s(&input),
            "--device",
            device,
            "-o",
            s(out),
        ])
    };
    let auto = w.join("proof-auto.json");
    let o = prove("auto", &auto);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("prover: cpu (auto: "), "{}", stderr(&o));
    assert_eq!(code(&verify(&w, &auto)), 0);
    let cuda = w.join("proof-cuda.json");
    let o = prove("cuda", &cuda);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("error: device: "), "{}", stderr(&o));
    assert!(!cuda.exists(), "no proof is written");
}

/// A model exported with a dynamic batch (`dynamic_axes`) whose graph only makes sense at the
/// batch its input holds: `[batch, 2]` reshaped to `[6]`. Unbound (batch 1) it cannot import;
/// `run` binds `batch = 3` from an input of three rows (said so), `--dim batch=3` binds it from
/// the command line, and the proof's outputs are the model's at that batch.
#[test]
fn a_dynamic_batch_is_bound_from_the_input_or_by_dim() {
    use common::onnx::{model, node, tensor, tensor_i64};
    use prost::Message;
    use tract_onnx::pb;
    let w: Vec<f32> = (0..12).map(|i| (i as f32 * 0.7).sin()).collect();
    let bytes = model(
        ("x", &[1, 2]),
        ("y", &[2]),
        &[
            node("Reshape", &["x", "six"], "r", vec![]),
            node("Unsqueeze", &["r", "zero"], "r2", vec![]),
            node("MatMul", &["r2", "w"], "y2", vec![]),
            node("Squeeze", &["y2", "zero"], "y", vec![]),
        ],
        vec![
            tensor_i64("six", vec![6]),
            tensor_i64("zero", vec![0]),
            tensor("w", &[6, 2], w.clone()),
        ],
    );
    let mut m = pb::ModelProto::decode(bytes.as_slice()).expect("decode");
    let g = m.graph.as_mut().expect("graph");
    if let Some(pb::type_proto::Value::TensorType(t)) =
        g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        let d = &mut t.shape.as_mut().expect("shape").dim[0];
        d.value = Some(pb::tensor_shape_proto::dimension::Value::DimParam(
            "batch".into(),
        ));
    }
    let dir = common::temp_dir("cli-dims");
    let path = dir.join("dyn.onnx");
    std::fs::write(&path, m.encode_to_vec()).expect("write");
    let x = [0.5f32, -0.25, 0.75, 0.125, -0.5, 1.0];
    let want: Vec<f64> = (0..2)
        .map(|j| (0..6).map(|i| f64::from(x[i] * w[i * 2 + j])).sum())
        .collect();
    let rows = dir.join("rows.json");
    std::fs::write(
        &rows,
        format!(
            r#"{{"input_data": [[{}, {}], [{}, {}], [{}, {}]]}}"#,
            x[0], x[1], x[2], x[3], x[4], x[5]
        ),
    )
    .expect("write");
    let wd = dir.join("w");
    let o = zkonnx(&["run", s(&path), "--input", s(&rows), "--workdir", s(&wd)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("batch=3"), "{}", stderr(&o));
    let out: Vec<f64> = report(&wd)["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    assert_eq!(out.len(), 2);
    for (o, r) in out.iter().zip(&want) {
        assert!((o - r).abs() < 2e-3, "{o} vs {r}");
    }
    // The same values as one flat list: bound by --dim.
    let flat = dir.join("flat.json");
    let list: Vec<String> = x.iter().map(|v| v.to_string()).collect();
    std::fs::write(
        &flat,
        format!(r#"{{"input_data": [[{}]]}}"#, list.join(", ")),
    )
    .expect("write");
    let out = dir.join("c");
    let compile = |input: &Path, dim: &str| {
        let mut args = vec!["compile", s(&path), "--input", s(input), "--out", s(&out)];
        if !dim.is_empty() {
            args.extend(["--dim", dim]);
        }
        zkonnx(&args)
    };
    let o = compile(&flat, "batch=3");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = compile(&flat, "batch");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("expected NAME=N"), "{}", stderr(&o));
    let o = compile(&flat, "btach=3");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("btach") && stderr(&o).contains("they have: batch"),
        "{}",
        stderr(&o)
    );
    // Unbound and with one row's values, the reshape is refused, naming the node.
    let one = dir.join("one.json");
    std::fs::write(&one, r#"{"input_data": [[0.1, 0.2]]}"#).expect("write");
    let o = compile(&one, "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("Reshape"), "{}", stderr(&o));
}
