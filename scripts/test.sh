#!/usr/bin/env bash
# Installs what the tests need (the pinned solc-js and anvil from npm, ONNX's backend test data
# from the pinned PyPI `onnx` wheel) and runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix verifier-contract --no-audit --no-fund --loglevel=error
./scripts/conformance-data.sh
cargo test --release --workspace
# The Python package (PyO3 + maturin; the build reuses the release artifacts above) and its
# tests, split proving on a local Ray among them, in a virtual environment of their own.
python3 -m venv target/pyenv
target/pyenv/bin/pip install --quiet --disable-pip-version-check ./python "pytest==8.4.2" "ray==2.52.1"
RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=0 target/pyenv/bin/python -m pytest -q python/tests
