#!/usr/bin/env bash
# Set up (first time only) and run the curation pipeline on the embedded demo corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""
.venv/bin/corpusforge curate --config configs/local.yaml "$@"
