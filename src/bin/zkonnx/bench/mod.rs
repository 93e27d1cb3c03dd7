//! The research benchmark: every model, every phase, zkonnx and (optionally) EZKL in the same
//! run. Each phase runs in a child process (`zkonnx compile | setup | prove | verify`), so its
//! wall time and peak memory are its own. Writes `bench.json`, `bench.md` and `bench.svg`.

pub mod ezkl;
pub mod measure;
pub mod output;
pub mod split;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use measure::{run_child, PhaseFigures};
use zkonnx::evm::{evm_verify, generate_verifier, VerifierKind};
use zkonnx::fidelity::compare;
use zkonnx::{data, files, CompiledModel, Error, ProofFile, Result, Settings};

/// The phases measured, in order.
pub const PHASES: [&str; 4] = ["compile", "setup", "prove", "verify"];

/// Version of `bench.json`.
pub const BENCH_VERSION: u32 = 1;

/// One system's figures on one model.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SystemFigures {
    /// Per phase: wall time (min, median) and peak memory.
    pub phases: BTreeMap<String, PhaseFigures>,
    /// log2 of the rows.
    pub k: Option<u32>,
    /// Rows used.
    pub rows: Option<u64>,
    /// Advice columns.
    pub advice_columns: Option<usize>,
    /// Fixed columns.
    pub fixed_columns: Option<usize>,
    /// Lookup arguments.
    pub lookups: Option<usize>,
    /// Proving-key bytes.
    pub pk_bytes: Option<u64>,
    /// Verifying-key bytes.
    pub vk_bytes: Option<u64>,
    /// Proof bytes.
    pub proof_bytes: Option<usize>,
    /// Runtime bytes of the Solidity verifier.
    pub verifier_runtime_bytes: Option<usize>,
    /// Gas of one verification in revm.
    pub verify_gas: Option<u64>,
    /// Why the verifier's gas is missing, when it is.
    #[serde(default)]
    pub evm_error: Option<String>,
    /// Largest absolute error of the proven outputs against the float model (tract).
    pub max_abs_err: Option<f64>,
    /// Whether the argmax agrees with the float model's.
    pub argmax_agrees: Option<bool>,
    /// The cost floor of the circuit on this machine (zkonnx only): its MSM/FFT counts and
    /// this machine's times for them.
    #[serde(default)]
    pub roofline: Option<zkonnx_prover::roofline::Roofline>,
    /// Median prove time divided by the floor.
    #[serde(default)]
    pub prove_over_floor: Option<f64>,
    /// Why the run stopped, if it did.
    pub error: Option<String>,
}

/// One model's row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelRow {
    /// Model name (file stem).
    pub model: String,
    /// zkonnx.
    pub zkonnx: SystemFigures,
    /// EZKL (with `--ezkl`).
    pub ezkl: Option<SystemFigures>,
    /// zkonnx / EZKL for each figure both have.
    pub ratios: BTreeMap<String, f64>,
    /// The model split into segments (`--split`).
    #[serde(default)]
    pub split: Vec<split::SplitFigures>,
    /// What the errors are measured against: `output.json` (beside the model) or a float run
    /// (`tract`, `zkonnx-f32`, `zkonnx-f32 (tract disagrees)`).
    #[serde(default)]
    pub reference: Option<String>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// CPU model (from /proc/cpuinfo).
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Memory, GB.
    pub ram_gb: f64,
    /// zkonnx version.
    pub zkonnx_version: String,
    /// Git commit of the checkout, when known.
    pub git_commit: Option<String>,
    /// EZKL version (with `--ezkl`).
    pub ezkl_version: Option<String>,
}

/// Environment variable naming the file where a `zkonnx` phase started by the benchmark writes
/// its own peak resident memory (MB, from `VmHWM`) when it exits.
pub const PEAK_FILE_ENV: &str = "ZKONNX_PEAK_FILE";

