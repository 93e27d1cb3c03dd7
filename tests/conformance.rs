//! Conformance against ONNX's own backend test data (`onnx/backend/test/data/*`: the
//! `pytorch-converted`, `pytorch-operator` and `simple` suites, fetched by
//! `scripts/conformance-data.sh` from the pinned PyPI `onnx` wheel). A case's inputs
//! (`input_N.pb`) are concatenated in order, and so are its outputs.
//!
//! Every case runs import → calibrate (on its own input) → quantize → reference integer
//! executor, and is compared with the expected float output. A case passes when
//! `max |out − expected| ≤ 0.01 · max(1, max |expected|)`: activations are fixed point with 13
//! fractional bits (one rounding is ≤ 6.1e-5), weights likewise, and a case's error grows with
//! the number of rounded terms in a sum (up to a few hundred here) and with the resolution of a
//! nonlinear function's table (2^12 entries over twice the calibrated input range); 1 % of the
//! output's magnitude bounds all of these with room, while a wrong semantics (a missing bias, a
//! wrong pad, a transposed kernel) shows errors of the order of the values themselves.
//! Cases whose circuit is small (k ≤ 14 with 10-bit tables) also run through MockProver.
//!
//! `tests/conformance.md` lists every case with its status; a case listed as `pass` must pass.
//! `ZKONNX_CONFORMANCE_WRITE=1` rewrites the list from this run.

mod common;

use std::path::{Path, PathBuf};

use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::{Model, QuantSettings};

use prost::Message;
use tract_onnx::pb::TensorProto;

const MOCK_MAX_K: u32 = 14;

/// The suites run, in order.
const SUITES: &[&str] = &["pytorch-converted", "pytorch-operator", "simple"];

fn data_dir() -> PathBuf {
    std::env::var_os("ZKONNX_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/conformance"))
}

/// Every `PREFIX_N.pb` of a test data set, in order, concatenated.
fn read_all(data: &Path, prefix: &str) -> Result<Vec<f32>, String> {
    let mut all = Vec::new();
    for i in 0.. {
        let p = data.join(format!("{prefix}_{i}.pb"));
        if !p.exists() {
            if i == 0 {
                return Err(format!("{}: no {prefix}_0.pb", data.display()));
            }
            break;
        }
        all.extend(read_tensor(&p)?);
    }
    Ok(all)
}

fn read_tensor(path: &Path) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let proto = TensorProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    let t =
        tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, &proto, None)
            .map_err(|e| format!("{e:#}"))?;
    let t = t.cast_to::<f32>().map_err(|e| format!("{e:#}"))?;
    Ok(t.to_plain_array_view::<f32>()
        .map_err(|e| format!("{e:#}"))?
        .iter()
        .copied()
        .collect())
}

struct Outcome {
    pass: bool,
    detail: String,
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").replace('|', "/");
    if l.len() > 160 {
        format!("{}…", &l[..160])
    } else {
        l
    }
}

/// With `ZKONNX_CONFORMANCE_CONST_INPUTS` set, a case's graph inputs after the first become
/// initializers holding their test data (ONNX's operator cases pass every tensor as an input,
/// weights, scales and indices included, where an inference graph holds them as constants):
/// the model written to the temporary directory, and the first input alone is fed.
fn const_inputs(dir: &Path) -> Result<PathBuf, String> {
    use tract_onnx::pb::ModelProto;
    let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
    let mut m = ModelProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    let g = m.graph.as_mut().ok_or("no graph")?;
    let data = dir.join("test_data_set_0");
    let inputs: Vec<String> = g.input.iter().map(|i| i.name.clone()).collect();
    for (i, name) in inputs.iter().enumerate().skip(1) {
        let p = data.join(format!("input_{i}.pb"));
        let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut t = TensorProto::decode(b.as_slice()).map_err(|e| e.to_string())?;
        t.name = name.clone();
        g.initializer.push(t);
    }
    let out = std::env::temp_dir().join(format!(
        "zkonnx-conf-{}-{}.onnx",
        std::process::id(),
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&out, m.encode_to_vec()).map_err(|e| e.to_string())?;
    Ok(out)
}

fn run_case(dir: &Path) -> Outcome {
    let fail = |d: String| Outcome {
        pass: false,
        detail: first_line(&d),
    };
    let folded = std::env::var_os("ZKONNX_CONFORMANCE_CONST_INPUTS").is_some();
    // The folded model is a temporary file, removed when the case ends (whatever its outcome).
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let temp = if folded {
        match const_inputs(dir) {
            Ok(p) => Some(Remove(p)),
            Err(e) => return fail(format!("const inputs: {e}")),
        }
    } else {
        None
    };
    let path = temp
        .as_ref()
        .map_or_else(|| dir.join("model.onnx"), |t| t.0.clone());
    let model = match Model::load(&path) {
        Ok(m) => m,
        Err(e) => return fail(format!("import: {e}")),
    };
    let data = dir.join("test_data_set_0");
    let first = if folded {
        read_tensor(&data.join("input_0.pb"))
    } else {
        read_all(&data, "input")
    };
    let (input, expected) = match (first, read_all(&data, "output")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => return fail(format!("test data: {e}")),
    };
    let compiled = match model.compile(std::slice::from_ref(&input), QuantSettings::default()) {
        Ok(c) => c,
        Err(e) => return fail(format!("quantize: {e}")),
    };
    let trace = match compiled.witness(&input) {
        Ok(t) => t,
        Err(e) => return fail(format!("execute: {e}")),
    };
    let out = compiled
        .model
        .dequantize_output(trace.output(&compiled.model));
    if out.len() != expected.len() {
        return fail(format!(
            "output has {} values, expected {}",
            out.len(),
            expected.len()
        ));
    }
    let scale = expected
        .iter()
        .fold(1f64, |m, &x| m.max(f64::from(x).abs()));
    let err = out
        .iter()
        .zip(&expected)
        .map(|(a, &b)| (a - f64::from(b)).abs())
        .fold(0f64, f64::max);
    let tol = 0.01 * scale;
    if err > tol {
        return fail(format!("max abs err {err:.3e} > tolerance {tol:.3e}"));
    }
    // The circuit, for the small ones (smaller tables keep k low; same semantics).
    let small = QuantSettings {
        table_bits: 10,
        ..QuantSettings::default()
    };
    let mock = match model.compile(std::slice::from_ref(&input), small) {
        Ok(c) if c.k() <= MOCK_MAX_K => {
            let trace = match c.witness(&input) {
                Ok(t) => t,
                Err(e) => return fail(format!("execute (10-bit tables): {e}")),
            };
            let inst = ModelCircuit::instances(&c.model, &c.plan.shape, &trace);
            let circuit = ModelCircuit::with_trace(
                c.model.clone(),
                c.plan.clone(),
                std::sync::Arc::new(trace),
            );
            match MockProver::run(
                c.k(),
                &circuit,
                ModelCircuit::instance_columns(&c.plan.shape, &inst),
            )
            .map(|p| p.verify())
            {
                Ok(Ok(())) => format!("; MockProver ok at k={}", c.k()),
                Ok(Err(e)) => {
                    return fail(format!(
                        "MockProver rejected the honest witness: {:?}",
                        e.first()
                    ))
                }
                Err(e) => return fail(format!("synthesis: {e:?}")),
            }
        }
        Ok(c) => format!("; circuit k={} (not mocked)", c.k()),
        Err(e) => return fail(format!("quantize (10-bit tables): {e}")),
    };
    Outcome {
        pass: true,
        detail: format!("max abs err {err:.2e} (tol {tol:.2e}){mock}"),
    }
}

fn expected_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            (cols.len() >= 4 && cols[1].starts_with("test_"))
                .then(|| (cols[1].to_string(), cols[2].to_string()))
        })
        .collect()
}

