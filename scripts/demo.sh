#!/usr/bin/env bash
# The main job end to end on the bundled models: compile, dev SRS, setup, prove, verify,
# and the Solidity verifier (generated, compiled with the pinned solc-js, checked in revm).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix verifier-contract --no-audit --no-fund --loglevel=error
cargo build --release --bin zkonnx
Z=target/release/zkonnx
echo "== mlp_digits: prove, verify natively, and verify on the EVM (compact Solidity verifier)"
$Z run models/mlp_digits.onnx --input models/mlp_digits.input.json --workdir work/mlp_digits --evm
$Z verify --proof work/mlp_digits/proof.json --vk work/mlp_digits/vk.bin --settings work/mlp_digits/settings.json
$Z evm-verify --proof work/mlp_digits/proof.json --verifier work/mlp_digits/Verifier.bin
echo "== mlp_digits laid out for on-chain gas (--objective gas: the lean layout), verified on the EVM"
$Z run models/mlp_digits.onnx --input models/mlp_digits.input.json --workdir work/mlp_digits_gas --evm --objective gas
echo "== tiny_mlp: the same, with snark-verifier's unrolled verifier measured for comparison"
$Z run models/tiny_mlp.onnx --input models/tiny_mlp.input.json --workdir work/tiny_mlp --evm --compare-verifiers
$Z evm-verify --proof work/tiny_mlp/proof.json --verifier work/tiny_mlp/Verifier.bin
echo "== reports: work/mlp_digits/report.json, work/mlp_digits_gas/report.json, work/tiny_mlp/report.json"
