#!/usr/bin/env bash
# Installs what the tests need (the pinned solc-js and anvil from npm) and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix verifier-contract --no-audit --no-fund --loglevel=error
cargo test --release --workspace
