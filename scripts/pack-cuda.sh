#!/usr/bin/env bash
# Builds (scripts/build-cuda.sh, nothing to do when current) and packs the CUDA build for a GPU
# machine that cannot build it (no Rust toolchain, no network): DIR/zkonnx, DIR/zkonnx-cuda,
# DIR/gpu-tests (the test binary of cuda/tests/gpu.rs), stripped, and DIR/lib/ with the CUDA
# runtime libraries they link (never the driver's libcuda.so.1, which the GPU machine has).
# Run there as
#   BIN=DIR SHARED=MODELS scripts/gpu-check.sh OUT
#
#   scripts/pack-cuda.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: scripts/pack-cuda.sh DIR}
mkdir -p "$DIR/lib"
# The CUDA build of both binaries: a plain `cargo build` since then may have replaced zkonnx
# with one that has no GPU route.
bash scripts/build-cuda.sh
for b in zkonnx zkonnx-cuda; do
  cp "target/release/$b" "$DIR/$b"
done
log=$(mktemp)
tests=$(CARGO_CMD=test bash scripts/build-cuda.sh --no-run --message-format=json 2>"$log" |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gpu":
        print(m["executable"])') || true
[ -n "$tests" ] || { cat "$log" >&2; echo "no test binary for cuda/tests/gpu.rs" >&2; exit 2; }
rm -f "$log"
cp "$tests" "$DIR/gpu-tests"
strip "$DIR/zkonnx" "$DIR/zkonnx-cuda" "$DIR/gpu-tests"
for b in "$DIR/zkonnx-cuda" "$DIR/gpu-tests"; do
  ldd "$b" | awk '/=> \// {print $3}' | grep -E '/libcu[a-z]*\.so' | grep -v '/libcuda\.so' || true
done | sort -u | while read -r lib; do cp -L "$lib" "$DIR/lib/"; done
ls -la "$DIR" "$DIR/lib"
