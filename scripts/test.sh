#!/usr/bin/env bash
# Installs what the tests need (the pinned solc-js and anvil from npm, ONNX's backend test data
# from the pinned PyPI `onnx` wheel) and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix verifier-contract --no-audit --no-fund --loglevel=error
./scripts/conformance-data.sh
cargo test --release --workspace
