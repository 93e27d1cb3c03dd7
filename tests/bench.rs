//! `zkonnx bench`: the three files, and figures that agree with `zkonnx run` on the same model.

mod common;

use std::process::Command;

fn zkonnx(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zkonnx"))
        .args(args)
        .output()
        .expect("run zkonnx")
}

fn json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
}

#[test]
fn bench_writes_json_markdown_and_svg_that_agree_with_run() {
    let models = common::bundled_models();
    let model = models.join("tiny_mlp.onnx");
    let input = models.join("tiny_mlp.input.json");
    let w = common::temp_dir("bench");
    let out = w.join("B");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let o = zkonnx(&[
        "bench",
        "--models",
        &s(&model),
        "--out",
        &s(&out),
        "--repeat",
        "2",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let b = json(&out.join("bench.json"));
    assert_eq!(b["version"], 1);
    assert!(b["machine"]["cores"].as_u64().expect("cores") >= 1);
    let row = &b["models"][0];
    assert_eq!(row["model"], "tiny_mlp");
    let z = &row["zkonnx"];
    assert!(z["error"].is_null(), "{z}");
    for phase in ["compile", "setup", "prove", "verify"] {
        let p = &z["phases"][phase];
        assert_eq!(p["runs"], 2, "{phase}");
        let (min, med) = (
            p["wall_min_s"].as_f64().expect("min"),
            p["wall_median_s"].as_f64().expect("median"),
        );
        assert!(min > 0.0 && min <= med, "{phase}: {min} {med}");
        assert!(p["peak_rss_mb"].as_f64().expect("rss") > 1.0, "{phase}");
    }

    // The same model through `zkonnx run`: the deterministic figures agree exactly.
    let o = zkonnx(&[
        "run",
        &s(&model),
        "--input",
        &s(&input),
        "--workdir",
        &s(&w.join("run")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&w.join("run/report.json"));
    assert_eq!(z["k"], r["k"]);
    assert_eq!(z["rows"], r["rows"]);
    assert_eq!(z["advice_columns"], r["advice_columns"]);
    assert_eq!(z["proof_bytes"], r["proof_bytes"]);
    assert_eq!(z["pk_bytes"], r["pk_bytes"]);
    let (e1, e2) = (
        z["max_abs_err"].as_f64().expect("err"),
        r["max_abs_err"].as_f64().expect("err"),
    );
    assert!((e1 - e2).abs() < 1e-9, "{e1} vs {e2}");

    let md = std::fs::read_to_string(out.join("bench.md")).expect("md");
    assert!(md.contains("| tiny_mlp | zkonnx | "), "{md}");
    // halo2-axiom's per-proof re-extension, beside the floor: its count is the constraint
    // system's, and its row in bench.md agrees with bench.json.
    let roof = &z["roofline"];
    let rederived = roof["counts"]["rederived"].as_u64().expect("rederived");
    assert!(rederived >= 4, "{roof}");
    let re = roof["rederive_s"].as_f64().expect("rederive_s");
    assert!(re > 0.0, "{roof}");
    assert!(
        md.contains(&format!("| tiny_mlp | {rederived} | {re:.2} | ")),
        "{md}"
    );
    let svg = std::fs::read_to_string(out.join("bench.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("tiny_mlp") && svg.contains(">zkonnx<") && svg.contains(">EZKL<"));
    // Two bars (zkonnx's prove time and peak memory), EZKL's marked as not run.
    assert_eq!(svg.matches("</rect>").count(), 2, "{svg}");
    assert!(svg.contains("n/a"));
}

#[test]
fn bench_names_a_model_without_an_input_file() {
    let w = common::temp_dir("bench-missing");
    let model = w.join("lonely.onnx");
    std::fs::write(&model, common::onnx::mixed_model()).expect("write");
    let o = zkonnx(&[
        "bench",
        "--models",
        model.to_str().expect("utf-8"),
        "--out",
        w.join("B").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("lonely.input.json"), "{e}");
}

/// `--split 2`: the split row of a model, every phase measured, its markdown table; bad
/// segment counts and a Ray run without a Python are clear errors.
#[test]
fn bench_split_rows() {
    let models = common::bundled_models();
    let w = common::temp_dir("bench-split");
    let out = w.join("B");
    let s = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let model = s(&models.join("tiny_mlp.onnx"));
    let o = zkonnx(&[
        "bench",
        "--models",
        &model,
        "--out",
        &s(&out),
        "--split",
        "2",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let b = json(&out.join("bench.json"));
    let row = &b["models"][0]["split"][0];
    assert!(row["error"].is_null(), "{row}");
    assert_eq!(row["segments"], 2);
    assert_eq!(row["k"].as_array().expect("k per segment").len(), 2);
    for phase in ["split", "setup", "prove_in_turn", "verify"] {
        let p = &row[phase];
        assert!(
            p["wall_median_s"].as_f64().expect("seconds") > 0.0,
            "{phase}: {row}"
        );
        assert!(p["peak_rss_mb"].as_f64().expect("peak") > 1.0, "{phase}");
    }
    let jobs = row["jobs"].as_u64().expect("jobs");
    assert!(jobs >= 1);
    assert_eq!(row["prove_side_by_side"].is_null(), jobs == 1, "{row}");
    // The proofs it measured verify as a chain.
    let split_dir = out.join("tiny_mlp/zkonnx/split-2");
    let o = zkonnx(&[
        "verify-split",
        "--dir",
        &s(&split_dir.join("split")),
        "--proofs",
        &s(&split_dir.join("proofs")),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let md = std::fs::read_to_string(out.join("bench.md")).expect("md");
    assert!(
        md.contains("## Split proving") && md.contains("| tiny_mlp | 2 |"),
        "{md}"
    );

    let o = zkonnx(&[
        "bench",
        "--models",
        &model,
        "--out",
        &s(&out),
        "--split",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = zkonnx(&[
        "bench",
        "--models",
        &model,
        "--out",
        &s(&out),
        "--split",
        "2",
        "--ray-cpus",
        "2",
        "--python",
        &s(&w.join("no-python")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--python"));
}
