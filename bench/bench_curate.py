"""Throughput of the curate pipeline vs a plain in-process loop over the same transforms (and vs datatrove).

    .venv/bin/python bench/bench_curate.py --docs 20000

Prints documents/s and MB/s for:
  * loop:        read_file + the same transforms in one Python process (the floor Beam adds overhead to),
  * beam-1:      the curate pipeline on FnApiRunner, in_memory, 1 worker,
  * beam-2mp:    the same with direct_num_workers=2, multi_processing,
  * heuristics:  our Gopher/C4/FineWeb filters alone vs datatrove's filters on the same documents
                 (only when datatrove is importable: `pip install datatrove`, or --datatrove-path).
Ratios are against numbers measured in this same run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_corpus(n: int, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(out.glob("*.jsonl*"))
    if not files:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bench_corpus.py"), "--docs", str(n), "--out", str(out)],
                       check=True)
        files = sorted(out.glob("*.jsonl*"))
    return [str(f) for f in files]


def cfg_for(files: list[str], out: str, workers: int, mode: str):
    from corpusforge.config import CurateConfig

    return CurateConfig.model_validate({
        "input": {"paths": files},
        "output": {"dir": out, "num_shards": 4},
        "runner": {"runner": "FnApiRunner", "direct_num_workers": workers, "direct_running_mode": mode},
        "langid": {"languages": None},
        "report": False,
    })


def bench_loop(cfg, files) -> tuple[float, int, int]:
    from corpusforge.io.readers import read_file
    from corpusforge.pipelines.curate import build_stages
    from corpusforge.records import Document

    stages = [t for t, _ in build_stages(cfg)]
    for t in stages:
        t.setup()
    t0 = time.perf_counter()
    n = kept = 0
    for path in files:
        for rec in read_file(path, cfg.input):
            n += 1
            if not isinstance(rec, Document):
                continue
            doc = rec
            for t in stages:
                doc = t(doc)
                if not isinstance(doc, Document):
                    break
            else:
                kept += 1
    return time.perf_counter() - t0, n, kept


def bench_beam(cfg) -> tuple[float, dict]:
    from corpusforge.pipelines.curate import run_curate

    t0 = time.perf_counter()
    stats = run_curate(cfg)
    return time.perf_counter() - t0, stats


def bench_heuristics(cfg, files, limit: int) -> dict:
    """Our four heuristic filters vs datatrove's on the same (language-tagged) documents."""
    from corpusforge.io.readers import read_file
    from corpusforge.records import Document
    from corpusforge.transforms.langid import LanguageIdFilter
    from corpusforge.transforms.normalize import DocumentNormalizer
    from corpusforge.transforms.quality.c4 import C4QualityFilter
    from corpusforge.transforms.quality.fineweb import FineWebQualityFilter
    from corpusforge.transforms.quality.gopher import GopherQualityFilter, GopherRepetitionFilter

    norm, lid = DocumentNormalizer(cfg.normalize), LanguageIdFilter(cfg.langid)
    lid.setup()
    docs = []
    for path in files:
        for rec in read_file(path, cfg.input):
            if isinstance(rec, Document):
                d = norm(rec)
                if isinstance(d, Document):
                    d = lid(d)
                    if isinstance(d, Document) and d.meta.get("language") == "en":
                        docs.append(d)
            if len(docs) >= limit:
                break
    ours = [GopherRepetitionFilter(cfg.gopher_repetition), GopherQualityFilter(cfg.gopher_quality),
            C4QualityFilter(cfg.c4), FineWebQualityFilter(cfg.fineweb)]
    t0 = time.perf_counter()
    kept_ours = 0
    for d in docs:
        x = d.with_text(d.text)
        for f in ours:
            x = f(x)
            if not isinstance(x, Document):
                break
        else:
            kept_ours += 1
    t_ours = time.perf_counter() - t0
    out = {"docs": len(docs), "ours_s": round(t_ours, 3), "ours_docs_per_s": round(len(docs) / t_ours, 1),
           "ours_kept": kept_ours}
    try:
        from datatrove.data import Document as DTDocument
        from datatrove.pipeline.filters import (
            C4QualityFilter as DTC4, FineWebQualityFilter as DTFineWeb, GopherQualityFilter as DTGQ,
            GopherRepetitionFilter as DTGR,
        )
    except ImportError:
        out["datatrove"] = "not installed (pip install datatrove to compare)"
        return out
    theirs = [DTGR(), DTGQ(), DTC4(), DTFineWeb()]
    t0 = time.perf_counter()
    kept_theirs = 0
    for d in docs:
        x = DTDocument(text=d.text, id=d.id, metadata={"language": "en"})
        for f in theirs:
            r = f.filter(x)
            if r is not True and not (isinstance(r, tuple) and r[0]):
                break
        else:
            kept_theirs += 1
    t_theirs = time.perf_counter() - t0
    out.update({"datatrove_s": round(t_theirs, 3), "datatrove_docs_per_s": round(len(docs) / t_theirs, 1),
                "datatrove_kept": kept_theirs, "speed_ratio_ours_vs_datatrove": round(t_theirs / t_ours, 2)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--corpus", default=None, help="directory with JSONL inputs (default: generated)")
    ap.add_argument("--heuristic-docs", type=int, default=5000)
    ap.add_argument("--datatrove-path", default=None,
                    help="extra sys.path entries (':'-separated) where datatrove is unpacked, if not pip-installed")
    args = ap.parse_args()
    if args.datatrove_path:
        sys.path[:0] = args.datatrove_path.split(":")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    corpus = Path(args.corpus) if args.corpus else Path(tempfile.gettempdir()) / f"corpusforge-bench-{args.docs}"
    files = make_corpus(args.docs, corpus)
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    results = {"input_files": len(files), "input_mb": round(mb, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        t_loop, n, kept = bench_loop(cfg_for(files, f"{tmp}/loop", 1, "in_memory"), files)
        results["loop"] = {"seconds": round(t_loop, 2), "docs": n, "kept": kept, "docs_per_s": round(n / t_loop, 1),
                           "mb_per_s": round(mb / t_loop, 3)}
        for label, workers, mode in (("beam-1", 1, "in_memory"), ("beam-2mp", 2, "multi_processing")):
            t, stats = bench_beam(cfg_for(files, f"{tmp}/{label}", workers, mode))
            c = stats["conservation"]
            results[label] = {"seconds": round(t, 2), "docs": c["input"], "kept": c["kept"],
                              "docs_per_s": round(c["input"] / t, 1), "mb_per_s": round(mb / t, 3),
                              "ratio_vs_loop": round(t_loop / t, 2)}
    results["heuristics_en"] = bench_heuristics(cfg_for(files, "unused", 1, "in_memory"), files, args.heuristic_docs)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
