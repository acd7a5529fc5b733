"""What-if for a filter setting, in seconds instead of a full `curate` run: the per-document stages of a config
(read, normalize, langid, the quality filters, perplexity; no dedup, no PII) applied in-process to the
development set, once per variant, then the real prose of at least 50 words kept per language and the planted
low-quality documents kept per category, side by side.

    .venv/bin/python bench/evaldev_whatif.py --variant base= --variant lid05=langid.threshold=0.5

Each `--variant NAME=KEY=VALUE[;KEY=VALUE...]` is a list of `--set` overrides on top of `--config` (an empty
list is the config as is). Dedup is left out, so the kept rates are upper bounds of a full run's
`real_prose_by_language.*.kept_rate_50w`; use `score.py` on a real run for the numbers to report. The words of
a document are counted as the scorer counts them (whitespace words; Chinese and Japanese: characters / 2).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


def first_verdicts(config: str, overrides: list[str], files: list[str]) -> dict[str, str]:
    """id -> "kept" or the reason of the first stage that dropped it."""
    from corpusforge.config import CurateConfig
    from corpusforge.config.base import load_config
    from corpusforge.io.readers import read_file
    from corpusforge.pipelines.curate import build_stages
    from corpusforge.records import Document

    cfg = load_config(config, ["langid.languages=null", f"input.paths={json.dumps(files)}", *overrides],
                      model=CurateConfig)
    stages = [t for t, _ in build_stages(cfg)]
    for t in stages:
        t.setup()
    out = {}
    for path in files:
        for rec in read_file(path, cfg.input):
            if not isinstance(rec, Document):
                continue
            doc, verdict = rec, "kept"
            for t in stages:
                res = t(doc)
                if not isinstance(res, Document):
                    verdict = res.reason
                    break
                doc = res
            out[rec.id] = verdict
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaldev", default=str(ROOT.parent / "shared" / "evaldev"))
    ap.add_argument("--config", default=str(ROOT / "configs" / "local.yaml"))
    ap.add_argument("--variant", action="append", required=True, metavar="NAME=OVERRIDES")
    args = ap.parse_args()
    data = Path(args.evaldev) / "data"
    files = sorted(glob.glob(str(data / "part-*.jsonl.gz")))
    truth = json.load(gzip.open(data / "truth.json.gz"))["docs"]
    long_prose = defaultdict(list)
    lowq = defaultdict(list)
    for f in files:
        for line in gzip.open(f, "rt", encoding="utf-8", errors="replace"):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            m = truth.get(d.get("id")) if isinstance(d, dict) else None
            if not m:
                continue
            if m.get("lowq"):
                lowq[m["lowq"]].append(d["id"])
            elif m["kind"] in ("base", "hard_negative"):
                text = d.get("text") or ""
                words = len(re.sub(r"\s", "", text)) // 2 if m["lang"] in ("ja", "zh") else len(text.split())
                if words >= 50:
                    long_prose[m["lang"]].append(d["id"])
    names, results = [], []
    for spec in args.variant:
        name, _, sets = spec.partition("=")
        t0 = time.perf_counter()
        results.append(first_verdicts(args.config, [s for s in sets.split(";") if s], files))
        names.append(name)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print("real prose >= 50 words kept (no dedup)")
    print("| language | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
    for lang in sorted(long_prose):
        ids = long_prose[lang]
        print(f"| {lang} | " + " | ".join(f"{sum(r.get(i) == 'kept' for i in ids) / len(ids):.3f}" for r in results) + " |")
    print("\nlow-quality documents kept")
    print("| category | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
    for cat in sorted(lowq):
        ids = lowq[cat]
        print(f"| {cat} | " + " | ".join(f"{sum(r.get(i) == 'kept' for i in ids)}/{len(ids)}" for r in results) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
