//! The `zkonnx` command line: a thin layer over the library (one function per subcommand in
//! `commands`, the arguments in `args`, the benchmark driver in `bench`).

mod args;
mod bench;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use args::{Cmd, SrsArgs, SrsCmd};

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

fn run(cmd: Cmd) -> Result<(), Fail> {
    match cmd {
        Cmd::Run(a) => commands::run_all(a),
        Cmd::Compile(a) => commands::compile(a),
        Cmd::Srs(SrsArgs {
            cmd: SrsCmd::Import(a),
        }) => commands::srs_import(a),
        Cmd::Srs(SrsArgs {
            cmd: SrsCmd::Gen(a),
        }) => commands::srs_gen(a),
        Cmd::Setup(a) => commands::setup(a),
        Cmd::Prove(a) => commands::prove(a),
        Cmd::EvmVerifier(a) => commands::evm_verifier(a),
        Cmd::EvmVerify(a) => commands::evm_verify(a),
        Cmd::Inspect(a) => commands::inspect(a),
        Cmd::Bench(a) => commands::bench(a),
        Cmd::Ops(a) => commands::ops(a),
        Cmd::Hash(a) => commands::hash(a),
        Cmd::Verify(a) => commands::verify(a),
        Cmd::Split(a) => commands::split(a),
        Cmd::ProveSplit(a) => commands::prove_split(a),
        Cmd::VerifySplit(a) => commands::verify_split(a),
        Cmd::Aggregate(a) => commands::aggregate(a),
        Cmd::VerifyAggregate(a) => commands::verify_aggregate(a),
    }
}

/// The largest peak resident set among the child processes this process waited for, MB
/// (`ru_maxrss` of `RUSAGE_CHILDREN`; Linux reports KB).
fn children_peak_rss_mb() -> f64 {
    // SAFETY: `rusage` is plain data that getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return 0.0;
    }
    usage.ru_maxrss as f64 / 1024.0
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli.cmd);
    // The benchmark asks each phase for its own peak memory (see `bench::measure`): this
    // process's, or that of a process it ran (`zkonnx-cuda` proving) if that was larger.
    if let Some(path) = std::env::var_os(bench::PEAK_FILE_ENV) {
        let peak = zkonnx::peak_rss_mb().max(children_peak_rss_mb());
        let _ = std::fs::write(path, format!("{peak}"));
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
