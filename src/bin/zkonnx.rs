//! The `zkonnx` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use zkonnx::fidelity::compare;
use zkonnx::report::Report;
use zkonnx::{data, files, CompiledModel, Model, Prover, QuantSettings, Settings, Vis, Visibility};
use zkonnx_prover::artifacts::{write_json, ProofFile};
use zkonnx_prover::srs::{dev_srs, read_srs, write_srs, DEV_SRS_WARNING};

#[derive(Parser)]
#[command(
    name = "zkonnx",
    version,
    about = "Verifiable inference for ONNX models (halo2, KZG on BN254)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct QuantArgs {
    /// Fractional bits of activations.
    #[arg(long, default_value_t = zkonnx_circuits::quant::DEFAULT_INPUT_SCALE)]
    input_scale: u32,
    /// Fractional bits of weights.
    #[arg(long, default_value_t = zkonnx_circuits::quant::DEFAULT_PARAM_SCALE)]
    param_scale: u32,
    /// Entries of each nonlinear function's lookup table, as a power of two.
    #[arg(long, default_value_t = zkonnx_circuits::quant::DEFAULT_TABLE_BITS)]
    table_bits: u32,
    /// What calibration optimises: `accuracy` (the scales given) or `speed` (the cheapest
    /// circuit whose outputs on the calibration data stay within 1 % of the float model).
    #[arg(long, value_enum, default_value_t = TargetArg::Accuracy)]
    target: TargetArg,
    /// Who sees the input: `public` (instances), `private` (only the prover) or `hashed`
    /// (private, with its Poseidon hash public).
    #[arg(long, value_enum, default_value_t = VisArg::Public)]
    input_visibility: VisArg,
    /// Who sees the weights: `fixed` (in the verifying key), `private`, or `hashed` (private,
    /// with the model's parameter hash public: its provenance).
    #[arg(long, value_enum, default_value_t = VisArg::Fixed)]
    param_visibility: VisArg,
    /// Who sees the output: `public`, `private` or `hashed`.
    #[arg(long, value_enum, default_value_t = VisArg::Public)]
    output_visibility: VisArg,
    /// What the layout planner minimises: `prove` (proving time and memory) or `gas` (the
    /// on-chain verifier's gas: fewer columns, more rows; proving up to 16× the fastest plan's
    /// cost).
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Prove)]
    objective: ObjectiveArg,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ObjectiveArg {
    Prove,
    Gas,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum VisArg {
    Public,
    Private,
    Fixed,
    Hashed,
}

impl From<VisArg> for Vis {
    fn from(v: VisArg) -> Self {
        match v {
            VisArg::Public => Vis::Public,
            VisArg::Private => Vis::Private,
            VisArg::Fixed => Vis::Fixed,
            VisArg::Hashed => Vis::Hashed,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum TargetArg {
    Accuracy,
    Speed,
}

impl QuantArgs {
    fn settings(&self) -> QuantSettings {
        QuantSettings {
            input_scale: self.input_scale,
            param_scale: self.param_scale,
            table_bits: self.table_bits,
            ..QuantSettings::default()
        }
    }

    fn visibility(&self) -> Visibility {
        Visibility {
            input: self.input_visibility.into(),
            params: self.param_visibility.into(),
            output: self.output_visibility.into(),
        }
    }

    /// Calibrates on `cal` and compiles with every option given.
    fn compile(&self, m: &Model, cal: &[Vec<f32>]) -> Result<CompiledModel, Fail> {
        Ok(m.compile_for_target(
            cal,
            self.target(),
            self.settings(),
            self.visibility(),
            self.objective(),
        )?)
    }

    fn objective(&self) -> zkonnx::Objective {
        match self.objective {
            ObjectiveArg::Prove => zkonnx::Objective::Prove,
            ObjectiveArg::Gas => zkonnx::Objective::Gas,
        }
    }

    fn target(&self) -> zkonnx::Target {
        match self.target {
            TargetArg::Accuracy => zkonnx::Target::Accuracy,
            TargetArg::Speed => zkonnx::Target::Speed,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Everything end to end: compile, dev SRS, setup, prove, verify; writes report.json.
    Run {
        /// The ONNX model.
        model: PathBuf,
        /// Input JSON ({"input_data": [[...]]}).
        #[arg(long)]
        input: PathBuf,
        /// Output directory.
        #[arg(long)]
        workdir: PathBuf,
        /// Calibration data (defaults to the input).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Seed of the development SRS.
        #[arg(long, default_value_t = 42)]
        srs_seed: u64,
        /// Do not write the proving key to disk.
        #[arg(long)]
        no_pk: bool,
        /// Also generate, compile and check the Solidity verifier (in revm).
        #[arg(long)]
        evm: bool,
        /// With --evm: also measure snark-verifier's unrolled verifier of the same circuit.
        #[arg(long, requires = "evm")]
        compare_verifiers: bool,
        #[command(flatten)]
        quant: QuantArgs,
    },
    /// Import, calibrate, quantize and plan; writes settings.json and compiled.json.
    Compile {
        /// The ONNX model.
        model: PathBuf,
        /// Calibration data (several samples) ...
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// ... or a single input to calibrate on.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        quant: QuantArgs,
    },
    /// Structured reference string.
    Srs {
        #[command(subcommand)]
        cmd: SrsCmd,
    },
    /// Key generation: writes vk.bin and pk.bin into the compiled directory.
    Setup {
        /// Directory written by `compile`.
        #[arg(long)]
        dir: PathBuf,
        /// SRS file (`zkonnx srs gen`).
        #[arg(long)]
        srs: PathBuf,
    },
    /// Proves one input; writes proof.json.
    Prove {
        /// Directory written by `compile` and `setup`.
        #[arg(long)]
        dir: PathBuf,
        /// SRS file.
        #[arg(long)]
        srs: PathBuf,
        /// Input JSON.
        #[arg(long)]
        input: PathBuf,
        /// Proof file to write (default DIR/proof.json).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Generates the Solidity verifier: the compact verifier (Verifier.sol, the same for every
    /// model) and the model's verifying-key data contract (VerifierKey.bin); Verifier.bin
    /// (creation bytecode) and Verifier.abi.json when a compiler is found.
    EvmVerifier {
        /// vk.bin.
        #[arg(long)]
        vk: PathBuf,
        /// settings.json.
        #[arg(long)]
        settings: PathBuf,
        /// Solidity file to write; the bytecode goes beside it as Verifier.bin.
        #[arg(short, long)]
        out: PathBuf,
        /// Generate snark-verifier's unrolled verifier instead (one contract per circuit; often
        /// over the EIP-170 limit).
        #[arg(long)]
        snark_verifier: bool,
    },
    /// Verifies a proof with the Solidity verifier in revm (or on a node with --rpc): exit 0 accepted, 1 rejected.
    EvmVerify {
        /// proof.json.
        #[arg(long)]
        proof: PathBuf,
        /// Verifier.bin (creation bytecode, hex).
        #[arg(long)]
        verifier: Option<PathBuf>,
        /// VerifierKey.bin of the compact verifier (default: beside Verifier.bin if present;
        /// without it the verifier is taken to be snark-verifier's).
        #[arg(long)]
        verifier_key: Option<PathBuf>,
        /// settings.json (default: beside the proof).
        #[arg(long)]
        settings: Option<PathBuf>,
        /// Call a verifier deployed on this node (JSON-RPC URL) instead of revm.
        #[arg(long, requires = "address")]
        rpc: Option<String>,
        /// Address of the deployed verifier (with --rpc).
        #[arg(long, requires = "rpc")]
        address: Option<String>,
        /// Address of the deployed verifying-key data contract (with --rpc, compact verifier).
        #[arg(long, requires = "rpc")]
        vk_address: Option<String>,
    },
    /// Prints the layout plan: per layer its gadget, rows, lookups and estimated prove time
    /// (from this machine's measured MSM/FFT speed); with --report, estimated vs measured.
    Inspect {
        /// The ONNX model.
        model: PathBuf,
        /// Calibration data (several samples) ...
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// ... or a single input to calibrate on.
        #[arg(long)]
        input: Option<PathBuf>,
        /// A `report.json` of `zkonnx run` on this model: compare its measured prove time.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        quant: QuantArgs,
    },
    /// Benchmarks every phase of each model (child processes), optionally beside EZKL;
    /// writes DIR/bench.json, DIR/bench.md and DIR/bench.svg.
    Bench {
        /// ONNX files, or folders holding NAME.onnx with NAME.input.json.
        #[arg(long, num_args = 1.., required = true)]
        models: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Runs of each phase (min and median are reported).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Also run EZKL (PyPI, pinned; installed into its own virtual environment on first use).
        #[arg(long)]
        ezkl: bool,
        /// Only the models whose ONNX file is under 1 MB.
        #[arg(long)]
        quick: bool,
        /// What zkonnx's layout planner minimises: `prove` or `gas` (see `compile --objective`).
        #[arg(long, value_enum, default_value_t = ObjectiveArg::Prove)]
        objective: ObjectiveArg,
    },
    /// Poseidon hashes as the circuit computes them, for a contract to pin: the model's
    /// parameter hash (its provenance) and, with --input, the input's and the output's hash.
    /// Prints JSON of field elements (32-byte big-endian hex, the form of the instances).
    Hash {
        /// Directory written by `compile`.
        #[arg(long)]
        dir: PathBuf,
        /// Input JSON ({"input_data": [[...]]}) to hash, with the model's output on it.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Lists every supported ONNX operator (from the importer's registry), with how it is
    /// proved; --markdown prints the table of docs/OPERATORS.md.
    Ops {
        /// Print the Markdown table.
        #[arg(long)]
        markdown: bool,
    },
    /// Verifies a proof: exit 0 valid, 1 invalid, 2 bad input.
    Verify {
        /// proof.json.
        #[arg(long)]
        proof: PathBuf,
        /// vk.bin.
        #[arg(long)]
        vk: PathBuf,
        /// settings.json.
        #[arg(long)]
        settings: PathBuf,
    },
}

#[derive(Subcommand)]
enum SrsCmd {
    /// Imports a ceremony's powers of tau (a halo2 `ParamsKZG` file or a snarkjs `.ptau`),
    /// checks it (points on the curve, pairing checks on the powers) and reduces it to 2^k.
    Import {
        /// The ceremony file (format detected from its contents).
        file: PathBuf,
        /// log2 of the points to keep (default: all).
        #[arg(long)]
        k: Option<u32>,
        /// Output file (zkonnx SRS format, for setup and prove).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Generates an INSECURE development SRS from a seed.
    Gen {
        /// log2 of the number of points.
        #[arg(long)]
        k: u32,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file.
        #[arg(short, long)]
        out: PathBuf,
    },
}

/// Outcome of a command: success, a negative answer (exit 1), or an error (exit 2).
enum Fail {
    No(String),
    Bad(String),
}

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail::Bad(e.to_string())
    }
}

fn step<T>(msg: &str, f: impl FnOnce() -> T) -> (T, f64) {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    let t = Instant::now();
    let out = f();
    let s = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    eprintln!("{msg}: {s:.2} s");
    (out, s)
}

fn calibration_samples(
    model: &Model,
    calibration: Option<&Path>,
    input: Option<&Path>,
) -> Result<Vec<Vec<f32>>, Fail> {
    let parts = model.input_parts();
    match (calibration, input) {
        (Some(c), _) => Ok(data::read_samples_for(c, &parts)?),
        (None, Some(i)) => Ok(vec![data::read_input_for(i, &parts)?]),
        (None, None) => Err(Fail::Bad(
            "give --calibration DATA.json or --input INPUT.json to calibrate on".into(),
        )),
    }
}

fn print_plan(c: &CompiledModel) {
    let p = &c.plan;
    eprintln!(
        "plan ({} objective): k={} rows={} range rows={} advice={} fixed={} {}, est. verify gas {}",
        p.objective,
        p.shape.k,
        p.main_rows,
        p.range_rows,
        p.shape.advice_columns(),
        p.shape.fixed_columns(),
        p.shape.describe(),
        p.est_verify_gas
    );
    for l in &p.layers {
        if l.rows > 0 {
            eprintln!(
                "  {:<24} {:<16} {:<14} rows {:>7} lookups {:>7} macs {:>8}",
                l.name, l.op_type, l.gadget, l.rows, l.lookup_rows, l.macs
            );
        }
    }
}

/// The plan with estimated times: the roofline floor times the prover's measured overhead,
/// shared among layers by the rows and lookups they use.
fn inspect(c: &CompiledModel, report: Option<&Path>) -> Result<(), Fail> {
    use zkonnx_prover::roofline::{measure, MEASURED_OVERHEAD};
    let p = &c.plan;
    let roof = measure(p.shape);
    let estimate = roof.floor_s * MEASURED_OVERHEAD;
    let total: usize = p
        .layers
        .iter()
        .map(|l| l.rows + l.lookup_rows)
        .sum::<usize>()
        .max(1);
    println!(
        "{:<28} {:<22} {:<16} {:>8} {:>8} {:>10} {:>8}",
        "layer", "op", "gadget", "rows", "lookups", "macs", "est. s"
    );
    for l in p.layers.iter().filter(|l| l.rows + l.lookup_rows > 0) {
        let share = (l.rows + l.lookup_rows) as f64 / total as f64;
        println!(
            "{:<28} {:<22} {:<16} {:>8} {:>8} {:>10} {:>8.3}",
            l.name,
            l.op_type,
            l.gadget,
            l.rows,
            l.lookup_rows,
            l.macs,
            share * estimate
        );
    }
    println!(
        "total: k={} rows={} range rows={} function rows={} table rows={} advice={} fixed={} lookups={} {}",
        p.shape.k,
        p.main_rows,
        p.range_rows,
        p.func_rows,
        p.table_rows,
        p.shape.advice_columns(),
        p.shape.fixed_columns(),
        p.lookups(),
        p.shape.describe()
    );
    let n = roof.counts;
    println!(
        "floor: {} MSMs (+{} of small scalars) of 2^{} at {:.3}/{:.3} s, {} FFTs of 2^{} at {:.4} s, {} FFTs of 2^{} at {:.4} s = {:.2} s",
        n.full_msms,
        n.small_msms,
        n.k,
        roof.msm_s,
        roof.small_msm_s,
        n.ffts,
        n.k,
        roof.fft_s,
        n.extended_ffts,
        n.extended_k,
        roof.extended_fft_s,
        roof.floor_s
    );
    println!("estimated prove: {estimate:.2} s (floor × {MEASURED_OVERHEAD})");
    if let Some(r) = report {
        let measured: Report = zkonnx_prover::artifacts::read_json(r)?;
        println!(
            "measured prove: {:.2} s ({:.2} × the estimate, {:.2} × the floor)",
            measured.prove_s,
            measured.prove_s / estimate,
            measured.prove_s / roof.floor_s
        );
    }
    Ok(())
}

/// Writes the Solidity source at `sol` and, when compiled, `Verifier.bin` (creation bytecode,
/// hex) and `Verifier.abi.json` beside it; for the compact verifier also `VerifierKey.bin`
/// (a stale one is removed for snark-verifier's). Returns the paths written.
fn write_verifier(sol: &Path, v: &zkonnx::evm::EvmVerifier) -> Result<Vec<PathBuf>, Fail> {
    let write = |p: PathBuf, data: String| -> Result<PathBuf, Fail> {
        zkonnx_prover::artifacts::write_atomic(&p, |w| {
            std::io::Write::write_all(w, data.as_bytes())
        })?;
        Ok(p)
    };
    let mut out = vec![write(sol.to_path_buf(), v.solidity.clone())?];
    if let Some(c) = &v.compiled {
        out.push(write(
            sol.with_file_name(files::VERIFIER_BIN),
            hex::encode(&c.creation),
        )?);
        out.push(write(
            sol.with_file_name(files::VERIFIER_ABI),
            c.abi.to_string(),
        )?);
    }
    let key = sol.with_file_name(files::VERIFIER_KEY_BIN);
    match v.vk_creation() {
        Some(code) => out.push(write(key, hex::encode(code))?),
        None if key.exists() => {
            std::fs::remove_file(&key).map_err(|e| Fail::Bad(format!("{}: {e}", key.display())))?
        }
        None => {}
    }
    Ok(out)
}

/// EVM figures of `run --evm`.
struct EvmFigures {
    runtime_bytes: usize,
    vk: Option<(usize, String)>,
    check: zkonnx::evm::EvmCheck,
    snark: Option<zkonnx::report::VerifierFigures>,
}

/// Generates, compiles, writes and checks the compact verifier in revm (and, if `compare`,
/// measures snark-verifier's verifier of the same circuit).
fn evm_check(
    vk: &zkonnx::VerifierKey,
    settings: &Settings,
    pf: &ProofFile,
    dir: &Path,
    compare: bool,
) -> Result<EvmFigures, Fail> {
    use zkonnx::evm::{check_deployable, evm_verify, generate_verifier, VerifierKind};
    let proof_path = dir.join(files::PROOF);
    let (v, _) = step("generate + compile verifier", || {
        generate_verifier(vk, settings, true, VerifierKind::Compact)
    });
    let v = v?;
    write_verifier(&dir.join(files::VERIFIER_SOL), &v)?;
    let c = v.compiled.clone().ok_or(zkonnx_evm::EvmError::NoCompiler)?;
    check_deployable(&c)?;
    let vk_code = v.vk_creation();
    let (check, _) = step("EVM verify (revm)", || {
        evm_verify(&c.creation, vk_code.as_deref(), settings, pf, &proof_path)
    });
    let vk_fig = v
        .vk_blob
        .as_ref()
        .map(|b| (b.len() + 1, v.circuit_id().unwrap_or_default()));
    let snark = if compare {
        let (fig, _) = step("snark-verifier verifier (comparison)", || {
            let s = generate_verifier(vk, settings, true, VerifierKind::SnarkVerifier)?;
            let sc = s.compiled.ok_or(zkonnx_evm::EvmError::NoCompiler)?;
            // A verifier whose creation needs more than a block's gas cannot be measured: it is
            // reported as such, not as a failure of the run.
            let chk = match zkonnx::evm::evm_verify_on(
                zkonnx_evm::Evm::without_size_limit(),
                &sc.creation,
                None,
                settings,
                pf,
                &proof_path,
            ) {
                Ok(c) => Some(c),
                Err(zkonnx::Error::Evm(zkonnx_evm::EvmError::Deploy(_))) => None,
                Err(e) => return Err(e),
            };
            Ok::<_, zkonnx::Error>(zkonnx::report::VerifierFigures {
                runtime_bytes: sc.runtime.len(),
                deployable: check_deployable(&sc).is_ok(),
                verify_gas: chk.as_ref().map(|c| c.verify_gas),
                accepted: chk.is_some_and(|c| c.accepted),
            })
        });
        Some(fig?)
    } else {
        None
    };
    Ok(EvmFigures {
        runtime_bytes: c.runtime.len(),
        vk: vk_fig,
        check: check?,
        snark,
    })
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn run(cmd: Cmd) -> Result<(), Fail> {
    match cmd {
        Cmd::Run {
            model,
            input,
            workdir,
            calibration,
            srs_seed,
            no_pk,
            evm,
            compare_verifiers,
            quant,
        } => {
            std::fs::create_dir_all(&workdir)
                .map_err(|e| Fail::Bad(format!("{}: {e}", workdir.display())))?;
            let m = Model::load(&model)?;
            let x = data::read_input_for(&input, &m.input_parts())?;
            let cal = calibration_samples(&m, calibration.as_deref(), Some(&input))?;
            let (compiled, compile_s) = step("compile", || -> Result<CompiledModel, Fail> {
                zkonnx_circuits::quant::check_input(&m.graph, &x)?;
                quant.compile(&m, &cal)
            });
            let compiled = compiled?;
            compiled.save(&workdir)?;
            print_plan(&compiled);
            eprintln!("{DEV_SRS_WARNING}");
            let (params, srs_s) = step(&format!("dev SRS (k={})", compiled.k()), || {
                dev_srs(compiled.k(), srs_seed)
            });
            write_srs(&workdir.join(files::SRS), &params)?;
            let (prover, setup_s) = step("setup", || Prover::setup(compiled.clone(), params));
            let prover = prover?;
            prover.save_keys(&workdir, !no_pk)?;
            let (proof, prove_s) = step("prove", || prover.prove(&x));
            let proof = proof?;
            let pf = proof.to_file();
            write_json(&workdir.join(files::PROOF), &pf)?;
            let vk = prover.verifier_key();
            let (ok, verify_s) = step("verify", || {
                zkonnx::verify(&vk, &compiled.settings, &pf, &workdir.join(files::PROOF))
            });
            let ok = ok?;
            let (reference, _) = m.float_outputs(&x)?;
            let evm_figures = if evm {
                Some(evm_check(
                    &vk,
                    &compiled.settings,
                    &pf,
                    &workdir,
                    compare_verifiers,
                )?)
            } else {
                None
            };
            let fid = compare(&proof.outputs, &reference);
            let p = &compiled.plan;
            let report = Report {
                model: model.display().to_string(),
                k: p.shape.k,
                rows: p.main_rows,
                range_rows: p.range_rows,
                advice_columns: p.shape.advice_columns(),
                fixed_columns: p.shape.fixed_columns(),
                lookups: p.lookups(),
                macs: compiled.model.macs(),
                compile_s,
                srs_s,
                setup_s,
                prove_s,
                verify_s,
                peak_rss_mb: zkonnx::peak_rss_mb(),
                proof_bytes: proof.bytes.len(),
                pk_bytes: file_len(&workdir.join(files::PK)),
                vk_bytes: file_len(&workdir.join(files::VK)),
                outputs: proof.outputs.clone(),
                reference_outputs: reference,
                max_abs_err: fid.max_abs_err,
                mean_abs_err: fid.mean_abs_err,
                argmax_agrees: fid.argmax_agrees,
                verified: ok,
                input_scale: compiled.settings.input_scale,
                param_scale: compiled.settings.param_scale,
                layers: p.layers.clone(),
                verifier_runtime_bytes: evm_figures.as_ref().map(|f| f.runtime_bytes),
                deploy_gas: evm_figures.as_ref().map(|f| f.check.deploy_gas),
                verify_gas: evm_figures.as_ref().map(|f| f.check.verify_gas),
                evm_verified: evm_figures.as_ref().map(|f| f.check.accepted),
                verifier: evm_figures.as_ref().map(|_| "compact".to_string()),
                verifier_key_bytes: evm_figures
                    .as_ref()
                    .and_then(|f| f.vk.as_ref().map(|v| v.0)),
                vk_deploy_gas: evm_figures.as_ref().and_then(|f| f.check.vk_deploy_gas),
                circuit_id: evm_figures
                    .as_ref()
                    .and_then(|f| f.vk.as_ref().map(|v| v.1.clone())),
                snark_verifier: evm_figures.as_ref().and_then(|f| f.snark.clone()),
            };
            write_json(&workdir.join(files::REPORT), &report)?;
            eprintln!(
                "k={} prove {:.2} s, verify {:.3} s, peak {:.0} MB, proof {} bytes, max |err| vs float {:.5}",
                report.k, prove_s, verify_s, report.peak_rss_mb, report.proof_bytes, report.max_abs_err
            );
            println!("{}", workdir.join(files::REPORT).display());
            if let Some(f) = &evm_figures {
                eprintln!(
                    "EVM (compact verifier): runtime {} bytes, verifying key {} bytes, verify {} gas, accepted: {}",
                    f.runtime_bytes,
                    f.vk.as_ref().map_or(0, |v| v.0),
                    f.check.verify_gas,
                    f.check.accepted
                );
                if let Some(sv) = &f.snark {
                    let gas = sv.verify_gas.map_or_else(
                        || "not measurable (its creation needs more than 30M gas)".to_string(),
                        |g| format!("{g} gas"),
                    );
                    eprintln!(
                        "EVM (snark-verifier, comparison): runtime {} bytes (deployable: {}), verify {}, accepted: {}",
                        sv.runtime_bytes, sv.deployable, gas, sv.accepted
                    );
                }
            }
            if !ok {
                Err(Fail::No("the proof did not verify".into()))
            } else if evm_figures.as_ref().is_some_and(|f| !f.check.accepted) {
                Err(Fail::No("the EVM verifier rejected the proof".into()))
            } else {
                Ok(())
            }
        }
        Cmd::Compile {
            model,
            calibration,
            input,
            out,
            quant,
        } => {
            let m = Model::load(&model)?;
            let cal = calibration_samples(&m, calibration.as_deref(), input.as_deref())?;
            let (compiled, _) = step("compile", || -> Result<CompiledModel, Fail> {
                quant.compile(&m, &cal)
            });
            let compiled = compiled?;
            compiled.save(&out)?;
            print_plan(&compiled);
            let mut worst = zkonnx::fidelity::Fidelity {
                max_abs_err: 0.0,
                mean_abs_err: 0.0,
                argmax_agrees: true,
            };
            let floats = m.float_outputs_many(&cal)?;
            for (x, (reference, _)) in cal.iter().zip(&floats) {
                let t = compiled.witness(x)?;
                let f = compare(
                    &compiled.model.dequantize_output(t.output(&compiled.model)),
                    reference,
                );
                worst.max_abs_err = worst.max_abs_err.max(f.max_abs_err);
                worst.mean_abs_err += f.mean_abs_err / cal.len() as f64;
                worst.argmax_agrees &= f.argmax_agrees;
            }
            eprintln!(
                "fidelity on {} calibration input(s): max_abs_err {:.5}, mean_abs_err {:.5}, argmax agrees: {}",
                cal.len(),
                worst.max_abs_err,
                worst.mean_abs_err,
                worst.argmax_agrees
            );
            Ok(())
        }
        Cmd::Srs {
            cmd: SrsCmd::Import { file, k, out },
        } => {
            let (p, _) = step("import SRS", || {
                zkonnx_prover::srs_import::import_srs(&file, k)
            });
            let p = p?;
            write_srs(&out, &p)?;
            eprintln!(
                "imported 2^{} points from {} (checked), wrote {}",
                zkonnx_prover::halo2_proofs::poly::commitment::Params::k(&p),
                file.display(),
                out.display()
            );
            Ok(())
        }
        Cmd::Srs {
            cmd: SrsCmd::Gen { k, seed, out },
        } => {
            if !(1..=26).contains(&k) {
                return Err(Fail::Bad(format!("--k {k} is out of range (1..=26)")));
            }
            eprintln!("{DEV_SRS_WARNING}");
            let (p, _) = step(&format!("dev SRS (k={k})"), || dev_srs(k, seed));
            write_srs(&out, &p)?;
            Ok(())
        }
        Cmd::Setup { dir, srs } => {
            let compiled = CompiledModel::load(&dir)?;
            let params = read_srs(&srs)?;
            let (prover, _) = step("setup", || Prover::setup(compiled, params));
            prover?.save_keys(&dir, true)?;
            Ok(())
        }
        Cmd::Prove {
            dir,
            srs,
            input,
            out,
        } => {
            let compiled = CompiledModel::load(&dir)?;
            let params = read_srs(&srs)?;
            let (pk, shape) = zkonnx_prover::keys::read_pk(&dir.join(files::PK))?;
            if shape != compiled.plan.shape {
                return Err(Fail::Bad(format!(
                    "{}: the proving key was made for another circuit; run setup again",
                    dir.join(files::PK).display()
                )));
            }
            let x = data::read_input(&input)?;
            let prover = Prover::from_parts(compiled, params, pk)?;
            let (proof, _) = step("prove", || prover.prove(&x));
            let out = out.unwrap_or_else(|| dir.join(files::PROOF));
            write_json(&out, &proof?.to_file())?;
            println!("{}", out.display());
            Ok(())
        }
        Cmd::EvmVerifier {
            vk,
            settings,
            out,
            snark_verifier,
        } => {
            use zkonnx::evm::VerifierKind;
            let kind = if snark_verifier {
                VerifierKind::SnarkVerifier
            } else {
                VerifierKind::Compact
            };
            let settings = Settings::read(&settings)?;
            let vkey = zkonnx_prover::keys::read_vk(&vk)?;
            let compile = zkonnx_evm::Solc::find().is_ok();
            let (v, _) = step("generate verifier", || {
                zkonnx::evm::generate_verifier(&vkey, &settings, compile, kind)
            });
            let v = v?;
            for written in write_verifier(&out, &v)? {
                println!("{}", written.display());
            }
            if let (Some(b), Some(id)) = (&v.vk_blob, v.circuit_id()) {
                eprintln!(
                    "verifying key: {} bytes of data-contract code; circuit id (extcodehash) {id}",
                    b.len() + 1
                );
            }
            match &v.compiled {
                Some(c) => {
                    eprintln!(
                        "{} verifier runtime code: {} bytes (EIP-170 limit 24,576)",
                        kind.name(),
                        c.runtime.len()
                    );
                    zkonnx::evm::check_deployable(c)?;
                }
                None => eprintln!(
                    "no Solidity compiler found: wrote only the source ({})",
                    zkonnx_evm::EvmError::NoCompiler
                ),
            }
            Ok(())
        }
        Cmd::EvmVerify {
            proof,
            verifier,
            verifier_key,
            settings,
            rpc,
            address,
            vk_address,
        } => {
            let settings_path = settings.unwrap_or_else(|| proof.with_file_name(files::SETTINGS));
            let settings = Settings::read(&settings_path)?;
            let pf = ProofFile::read(&proof)?;
            if let (Some(rpc), Some(address)) = (rpc, address) {
                let (accepted, gas) = zkonnx::evm::node_verify(
                    &rpc,
                    &address,
                    vk_address.as_deref(),
                    &settings,
                    &pf,
                    &proof,
                )?;
                if let Some(g) = gas {
                    println!("gas (eth_estimateGas): {g}");
                }
                return if accepted {
                    println!("accepted by the verifier at {address}");
                    Ok(())
                } else {
                    Err(Fail::No(format!("REJECTED by the verifier at {address}")))
                };
            }
            let verifier = verifier.ok_or_else(|| {
                Fail::Bad("give --verifier Verifier.bin (or --rpc URL --address ADDR)".into())
            })?;
            let code = zkonnx_evm::compile::read_hex_file(&verifier)?;
            let key_path = verifier_key.or_else(|| {
                let p = verifier.with_file_name(files::VERIFIER_KEY_BIN);
                p.exists().then_some(p)
            });
            let key = key_path
                .as_deref()
                .map(zkonnx_evm::compile::read_hex_file)
                .transpose()?;
            let c = zkonnx::evm::evm_verify(&code, key.as_deref(), &settings, &pf, &proof)?;
            println!("gas: {}", c.verify_gas);
            if c.accepted {
                println!("accepted by the EVM verifier");
                Ok(())
            } else {
                Err(Fail::No("REJECTED by the EVM verifier".into()))
            }
        }
        Cmd::Inspect {
            model,
            calibration,
            input,
            report,
            quant,
        } => {
            let m = Model::load(&model)?;
            let cal = calibration_samples(&m, calibration.as_deref(), input.as_deref())?;
            let compiled = quant.compile(&m, &cal)?;
            inspect(&compiled, report.as_deref())
        }
        Cmd::Bench {
            models,
            out,
            repeat,
            ezkl,
            quick,
            objective,
        } => {
            let exe = std::env::current_exe()
                .map_err(|e| Fail::Bad(format!("cannot find the zkonnx binary: {e}")))?;
            let mut found = zkonnx::bench::discover(&models)?;
            if quick {
                found.retain(|(_, m, _)| std::fs::metadata(m).is_ok_and(|md| md.len() < 1 << 20));
            }
            let opts = zkonnx::bench::BenchOptions {
                models: found.into_iter().map(|(_, m, _)| m).collect(),
                out: out.clone(),
                repeat: repeat.max(1),
                ezkl,
                exe,
                objective: match objective {
                    ObjectiveArg::Prove => zkonnx::Objective::Prove,
                    ObjectiveArg::Gas => zkonnx::Objective::Gas,
                },
            };
            let report = zkonnx::bench::run_bench(&opts)?;
            print!("{}", zkonnx::bench::output::markdown(&report));
            for name in ["bench.json", "bench.md", "bench.svg"] {
                eprintln!("wrote {}", out.join(name).display());
            }
            Ok(())
        }
        Cmd::Ops { markdown } => {
            use zkonnx_circuits::import::registry;
            if markdown {
                print!("{}", registry::markdown());
            } else {
                for o in registry::supported_ops() {
                    let domain = if o.domain.is_empty() { "" } else { o.domain };
                    println!(
                        "{:<24} {:<11} {:<13} {}",
                        o.name,
                        domain,
                        o.family,
                        registry::notes(o.name).join("; ")
                    );
                }
            }
            Ok(())
        }
        Cmd::Hash { dir, input } => {
            let compiled = CompiledModel::load(&dir)?;
            let hex = zkonnx_prover::artifacts::fr_to_hex;
            let mut out = serde_json::Map::new();
            out.insert(
                "visibility".into(),
                serde_json::to_value(compiled.plan.shape.visibility)
                    .map_err(|e| Fail::Bad(e.to_string()))?,
            );
            out.insert("params".into(), hex(&compiled.param_hash()).into());
            if let Some(input) = input {
                let x = data::read_input(&input)?;
                out.insert("input".into(), hex(&compiled.input_hash(&x)?).into());
                out.insert("output".into(), hex(&compiled.output_hash(&x)?).into());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| Fail::Bad(e.to_string()))?
            );
            Ok(())
        }
        Cmd::Verify {
            proof,
            vk,
            settings,
        } => {
            let settings = Settings::read(&settings)?;
            let vkey = zkonnx_prover::keys::read_vk(&vk)?;
            let pf = ProofFile::read(&proof)?;
            if zkonnx::verify(&vkey, &settings, &pf, &proof)? {
                println!("proof is valid");
                Ok(())
            } else {
                Err(Fail::No("proof is INVALID".into()))
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli.cmd);
    // The benchmark asks each phase for its own peak memory (see `zkonnx::bench::measure`).
    if let Some(path) = std::env::var_os(zkonnx::bench::PEAK_FILE_ENV) {
        let _ = std::fs::write(path, format!("{}", zkonnx::peak_rss_mb()));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::No(m)) => {
            eprintln!("{m}");
            ExitCode::from(1)
        }
        Err(Fail::Bad(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
    }
}
