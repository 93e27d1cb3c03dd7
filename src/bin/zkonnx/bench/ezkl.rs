//! EZKL beside zkonnx: a pinned PyPI `ezkl` in its own virtual environment, driven by
//! `benches/ezkl_driver.py` (one child process per step).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::measure::{PhaseFigures, Sample};
use super::SystemFigures;
use zkonnx::fidelity::compare;
use zkonnx::{Error, Result};

/// The EZKL release we compare against.
pub const EZKL_VERSION: &str = "23.0.5";

/// The driver, embedded so the binary works from any directory.
const DRIVER: &str = include_str!("../../../../benches/ezkl_driver.py");

fn fail(path: &Path, reason: impl Into<String>) -> Error {
    Error::Data {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Where the virtual environment lives: `$ZKONNX_EZKL_VENV`, else `~/.cache/zkonnx/ezkl-venv`.
pub fn venv_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKONNX_EZKL_VENV") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/zkonnx/ezkl-venv")
}

/// The venv's Python with `ezkl==EZKL_VERSION` installed (installing it on first use).
pub fn ensure_ezkl() -> Result<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let has = |py: &Path| {
        Command::new(py)
            .args([
                "-c",
                &format!(
                    "import importlib.metadata as m; assert m.version('ezkl') == '{EZKL_VERSION}'"
                ),
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.is_file() && has(&python) {
        return Ok(python);
    }
    eprintln!(
        "installing ezkl=={EZKL_VERSION} into {} (first use)",
        venv.display()
    );
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    if !python.is_file() && !ok(Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        return Err(fail(
            &venv,
            "python3 -m venv failed (is python3-venv installed?)",
        ));
    }
    if !ok(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("ezkl=={EZKL_VERSION}"),
    ])) || !has(&python)
    {
        return Err(fail(
            &venv,
            format!("pip install ezkl=={EZKL_VERSION} failed"),
        ));
    }
    Ok(python)
}

#[derive(Deserialize)]
struct Step {
    wall_s: f64,
    peak_rss_mb: f64,
}

#[derive(Deserialize)]
struct DriverOut {
    steps: BTreeMap<String, Step>,
    error: Option<String>,
    logrows: Option<u32>,
    num_rows: Option<u64>,
    pk_bytes: Option<u64>,
    vk_bytes: Option<u64>,
    proof_bytes: Option<usize>,
    #[serde(default)]
    outputs: Vec<f64>,
    evm_error: Option<String>,
}

/// EZKL's Solidity verifier measured in our EVM: runtime bytes and the gas of verifying its
/// proof (`Verifier.sol` and `calldata.bin` written by the driver). Compiled with the same solc
/// and optimizer settings as zkonnx's verifier, deployed on a chain without the code-size
/// limit. As a check that the figure belongs to a real verifier, the same call with the last
/// public instance changed must not succeed.
fn measure_evm(work: &Path) -> std::result::Result<(usize, u64), String> {
    let sol = work.join("Verifier.sol");
    let source = std::fs::read_to_string(&sol).map_err(|e| format!("{}: {e}", sol.display()))?;
    let cd_path = work.join("calldata.bin");
    let calldata = std::fs::read(&cd_path).map_err(|e| format!("{}: {e}", cd_path.display()))?;
    let solc = zkonnx_evm::Solc::find().map_err(|e| e.to_string())?;
    let compiled = solc
        .compile_with("Verifier.sol", &source, "Halo2Verifier", true)
        .or_else(|_| solc.compile("Verifier.sol", &source, "Halo2Verifier"))
        .map_err(|e| e.to_string())?;
    let mut evm = zkonnx_evm::evm::Evm::without_size_limit();
    let (addr, _) = evm.deploy(&compiled.creation).map_err(|e| e.to_string())?;
    let accepted = |o: &zkonnx_evm::evm::CallOutcome| {
        o.success && o.output.len() == 32 && o.output[31] == 1 && o.output[..31] == [0u8; 31]
    };
    let honest = evm.call(addr, &calldata).map_err(|e| e.to_string())?;
    if !accepted(&honest) {
        return Err("EZKL's verifier rejected EZKL's own proof in our EVM".into());
    }
    // verifyProof(bytes proof, uint256[] instances): the second head word locates the array.
    let word = |at: usize| -> Option<usize> {
        let w = calldata.get(at..at + 32)?;
        w[..24].iter().all(|&b| b == 0).then(|| {
            w[24..]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        })
    };
    let last_instance_byte = word(4 + 32)
        .and_then(|off| Some((4 + off, word(4 + off)?)))
        .filter(|&(_, n)| n > 0)
        .map(|(at, n)| at + 32 * n + 31)
        .filter(|&i| i < calldata.len())
        .ok_or("EZKL's calldata has no public instances to change")?;
    let mut changed = calldata.clone();
    changed[last_instance_byte] ^= 1;
    if accepted(&evm.call(addr, &changed).map_err(|e| e.to_string())?) {
        return Err("EZKL's verifier accepted a changed instance; gas not reported".into());
    }
    Ok((compiled.runtime.len(), honest.gas_used))
}

