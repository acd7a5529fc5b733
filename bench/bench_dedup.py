#!/usr/bin/env python3
"""Dedup benchmark: signatures and the whole Beam dedup vs datasketch's plain usage, on a planted set.

    .venv/bin/python bench/bench_dedup.py --originals 30000      # ~60k documents

Corpus: documents composed of real demo paragraphs (tests/dedup_planted.py), half of them with 1-3 planted
variants (word edits, reordered paragraphs, boilerplate headers, exact copies) and a quarter carrying a
shared cookie banner (hard negatives). Measured in the same run:
  * signatures: corpusforge's batched `minhash_signatures` vs datasketch `MinHash.update` per shingle (the
    README loop, timed on a sample) and `MinHash.update_batch` per document, shingling included in all;
  * whole dedup: `Deduplicate` (exact + MinHash LSH + connected components) on the FnApiRunner, vs datasketch
    MinHashLSH insert + query per document and a union-find over the query results;
  * precision / recall / F1 of duplicate documents for both.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from datasketch import MinHash, MinHashLSH  # noqa: E402

from corpusforge.config import DedupConfig  # noqa: E402
from corpusforge.transforms.dedup.lsh import components_union_find  # noqa: E402
from corpusforge.transforms.dedup.minhash import minhash_signatures  # noqa: E402
from corpusforge.transforms.dedup.shingles import shingles  # noqa: E402
from dedup_planted import composed_documents, duplicate_scores, planted_set, run_dedup  # noqa: E402


def _shingle_bytes(text: str) -> list[bytes]:
    return [s.encode("utf-8") for s in shingles(text)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--originals", type=int, default=30000)
    ap.add_argument("--update-sample", type=int, default=2000, help="docs timed with the per-shingle update loop")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    docs, cluster, _ = planted_set(composed_documents(args.originals, seed=args.seed), seed=args.seed)
    docs.sort(key=lambda d: d["id"])
    n = len(docs)
    cfg = DedupConfig(enabled=True)
    b, r = cfg.bands_rows()
    print(f"documents: {n} ({args.originals} originals); num_perm={cfg.num_perm} bands x rows = {b} x {r}")

    # ---- signatures
    t = time.perf_counter()
    for i in range(0, n, cfg.signature_batch_size):
        minhash_signatures([_shingle_bytes(d["text"]) for d in docs[i:i + cfg.signature_batch_size]], cfg.num_perm,
                           cfg.seed)
    ours_sig = n / (time.perf_counter() - t)
    sample = docs[: args.update_sample]
    t = time.perf_counter()
    for d in sample:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        for s in _shingle_bytes(d["text"]):
            m.update(s)
    ds_update = len(sample) / (time.perf_counter() - t)
    t = time.perf_counter()
    minhashes = []
    for d in docs:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch(_shingle_bytes(d["text"]))
        minhashes.append(m)
    ds_batch_sig_s = time.perf_counter() - t
    ds_batch = n / ds_batch_sig_s
    print(f"signatures docs/s: corpusforge {ours_sig:,.0f} | datasketch update loop {ds_update:,.0f} "
          f"(x{ours_sig / ds_update:.1f}) | datasketch update_batch {ds_batch:,.0f} (x{ours_sig / ds_batch:.1f})")

    # ---- datasketch plain LSH: insert + query, union-find over the results
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    for d, m in zip(docs, minhashes):
        lsh.insert(d["id"], m)
    edges = []
    for d, m in zip(docs, minhashes):
        edges += [(d["id"], o) for o in lsh.query(m) if o != d["id"]]
    comp = components_union_find(edges)
    ds_dropped = {x: rep for x, rep in comp.items() if x != rep}
    ds_total = ds_batch_sig_s + time.perf_counter() - t
    ds_scores = duplicate_scores(ds_dropped, cluster)
    print(f"datasketch MinHashLSH (update_batch + insert/query + union-find): {n / ds_total:,.0f} docs/s, "
          f"P={ds_scores['precision']:.4f} R={ds_scores['recall']:.4f} F1={ds_scores['f1']:.4f}")

    # ---- corpusforge Deduplicate on Beam
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = run_dedup(docs, cfg, os.path.join(tmp, "out"), num_workers=args.workers,
                        mode="multi_processing" if args.workers > 1 else "in_memory")
        ours_total = time.perf_counter() - t
    scores = duplicate_scores({d["id"]: d["duplicate_of"] for d in res["dropped"]}, cluster)
    print(f"corpusforge Deduplicate (FnApiRunner, {args.workers} worker(s), exact + MinHash LSH + CC, "
          f"includes Beam start-up and JSON sinks): {n / ours_total:,.0f} docs/s ({ours_total:.1f} s), "
          f"P={scores['precision']:.4f} R={scores['recall']:.4f} F1={scores['f1']:.4f}, "
          f"CC rounds used {res['rounds']}, true duplicates {scores['true_duplicates']}")
    print(f"cluster sizes: {res['cluster_sizes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
