//! `split`, `setup` of a split directory, `prove-split` and `verify-split`.

use std::path::Path;

use zkonnx::data;
use zkonnx::split::{self, ChainVerdict, SplitBy};
use zkonnx_prover::srs::read_srs;

use super::{calibration_samples, step};
use crate::args::{AggregateArgs, ProveSplitArgs, SplitArgs, VerifyAggregateArgs, VerifySplitArgs};
use crate::Fail;
use zkonnx::aggregate;
use zkonnx_prover::proof::Transcript;

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
    let m = a.quant.load_model(&a.model, a.input.as_deref())?;
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
    let x = data::read_input(&a.input)?;
    let out = a.out.unwrap_or_else(|| a.dir.join("proofs"));
    let opts = split::ProveSplitOptions {
        transcript: Transcript::for_aggregation(a.for_aggregation),
        jobs: split::Jobs::new(a.jobs)?,
    };
    let (proofs, _) = step("prove (every segment)", || {
        split::prove_dir(&a.dir, &a.srs, &x, &out, opts)
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

/// `zkonnx aggregate`.
pub fn aggregate(a: AggregateArgs) -> Result<(), Fail> {
    let proofs = a.proofs.unwrap_or_else(|| a.dir.join("proofs"));
    let out = a.out.unwrap_or_else(|| a.dir.join("aggregate"));
    let params = zkonnx_prover::srs::fit_srs(read_srs(&a.srs)?, a.k)?;
    let (r, _) = step("aggregate (outer keys and proof)", || {
        aggregate::aggregate_dir(&a.dir, &proofs, &params, &out)
    });
    let r = r?;
    let c = r.verifier.shape.config;
    eprintln!(
        "aggregation circuit: k={} advice {} lookup {} fixed {}; setup {:.1} s, prove {:.1} s; \
         {} public instances ({} after the accumulator); verifies natively",
        c.degree,
        c.num_advice,
        c.num_lookup_advice,
        c.num_fixed,
        r.setup_s,
        r.prove_s,
        r.file.instances.len(),
        r.file.exposed.len()
    );
    if a.evm {
        evm_check(&out, a.snark_verifier)?;
    }
    println!("{}", out.join(aggregate::AGG_PROOF).display());
    Ok(())
}

/// `zkonnx verify-aggregate`.
pub fn verify_aggregate(a: VerifyAggregateArgs) -> Result<(), Fail> {
    if !aggregate::verify_aggregate_dir(&a.dir)? {
        return Err(Fail::No(
            "invalid: the aggregated proof does not verify".into(),
        ));
    }
    if a.evm {
        evm_check(&a.dir, a.snark_verifier)?;
    }
    println!("valid: the aggregated proof and its accumulator verify");
    Ok(())
}

/// Checks the aggregated proof in revm with the compact verifier (or snark-verifier's) and
/// reports its gas; `Fail::No` if the contract rejects it.
fn evm_check(out: &Path, snark_verifier: bool) -> Result<(), Fail> {
    let (check, _) = step("evm (generate, compile, revm)", || {
        aggregate::aggregate_evm(out, snark_verifier)
    });
    let check = check?;
    eprintln!(
        "revm ({}): {} verify gas {} deploy gas {} runtime {} bytes",
        if snark_verifier {
            "snark-verifier"
        } else {
            "compact verifier"
        },
        if check.accepted {
            "accepted"
        } else {
            "REJECTED"
        },
        check.verify_gas,
        check.deploy_gas,
        check.runtime_bytes
    );
    if !check.accepted {
        return Err(Fail::No(
            "invalid: the Solidity verifier rejected the aggregated proof".into(),
        ));
    }
    Ok(())
}
