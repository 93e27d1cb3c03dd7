//! `zkonnx-cuda`: the process of the CUDA prover (built with `--features cuda`). `zkonnx prove
//! --device cuda|auto` hands a proof to it when a GPU is present. It is a binary of its own
//! because linking halo2-axiom-gpu sets up a CUDA memory pool before `main` that aborts on a
//! machine without a GPU: `zkonnx` never links it, so it starts (and falls back to the CPU)
//! everywhere. Exit codes as `zkonnx`: 0 done, 2 bad input or no device.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zkonnx::prover::artifacts::write_json;
use zkonnx::{data, files, CompiledModel, Device, Prover, Transcript};

#[derive(Parser)]
#[command(name = "zkonnx-cuda", version, about = "zkonnx's CUDA prover process")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Proves one input on the GPU with the keys `zkonnx setup` wrote (as `zkonnx prove`).
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
        /// Make the proof with the Poseidon transcript (for aggregation).
        #[arg(long)]
        for_aggregation: bool,
    },
    /// Prints the GPU's name (exit 2 if there is none).
    Device,
}

fn prove(
    dir: PathBuf,
    srs: PathBuf,
    input: PathBuf,
    out: Option<PathBuf>,
    for_aggregation: bool,
) -> Result<(), String> {
    let compiled = CompiledModel::load(&dir).map_err(|e| e.to_string())?;
    let params =
        zkonnx::prover::srs::read_srs_for(&srs, compiled.k(), &dir.join(files::FITTED_SRS))
            .map_err(|e| e.to_string())?;
    let pk = compiled.read_proving_key(&dir).map_err(|e| e.to_string())?;
    let x = data::read_input(&input).map_err(|e| e.to_string())?;
    let xi =
        zkonnx::circuits::quant::quantize_input(&compiled.model, &x).map_err(|e| e.to_string())?;
    let mut p = Prover::from_parts(compiled, params, pk).map_err(|e| e.to_string())?;
    let b = p.use_device(Device::Cuda).map_err(|e| e.to_string())?;
    eprintln!(
        "prover: cuda ({})",
        b.device.clone().unwrap_or_else(|| "CUDA device".into())
    );
    let t = Transcript::for_aggregation(for_aggregation);
    let start = std::time::Instant::now();
    let proof = p.prove_quantized_with(&xi, t).map_err(|e| e.to_string())?;
    eprintln!("prove (cuda): {:.2} s", start.elapsed().as_secs_f64());
    let out = out.unwrap_or_else(|| dir.join(files::PROOF));
    write_json(&out, &proof.to_file()).map_err(|e| e.to_string())?;
    println!("{}", out.display());
    Ok(())
}

fn main() -> ExitCode {
    zkonnx::prover::gpu::install();
    let r = match Cli::parse().cmd {
        Cmd::Prove {
            dir,
            srs,
            input,
            out,
            for_aggregation,
        } => prove(dir, srs, input, out, for_aggregation),
        Cmd::Device => zkonnx::prover::device::cuda_device().map(|name| println!("{name}")),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
