//! A real node through alloy: anvil (the pinned npm package) started on 127.0.0.1, or any
//! JSON-RPC endpoint. Deploys contracts, sends transactions and makes calls.

use std::path::PathBuf;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
pub use alloy::primitives::Address;
use alloy::primitives::Bytes;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

use crate::error::{EvmError, Result};

/// Path of the anvil binary from `verifier-contract/package.json` (npm), or `$ZKONNX_ANVIL`.
pub fn anvil_path() -> PathBuf {
    std::env::var_os("ZKONNX_ANVIL").map_or_else(
        || {
            crate::compile::package_dir()
                .join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        },
        PathBuf::from,
    )
}

/// A connection to a node, with a funded signer when we started the node ourselves.
pub struct Node {
    _anvil: Option<AnvilInstance>,
    url: String,
    signer: Option<PrivateKeySigner>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("url", &self.url).finish()
    }
}

/// A receipt's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Whether the transaction succeeded.
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
}

fn node_err(e: impl std::fmt::Display) -> EvmError {
    EvmError::Node(e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(node_err)
}

impl Node {
    /// Starts anvil on 127.0.0.1 at a free port; it stops when the `Node` is dropped.
    pub fn start_anvil() -> Result<Self> {
        let path = anvil_path();
        if !path.is_file() {
            return Err(EvmError::Node(format!(
                "anvil not found at {}: run `npm ci --prefix verifier-contract` (or set ZKONNX_ANVIL)",
                path.display()
            )));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(node_err)?
            .port();
        let anvil = Anvil::at(&path)
            .port(port)
            .arg("--host")
            .arg("127.0.0.1")
            .try_spawn()
            .map_err(node_err)?;
        let key = anvil
            .keys()
            .first()
            .cloned()
            .ok_or_else(|| EvmError::Node("anvil gave no keys".into()))?;
        let url = anvil.endpoint();
        Ok(Self {
            _anvil: Some(anvil),
            url,
            signer: Some(PrivateKeySigner::from(key)),
            rt: runtime()?,
        })
    }

    /// Connects to an existing node (read-only: calls, no transactions).
    pub fn connect(url: &str) -> Result<Self> {
        Ok(Self {
            _anvil: None,
            url: url.to_string(),
            signer: None,
            rt: runtime()?,
        })
    }

    /// The node's RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn parse_url(&self) -> Result<alloy::transports::http::reqwest::Url> {
        self.url
            .parse()
            .map_err(|e| EvmError::Node(format!("bad RPC URL '{}': {e}", self.url)))
    }

    /// Sends a transaction (deployment if `to` is `None`) and waits for its receipt.
    fn send(&self, to: Option<Address>, data: &[u8]) -> Result<(Receipt, Option<Address>)> {
        let signer = self
            .signer
            .clone()
            .ok_or_else(|| EvmError::Node("no signer for this node".into()))?;
        let url = self.parse_url()?;
        self.rt.block_on(async move {
            let provider = ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(url);
            let tx = match to {
                Some(addr) => TransactionRequest::default()
                    .with_to(addr)
                    .with_input(Bytes::copy_from_slice(data)),
                None => {
                    TransactionRequest::default().with_deploy_code(Bytes::copy_from_slice(data))
                }
            }
            .with_gas_limit(30_000_000);
            let receipt = provider
                .send_transaction(tx)
                .await
                .map_err(node_err)?
                .get_receipt()
                .await
                .map_err(node_err)?;
            Ok((
                Receipt {
                    success: receipt.status(),
                    gas_used: receipt.gas_used,
                },
                receipt.contract_address,
            ))
        })
    }

    /// Deploys creation code; returns the address and the receipt.
    pub fn deploy(&self, creation: &[u8]) -> Result<(Address, Receipt)> {
        match self.send(None, creation)? {
            (r, Some(addr)) if r.success => Ok((addr, r)),
            (r, _) => Err(EvmError::Deploy(format!(
                "deployment failed on the node after {} gas",
                r.gas_used
            ))),
        }
    }

    /// Sends a transaction to `to` and returns its receipt (a revert is `success: false`).
    pub fn transact(&self, to: Address, data: &[u8]) -> Result<Receipt> {
        Ok(self.send(Some(to), data)?.0)
    }

    /// `eth_call`: `Ok(true)` if the call returns, `Ok(false)` if it reverts.
    pub fn call(&self, to: Address, data: &[u8]) -> Result<bool> {
        Ok(self.call_output(to, data)?.is_some())
    }

    /// `eth_call`: the returned data, or `None` if the call reverts.
    pub fn call_output(&self, to: Address, data: &[u8]) -> Result<Option<Vec<u8>>> {
        let url = self.parse_url()?;
        self.rt.block_on(async move {
            let provider = ProviderBuilder::new().connect_http(url);
            match provider.call(call_request(to, data)).await {
                Ok(out) => Ok(Some(out.to_vec())),
                Err(e) if e.as_error_resp().is_some() => Ok(None),
                Err(e) => Err(node_err(e)),
            }
        })
    }

    /// `eth_getCode`: the runtime code at `at` (empty for an account without code).
    pub fn code_at(&self, at: Address) -> Result<Vec<u8>> {
        let url = self.parse_url()?;
        self.rt.block_on(async move {
            let provider = ProviderBuilder::new().connect_http(url);
            let code = provider.get_code_at(at).await.map_err(node_err)?;
            Ok(code.to_vec())
        })
    }

    /// `eth_estimateGas` of a call (`None` if it reverts).
    pub fn estimate_gas(&self, to: Address, data: &[u8]) -> Result<Option<u64>> {
        let url = self.parse_url()?;
        self.rt.block_on(async move {
            let provider = ProviderBuilder::new().connect_http(url);
            match provider.estimate_gas(call_request(to, data)).await {
                Ok(g) => Ok(Some(g)),
                Err(e) if e.as_error_resp().is_some() => Ok(None),
                Err(e) => Err(node_err(e)),
            }
        })
    }
}

/// A call of `to` with `data` (for eth_call and eth_estimateGas).
fn call_request(to: Address, data: &[u8]) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::copy_from_slice(data))
}