/// `bench.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchReport {
    /// Format version.
    pub version: u32,
    /// Where it ran.
    pub machine: Machine,
    /// Runs of each phase.
    pub repeat: usize,
    /// What zkonnx's layout planner minimised.
    #[serde(default)]
    pub objective: zkonnx::Objective,
    /// What zkonnx's calibration optimised (`--target`).
    #[serde(default)]
    pub target: zkonnx::Target,
    /// One row per model.
    pub models: Vec<ModelRow>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// ONNX files, or folders of `NAME.onnx` + `NAME.input.json`.
    pub models: Vec<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// Runs of each phase.
    pub repeat: usize,
    /// Also run EZKL.
    pub ezkl: bool,
    /// What zkonnx's layout planner minimises.
    pub objective: zkonnx::Objective,
    /// What zkonnx's calibration optimises.
    pub target: zkonnx::Target,
    /// The `zkonnx` binary that runs the phases.
    pub exe: PathBuf,
    /// Where to prove: the first device's proofs make the `prove` phase; each further one is
    /// measured as a phase `prove-DEVICE` beside it (`--device cpu cuda`: CPU and GPU rows).
    pub devices: Vec<zkonnx::Device>,
    /// Split rows (`--split`, `--ray-cpus`, `--aggregate`).
    pub split: split::SplitOptions,
}

/// The arguments of one `zkonnx prove` of the bench on `device`.
fn prove_args<'c>(
    cmd: &'c mut Command,
    work: &Path,
    srs: &Path,
    input: &Path,
    device: zkonnx::Device,
) -> &'c mut Command {
    cmd.arg("prove")
        .arg("--dir")
        .arg(work)
        .arg("--srs")
        .arg(srs)
        .arg("--input")
        .arg(input)
        .args(["--device", device_name(device)])
}

fn device_name(d: zkonnx::Device) -> &'static str {
    match d {
        zkonnx::Device::Cpu => "cpu",
        zkonnx::Device::Cuda => "cuda",
        zkonnx::Device::Auto => "auto",
    }
}

/// Finds `(name, model, input)` triples: files as given, folders scanned for models that have
/// an input file beside them.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let mut found = Vec::new();
    for p in paths {
        let models: Vec<PathBuf> = if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::Data {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "onnx"))
                .collect();
            v.sort();
            v
        } else {
            vec![p.clone()]
        };
        for m in models {
            let stem = m
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let input = m.with_file_name(format!("{stem}.input.json"));
            if !input.is_file() {
                return Err(Error::Data {
                    path: input.display().to_string(),
                    reason: format!("no input file for model {}", m.display()),
                });
            }
            found.push((stem, m, input));
        }
    }
    if found.is_empty() {
        return Err(Error::Data {
            path: format!("{paths:?}"),
            reason: "no models found".into(),
        });
    }
    Ok(found)
}

fn machine(ezkl: bool) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".into(), |s| s.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let git_commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ram_gb: (ram_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        zkonnx_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit,
        ezkl_version: ezkl.then(|| ezkl::EZKL_VERSION.to_string()),
    }
}

fn file_len(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}

