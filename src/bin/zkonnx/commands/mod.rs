//! One function per subcommand, and the helpers they share.

mod evm;
mod run;
mod split;

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use zkonnx::fidelity::compare;
use zkonnx::report::Report;
use zkonnx::{data, files, CompiledModel, Model, Prover, Settings};
use zkonnx_prover::artifacts::{write_json, ProofFile};
use zkonnx_prover::srs::{dev_srs, read_srs, read_srs_for, write_srs, DEV_SRS_WARNING};

use crate::args::*;
use crate::Fail;

pub use evm::{evm_verifier, evm_verify};
pub use run::run_all;
pub use split::{aggregate, prove_split, split, verify_aggregate, verify_split};

/// Where `--device` sends a proof: `Some(zkonnx-cuda)` when this build has the CUDA prover
/// (its binary beside this one) and a GPU is present; `None` for the CPU (saying why when
/// `auto` falls back); an error when `cuda` cannot be had. The CUDA prover runs in its own
/// process: a binary that links it cannot start on a machine without a GPU.
pub fn gpu_helper(device: zkonnx::Device) -> Result<GpuRoute, Fail> {
    if device == zkonnx::Device::Cpu {
        eprintln!("prover: cpu");
        return Ok(GpuRoute::Cpu(zkonnx::Backend::cpu(None)));
    }
    let found = (|| -> Result<std::path::PathBuf, String> {
        if !cfg!(feature = "cuda") {
            return Err("this build has no CUDA prover (build with `--features cuda`)".into());
        }
        let helper = std::env::current_exe()
            .map_err(|e| format!("cannot find this binary: {e}"))?
            .with_file_name("zkonnx-cuda");
        if !helper.is_file() {
            return Err(format!(
                "{} is missing (build it with `--features cuda`)",
                helper.display()
            ));
        }
        zkonnx_prover::device::cuda_device()?;
        Ok(helper)
    })();
    match (found, device) {
        (Ok(h), _) => Ok(GpuRoute::Helper(h)),
        (Err(why), zkonnx::Device::Cuda) => Err(Fail::Bad(format!("device: {why}"))),
        (Err(why), _) => {
            eprintln!("prover: cpu (auto: {why})");
            Ok(GpuRoute::Cpu(zkonnx::Backend::cpu(Some(why))))
        }
    }
}

/// Where [`gpu_helper`] sends a proof.
pub enum GpuRoute {
    /// To `zkonnx-cuda` at this path.
    Helper(std::path::PathBuf),
    /// To this process's CPU prover, with the reason recorded.
    Cpu(zkonnx::Backend),
}

