//! The on-chain side: the Solidity verifier of a model and its checks in an EVM.
//!
//! Two verifiers exist:
//! - [`VerifierKind::Compact`] (default): one fixed `CompactVerifier` contract for every
//!   circuit plus the circuit's verifying key as a data contract (`VerifierKey.bin`). Its
//!   size does not grow with the circuit, so every model's verifier can be deployed.
//! - [`VerifierKind::SnarkVerifier`]: snark-verifier's unrolled contract, one per circuit;
//!   it grows with columns and public inputs and exceeds EIP-170 for most models.

use std::path::Path;

use zkonnx_evm::compact::{blob, contract, CompactVk};
use zkonnx_evm::{check_runtime_size, encode_calldata, verifier_solidity, Compiled, Evm, Solc};

use crate::{halo2_proofs, outputs_match, Error, ProofFile, Result, Settings, VerifierKey};

/// The example consumer's constructor layout for a circuit: its instance layout, pinning
/// `model_hash` when the parameters are hashed.
pub fn consumer_layout(
    settings: &Settings,
    model_hash: Option<halo2_proofs::halo2curves::bn256::Fr>,
) -> zkonnx_evm::consumer::ConsumerLayout {
    let l = settings.instance_layout();
    zkonnx_evm::consumer::ConsumerLayout {
        num_instances: l.len,
        outputs_start: l.outputs.start,
        num_outputs: l.outputs.len(),
        model_hash: l.param_hash.zip(model_hash),
    }
}

/// Which Solidity verifier to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifierKind {
    /// The fixed compact verifier and a verifying-key data contract.
    #[default]
    Compact,
    /// snark-verifier's unrolled verifier.
    SnarkVerifier,
}

impl VerifierKind {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            VerifierKind::Compact => "compact",
            VerifierKind::SnarkVerifier => "snark-verifier",
        }
    }
}

/// A generated verifier: its Solidity source and its bytecode (always for the compact
/// verifier, from its committed build; for snark-verifier's when it was compiled).
#[derive(Debug, Clone)]
pub struct EvmVerifier {
    /// Which verifier.
    pub kind: VerifierKind,
    /// Solidity source (contract `CompactVerifier` or `Halo2Verifier`).
    pub solidity: String,
    /// Creation and runtime bytecode (compact: always; snark-verifier: if compiled).
    pub compiled: Option<Compiled>,
    /// Compact only: the verifying-key blob the data contract holds.
    pub vk_blob: Option<Vec<u8>>,
}

impl EvmVerifier {
    /// Compact only: creation code of the verifying-key data contract.
    pub fn vk_creation(&self) -> Option<Vec<u8>> {
        self.vk_blob.as_deref().map(blob::data_creation)
    }

    /// Compact only: the circuit's identity, `extcodehash` of its data contract (hex).
    pub fn circuit_id(&self) -> Option<String> {
        self.vk_blob
            .as_deref()
            .map(|b| format!("0x{}", hex::encode(blob::circuit_id(b))))
    }
}

/// Figures of a verifier checked in revm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmCheck {
    /// Whether the verifier accepted the proof.
    pub accepted: bool,
    /// Gas of the verifying transaction (intrinsic and calldata gas included).
    pub verify_gas: u64,
    /// Gas of the verifier's deployment.
    pub deploy_gas: u64,
    /// Gas of the verifying-key data contract's deployment (compact verifier).
    pub vk_deploy_gas: Option<u64>,
}

/// Generates the verifier for a verifying key. The compact verifier always comes compiled (its
/// committed build, [`contract::compact_verifier`]); snark-verifier's is compiled if `compile`
/// (error if no compiler is found then). The EIP-170 size check is left to the caller ([`check_deployable`]).
pub fn generate_verifier(
    vk: &VerifierKey,
    settings: &Settings,
    compile: bool,
    kind: VerifierKind,
) -> Result<EvmVerifier> {
    crate::check_settings(vk, settings)?;
    let columns =
        zkonnx_prover::proof::instance_column_lengths(&vk.vk, settings.instance_layout().len);
    match kind {
        VerifierKind::Compact => {
            let cvk = CompactVk::new(&vk.params, &vk.vk, &columns)?;
            let vk_blob = blob::encode(&cvk);
            let key_bytes = blob::data_runtime(&vk_blob).len();
            if key_bytes > zkonnx_evm::EIP170_MAX_RUNTIME_BYTES {
                return Err(zkonnx_evm::EvmError::KeyTooBig { bytes: key_bytes }.into());
            }
            Ok(EvmVerifier {
                kind,
                solidity: contract::COMPACT_VERIFIER_SOL.to_string(),
                compiled: Some(contract::compact_verifier()?),
                vk_blob: Some(vk_blob),
            })
        }
        VerifierKind::SnarkVerifier => {
            let solidity = verifier_solidity(&vk.params, &vk.vk, &columns)?;
            let compiled = if compile {
                Some(Solc::find()?.compile("Verifier.sol", &solidity, "Halo2Verifier")?)
            } else {
                None
            };
            Ok(EvmVerifier {
                kind,
                solidity,
                compiled,
                vk_blob: None,
            })
        }
    }
}

