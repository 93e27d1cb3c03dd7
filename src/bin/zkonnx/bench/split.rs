//! Split rows of the benchmark (`zkonnx bench --split N...`): each model cut into N segments,
//! every phase in its own process (`split`, `setup`, `prove-split` one segment at a time and
//! side by side, `verify-split`), then optionally the same proofs as Ray tasks
//! (`python -m zkonnx.ray`) and the chain folded into one proof (`aggregate`, checked in revm).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::measure::{run_child, PhaseFigures, Sample};
use zkonnx::split::{available_memory, jobs_for, Manifest, MANIFEST};
use zkonnx::{Error, Result};

/// How to run the Ray rows.
#[derive(Debug, Clone)]
pub struct RayOptions {
    /// A Python with the `zkonnx` package and Ray installed (`scripts/test.sh` makes
    /// `target/pyenv`).
    pub python: PathBuf,
    /// CPUs of the local Ray it starts.
    pub cpus: usize,
}

/// What the split rows run.
#[derive(Debug, Clone, Default)]
pub struct SplitOptions {
    /// Segment counts (each a row per model).
    pub segments: Vec<usize>,
    /// Ray rows.
    pub ray: Option<RayOptions>,
    /// Aggregate every split of 2 or more segments at 2^K rows.
    pub aggregate_k: Option<u32>,
}

/// The Ray run of one split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RayFigures {
    /// CPUs of the local Ray.
    pub cpus: usize,
    /// Driver's wall time: segment inputs, tasks, gathering, chain check.
    pub wall_s: f64,
    /// Each task's own seconds.
    pub task_s: Vec<f64>,
    /// The largest worker's peak resident memory, MB.
    pub worker_peak_mb: f64,
}

/// The chain folded into one proof.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AggregateFigures {
    /// log2 of the outer circuit's rows.
    pub k: u32,
    /// The whole `aggregate` process (outer keys, proof, native check).
    pub phase: Option<PhaseFigures>,
    /// Outer key generation, seconds (from its log).
    pub setup_s: Option<f64>,
    /// Outer proof, seconds (from its log).
    pub prove_s: Option<f64>,
    /// Verify gas with the compact verifier, in revm.
    pub verify_gas: Option<u64>,
    /// Verify gas with snark-verifier's verifier, in revm.
    pub snark_verifier_gas: Option<u64>,
    /// Runtime bytes of snark-verifier's verifier.
    pub snark_verifier_bytes: Option<usize>,
    /// What failed, if anything.
    pub error: Option<String>,
}

/// One model split into some segments.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitFigures {
    /// Segments asked for.
    pub segments: usize,
    /// log2 of each segment circuit's rows.
    pub k: Vec<u32>,
    /// Each segment's estimated proving memory (the planner's), MB.
    pub est_memory_mb: Vec<f64>,
    /// `zkonnx split`.
    pub split: Option<PhaseFigures>,
    /// `zkonnx setup` of every segment.
    pub setup: Option<PhaseFigures>,
    /// `zkonnx prove-split --jobs 1`: one segment after the other.
    pub prove_in_turn: Option<PhaseFigures>,
    /// `zkonnx prove-split --jobs J` with J from the cores and memory (absent when J = 1).
    pub prove_side_by_side: Option<PhaseFigures>,
    /// J.
    pub jobs: usize,
    /// `zkonnx verify-split`.
    pub verify: Option<PhaseFigures>,
    /// The same proofs as Ray tasks.
    pub ray: Option<RayFigures>,
    /// The chain as one proof.
    pub aggregate: Option<AggregateFigures>,
    /// Why the row stopped, if it did.
    pub error: Option<String>,
}

fn data_err(p: &Path, e: impl std::fmt::Display) -> Error {
    Error::Data {
        path: p.display().to_string(),
        reason: e.to_string(),
    }
}

/// Runs one phase of `exe` and keeps its figures.
fn phase(exe: &Path, args: &[&str], log: &Path) -> Result<Sample> {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    let what = args.first().copied().unwrap_or("zkonnx");
    run_child(cmd, what, log)
}

