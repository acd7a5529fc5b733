#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Headless Chromium renders report.html in tests/test_report.py and drives serve-protect's page in
# tests/test_serve_protect.py through chromium-driver (test-only: the pipeline never needs them).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "[test] installing chromium and chromium-driver (headless browser for the report and web page tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export HF_HUB_OFFLINE=1 TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""
# Two test processes, each test file on one of them (module fixtures such as the demo run are built once):
# 15m50s -> 9m13s on 2 cores. `bash scripts/test.sh -n 0` runs everything in one process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 -n 2 --dist loadfile "$@"