#[test]
fn onnx_backend_cases() {
    let root = data_dir();
    let mut rows = Vec::new();
    let mut passed = 0;
    // `ZKONNX_CONFORMANCE_SUITES=node,...` surveys other suites of the same layout (ONNX's
    // operator cases, generated by `python -m onnx.backend.test.cmd_tools generate-data`).
    let chosen: Vec<String> = std::env::var("ZKONNX_CONFORMANCE_SUITES")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| SUITES.iter().map(|s| s.to_string()).collect());
    for suite in &chosen {
        let suite = suite.as_str();
        let dir = root.join(suite);
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}: run ./scripts/conformance-data.sh first (scripts/test.sh does)",
                    dir.display()
                )
            })
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("model.onnx").exists())
            .collect();
        cases.sort();
        if suite == "pytorch-converted" {
            assert!(
                cases.len() >= 80,
                "only {} cases in {}",
                cases.len(),
                dir.display()
            );
        }
        for c in &cases {
            let name = c
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let t = std::time::Instant::now();
            let o = run_case(c);
            eprintln!(
                "{suite}/{name}: {} {} ({:.1} s)",
                if o.pass { "pass" } else { "FAIL" },
                o.detail,
                t.elapsed().as_secs_f64()
            );
            passed += usize::from(o.pass);
            rows.push((suite, name, o));
        }
    }
    let mut md = String::from(
        "# ONNX conformance: `onnx/backend/test/data/{pytorch-converted, pytorch-operator, simple}` \
         (onnx 1.23.2)\n\n\
         Generated by `ZKONNX_CONFORMANCE_WRITE=1 cargo test --release --test conformance`; \
         the test fails if a case listed as `pass` stops passing. Tolerance and method: \
         `tests/conformance.rs`.\n\n",
    );
    md.push_str(&format!("**{passed} of {} cases pass**", rows.len()));
    for suite in &chosen {
        let of: Vec<_> = rows.iter().filter(|r| r.0 == suite.as_str()).collect();
        md.push_str(&format!(
            "; {suite}: {} of {}",
            of.iter().filter(|r| r.2.pass).count(),
            of.len()
        ));
    }
    md.push_str(".\n\n| case | status | suite | detail |\n|---|---|---|---|\n");
    for (suite, name, o) in &rows {
        md.push_str(&format!(
            "| {name} | {} | {suite} | {} |\n",
            if o.pass { "pass" } else { "fail" },
            o.detail
        ));
    }
    let list = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance.md");
    if std::env::var_os("ZKONNX_CONFORMANCE_WRITE").is_some() {
        std::fs::write(&list, &md).expect("write tests/conformance.md");
    }
    let text = std::fs::read_to_string(&list).expect("tests/conformance.md");
    let mut regressions = Vec::new();
    for (name, status) in expected_list(&text) {
        if status == "pass" {
            match rows.iter().find(|(_, n, _)| *n == name) {
                Some((_, _, o)) if o.pass => {}
                Some((_, _, o)) => regressions.push(format!("{name}: {}", o.detail)),
                None => regressions.push(format!("{name}: missing from the data")),
            }
        }
    }
    assert!(
        regressions.is_empty(),
        "cases that passed now fail:\n{}",
        regressions.join("\n")
    );
    eprintln!("conformance: {passed} of {} pass", rows.len());
}