/// Proves with `zkonnx-cuda prove` and passes on its outcome.
pub fn run_gpu_helper(
    helper: &Path,
    dir: &Path,
    srs: &Path,
    input: &Path,
    out: &Path,
) -> Result<(), Fail> {
    let status = std::process::Command::new(helper)
        .arg("prove")
        .arg("--dir")
        .arg(dir)
        .arg("--srs")
        .arg(srs)
        .arg("--input")
        .arg(input)
        .arg("-o")
        .arg(out)
        .status()
        .map_err(|e| Fail::Bad(format!("{}: {e}", helper.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Fail::Bad(format!(
            "the CUDA prover failed ({status}): see its message above"
        )))
    }
}

pub fn step<T>(msg: &str, f: impl FnOnce() -> T) -> (T, f64) {
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

pub fn calibration_samples(
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

pub fn print_plan(c: &CompiledModel) {
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
    if !zkonnx_circuits::layout::deployable(&p.shape) {
        eprintln!(
            "warning: no plan of this model keeps the verifying key under EIP-170's {} bytes \
             (this one: ~{} bytes): the proof verifies natively, but the compact Solidity \
             verifier cannot hold its key on chain",
            zkonnx_circuits::layout::MAX_VK_BYTES,
            zkonnx_circuits::layout::estimate_vk_bytes(&p.shape)
        );
    }
    for l in p.layers.iter() {
        if l.rows > 0 {
            eprintln!(
                "  {:<24} {:<16} {:<14} rows {:>7} lookups {:>7} macs {:>8}",
                l.name, l.op_type, l.gadget, l.rows, l.lookup_rows, l.macs
            );
        }
    }
}

/// The plan with estimated times: the roofline floor times the prover's measured overhead,
/// shared among layers by the rows and lookups they use. Returns the timings it measured.
pub fn print_inspection(
    c: &CompiledModel,
    report: Option<&Path>,
) -> Result<zkonnx_prover::roofline::Timings, Fail> {
    use zkonnx_prover::roofline::{measure, MEASURED_OVERHEAD};
    let p = &c.plan;
    let roof = measure(p.shape);
    let estimate = roof.estimate_s();
    let total: usize = p
        .layers
        .iter()
        .map(|l| l.rows + l.lookup_rows)
        .sum::<usize>()
        .max(1);
    println!(
        "{:<28} {:<22} {:<24} {:>8} {:>8} {:>10} {:>8}",
        "layer", "op", "gadget", "rows", "lookups", "macs", "est. s"
    );
    // Names wider than their column (a fused chain's function written out, a long ONNX node
    // name) are cut with `…`; a cut function is written out in full under the table.
    let mut cut_functions: Vec<&str> = Vec::new();
    for l in p.layers.iter().filter(|l| l.rows + l.lookup_rows > 0) {
        let share = (l.rows + l.lookup_rows) as f64 / total as f64;
        let gadget = clip(&l.gadget, 24);
        if gadget != l.gadget && !cut_functions.contains(&l.gadget.as_ref()) {
            cut_functions.push(&l.gadget);
        }
        println!(
            "{:<28} {:<22} {:<24} {:>8} {:>8} {:>10} {:>8.3}",
            clip(&l.name, 28),
            clip(&l.op_type, 22),
            gadget,
            l.rows,
            l.lookup_rows,
            l.macs,
            share * estimate
        );
    }
    for f in cut_functions {
        println!("  {f}");
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
    let instances = c.settings.instance_layout().len;
    let (needs, _) = p.row_needs(instances);
    let needs: Vec<String> = needs
        .iter()
        .map(|(w, n)| match *w {
            "range lane" if p.shape.range_lanes > 1 => {
                format!("{w} {n} (highest of {})", p.shape.range_lanes)
            }
            _ => format!("{w} {n}"),
        })
        .collect();
    println!(
        "rows needed of {} usable (2^{} − {} reserved): {}; k set by {}",
        p.shape.usable_rows(),
        p.shape.k,
        p.shape.reserved_rows(),
        needs.join(", "),
        p.why_k(instances)
    );
    let n = roof.counts;
    let parts = 1usize << (n.extended_k - n.k);
    println!(
        "floor: {} MSMs (+{} of small scalars) of 2^{} at {:.3}/{:.3} s, {} FFTs of 2^{} at {:.4} s, \
         {} extensions to 2^{} at {:.4} s ({parts} parts of 2^{} side by side; one FFT of 2^{} \
         takes {:.4} s) and the quotient's inverse: {:.2} s",
        n.full_msms,
        n.small_msms,
        n.k,
        roof.msm_s,
        roof.small_msm_s,
        n.ffts,
        n.k,
        roof.fft_s,
        n.extended_ffts.saturating_sub(1),
        n.extended_k,
        roof.extended_fft_s.min(parts as f64 * roof.part_s),
        n.k,
        n.extended_k,
        roof.extended_fft_s,
        roof.floor_s
    );
    println!(
        "beside the floor: halo2-axiom re-extends {} fixed, selector and permutation polynomials \
         on every proof ({} transforms of 2^{} at {:.4} s) = {:.2} s",
        n.rederived,
        n.rederived << (n.extended_k - n.k),
        n.k,
        roof.part_s,
        roof.rederive_s
    );
    println!("estimated prove: {estimate:.2} s ((floor + re-extension) × {MEASURED_OVERHEAD})");
    println!(
        "estimated prove memory: {:.0} MB (keys, witness, one quotient part, SRS; not the model or trace)",
        zkonnx_prover::roofline::memory_bytes(p.shape) as f64 / 1e6
    );
    if let Some(r) = report {
        let measured: Report = zkonnx_prover::artifacts::read_json(r)?;
        println!(
            "measured prove: {:.2} s ({:.2} × the estimate, {:.2} × the floor)",
            measured.prove_s,
            measured.prove_s / estimate,
            measured.prove_s / roof.floor_s
        );
    }
    Ok(roof.timings())
}

pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// `zkonnx compile`.
pub fn compile(a: CompileArgs) -> Result<(), Fail> {
    let CompileArgs {
        model,
        calibration,
        input,
        out,
        quant,
    } = a;
    let m = quant.load_model(&model, input.as_deref())?;
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
    warn_if_references_disagree(floats.iter().map(|f| f.1));
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

/// `zkonnx srs import`.
pub fn srs_import(a: ImportArgs) -> Result<(), Fail> {
    let ImportArgs { file, k, out } = a;
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

/// `zkonnx srs gen`.
pub fn srs_gen(a: GenArgs) -> Result<(), Fail> {
    let GenArgs { k, seed, out } = a;
    if !(1..=26).contains(&k) {
        return Err(Fail::Bad(format!("--k {k} is out of range (1..=26)")));
    }
    eprintln!("{DEV_SRS_WARNING}");
    let (p, _) = step(&format!("dev SRS (k={k})"), || dev_srs(k, seed));
    write_srs(&out, &p)?;
    Ok(())
}

/// `zkonnx setup`.
pub fn setup(a: SetupArgs) -> Result<(), Fail> {
    let SetupArgs { dir, srs } = a;
    if dir.join(zkonnx::split::MANIFEST).is_file() {
        return split::setup_split(&dir, &srs);
    }
    let compiled = CompiledModel::load(&dir)?;
    let params = read_srs_for(&srs, compiled.k(), &dir.join(files::FITTED_SRS))?;
    let (prover, _) = step("setup", || Prover::setup(compiled, params));
    prover?.save_keys(&dir, true)?;
    Ok(())
}

/// `zkonnx prove`.
pub fn prove(a: ProveArgs) -> Result<(), Fail> {
    let ProveArgs {
        dir,
        srs,
        input,
        out,
        device,
    } = a;
    let compiled = CompiledModel::load(&dir)?;
    let out = out.unwrap_or_else(|| dir.join(files::PROOF));
    let cpu = match gpu_helper(device)? {
        // zkonnx-cuda reads and checks the keys itself: holding them here too would double
        // the host memory while it proves.
        GpuRoute::Helper(h) => return run_gpu_helper(&h, &dir, &srs, &input, &out),
        GpuRoute::Cpu(b) => b,
    };
    let pk = compiled.read_proving_key(&dir)?;
    let params = read_srs_for(&srs, compiled.k(), &dir.join(files::FITTED_SRS))?;
    let x = data::read_input(&input)?;
    let mut prover = Prover::from_parts(compiled, params, pk)?;
    prover.set_backend(cpu);
    let (proof, _) = step("prove", || prover.prove(&x));
    write_json(&out, &proof?.to_file())?;
    println!("{}", out.display());
    Ok(())
}

/// `zkonnx inspect`.
pub fn inspect(a: InspectArgs) -> Result<(), Fail> {
    let InspectArgs {
        model,
        calibration,
        input,
        report,
        frontier,
        quant,
    } = a;
    let m = quant.load_model(&model, input.as_deref())?;
    let cal = calibration_samples(&m, calibration.as_deref(), input.as_deref())?;
    let compiled = quant.compile(&m, &cal)?;
    let timings = print_inspection(&compiled, report.as_deref())?;
    if frontier {
        print_frontier(&compiled, timings);
    }
    Ok(())
}

/// The prove-cost/gas frontier of the compiled model's plans, each plan's prove time estimated
/// from this machine's MSM/FFT speed like the chosen plan's (`seed`: the chosen plan's timings,
/// so that its row repeats its estimate).
fn print_frontier(c: &CompiledModel, seed: zkonnx_prover::roofline::Timings) {
    use zkonnx_prover::roofline::{counts, Timings};
    let mut timings: Vec<Timings> = vec![seed];
    let plans = zkonnx::circuits::layout::frontier(&c.model, c.plan.shape.visibility);
    let fastest = plans.first().map_or(1.0, |p| p.cost);
    println!("frontier (proving cost vs verify gas; no plan beats one of these on both):");
    println!(
        "{:<48} {:>3} {:>9} {:>10} {:>13}",
        "layout", "k", "cost ×", "est. s", "est. gas"
    );
    for p in &plans {
        // Plans of one size share its timings (each takes a few seconds at large k).
        let c = counts(p.shape);
        let t = match timings
            .iter()
            .find(|t| (t.k, t.extended_k) == (c.k, c.extended_k))
        {
            Some(t) => *t,
            None => {
                let t = Timings::at(c.k, c.extended_k);
                timings.push(t);
                t
            }
        };
        let est = t.roofline(c).estimate_s();
        println!(
            "{:<48} {:>3} {:>9.2} {:>10.2} {:>13}",
            p.shape.describe(),
            p.shape.k,
            p.cost / fastest,
            est,
            p.est_verify_gas
        );
    }
}

/// `zkonnx bench`.
pub fn bench(a: BenchArgs) -> Result<(), Fail> {
    let BenchArgs {
        models,
        out,
        repeat,
        ezkl,
        quick,
        objective,
        target,
        device,
        split,
        ray_cpus,
        python,
        aggregate,
    } = a;
    let exe = std::env::current_exe()
        .map_err(|e| Fail::Bad(format!("cannot find the zkonnx binary: {e}")))?;
    if split.contains(&0) {
        return Err(Fail::Bad(
            "--split takes segment counts of at least 1".into(),
        ));
    }
    let ray = match ray_cpus {
        Some(0) => return Err(Fail::Bad("--ray-cpus must be at least 1".into())),
        Some(cpus) => {
            // target/release/zkonnx -> target/pyenv/bin/python
            let default = exe
                .parent()
                .and_then(Path::parent)
                .map(|t| t.join("pyenv").join("bin").join("python"));
            let python = python.or(default).filter(|p| p.is_file()).ok_or_else(|| {
                Fail::Bad(
                    "--ray-cpus needs a Python with the zkonnx package and Ray: run \
                     scripts/test.sh (it makes target/pyenv) or pass --python"
                        .into(),
                )
            })?;
            Some(crate::bench::split::RayOptions { python, cpus })
        }
        None => None,
    };
    let mut found = crate::bench::discover(&models)?;
    if quick {
        found.retain(|(_, m, _)| std::fs::metadata(m).is_ok_and(|md| md.len() < 1 << 20));
    }
    let opts = crate::bench::BenchOptions {
        models: found.into_iter().map(|(_, m, _)| m).collect(),
        out: out.clone(),
        repeat: repeat.max(1),
        ezkl,
        exe,
        objective: objective.into(),
        target: target.into(),
        devices: device,
        split: crate::bench::split::SplitOptions {
            segments: split,
            ray,
            aggregate_k: aggregate,
        },
    };
    let report = crate::bench::run_bench(&opts)?;
    print!("{}", crate::bench::output::markdown(&report));
    for name in ["bench.json", "bench.md", "bench.svg"] {
        eprintln!("wrote {}", out.join(name).display());
    }
    Ok(())
}

/// `zkonnx ops`.
pub fn ops(a: OpsArgs) -> Result<(), Fail> {
    let OpsArgs { markdown } = a;
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

/// `zkonnx hash`.
pub fn hash(a: HashArgs) -> Result<(), Fail> {
    let HashArgs { dir, input } = a;
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

/// `zkonnx verify`.
pub fn verify(a: VerifyArgs) -> Result<(), Fail> {
    let VerifyArgs {
        proof,
        vk,
        settings,
        srs,
    } = a;
    let settings = Settings::read(&settings)?;
    let vkey = zkonnx_prover::keys::read_vk(&vk)?;
    if let Some(srs) = srs {
        zkonnx_prover::keys::check_vk_srs(&vkey, &read_srs(&srs)?)
            .map_err(|e| Fail::Bad(format!("{}: {e}", vk.display())))?;
    }
    let pf = ProofFile::read(&proof)?;
    if zkonnx::verify(&vkey, &settings, &pf, &proof)? {
        println!("proof is valid");
        Ok(())
    } else {
        Err(Fail::No("proof is INVALID".into()))
    }
}

/// Says so when tract's float run and zkonnx's f32 execution of the graph disagree (the
/// fidelity is then measured against the latter; see `Model::float_outputs`).
pub fn warn_if_references_disagree(refs: impl IntoIterator<Item = zkonnx::FloatReference>) {
    if refs
        .into_iter()
        .any(|r| r == zkonnx::FloatReference::TractDisagrees)
    {
        eprintln!(
            "warning: tract's float run of the ONNX file and zkonnx's f32 execution of the \
             imported graph disagree; fidelity is measured against the latter (check the \
             outputs against onnxruntime if in doubt)"
        );
    }
}

/// `s` cut to `width` characters where it is longer: its first two thirds and its end, `…`
/// between (a function's table and its step table stay apart: `…) + 1) step`).
fn clip(s: &str, width: usize) -> std::borrow::Cow<'_, str> {
    let n = s.chars().count();
    if n <= width {
        return s.into();
    }
    let keep = width.saturating_sub(1);
    let head = keep * 2 / 3;
    let mut t: String = s.chars().take(head).collect();
    t.push('…');
    t.extend(s.chars().skip(n - (keep - head)));
    t.into()
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clip_keeps_both_ends_of_long_names() {
        assert_eq!(clip("rescale", 24), "rescale");
        assert_eq!(clip("lookup:x·sigmoid(x)", 19), "lookup:x·sigmoid(x)");
        assert_eq!(clip("lookup:x·sigmoid(x)", 10), "lookup…(x)");
        assert_eq!(clip("lookup:x·sigmoid(x) step", 13), "lookup:x…step");
        assert_eq!(clip("lookup:x·sigmoid(x) step", 13).chars().count(), 13);
    }
}