/// zkonnx on one model: each phase `repeat` times in child processes, then the artifacts'
/// figures, the fidelity and the compact EVM verifier's (best effort: an EVM failure leaves
/// the gas empty and says why, it does not drop the model's other figures).
fn run_zkonnx(
    opts: &BenchOptions,
    model: &Path,
    input: &Path,
    work: &Path,
    reference: &[f32],
) -> Result<SystemFigures> {
    std::fs::create_dir_all(work).map_err(|e| Error::Data {
        path: work.display().to_string(),
        reason: e.to_string(),
    })?;
    let srs = work.join(files::SRS);
    let s = |p: &Path| p.display().to_string();
    let mut fig = SystemFigures::default();
    for phase in PHASES {
        let mut samples = Vec::new();
        for run in 0..opts.repeat {
            let mut cmd = Command::new(&opts.exe);
            match phase {
                "compile" => cmd.arg("compile").arg(model).args([
                    "--input",
                    &s(input),
                    "-o",
                    &s(work),
                    "--objective",
                    &opts.objective.to_string(),
                    "--target",
                    &opts.target.to_string(),
                ]),
                "setup" => cmd.args(["setup", "--dir", &s(work), "--srs", &s(&srs)]),
                "prove" => prove_args(
                    &mut cmd,
                    work,
                    &srs,
                    input,
                    opts.devices.first().copied().unwrap_or_default(),
                ),
                _ => cmd.args([
                    "verify",
                    "--proof",
                    &s(&work.join(files::PROOF)),
                    "--vk",
                    &s(&work.join(files::VK)),
                    "--settings",
                    &s(&work.join(files::SETTINGS)),
                ]),
            };
            let log = work.join(format!("{phase}-{run}.log"));
            samples.push(run_child(cmd, phase, &log)?);
            if phase == "compile" && run == 0 {
                // The development SRS is not a phase of either system.
                let k = CompiledModel::load(work)?.k();
                let mut gen = Command::new(&opts.exe);
                gen.args(["srs", "gen", "--k", &k.to_string(), "-o", &s(&srs)]);
                run_child(gen, "srs gen", &work.join("srs.log"))?;
            }
        }
        if let Some(p) = PhaseFigures::of(&samples) {
            fig.phases.insert(phase.to_string(), p);
        }
    }
    for &d in opts.devices.iter().skip(1) {
        let name = device_name(d);
        let mut samples = Vec::new();
        for run in 0..opts.repeat {
            let mut cmd = Command::new(&opts.exe);
            prove_args(&mut cmd, work, &srs, input, d)
                .arg("-o")
                .arg(work.join(format!("proof-{name}.json")));
            let log = work.join(format!("prove-{name}-{run}.log"));
            samples.push(run_child(cmd, "prove", &log)?);
        }
        if let Some(p) = PhaseFigures::of(&samples) {
            fig.phases.insert(format!("prove-{name}"), p);
        }
    }
    let compiled = CompiledModel::load(work)?;
    let plan = &compiled.plan;
    fig.k = Some(plan.shape.k);
    fig.rows = Some(plan.main_rows as u64);
    fig.advice_columns = Some(plan.shape.advice_columns());
    fig.fixed_columns = Some(plan.shape.fixed_columns());
    fig.lookups = Some(plan.lookups());
    fig.pk_bytes = file_len(&work.join(files::PK));
    fig.vk_bytes = file_len(&work.join(files::VK));
    let proof_path = work.join(files::PROOF);
    let proof = ProofFile::read(&proof_path)?;
    fig.proof_bytes = Some(proof.proof_bytes(&proof_path)?.len());
    let f = compare(&proof.outputs, reference);
    fig.max_abs_err = Some(f.max_abs_err);
    fig.argmax_agrees = Some(f.argmax_agrees);
    let settings = Settings::read(&work.join(files::SETTINGS))?;
    let vk = zkonnx_prover::keys::read_vk(&work.join(files::VK))?;
    let evm = || -> Result<(usize, Option<u64>)> {
        let v = generate_verifier(&vk, &settings, false, VerifierKind::Compact)?;
        let c = v
            .compiled
            .as_ref()
            .ok_or(zkonnx_evm::EvmError::NoCompiler)?;
        let vk_code = v.vk_creation();
        let check = evm_verify(
            &c.creation,
            vk_code.as_deref(),
            &settings,
            &proof,
            &proof_path,
        )?;
        Ok((c.runtime.len(), check.accepted.then_some(check.verify_gas)))
    };
    match evm() {
        Ok((bytes, gas)) => {
            fig.verifier_runtime_bytes = Some(bytes);
            fig.verify_gas = gas;
        }
        Err(e) => eprintln!("bench: {}: no verify gas: {e}", model.display()),
    }
    Ok(fig)
}

/// The float output both systems are judged against, and what it is: `NAME.output.json`
/// beside the model when there is one (`output.json`), else the model's float run
/// (`Model::float_outputs`: tract, or zkonnx's f32 execution, said so when tract disagrees).
fn float_reference(model: &Path, input: &Path, x: &[f32]) -> Result<(Vec<f32>, String)> {
    let stem = input
        .file_name()
        .map(|n| n.to_string_lossy().replace(".input.json", ".output.json"))
        .unwrap_or_default();
    let beside = input.with_file_name(stem);
    if beside.is_file() {
        return Ok((data::read_output(&beside)?, "output.json".into()));
    }
    // Its symbolic dimensions bound as `zkonnx compile --input` binds them.
    let dims = zkonnx::dims_from_input(model, input).unwrap_or_default();
    let (y, by) = zkonnx::Model::load_with_dims(model, &dims)?.float_outputs(x)?;
    if by == zkonnx::FloatReference::TractDisagrees {
        eprintln!(
            "bench: {}: tract's float run and zkonnx's f32 execution disagree; both systems \
             are judged against the latter",
            model.display()
        );
    }
    Ok((y, by.to_string()))
}

