//! `zkonnx evm-verifier` and `zkonnx evm-verify`.

use std::path::{Path, PathBuf};

use zkonnx::{files, Settings};
use zkonnx_prover::artifacts::ProofFile;

use super::step;
use crate::args::{EvmVerifierArgs, EvmVerifyArgs};
use crate::Fail;

/// Writes the Solidity source at `sol` and, when compiled, `Verifier.bin` (creation bytecode,
/// hex) and `Verifier.abi.json` beside it; for the compact verifier also `VerifierKey.bin`
/// (a stale one is removed for snark-verifier's). Returns the paths written.
pub fn write_verifier(sol: &Path, v: &zkonnx::evm::EvmVerifier) -> Result<Vec<PathBuf>, Fail> {
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

/// `zkonnx evm-verifier`.
pub fn evm_verifier(a: EvmVerifierArgs) -> Result<(), Fail> {
    let EvmVerifierArgs {
        vk,
        settings,
        out,
        snark_verifier,
    } = a;
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

/// `zkonnx evm-verify`.
pub fn evm_verify(a: EvmVerifyArgs) -> Result<(), Fail> {
    let EvmVerifyArgs {
        proof,
        verifier,
        verifier_key,
        settings,
        rpc,
        address,
        vk_address,
    } = a;
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
