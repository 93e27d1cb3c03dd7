//! Compiling Solidity with solc (native) or solc-js (the npm package pinned in
//! `verifier-contract/package.json`), both through the standard-JSON interface.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::{EvmError, Result};

/// A Solidity compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solc {
    /// A native `solc` binary.
    Native(PathBuf),
    /// solc-js through `node scripts/solc.js`.
    SolcJs {
        /// The shim script (next to its `node_modules`).
        script: PathBuf,
    },
}

/// Creation and runtime bytecode and ABI of one contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// Creation (deployment) bytecode.
    pub creation: Vec<u8>,
    /// Runtime bytecode (what EIP-170 limits).
    pub runtime: Vec<u8>,
    /// ABI (JSON).
    pub abi: Value,
}

/// The directory of this crate's npm package.
pub fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

impl Solc {
    /// Finds a compiler: `$ZKONNX_SOLC`, else the pinned solc-js if installed, else `solc` on PATH.
    pub fn find() -> Result<Self> {
        if let Some(p) = std::env::var_os("ZKONNX_SOLC") {
            return Ok(Solc::Native(PathBuf::from(p)));
        }
        let dir = package_dir();
        if dir.join("node_modules/solc/package.json").is_file() && on_path("node").is_some() {
            return Ok(Solc::SolcJs {
                script: dir.join("scripts/solc.js"),
            });
        }
        on_path("solc")
            .map(Solc::Native)
            .ok_or(EvmError::NoCompiler)
    }

    /// Runs the compiler on a standard-JSON input.
    fn standard_json(&self, input: &Value) -> Result<Value> {
        let (program, mut cmd) = match self {
            Solc::Native(p) => {
                let mut c = Command::new(p);
                c.arg("--standard-json");
                (p.display().to_string(), c)
            }
            Solc::SolcJs { script } => {
                let mut c = Command::new("node");
                c.arg(script);
                ("node (solc-js)".to_string(), c)
            }
        };
        let spawn_err = |source| EvmError::Spawn {
            program: program.clone(),
            source,
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        child
            .stdin
            .take()
            .ok_or_else(|| EvmError::Compile("no stdin".into()))?
            .write_all(input.to_string().as_bytes())
            .map_err(spawn_err)?;
        let out = child.wait_with_output().map_err(spawn_err)?;
        if !out.status.success() {
            return Err(EvmError::Compile(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| EvmError::Compile(format!("unreadable compiler output: {e}")))
    }

    /// Compiles `source` (file name `file`) and returns contract `name`. The optimizer stays off:
    /// snark-verifier's verifier is one large assembly block that the legacy optimizer cannot
    /// fit into the stack ("stack too deep"), and its code is already hand-scheduled.
    pub fn compile(&self, file: &str, source: &str, name: &str) -> Result<Compiled> {
        self.compile_with(file, source, name, false)
    }

    /// As [`Solc::compile`], with the legacy optimizer when `optimize`, tuned for runtime gas
    /// (`runs` = 10^6: with fewer runs it rewrites 256-bit constants into cheaper-to-deploy
    /// code that doubles the gas of field arithmetic in assembly loops — measured).
    pub fn compile_with(
        &self,
        file: &str,
        source: &str,
        name: &str,
        optimize: bool,
    ) -> Result<Compiled> {
        let input = json!({
            "language": "Solidity",
            "sources": { file: { "content": source } },
            "settings": {
                "optimizer": { "enabled": optimize, "runs": 1000000 },
                "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
            }
        });
        let out = self.standard_json(&input)?;
        let errors: Vec<String> = out["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["severity"] == "error")
                    .map(|e| {
                        e["formattedMessage"]
                            .as_str()
                            .unwrap_or("error")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(EvmError::Compile(errors.join("\n")));
        }
        let c = &out["contracts"][file][name];
        let hexfield = |v: &Value| -> Result<Vec<u8>> {
            hex::decode(v.as_str().unwrap_or_default())
                .map_err(|e| EvmError::Compile(format!("bad bytecode hex: {e}")))
        };
        let creation = hexfield(&c["evm"]["bytecode"]["object"])?;
        if creation.is_empty() {
            return Err(EvmError::Compile(format!(
                "contract {name} not found in the compiler output"
            )));
        }
        Ok(Compiled {
            creation,
            runtime: hexfield(&c["evm"]["deployedBytecode"]["object"])?,
            abi: c["abi"].clone(),
        })
    }
}

/// Reads bytecode written as hex (with or without `0x`, whitespace ignored).
pub fn read_hex_file(path: &Path) -> Result<Vec<u8>> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| EvmError::Format(format!("{}: {e}", path.display())))?;
    let t: String = s.split_whitespace().collect();
    hex::decode(t.strip_prefix("0x").unwrap_or(&t))
        .map_err(|e| EvmError::Format(format!("{}: not hex bytecode: {e}", path.display())))
}
