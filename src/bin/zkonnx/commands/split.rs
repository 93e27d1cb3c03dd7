//! `split`, `setup` of a split directory, `prove-split` and `verify-split`.

use std::path::Path;

use zkonnx::split::{self, ChainVerdict, SplitBy};
use zkonnx::{data, Model};
use zkonnx_prover::srs::read_srs;

use super::{calibration_samples, step};
use crate::args::{ProveSplitArgs, SplitArgs, VerifySplitArgs};
use crate::Fail;

/// `zkonnx split`.
pub fn split(a: SplitArgs) -> Result<(), Fail> {
    let how = match (a.segments, a.max_k, a.max_memory) {
        (Some(n), _, _) => SplitBy::Segments(n),
        (_, Some(k), _) => SplitBy::MaxK(k),
        (_, _, Some(gb)) if gb.is_finite() && gb > 0.0 => {
            SplitBy::MaxMemory((gb * (1u64 << 30) as f64) as u64)
        }
        _ => {
            return Err(Fail::Bad(
                "--max-memory must be a positive number of GB".into(),
            ))
        }
    };
    let m = Model::load(&a.model)?;
    let cal = calibration_samples(&m, a.calibration.as_deref(), a.input.as_deref())?;
    let (compiled, _) = step("compile", || a.quant.compile(&m, &cal));
    let compiled = compiled?;
    let (s, _) = step("split", || compiled.split_by(how, compiled.plan.objective));
    let s = s?;
    s.save(&a.out)?;
    eprintln!(
        "whole model: k={} est. memory {} MB",
        compiled.k(),
        zkonnx_prover::roofline::memory_bytes(compiled.plan.shape) >> 20
    );
    for (e, c) in s.manifest.segments.iter().zip(&s.segments) {
        eprintln!(
            "  {:<10} nodes {:>4}..{:<4} k={:<2} inputs {:>7} outputs {:>7} est. memory {:>6} MB  {}",
            e.dir,
            e.nodes[0],
            e.nodes[1],
            e.k,
            e.num_inputs,
            e.num_outputs,
            e.est_memory_bytes >> 20,
            c.plan.shape.describe()
        );
    }
    println!("{}", a.out.join(split::MANIFEST).display());
    Ok(())
}

/// `zkonnx setup` of a split directory.
pub fn setup_split(dir: &Path, srs: &Path) -> Result<(), Fail> {
    let params = read_srs(srs)?;
    let (m, _) = step("setup (every segment)", || split::setup_dir(dir, &params));
    let m = m?;
    eprintln!("keys of {} segments written", m.segments.len());
    Ok(())
}

/// `zkonnx prove-split`.
pub fn prove_split(a: ProveSplitArgs) -> Result<(), Fail> {
    let params = read_srs(&a.srs)?;
    let x = data::read_input(&a.input)?;
    let out = a.out.unwrap_or_else(|| a.dir.join("proofs"));
    let (proofs, _) = step("prove (every segment)", || {
        split::prove_dir(&a.dir, &params, &x, &out)
    });
    let proofs = proofs?;
    eprintln!("{} segment proofs written", proofs.len());
    println!("{}", out.display());
    Ok(())
}

/// `zkonnx verify-split`.
pub fn verify_split(a: VerifySplitArgs) -> Result<(), Fail> {
    let proofs = a.proofs.unwrap_or_else(|| a.dir.join("proofs"));
    match split::verify_chain_dir(&a.dir, &proofs)? {
        ChainVerdict::Valid => {
            println!("valid: every segment proof verifies and every boundary links");
            Ok(())
        }
        ChainVerdict::Rejected { segment, reason } => {
            Err(Fail::No(format!("invalid: segment {segment}: {reason}")))
        }
    }
}
