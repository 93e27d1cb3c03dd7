#!/usr/bin/env bash
# The GPU prover check, for a machine with an NVIDIA GPU (see docs/bench-results.md).
#
# Builds zkonnx with `--features cuda` (installing the CUDA toolkit first if nvcc is missing),
# runs the feature's tests, then for each of the four first shared models: compiles it, makes
# the keys once on the CPU, proves on the CPU and on the GPU, checks that the GPU proof verifies
# with the CPU-made vk.bin natively and with the Solidity verifier in revm, and records prove
# time, peak host memory (of the prove process) and peak device memory (nvidia-smi, sampled
# every 100 ms). Writes OUT/gpu.md (a table) and OUT/gpu.json.
#
#   scripts/gpu-check.sh [OUT]        (default OUT=target/gpu-check; SHARED=../shared/models)
#
# On a GPU machine that cannot build (no Rust toolchain, no network), BIN=DIR runs binaries
# packed elsewhere by scripts/pack-cuda.sh instead: DIR/zkonnx and DIR/zkonnx-cuda beside it,
# DIR/lib (the CUDA runtime they link) and DIR/gpu-tests (the test binary of cuda/tests/gpu.rs;
# the check fails without it unless SKIP_TESTS=1). The compact verifier's
# bytecode is committed, so no Solidity compiler is needed either. COMPILE_ARGS go to every
# `zkonnx compile` (e.g. "--objective gas": larger k); SKIP_TESTS=1 skips the feature's tests.
set -euo pipefail
if [ -n "${BIN:-}" ]; then
  BIN=$(cd "$BIN" && pwd)
  export LD_LIBRARY_PATH="$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
cd "$(dirname "$0")/.."
OUT=${1:-target/gpu-check}
SHARED=${SHARED:-../shared/models}
MODELS=${MODELS:-"mlp_digits mlp_wide lenet tiny_transformer"}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv,noheader | tee "$OUT/device.txt"
if [ -n "${BIN:-}" ]; then
  Z=$BIN/zkonnx
  if [ -n "${SKIP_TESTS:-}" ]; then
    echo "test result: ok (SKIP_TESTS: not run)" > "$OUT/tests.log"
  elif [ -x "$BIN/gpu-tests" ]; then
    ZKONNX_SHARED_MODELS=$SHARED "$BIN/gpu-tests" --nocapture --test-threads 1 2>&1 | tee "$OUT/tests.log" || true
  else
    echo "no $BIN/gpu-tests: the feature's tests were not run" | tee "$OUT/tests.log" || true
  fi
else
  command -v nvcc >/dev/null || bash scripts/install-cuda.sh
  export CUDA_ARCH=${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}
  bash scripts/build-cuda.sh
  CARGO_CMD=test bash scripts/build-cuda.sh -- --nocapture 2>&1 | tee "$OUT/tests.log" || true
  Z=target/release/zkonnx
fi

# timed OUT_FILE CMD...: runs CMD, writes "wall_s peak_rss_kb exit_code" (peak over the
# process and the processes it waited for, zkonnx-cuda included); python, since not every GPU
# image has /usr/bin/time.
timed() {
  python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:])
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{time.monotonic() - t:.3f} {kb} {rc}\n")
sys.exit(rc)' "$@"
}

