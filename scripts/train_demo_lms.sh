#!/usr/bin/env bash
# Train the demo perplexity models (SentencePiece + KenLM 5-gram per language) into models/demo_lm/ from the
# clean reference text in data/lm_reference/<lang>.jsonl (built by scripts/build_lm_reference.py).
# Idempotent: a language whose model card is newer than its reference is skipped. Needs lmplz
# (scripts/build_kenlm.sh builds it). Usage: scripts/train_demo_lms.sh [OUT_DIR] (default models/demo_lm)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-models/demo_lm}"
py=".venv/bin/python"
[[ -x "$py" ]] || py=python3
if [[ -z "${CORPUSFORGE_KENLM_BIN:-}" ]] && ! command -v lmplz >/dev/null 2>&1; then
  CORPUSFORGE_KENLM_BIN="$(bash scripts/build_kenlm.sh | tail -n 1)"
  export CORPUSFORGE_KENLM_BIN
fi
mkdir -p "$out"
for ref in data/lm_reference/*.jsonl; do
  lang="$(basename "$ref" .jsonl)"
  card="$out/$lang.model_card.json"
  if [[ -f "$card" && "$card" -nt "$ref" && -f "$out/$lang.arpa.bin" && -f "$out/$lang.sp.model" ]]; then
    echo "[train_demo_lms] $lang: up to date"
    continue
  fi
  "$py" -m corpusforge.cli train-lm --lang "$lang" --input "$ref" --out "$out"
done