/// zkonnx / EZKL for every figure both systems have.
pub fn ratios(z: &SystemFigures, e: &SystemFigures) -> BTreeMap<String, f64> {
    let mut r = BTreeMap::new();
    let mut put = |name: String, a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            if b > 0.0 {
                r.insert(name, a / b);
            }
        }
    };
    for phase in PHASES {
        let (a, b) = (z.phases.get(phase), e.phases.get(phase));
        put(
            format!("{phase}_s"),
            a.map(|p| p.wall_median_s),
            b.map(|p| p.wall_median_s),
        );
        put(
            format!("{phase}_peak_rss"),
            a.map(|p| p.peak_rss_mb),
            b.map(|p| p.peak_rss_mb),
        );
    }
    let f = |x: Option<u64>| x.map(|v| v as f64);
    put("pk_bytes".into(), f(z.pk_bytes), f(e.pk_bytes));
    put("verify_gas".into(), f(z.verify_gas), f(e.verify_gas));
    put(
        "proof_bytes".into(),
        z.proof_bytes.map(|v| v as f64),
        e.proof_bytes.map(|v| v as f64),
    );
    put("max_abs_err".into(), z.max_abs_err, e.max_abs_err);
    r
}

/// Runs the benchmark and writes `bench.json`, `bench.md` and `bench.svg` into `opts.out`.
pub fn run_bench(opts: &BenchOptions) -> Result<BenchReport> {
    let io = |p: &Path, e: std::io::Error| Error::Data {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| io(&opts.out, e))?;
    let models = discover(&opts.models)?;
    let python = if opts.ezkl {
        Some(ezkl::ensure_ezkl()?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for (name, model, input) in models {
        eprintln!("bench: {name}");
        let x = data::read_input(&input)?;
        let reference = float_reference(&model, &input, &x);
        let work = opts.out.join(&name);
        let zk = match &reference {
            Ok((r, _)) => run_zkonnx(opts, &model, &input, &work.join("zkonnx"), r),
            Err(e) => Err(Error::Data {
                path: model.display().to_string(),
                reason: format!("float reference: {e}"),
            }),
        }
        .unwrap_or_else(|e| SystemFigures {
            error: Some(e.to_string()),
            ..SystemFigures::default()
        });
        let ez = python.as_ref().map(|py| {
            ezkl::run_ezkl(
                py,
                &model,
                &input,
                &work.join("ezkl"),
                reference.as_ref().map_or(&[][..], |r| &r.0[..]),
            )
            .unwrap_or_else(|e| SystemFigures {
                error: Some(e.to_string()),
                ..SystemFigures::default()
            })
        });
        let ratios = ez.as_ref().map(|e| ratios(&zk, e)).unwrap_or_default();
        let splits = if zk.error.is_none() {
            split::run_splits(&opts.exe, &opts.split, &model, &input, &work.join("zkonnx"))
        } else {
            Vec::new()
        };
        rows.push(ModelRow {
            model: name,
            zkonnx: zk,
            ezkl: ez,
            ratios,
            split: splits,
            reference: reference.ok().map(|r| r.1),
        });
    }
    // The floors are measured last, in this process: their MSMs of 2^k points would raise this
    // process's peak memory, which a child started afterwards reports as its own (`posix_spawn`
    // shares the parent's address space until `exec`, and Linux keeps its high-water mark).
    for row in &mut rows {
        if row.zkonnx.error.is_some() {
            continue;
        }
        let work = opts.out.join(&row.model).join("zkonnx");
        if let Ok(compiled) = CompiledModel::load(&work) {
            let roof = zkonnx_prover::roofline::measure(compiled.plan.shape);
            let fig = &mut row.zkonnx;
            fig.prove_over_floor = fig
                .phases
                .get("prove")
                .map(|p| p.wall_median_s / roof.floor_s);
            fig.roofline = Some(roof);
        }
    }
    let report = BenchReport {
        version: BENCH_VERSION,
        machine: machine(opts.ezkl),
        repeat: opts.repeat,
        objective: opts.objective,
        target: opts.target,
        models: rows,
    };
    let write = |name: &str, text: String| {
        let p = opts.out.join(name);
        std::fs::write(&p, text).map_err(|e| io(&p, e))
    };
    write(
        "bench.json",
        serde_json::to_string_pretty(&report).map_err(|e| Error::Data {
            path: "bench.json".into(),
            reason: e.to_string(),
        })?,
    )?;
    write("bench.md", output::markdown(&report))?;
    write("bench.svg", output::svg(&report))?;
    Ok(report)
}
