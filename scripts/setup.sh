#!/usr/bin/env bash
# Sets up everything corpusforge needs on a fresh Debian/Ubuntu machine (idempotent; re-runs are quick):
# apt build dependencies, a Python 3.11 venv in .venv with the pinned requirements, KenLM's lmplz, and the
# demo perplexity models trained from the embedded reference text.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PKGS="build-essential cmake zlib1g-dev libbz2-dev liblzma-dev libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[setup] installing apt packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
  done
fi
stamp=".venv/.corpusforge-requirements"
want=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # The venv takes ~8 GB (torch 2.14.1 from the local wheel is a CUDA build: ~5.5 GB with its nvidia-*
  # libraries). Say so before pip runs out of space half-way with "[Errno 28] No space left on device".
  free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
  need_kb=$((10 * 1024 * 1024))
  if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ] && [ ! -x .venv/bin/python ]; then
    echo "[setup] error: $((free_kb / 1024 / 1024)) GB free on $(df -P . | awk 'NR==2 {print $6}'), the new .venv needs about 10 GB." >&2
    echo "[setup] free some space (old clones, runs/, /tmp) and run this again." >&2
    exit 1
  fi
  echo "[setup] creating .venv with $($PY --version) and installing pinned requirements (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip wheel setuptools
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
else
  echo "[setup] .venv is up to date"
fi

if [ -x scripts/build_kenlm.sh ] || [ -f scripts/build_kenlm.sh ]; then
  bash scripts/build_kenlm.sh
fi
if [ -f scripts/train_demo_lms.sh ]; then
  bash scripts/train_demo_lms.sh
fi
# The offline surrogate CLIP of `corpusforge protect-photos` (about 3 minutes on 2 cores), only when missing.
[ -f models/surrogate/cf-tiny-benchmark.pt ] || HF_HUB_OFFLINE=1 .venv/bin/python scripts/build_surrogate.py
echo "[setup] done: activate with 'source $ROOT/.venv/bin/activate'"
