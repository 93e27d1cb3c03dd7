//! The on-chain side: the Solidity verifier of a model and its checks in an EVM.

use std::path::Path;

use zkonnx_evm::{check_runtime_size, encode_calldata, verifier_solidity, Compiled, Evm, Solc};

use crate::{outputs_match, Error, ProofFile, Result, Settings, VerifierKey};

/// A generated verifier: its Solidity source and, when a compiler was available, its bytecode.
#[derive(Debug, Clone)]
pub struct EvmVerifier {
    /// Solidity source (contract `Halo2Verifier`).
    pub solidity: String,
    /// Creation and runtime bytecode, if compiled.
    pub compiled: Option<Compiled>,
}

/// Figures of a verifier checked in revm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmCheck {
    /// Whether the verifier accepted the proof.
    pub accepted: bool,
    /// Gas of the verifying transaction (intrinsic and calldata gas included).
    pub verify_gas: u64,
    /// Gas of the deployment.
    pub deploy_gas: u64,
}

/// Generates the verifier for a verifying key and compiles it if `compile` (error if no
/// compiler is found then). The EIP-170 size check is left to the caller ([`check_runtime_size`]).
pub fn generate_verifier(
    vk: &VerifierKey,
    settings: &Settings,
    compile: bool,
) -> Result<EvmVerifier> {
    if vk.shape != settings.shape {
        return Err(Error::Mismatch(
            "the verifying key and settings.json belong to different circuits".into(),
        ));
    }
    let solidity = verifier_solidity(
        &vk.params,
        &vk.vk,
        settings.num_inputs + settings.num_outputs,
    )?;
    let compiled = if compile {
        Some(Solc::find()?.compile("Verifier.sol", &solidity, "Halo2Verifier")?)
    } else {
        None
    };
    Ok(EvmVerifier { solidity, compiled })
}

/// Deploys `creation` code in a fresh revm chain and calls it with the proof.
///
/// A proof whose `outputs` field does not match its instances is reported as not accepted
/// without calling the EVM (the contract never sees that field).
pub fn evm_verify(
    creation: &[u8],
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<EvmCheck> {
    let bytes = proof.proof_bytes(proof_path)?;
    let instances = proof.instance_values(proof_path)?;
    let mut evm = Evm::new();
    let (addr, deploy_gas) = evm.deploy(creation)?;
    let out = evm.call(addr, &encode_calldata(&instances, &bytes))?;
    let consistent = instances.len() == settings.num_inputs + settings.num_outputs
        && outputs_match(settings, &instances, &proof.outputs);
    Ok(EvmCheck {
        accepted: out.success && consistent,
        verify_gas: out.gas_used,
        deploy_gas,
    })
}

/// Checks the runtime size of a compiled verifier against EIP-170.
pub fn check_deployable(c: &Compiled) -> Result<()> {
    Ok(check_runtime_size(c.runtime.len())?)
}

/// Calls a verifier deployed at `address` on the node at `rpc_url` (`eth_call`, and
/// `eth_estimateGas` for the gas). Returns whether it accepted and the estimated gas.
pub fn node_verify(
    rpc_url: &str,
    address: &str,
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<(bool, Option<u64>)> {
    let addr: zkonnx_evm::node::Address = address.parse().map_err(|e| Error::Data {
        path: address.to_string(),
        reason: format!("not an address: {e}"),
    })?;
    let bytes = proof.proof_bytes(proof_path)?;
    let instances = proof.instance_values(proof_path)?;
    let consistent = instances.len() == settings.num_inputs + settings.num_outputs
        && outputs_match(settings, &instances, &proof.outputs);
    let node = zkonnx_evm::node::Node::connect(rpc_url)?;
    let calldata = encode_calldata(&instances, &bytes);
    let accepted = node.call(addr, &calldata)?;
    let gas = if accepted {
        node.estimate_gas(addr, &calldata)?
    } else {
        None
    };
    Ok((accepted && consistent, gas))
}
