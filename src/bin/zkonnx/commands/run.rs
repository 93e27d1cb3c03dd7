//! `zkonnx run`: everything end to end on one model and one input.

use std::path::Path;

use zkonnx::report::{EvmFigures, Report, Timings};
use zkonnx::{data, files, CompiledModel, Prover, Settings};
use zkonnx_prover::artifacts::{write_json, ProofFile};
use zkonnx_prover::srs::{dev_srs, write_srs, DEV_SRS_WARNING};

use super::evm::write_verifier;
use super::{calibration_samples, file_len, print_plan, step};
use crate::args::RunArgs;
use crate::Fail;

/// `zkonnx run`.
pub fn run_all(a: RunArgs) -> Result<(), Fail> {
    let RunArgs {
        model,
        input,
        workdir,
        calibration,
        srs_seed,
        no_pk,
        evm,
        compare_verifiers,
        device,
        quant,
    } = a;
    std::fs::create_dir_all(&workdir)
        .map_err(|e| Fail::Bad(format!("{}: {e}", workdir.display())))?;
    let m = quant.load_model(&model, Some(&input))?;
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
    let mut prover = prover?;
    let helper = match super::gpu_helper(device)? {
        super::GpuRoute::Helper(h) => Some(h),
        super::GpuRoute::Cpu(b) => {
            prover.set_backend(b);
            None
        }
    };
    prover.save_keys(&workdir, !no_pk || helper.is_some())?;
    let proof_path = workdir.join(files::PROOF);
    let (proof, prove_s) = match &helper {
        Some(h) => step("prove (cuda)", || -> Result<zkonnx::Proof, Fail> {
            super::run_gpu_helper(h, &workdir, &workdir.join(files::SRS), &input, &proof_path)?;
            let pf = ProofFile::read(&proof_path)?;
            let gpu = zkonnx::Backend {
                prover: "cuda".into(),
                device: zkonnx_prover::device::cuda_device().ok(),
                fallback: None,
            };
            Ok(zkonnx::Proof::from_file(&pf, &proof_path, gpu)?)
        }),
        None => step("prove", || prover.prove(&x).map_err(Fail::from)),
    };
    let proof = proof?;
    let pf = proof.to_file();
    write_json(&proof_path, &pf)?;
    let vk = prover.verifier_key();
    let (ok, verify_s) = step("verify", || {
        zkonnx::verify(&vk, &compiled.settings, &pf, &workdir.join(files::PROOF))
    });
    let ok = ok?;
    let (reference, by) = m.float_outputs(&x)?;
    super::warn_if_references_disagree([by]);
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
    let report = Report::new(
        &model.display().to_string(),
        &compiled,
        Timings {
            compile_s,
            srs_s,
            setup_s,
            prove_s,
            verify_s,
        },
        &proof,
        (
            file_len(&workdir.join(files::PK)),
            file_len(&workdir.join(files::VK)),
        ),
        (reference, by),
        ok,
        evm_figures.as_ref(),
    );
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
    let (v, _) = step("generate verifier", || {
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