/// Every split row of one model.
pub fn run_splits(
    exe: &Path,
    opts: &SplitOptions,
    model: &Path,
    input: &Path,
    work: &Path,
) -> Vec<SplitFigures> {
    opts.segments
        .iter()
        .map(|&n| {
            let mut fig = SplitFigures {
                segments: n,
                ..SplitFigures::default()
            };
            if let Err(e) = run_split(
                exe,
                opts,
                model,
                input,
                &work.join(format!("split-{n}")),
                &mut fig,
            ) {
                fig.error = Some(e.to_string());
            }
            fig
        })
        .collect()
}

fn run_split(
    exe: &Path,
    opts: &SplitOptions,
    model: &Path,
    input: &Path,
    work: &Path,
    fig: &mut SplitFigures,
) -> Result<()> {
    std::fs::create_dir_all(work).map_err(|e| data_err(work, e))?;
    let s = |p: &Path| p.display().to_string();
    let (dir, srs) = (work.join("split"), work.join("srs.bin"));
    let (ds, ss, inp) = (s(&dir), s(&srs), s(input));
    let one = |x: Sample| PhaseFigures::of(&[x]);
    let n = fig.segments.to_string();
    fig.split = one(phase(
        exe,
        &[
            "split",
            &s(model),
            "--input",
            &inp,
            "--segments",
            &n,
            "-o",
            &ds,
        ],
        &work.join("split.log"),
    )?);
    let manifest = Manifest::read(&dir.join(MANIFEST))?;
    fig.k = manifest.segments.iter().map(|e| e.k).collect();
    let est: Vec<u64> = manifest
        .segments
        .iter()
        .map(|e| e.est_memory_bytes)
        .collect();
    fig.est_memory_mb = est.iter().map(|&b| b as f64 / (1 << 20) as f64).collect();
    let aggregate_k = opts.aggregate_k.filter(|_| fig.k.len() > 1);
    // One SRS for the segments and the outer circuit: the accumulator's pairing needs both
    // made with the same powers.
    let k = fig.k.iter().copied().chain(aggregate_k).max().unwrap_or(1);
    phase(
        exe,
        &["srs", "gen", "--k", &k.to_string(), "-o", &ss],
        &work.join("srs.log"),
    )?;
    fig.setup = one(phase(
        exe,
        &["setup", "--dir", &ds, "--srs", &ss],
        &work.join("setup.log"),
    )?);
    let prove = |jobs: usize, out: &str, log: &str, extra: &[&str]| {
        let j = jobs.to_string();
        let mut args = vec!["prove-split", "--dir", &ds, "--srs", &ss, "--input", &inp];
        args.extend(["--jobs", &j, "-o", out]);
        args.extend(extra);
        phase(exe, &args, &work.join(log))
    };
    let proofs = s(&work.join("proofs"));
    fig.prove_in_turn = one(prove(1, &proofs, "prove-1.log", &[])?);
    // Side by side: one segment per core as memory allows, whatever `prove-split`'s default
    // (which gives each job several cores) would pick here, so the two can be compared.
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    fig.jobs = jobs_for(&est, cores, available_memory().unwrap_or(u64::MAX)).min(fig.k.len());
    if fig.jobs > 1 {
        let side = s(&work.join("proofs-side-by-side"));
        fig.prove_side_by_side = one(prove(fig.jobs, &side, "prove-jobs.log", &[])?);
        // Proofs made side by side are checked as a chain too (not timed).
        phase(
            exe,
            &["verify-split", "--dir", &ds, "--proofs", &side],
            &work.join("verify-jobs.log"),
        )?;
    }
    fig.verify = one(phase(
        exe,
        &["verify-split", "--dir", &ds, "--proofs", &proofs],
        &work.join("verify.log"),
    )?);
    if let Some(r) = &opts.ray {
        fig.ray = Some(ray_run(r, &dir, input, &srs, work, fig.k.len())?);
    }
    if let Some(ak) = aggregate_k {
        let agg_proofs = s(&work.join("agg-proofs"));
        prove(
            fig.jobs,
            &agg_proofs,
            "prove-agg.log",
            &["--for-aggregation"],
        )?;
        fig.aggregate = Some(aggregate(exe, &ds, &agg_proofs, &ss, ak, work));
    }
    Ok(())
}

