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
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/gpu-check}
SHARED=${SHARED:-../shared/models}
MODELS=${MODELS:-"mlp_digits mlp_wide lenet tiny_transformer"}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader | tee "$OUT/device.txt"
command -v nvcc >/dev/null || bash scripts/install-cuda.sh
export CUDA_ARCH=${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}
[ -d verifier-contract/node_modules ] || npm ci --prefix verifier-contract --silent
bash scripts/build-cuda.sh
CARGO_CMD=test bash scripts/build-cuda.sh -- --nocapture
Z=target/release/zkonnx

echo '| model | k | prove CPU s | prove GPU s | speed-up | host peak CPU MB | host peak GPU MB | device peak MiB | GPU proof verifies (native, revm) |' > "$OUT/gpu.md"
echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- |' >> "$OUT/gpu.md"
echo '[' > "$OUT/gpu.json"
first=1
for m in $MODELS; do
  d="$OUT/$m"
  rm -rf "$d"; mkdir -p "$d"
  $Z compile "$SHARED/$m.onnx" --input "$SHARED/$m.input.json" -o "$d" > "$d/compile.log" 2>&1
  k=$(python3 -c "import json,sys; print(json.load(open('$d/settings.json'))['shape']['k'])")
  $Z srs gen --k "$k" -o "$d/srs.bin" > /dev/null 2>&1
  $Z setup --dir "$d" --srs "$d/srs.bin" > "$d/setup.log" 2>&1
  for dev in cpu cuda; do
    /usr/bin/time -f "%e %M" -o "$d/$dev.time" \
      $Z prove --dir "$d" --srs "$d/srs.bin" --input "$SHARED/$m.input.json" --device "$dev" \
      -o "$d/proof-$dev.json" > "$d/prove-$dev.log" 2>&1 &
    pid=$!
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$d/$dev.smi" &
    smi=$!
    wait "$pid"
    kill "$smi" 2>/dev/null || true; wait "$smi" 2>/dev/null || true
  done
  native=no; evm=no
  $Z verify --proof "$d/proof-cuda.json" --vk "$d/vk.bin" --settings "$d/settings.json" > /dev/null 2>&1 && native=yes
  $Z evm-verifier --vk "$d/vk.bin" --settings "$d/settings.json" -o "$d/Verifier.sol" > /dev/null 2>&1
  $Z evm-verify --proof "$d/proof-cuda.json" --verifier "$d/Verifier.bin" --settings "$d/settings.json" > "$d/evm.log" 2>&1 && evm=yes
  read -r cpu_s cpu_kb < "$d/cpu.time"
  read -r gpu_s gpu_kb < "$d/cuda.time"
  dev_mib=$(sort -n "$d/cuda.smi" | tail -1)
  base_mib=$(sort -n "$d/cpu.smi" | tail -1)
  row=$(python3 - "$m" "$k" "$cpu_s" "$gpu_s" "$cpu_kb" "$gpu_kb" "$dev_mib" "$base_mib" "$native" "$evm" <<'PY'
import json, sys
m, k, cs, gs, ck, gk, dm, bm, nat, evm = sys.argv[1:]
r = {"model": m, "k": int(k), "prove_cpu_s": float(cs), "prove_gpu_s": float(gs),
     "host_peak_cpu_mb": int(ck) / 1024, "host_peak_gpu_mb": int(gk) / 1024,
     "device_peak_mib": int(dm) - int(bm), "gpu_proof_native": nat == "yes", "gpu_proof_evm": evm == "yes"}
print(json.dumps(r))
PY
)
  [ $first = 1 ] || echo ',' >> "$OUT/gpu.json"; first=0
  echo "$row" >> "$OUT/gpu.json"
  python3 - "$row" >> "$OUT/gpu.md" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['model']} | {r['k']} | {r['prove_cpu_s']:.2f} | {r['prove_gpu_s']:.2f} | "
      f"{r['prove_cpu_s'] / max(r['prove_gpu_s'], 1e-9):.1f}x | {r['host_peak_cpu_mb']:.0f} | "
      f"{r['host_peak_gpu_mb']:.0f} | {r['device_peak_mib']} | "
      f"{'yes' if r['gpu_proof_native'] else 'NO'}, {'yes' if r['gpu_proof_evm'] else 'NO'} |")
PY
  grep -h "^prover:" "$d/prove-cuda.log" || true
done
echo ']' >> "$OUT/gpu.json"
cat "$OUT/gpu.md"
grep -q "NO" "$OUT/gpu.md" && { echo "a GPU proof did not verify with the CPU key" >&2; exit 1; }
exit 0
