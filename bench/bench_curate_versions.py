"""Throughput of the per-document stages of two checkouts of corpusforge on the same documents, in one run.

    .venv/bin/python bench/bench_curate_versions.py --base /path/to/older/checkout [--corpus DIR] [--rounds 3]

Runs the in-process loop of bench_curate.py (read + every per-document stage of the default config, no
Beam) for the older checkout and this one, alternately (A B A B ...) so machine load hits both alike, each
in its own Python process, and prints documents/s and the ratio new / base (median over rounds). Used for
issue 10's "no loss of speed" check: the per-language rules must not slow the stages down.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench_curate import cfg_for, bench_loop
import glob
files = sorted(glob.glob(sys.argv[2] + "/*.jsonl*"))
cfg = cfg_for(files, "/tmp/unused", 1, "in_memory")
secs, n, kept = bench_loop(cfg, files)
print(json.dumps({"seconds": secs, "docs": n, "kept": kept}))
'''


def run_version(checkout: Path, corpus: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout / "bench"), corpus], cwd=checkout,
                         env={"PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1",
                              "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "PATH": "/usr/bin:/bin"},
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the older checkout (e.g. `git worktree add /tmp/base HEAD~5`)")
    ap.add_argument("--corpus", default=None, help="JSONL directory (default: bench_curate's generated corpus)")
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    corpus = args.corpus
    if corpus is None:
        corpus = f"/tmp/corpusforge-bench-versions-{args.docs}"
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_curate import make_corpus

        make_corpus(args.docs, Path(corpus))
    rates = {"base": [], "new": []}
    for _ in range(args.rounds):
        for name, checkout in (("base", Path(args.base)), ("new", ROOT)):
            r = run_version(checkout, corpus)
            rates[name].append(r["docs"] / r["seconds"])
            print(f"{name}: {r['docs']} docs in {r['seconds']:.2f} s ({rates[name][-1]:.1f} docs/s), {r['kept']} kept",
                  flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"corpus": corpus, "base_docs_per_s": round(med["base"], 1),
                      "new_docs_per_s": round(med["new"], 1), "new_over_base": round(med["new"] / med["base"], 3)}))


if __name__ == "__main__":
    main()
