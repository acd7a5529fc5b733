#!/usr/bin/env python3
"""Benchmark the CCNet perplexity stage: throughput, and how well it separates planted junk from clean text.

    .venv/bin/python bench/bench_perplexity.py [--models-dir models/demo_lm] [--copies 10]

Data: every readable record of the demo corpus (data/demo/part-*), languages from the project's fastText
langid stage (annotate-only, so every language is kept). Models: --models-dir (scripts/train_demo_lms.sh
trains them from data/lm_reference, which is disjoint from data/demo); trained into a temp dir if missing.

1. Throughput, documents/s:
   - the transform called directly (no Beam),
   - the stage in a Beam pipeline (ApplyStage, FnApiRunner, in_memory) over `--copies` copies of the corpus,
     against a pass-through stage run through the same pipeline in the same process (the baseline: Beam's own
     cost per document), so the ratio says what perplexity scoring adds.
2. Separation: per bucket rule, the fraction of planted junk (data/demo/planted.json) in the tail, the fraction
   of clean real documents in the tail, and per language the ROC AUC of perplexity between junk and clean;
   also the same after the heuristic stages of configs/local.yaml (junk that reaches the perplexity stage).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import apache_beam as beam  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from corpusforge.config import LangIdConfig, PerplexityConfig, load_config  # noqa: E402
from corpusforge.pipelines.stage import ApplyStage  # noqa: E402
from corpusforge.lm.train import read_reference, train_language_model  # noqa: E402
from corpusforge.records import Document, Drop  # noqa: E402
from corpusforge.transforms.base import DocumentTransform  # noqa: E402
from corpusforge.transforms.langid import LanguageIdFilter  # noqa: E402
from corpusforge.transforms.perplexity import PerplexityFilter  # noqa: E402
from corpusforge.transforms.registry import build_document_stages  # noqa: E402


class PassThrough(DocumentTransform):
    name = "pass_through"

    def __call__(self, doc):
        return doc


def demo_records() -> list[dict]:
    recs = []
    for path in sorted((ROOT / "data/demo").glob("part-*")):
        if path.suffix == ".parquet":
            recs += pq.read_table(path).to_pylist()
            continue
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                recs.append(rec)
    return [r for r in recs if isinstance(r.get("text"), str) and r.get("id") and len(r["text"]) < 1_000_000]


def ensure_models(models_dir: Path | None) -> Path:
    if models_dir and any(models_dir.glob("*.arpa.bin")):
        return models_dir
    out = Path(tempfile.mkdtemp(prefix="bench-ppl-"))
    for ref in sorted((ROOT / "data/lm_reference").glob("*.jsonl")):
        train_language_model(ref.stem, read_reference([str(ref)]), out)
    return out


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def beam_rate(transform: DocumentTransform, docs: list[Document]) -> float:
    start = time.perf_counter()
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions(direct_running_mode="in_memory")) as p:
        out = p | beam.Create(docs, reshuffle=False) | ApplyStage(transform)
        _ = (out["kept"], out["dropped"]) | beam.Flatten() | beam.combiners.Count.Globally()
    return len(docs) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models/demo_lm")
    ap.add_argument("--copies", type=int, default=10, help="corpus copies for the Beam throughput run")
    args = ap.parse_args(argv)

    models = ensure_models(args.models_dir)
    planted = json.loads((ROOT / "data/demo/planted.json").read_text())
    junk_ids = set(planted["junk"])
    recs = demo_records()
    lid = LanguageIdFilter(LangIdConfig(languages=None, threshold=0.0))
    lid.setup()
    docs = []
    for r in recs:
        d = lid(Document(str(r["id"]), r["text"]))
        docs.append(d)
    kind = {d.id: "junk" if d.id in junk_ids else ("clean" if r.get("lang_hint") else "other")
            for d, r in zip(docs, recs)}

    # ---- throughput
    f = PerplexityFilter(PerplexityConfig(enabled=True, models_dir=str(models), drop_rule="none"))
    t0 = time.perf_counter()
    f.setup()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in docs:
        f(d.with_text(d.text))
    direct = len(docs) / (time.perf_counter() - t0)
    n_chars = sum(len(d.text) for d in docs)
    many = [Document(f"{d.id}#{i}", d.text, meta=dict(d.meta)) for i in range(args.copies) for d in docs]
    base_rate = beam_rate(PassThrough(), many)
    ppl_rate = beam_rate(PerplexityFilter(PerplexityConfig(enabled=True, models_dir=str(models), drop_rule="tail")),
                         many)
    print(f"documents: {len(docs)} demo records ({n_chars / len(docs):.0f} chars on average), models: {models}")
    print(f"model load (setup): {load_s:.2f}s for {len(f.languages)} languages")
    print(f"direct transform: {direct:,.0f} docs/s ({direct * n_chars / len(docs) / 1e6:.2f} M chars/s)")
    print(f"Beam FnApiRunner, {len(many)} docs: perplexity stage {ppl_rate:,.0f} docs/s, pass-through baseline "
          f"{base_rate:,.0f} docs/s -> stage runs at {ppl_rate / base_rate:.2f}x the baseline rate")

    # ---- separation
    scored = {}
    for d in docs:
        out = f(d.with_text(d.text))
        scored[d.id] = (d.meta.get("language"), out.meta["perplexity"])

    def report(title: str, ids: list[str], head_p: int, tail_p: int) -> None:
        g = PerplexityFilter(PerplexityConfig(enabled=True, models_dir=str(models), drop_rule="none",
                                              head_percentile=head_p, tail_percentile=tail_p))
        buckets = {i: g.cutoffs.get(scored[i][0]) for i in ids}
        tail = {i: scored[i][1] is not None and buckets[i] is not None and scored[i][1] >= buckets[i][1] for i in ids}
        for k in ("junk", "clean"):
            sel = [i for i in ids if kind[i] == k]
            with_model = [i for i in sel if scored[i][1] is not None]
            n_tail = sum(tail[i] for i in sel)
            print(f"  {title} tail>=p{tail_p}: {k:5s} {n_tail}/{len(with_model)} with a model in tail "
                  f"({n_tail / max(1, len(with_model)):.1%}); {len(sel) - len(with_model)} with no model "
                  f"(languages {dict(Counter(scored[i][0] for i in sel if scored[i][1] is None))})")

    all_ids = [d.id for d in docs]
    print("separation on the whole demo corpus (perplexity stage alone):")
    for tail_p in (60, 90, 100):
        report("all docs", all_ids, min(30, tail_p - 1), tail_p)
    langs = sorted({scored[i][0] for i in all_ids if kind[i] == "junk" and scored[i][1] is not None})
    for lang in langs:
        j = [scored[i][1] for i in all_ids if kind[i] == "junk" and scored[i][0] == lang and scored[i][1] is not None]
        c = [scored[i][1] for i in all_ids if kind[i] == "clean" and scored[i][0] == lang and scored[i][1] is not None]
        a = auc(j, c)
        print(f"  {lang}: junk {len(j)} docs, median perplexity {sorted(j)[len(j) // 2]}; clean {len(c)} docs, median "
              f"{sorted(c)[len(c) // 2] if c else None}; ROC AUC junk vs clean {a:.3f}" if a is not None else
              f"  {lang}: junk {len(j)}, no clean docs")
    clean_ppl = sorted(p for i in all_ids if kind[i] == "clean" and (p := scored[i][1]) is not None)
    print(f"  clean docs: median perplexity {clean_ppl[len(clean_ppl) // 2]}, p95 "
          f"{clean_ppl[int(0.95 * (len(clean_ppl) - 1))]}, max {clean_ppl[-1]}")

    # Junk that survives the heuristic stages of the demo config (what the perplexity stage really sees there).
    cfg = load_config(ROOT / "configs/local.yaml")
    stages = build_document_stages(cfg)
    for s in stages:
        s.setup()
    survivors = []
    for r in recs:
        d: Document | Drop = Document(str(r["id"]), r["text"])
        for s in stages:
            d = s(d)
            if isinstance(d, Drop):
                break
        if isinstance(d, Document):
            survivors.append(d.id)
    print(f"after the heuristic stages of configs/local.yaml: {len(survivors)} of {len(recs)} docs reach the "
          f"perplexity stage ({sum(kind[i] == 'junk' for i in survivors)} planted junk)")
    for tail_p in (60, 90, 100):
        report("survivors", survivors, min(30, tail_p - 1), tail_p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