/// One EZKL run of a model: its figures in zkonnx's phases (compile = settings, calibration and
/// circuit compilation; prove = witness generation and proving; SRS generation is not counted,
/// as for zkonnx).
pub fn run_ezkl(
    python: &Path,
    model: &Path,
    input: &Path,
    work: &Path,
    reference: &[f32],
) -> Result<SystemFigures> {
    std::fs::create_dir_all(work).map_err(|e| fail(work, e.to_string()))?;
    let driver = work.join("ezkl_driver.py");
    std::fs::write(&driver, DRIVER).map_err(|e| fail(&driver, e.to_string()))?;
    let out = Command::new(python)
        .arg(&driver)
        .arg(model)
        .arg(input)
        .arg(work)
        .output()
        .map_err(|e| fail(python, e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let d: DriverOut = serde_json::from_str(line).map_err(|e| {
        fail(
            &driver,
            format!(
                "unreadable driver output ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })?;
    let phase = |names: &[&str]| -> Option<PhaseFigures> {
        let steps: Vec<&Step> = names.iter().filter_map(|n| d.steps.get(*n)).collect();
        (steps.len() == names.len()).then(|| {
            PhaseFigures::of(&[Sample {
                wall_s: steps.iter().map(|s| s.wall_s).sum(),
                peak_rss_mb: steps.iter().map(|s| s.peak_rss_mb).fold(0.0, f64::max),
            }])
        })?
    };
    let mut phases = BTreeMap::new();
    for (name, steps) in [
        ("compile", &["settings", "compile"][..]),
        ("setup", &["setup"][..]),
        ("prove", &["witness", "prove"][..]),
        ("verify", &["verify"][..]),
    ] {
        if let Some(p) = phase(steps) {
            phases.insert(name.to_string(), p);
        }
    }
    let fid = (!d.outputs.is_empty()).then(|| compare(&d.outputs, reference));
    let evm = match (&d.error, &d.evm_error) {
        (Some(_), _) => None,
        (None, Some(e)) => Some(Err(format!("EZKL's verifier was not written: {e}"))),
        (None, None) => Some(measure_evm(work)),
    };
    // EZKL's proving key (2.2 GB for lenet) is measured (`pk_bytes`) and no longer needed: a
    // run of several models would otherwise fill a disk with them.
    let _ = std::fs::remove_file(work.join("pk.key"));
    let (verifier_runtime_bytes, verify_gas, evm_error) = match evm {
        Some(Ok((bytes, gas))) => (Some(bytes), Some(gas), None),
        Some(Err(e)) => (None, None, Some(e)),
        None => (None, None, None),
    };
    Ok(SystemFigures {
        verifier_runtime_bytes,
        verify_gas,
        evm_error,
        phases,
        k: d.logrows,
        rows: d.num_rows,
        pk_bytes: d.pk_bytes,
        vk_bytes: d.vk_bytes,
        proof_bytes: d.proof_bytes,
        max_abs_err: fid.as_ref().map(|f| f.max_abs_err),
        argmax_agrees: fid.map(|f| f.argmax_agrees),
        error: d.error,
        ..SystemFigures::default()
    })
}
