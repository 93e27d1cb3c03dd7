#!/usr/bin/env bash
# Installs a CUDA toolkit (nvcc) on a Debian 12 machine, with or without a GPU, so that
# `cargo build --release --features cuda` can compile halo2-axiom-gpu's kernels. Debian ships
# nvidia-cuda-toolkit 11.8 in its `non-free` component (nvcc 11.8 targets sm_90: H100/H200).
# nvcc 11.8 accepts host compilers up to gcc 11, so g++-11 comes too (Debian 12's default is
# 12); scripts/build-cuda.sh points nvcc at it. Idempotent; needs root (or sudo). Prints the
# nvcc version at the end.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
if ! command -v nvcc >/dev/null 2>&1; then
  list=/etc/apt/sources.list.d/zkonnx-non-free.sources
  if [ ! -f "$list" ]; then
    $SUDO tee "$list" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    nvidia-cuda-toolkit nvidia-cuda-dev
fi
if ! command -v g++-11 >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends g++-11
fi
nvcc --version | tail -2