/// Deploys the verifier (and, for the compact verifier, the verifying-key data contract
/// `vk_creation`) in a fresh revm chain and calls it with the proof.
///
/// A proof whose `outputs` field does not match its instances is reported as not accepted
/// without calling the EVM (the contract never sees that field).
pub fn evm_verify(
    creation: &[u8],
    vk_creation: Option<&[u8]>,
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<EvmCheck> {
    evm_verify_on(
        Evm::new(),
        creation,
        vk_creation,
        settings,
        proof,
        proof_path,
    )
}

/// As [`evm_verify`], on a given chain: e.g. [`Evm::without_size_limit`] to measure verifiers
/// that could not be deployed on Ethereum.
pub fn evm_verify_on(
    mut evm: Evm,
    creation: &[u8],
    vk_creation: Option<&[u8]>,
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<EvmCheck> {
    let bytes = proof.proof_bytes(proof_path)?;
    let instances = proof.instance_values(proof_path)?;
    let (addr, deploy_gas) = evm.deploy(creation)?;
    let consistent = outputs_match(settings, &instances, &proof.outputs);
    let (accepted, verify_gas, vk_deploy_gas) = match vk_creation {
        Some(vk_code) => {
            let (vk_addr, vk_gas) = evm.deploy(vk_code)?;
            let out = evm.call(
                addr,
                &contract::verify_calldata(vk_addr.into_array(), &instances, &bytes),
            )?;
            (
                returned_true(out.success, &out.output),
                out.gas_used,
                Some(vk_gas),
            )
        }
        None => {
            let out = evm.call(addr, &encode_calldata(&instances, &bytes))?;
            (out.success, out.gas_used, None)
        }
    };
    Ok(EvmCheck {
        accepted: accepted && consistent,
        verify_gas,
        deploy_gas,
        vk_deploy_gas,
    })
}

/// The compact verifier answers with an ABI `bool`: accepted iff the call succeeded and
/// returned exactly `true`.
pub(crate) fn returned_true(success: bool, output: &[u8]) -> bool {
    let mut one = [0u8; 32];
    one[31] = 1;
    success && output == one
}

/// Checks the runtime size of a compiled verifier against EIP-170.
pub fn check_deployable(c: &Compiled) -> Result<()> {
    Ok(check_runtime_size(c.runtime.len())?)
}

fn parse_address(s: &str) -> Result<zkonnx_evm::node::Address> {
    s.parse().map_err(|e| Error::Data {
        path: s.to_string(),
        reason: format!("not an address: {e}"),
    })
}

/// Calls a verifier deployed at `address` on the node at `rpc_url` (`eth_call`, and
/// `eth_estimateGas` for the gas). With `vk_address` (the verifying-key data contract) the
/// verifier is the compact one; without, snark-verifier's. Returns whether it accepted and
/// the estimated gas.
pub fn node_verify(
    rpc_url: &str,
    address: &str,
    vk_address: Option<&str>,
    settings: &Settings,
    proof: &ProofFile,
    proof_path: &Path,
) -> Result<(bool, Option<u64>)> {
    let addr = parse_address(address)?;
    let bytes = proof.proof_bytes(proof_path)?;
    let instances = proof.instance_values(proof_path)?;
    let consistent = outputs_match(settings, &instances, &proof.outputs);
    let node = zkonnx_evm::node::Node::connect(rpc_url)?;
    // An address without code answers every call with success: that is no verifier.
    for (what, at) in [
        ("verifier", Some(addr)),
        ("verifying key", vk_address.map(parse_address).transpose()?),
    ] {
        if let Some(at) = at {
            if node.code_at(at)?.is_empty() {
                return Err(Error::Evm(zkonnx_evm::EvmError::Node(format!(
                    "no contract code at the {what} address {at}"
                ))));
            }
        }
    }
    let (accepted, calldata) = match vk_address {
        Some(vk) => {
            let vk = parse_address(vk)?;
            let calldata = contract::verify_calldata(vk.into_array(), &instances, &bytes);
            let out = node.call_output(addr, &calldata)?;
            (
                out.as_deref().is_some_and(|o| returned_true(true, o)),
                calldata,
            )
        }
        None => {
            let calldata = encode_calldata(&instances, &bytes);
            (node.call(addr, &calldata)?, calldata)
        }
    };
    let gas = if accepted {
        node.estimate_gas(addr, &calldata)?
    } else {
        None
    };
    Ok((accepted && consistent, gas))
}
