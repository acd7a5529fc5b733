#!/usr/bin/env bash
# Build KenLM's training tools (lmplz, build_binary) for `corpusforge train-lm`. Idempotent.
#
# The kenlm PyPI package only ships the query module; its sdist holds the full C++ source, so we build the two
# programs from it with cmake. Debian bookworm ships no kenlm package; if a later release does, it is used.
#
# Needs: cmake, g++, libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev,
#        zlib1g-dev libbz2-dev liblzma-dev (apt-get install them first).
# Usage: scripts/build_kenlm.sh [BIN_DIR]
#   BIN_DIR defaults to $CORPUSFORGE_HOME/kenlm/bin, else ~/.cache/corpusforge/kenlm/bin.
#   Env: KENLM_VERSION (0.3.0), BUILD_JOBS (2), PYTHON (python used for `pip download`).
# Prints the directory holding lmplz and build_binary on its last line.
set -euo pipefail

KENLM_VERSION="${KENLM_VERSION:-0.3.0}"
BUILD_JOBS="${BUILD_JOBS:-2}"
home="${CORPUSFORGE_HOME:-$HOME/.cache/corpusforge}"
bin_dir="${1:-$home/kenlm/bin}"
work_dir="$(dirname "$bin_dir")/src"

if [[ -x "$bin_dir/lmplz" && -x "$bin_dir/build_binary" ]]; then
  echo "kenlm: lmplz and build_binary already built" >&2
  echo "$bin_dir"
  exit 0
fi

# A distribution package, where one exists, is simpler than building.
if command -v apt-cache >/dev/null 2>&1 && apt-cache show kenlm >/dev/null 2>&1 \
    && apt-cache show kenlm 2>/dev/null | grep -q lmplz; then
  apt-get install -y kenlm >&2
  mkdir -p "$bin_dir"
  ln -sf "$(command -v lmplz)" "$bin_dir/lmplz"
  ln -sf "$(command -v build_binary)" "$bin_dir/build_binary"
  echo "$bin_dir"
  exit 0
fi

for tool in cmake c++; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "kenlm: '$tool' not found; apt-get install cmake g++ libboost-program-options-dev libboost-system-dev" \
         "libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev" >&2
    exit 1
  }
done

if [[ -z "${PYTHON:-}" ]]; then
  repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [[ -x "$repo_root/.venv/bin/python" ]]; then PYTHON="$repo_root/.venv/bin/python"; else PYTHON=python3; fi
fi

mkdir -p "$work_dir"
sdist="$work_dir/kenlm-$KENLM_VERSION.tar.gz"
if [[ ! -s "$sdist" ]]; then
  # --no-binary kenlm (not :all:) so pip does not also compile its build tools (setuptools, cmake) from source.
  "$PYTHON" -m pip download --quiet --no-deps --no-binary kenlm --no-build-isolation \
    "kenlm==$KENLM_VERSION" -d "$work_dir" >&2
fi
src="$work_dir/kenlm-$KENLM_VERSION"
[[ -d "$src" ]] || tar xzf "$sdist" -C "$work_dir"

start=$(date +%s)
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 >&2
cmake --build "$src/build" --target lmplz build_binary -j "$BUILD_JOBS" >&2
mkdir -p "$bin_dir"
install -m 0755 "$src/build/bin/lmplz" "$src/build/bin/build_binary" "$bin_dir/"
echo "kenlm: built lmplz and build_binary in $(( $(date +%s) - start ))s with $BUILD_JOBS jobs" >&2
echo "$bin_dir"
