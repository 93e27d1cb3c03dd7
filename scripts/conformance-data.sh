#!/usr/bin/env bash
# Fetches ONNX's own backend test data (the pinned PyPI `onnx` wheel; only its data files are
# used) and unpacks its `pytorch-converted`, `pytorch-operator` and `simple` suites
# (`onnx/backend/test/data/*`) into target/conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."
ONNX_VERSION=1.23.2
dest=target/conformance
if [ -f "$dest/.onnx-$ONNX_VERSION-suites" ]; then
  exit 0
fi
mkdir -p "$dest/wheel"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  "onnx==$ONNX_VERSION" -d "$dest/wheel"
python3 - "$dest" <<'PY'
import glob, os, sys, zipfile
dest = sys.argv[1]
whl = sorted(glob.glob(os.path.join(dest, "wheel", "onnx-*.whl")))[-1]
root = "onnx/backend/test/data/"
suites = ("pytorch-converted", "pytorch-operator", "simple")
n = 0
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        rel = name[len(root):] if name.startswith(root) else ""
        if rel.split("/")[0] in suites and not name.endswith("/"):
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(z.read(name))
            n += 1
print(f"conformance data: {n} files from {os.path.basename(whl)}")
PY
rm -rf "$dest/wheel"
touch "$dest/.onnx-$ONNX_VERSION-suites"
