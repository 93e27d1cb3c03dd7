//! An in-process EVM (revm) to deploy verifiers and call them.

use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::primitives::{Address, TxKind};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

use crate::error::{EvmError, Result};

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Whether it returned without reverting.
    pub success: bool,
    /// Gas used by the whole transaction (including the 21,000 intrinsic gas and calldata).
    pub gas_used: u64,
    /// Returned (or revert) data.
    pub output: Vec<u8>,
}

/// A fresh in-memory chain with one sender.
pub struct Evm {
    evm: revm::MainnetEvm<revm::handler::MainnetContext<InMemoryDB>>,
    nonce: u64,
}

impl std::fmt::Debug for Evm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evm").field("nonce", &self.nonce).finish()
    }
}

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    /// A new empty chain (Ethereum mainnet rules, EIP-170 included).
    pub fn new() -> Self {
        Self {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .build_mainnet(),
            nonce: 0,
        }
    }

    /// A new empty chain without the EIP-170 code-size limit (for measuring verifiers that
    /// are too big for Ethereum).
    pub fn without_size_limit() -> Self {
        Self {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .modify_cfg_chained(|cfg| cfg.limit_contract_code_size = Some(usize::MAX / 4))
                .build_mainnet(),
            nonce: 0,
        }
    }

    fn transact(&mut self, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult> {
        let tx = TxEnv {
            gas_limit: 30_000_000,
            kind,
            data: data.into(),
            nonce: self.nonce,
            ..Default::default()
        };
        let r = self
            .evm
            .transact_commit(tx)
            .map_err(|e| EvmError::Evm(format!("{e:?}")))?;
        self.nonce += 1;
        Ok(r)
    }

    /// Deploys creation code; returns the address and the gas used.
    pub fn deploy(&mut self, creation: &[u8]) -> Result<(Address, u64)> {
        match self.transact(TxKind::Create, creation.to_vec())? {
            // A creation that returns no runtime code leaves an account every call to which
            // "succeeds": that is no verifier.
            ExecutionResult::Success {
                output: Output::Create(code, Some(_)),
                ..
            } if code.is_empty() => Err(EvmError::Deploy(
                "the creation code deployed no runtime code (an empty or wrong Verifier.bin?)"
                    .into(),
            )),
            ExecutionResult::Success {
                output: Output::Create(_, Some(addr)),
                gas_used,
                ..
            } => Ok((addr, gas_used)),
            ExecutionResult::Success { .. } => {
                Err(EvmError::Deploy("no contract was created".into()))
            }
            ExecutionResult::Revert { gas_used, output } => Err(EvmError::Deploy(format!(
                "reverted after {gas_used} gas: 0x{}",
                hex::encode(output)
            ))),
            ExecutionResult::Halt { reason, gas_used } => Err(EvmError::Deploy(format!(
                "halted after {gas_used} gas: {reason:?}"
            ))),
        }
    }

    /// Calls a contract with raw calldata (a transaction, committed).
    pub fn call(&mut self, to: Address, calldata: &[u8]) -> Result<CallOutcome> {
        Ok(match self.transact(TxKind::Call(to), calldata.to_vec())? {
            ExecutionResult::Success {
                gas_used, output, ..
            } => CallOutcome {
                success: true,
                gas_used,
                output: output.into_data().to_vec(),
            },
            ExecutionResult::Revert { gas_used, output } => CallOutcome {
                success: false,
                gas_used,
                output: output.to_vec(),
            },
            ExecutionResult::Halt { gas_used, .. } => CallOutcome {
                success: false,
                gas_used,
                output: vec![],
            },
        })
    }
}
