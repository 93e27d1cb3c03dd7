#!/usr/bin/env bash
# Builds zkonnx with its GPU route (`--features cuda`) and the CUDA prover's process
# `zkonnx-cuda` (cuda/, its own workspace, into the same target/release); no GPU is needed to
# compile.
# Installs the toolkit first if nvcc is missing (scripts/install-cuda.sh). CUDA_ARCH defaults
# to the GPU's compute capability (nvidia-smi), else 90 (H100/H200). nvcc 11.x is pointed at
# g++-11 (it refuses newer host compilers). Extra arguments go to cargo, e.g. `--bin zkonnx`
# (CARGO_CMD=test runs the tests instead: `CARGO_CMD=test scripts/build-cuda.sh --test gpu`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvcc >/dev/null 2>&1 || bash scripts/install-cuda.sh
if [ -z "${CUDA_ARCH:-}" ]; then
  CUDA_ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d . || true)
  CUDA_ARCH=${CUDA_ARCH:-90}
fi
export CUDA_ARCH
if nvcc --version | grep -q "release 11\." && command -v g++-11 >/dev/null 2>&1; then
  export CXX_x86_64_unknown_linux_gnu=${CXX_x86_64_unknown_linux_gnu:-g++-11}
  export CC_x86_64_unknown_linux_gnu=${CC_x86_64_unknown_linux_gnu:-gcc-11}
fi
echo "CUDA_ARCH=$CUDA_ARCH, host compiler ${CXX_x86_64_unknown_linux_gnu:-default}" >&2
if [ "${CARGO_CMD:-build}" = test ]; then
  exec cargo test --release --manifest-path cuda/Cargo.toml --target-dir target "$@"
fi
cargo build --release --features cuda --bin zkonnx
cargo build --release --manifest-path cuda/Cargo.toml --target-dir target
ls -la target/release/zkonnx target/release/zkonnx-cuda
