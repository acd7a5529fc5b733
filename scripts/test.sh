#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@"