echo '| model | k | prove CPU s (in process) | prove GPU s (in process) | speed-up | host peak CPU MB | host peak GPU MB | device peak MiB | GPU proof verifies (native, revm) |' > "$OUT/gpu.md"
echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- |' >> "$OUT/gpu.md"
echo '[' > "$OUT/gpu.json"
first=1
failed=0
for m in $MODELS; do
  d="$OUT/$m"
  rm -rf "$d"; mkdir -p "$d"
  # shellcheck disable=SC2086 # COMPILE_ARGS (e.g. "--objective gas" for larger circuits) splits
  $Z compile "$SHARED/$m.onnx" --input "$SHARED/$m.input.json" -o "$d" ${COMPILE_ARGS:-} > "$d/compile.log" 2>&1
  k=$(python3 -c "import json,sys; print(json.load(open('$d/settings.json'))['shape']['k'])")
  $Z srs gen --k "$k" -o "$d/srs.bin" > /dev/null 2>&1
  $Z setup --dir "$d" --srs "$d/srs.bin" > "$d/setup.log" 2>&1
  for dev in cpu cuda; do
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$d/$dev.smi" &
    smi=$!
    timed "$d/$dev.time" $Z prove --dir "$d" --srs "$d/srs.bin" --input "$SHARED/$m.input.json" \
      --device "$dev" -o "$d/proof-$dev.json" > "$d/prove-$dev.log" 2>&1 || true
    kill "$smi" 2>/dev/null || true; wait "$smi" 2>/dev/null || true
  done
  native=no; evm=no
  $Z verify --proof "$d/proof-cuda.json" --vk "$d/vk.bin" --settings "$d/settings.json" > /dev/null 2>&1 && native=yes
  $Z evm-verifier --vk "$d/vk.bin" --settings "$d/settings.json" -o "$d/Verifier.sol" > /dev/null 2>&1 || true
  $Z evm-verify --proof "$d/proof-cuda.json" --verifier "$d/Verifier.bin" --settings "$d/settings.json" > "$d/evm.log" 2>&1 && evm=yes
  grep -h "prover:" "$d/prove-cuda.log" || true
  row=$(python3 - "$m${COMPILE_ARGS:+ ($COMPILE_ARGS)}" "$k" "$d" "$native" "$evm" <<'PY'
import json, re, sys
m, k, d, nat, evm = sys.argv[1:]
def timing(dev):
    wall, kb, rc = open(f"{d}/{dev}.time").read().split()
    log = open(f"{d}/prove-{dev}.log").read()
    # the proving step alone, as the prover reports it ("prove (cuda): 1.23 s", "prove … 1.23 s")
    inner = [float(x) for x in re.findall(r"prove[^\n]*?([0-9]+\.[0-9]+) ?s", log)]
    return float(wall), (inner[-1] if inner else None), int(kb) / 1024, int(rc)
def smi(dev):
    vals = [int(v) for v in open(f"{d}/{dev}.smi").read().split() if v.isdigit()]
    return max(vals) if vals else 0
cw, ci, ck, crc = timing("cpu")
gw, gi, gk, grc = timing("cuda")
r = {"model": m, "k": int(k), "prove_cpu_wall_s": cw, "prove_cpu_s": ci, "prove_gpu_wall_s": gw,
     "prove_gpu_s": gi, "host_peak_cpu_mb": ck, "host_peak_gpu_mb": gk,
     "device_peak_mib": smi("cuda") - smi("cpu"), "cpu_exit": crc, "gpu_exit": grc,
     "gpu_proof_native": nat == "yes", "gpu_proof_evm": evm == "yes"}
print(json.dumps(r))
PY
)
  [ $first = 1 ] || echo ',' >> "$OUT/gpu.json"; first=0
  echo "$row" >> "$OUT/gpu.json"
  python3 - "$row" >> "$OUT/gpu.md" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
f = lambda wall, inner: f"{wall:.2f} ({inner:.2f})" if inner is not None else f"{wall:.2f}"
ci = r["prove_cpu_s"] or r["prove_cpu_wall_s"]
gi = r["prove_gpu_s"] or r["prove_gpu_wall_s"]
ok = r["gpu_exit"] == 0 and r["cpu_exit"] == 0
gpu = f(r['prove_gpu_wall_s'], r['prove_gpu_s']) if r["gpu_exit"] == 0 else f"failed ({r['gpu_exit']})"
print(f"| {r['model']} | {r['k']} | {f(r['prove_cpu_wall_s'], r['prove_cpu_s'])} | "
      f"{gpu} | {f'{ci / max(gi, 1e-9):.1f}x' if ok else '-'} | "
      f"{r['host_peak_cpu_mb']:.0f} | {r['host_peak_gpu_mb']:.0f} | {r['device_peak_mib']} | "
      f"{'yes' if r['gpu_proof_native'] else 'NO'}, {'yes' if r['gpu_proof_evm'] else 'NO'} |")
PY
  tail -1 "$OUT/gpu.md"
done
echo ']' >> "$OUT/gpu.json"
cat "$OUT/gpu.md"
if grep -q '"cpu_exit": [^0]' "$OUT/gpu.json"; then
  echo "a CPU proof failed: see $OUT/*/prove-cpu.log" >&2
  failed=1
fi
if grep -q "NO" "$OUT/gpu.md"; then
  echo "a GPU proof did not verify with the CPU key (or was not made): see $OUT/*/prove-cuda.log" >&2
  failed=1
fi
if ! grep -q "^test result: ok" "$OUT/tests.log" || grep -q "^test result: FAILED\|panicked\|abort\|skipped: " "$OUT/tests.log"; then
  echo "the feature's tests failed or skipped: see $OUT/tests.log" >&2
  failed=1
fi
exit $failed