/// The split proved as Ray tasks by the Python package, on a local Ray of `r.cpus` CPUs: the
/// segments side by side as the CPUs allow, the machine's cores shared among them.
fn ray_run(
    r: &RayOptions,
    dir: &Path,
    input: &Path,
    srs: &Path,
    work: &Path,
    segments: usize,
) -> Result<RayFigures> {
    let side_by_side = segments.min(r.cpus).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut cmd = Command::new(&r.python);
    cmd.args(["-m", "zkonnx.ray", "--dir"])
        .arg(dir)
        .arg("--input")
        .arg(input)
        .arg("--srs")
        .arg(srs)
        .arg("--out")
        .arg(work.join("ray-proofs"))
        .args(["--cluster-cpus", &r.cpus.to_string()])
        .args(["--num-cpus", &(r.cpus / side_by_side).max(1).to_string()])
        .args(["--threads", &(cores / side_by_side).max(1).to_string()])
        .env("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0");
    let log = work.join("ray.log");
    run_child(cmd, "python -m zkonnx.ray", &log)?;
    let text = std::fs::read_to_string(&log).map_err(|e| data_err(&log, e))?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| data_err(&log, "no JSON summary from python -m zkonnx.ray"))?;
    #[derive(Deserialize)]
    struct Task {
        seconds: f64,
        peak_rss_mb: f64,
    }
    #[derive(Deserialize)]
    struct Run {
        wall_seconds: f64,
        segments: Vec<Task>,
    }
    let run: Run = serde_json::from_str(line).map_err(|e| data_err(&log, e))?;
    Ok(RayFigures {
        cpus: r.cpus,
        wall_s: run.wall_seconds,
        task_s: run.segments.iter().map(|t| t.seconds).collect(),
        worker_peak_mb: run
            .segments
            .iter()
            .map(|t| t.peak_rss_mb)
            .fold(0.0, f64::max),
    })
}

/// `zkonnx aggregate` in its own process, then its proof in revm with both verifiers.
fn aggregate(
    exe: &Path,
    dir: &str,
    proofs: &str,
    srs: &str,
    k: u32,
    work: &Path,
) -> AggregateFigures {
    let mut fig = AggregateFigures {
        k,
        ..AggregateFigures::default()
    };
    let out = work.join("aggregate");
    let log = work.join("aggregate.log");
    let args = [
        "aggregate",
        "--dir",
        dir,
        "--proofs",
        proofs,
        "--srs",
        srs,
        "--k",
        &k.to_string(),
        "-o",
    ];
    let mut cmd = Command::new(exe);
    cmd.args(args).arg(&out);
    match run_child(cmd, "aggregate", &log) {
        Ok(x) => fig.phase = PhaseFigures::of(&[x]),
        Err(e) => {
            fig.error = Some(e.to_string());
            return fig;
        }
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    fig.setup_s = seconds_after(&text, "setup ");
    fig.prove_s = seconds_after(&text, "prove ");
    for snark_verifier in [false, true] {
        match zkonnx::aggregate::aggregate_evm(&out, snark_verifier) {
            Ok(c) if c.accepted => {
                if snark_verifier {
                    fig.snark_verifier_gas = Some(c.verify_gas);
                    fig.snark_verifier_bytes = Some(c.runtime_bytes);
                } else {
                    fig.verify_gas = Some(c.verify_gas);
                }
            }
            Ok(_) => fig.error = Some("the Solidity verifier rejected the aggregated proof".into()),
            Err(e) => fig.error = Some(e.to_string()),
        }
    }
    fig
}

/// The number of seconds after `what` on `aggregate`'s summary line ("setup 115.0 s").
fn seconds_after(log: &str, what: &str) -> Option<f64> {
    let line = log
        .lines()
        .find(|l| l.starts_with("aggregation circuit:"))?;
    let rest = &line[line.find(what)? + what.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::seconds_after;

    #[test]
    fn reads_the_aggregate_summary() {
        let log = "step\naggregation circuit: k=21 advice 6 lookup 1 fixed 1; setup 115.0 s, \
                   prove 238.1 s; 23 public instances\n";
        assert_eq!(seconds_after(log, "setup "), Some(115.0));
        assert_eq!(seconds_after(log, "prove "), Some(238.1));
        assert_eq!(seconds_after("no summary", "setup "), None);
    }
}
