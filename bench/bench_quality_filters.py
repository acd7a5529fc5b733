"""Throughput of the per-document curation stages on the demo corpus, our offline word splitter against
spaCy's tokenizer (the one datatrove uses) as the baseline, and, when datatrove is importable, how often
our Gopher/C4/FineWeb verdicts equal datatrove's on the same documents.

    .venv/bin/python bench/bench_quality_filters.py [--repeat 3] [--datatrove-path DIR]

--datatrove-path: a directory with the datatrove package (and its loguru/humanize deps) to put on
sys.path, e.g. made with `pip download --no-deps datatrove` + unzip and `pip install --target`.
corpusforge itself never imports datatrove.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from corpusforge.config import CurateConfig, LangIdConfig
from corpusforge.records import Document, Drop
from corpusforge.transforms.langid import LanguageIdFilter
from corpusforge.transforms.normalize import DocumentNormalizer
from corpusforge.transforms.registry import build_document_stages
from corpusforge.transforms.text_utils import split_words

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def demo_texts() -> list[str]:
    texts: list[str] = []

    def add(rec):
        if isinstance(rec, dict) and isinstance(rec.get("text"), str) and rec["text"]:
            texts.append(rec["text"])

    for raw in (DEMO / "part-000.jsonl").read_bytes().split(b"\n"):
        try:
            add(json.loads(raw))
        except (ValueError, UnicodeDecodeError):
            pass
    for raw in gzip.decompress((DEMO / "part-001.jsonl.gz").read_bytes()).split(b"\n"):
        try:
            add(json.loads(raw))
        except (ValueError, UnicodeDecodeError):
            pass
    for rec in pq.read_table(DEMO / "part-002.parquet").to_pylist():
        add(rec)
    return texts


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--datatrove-path", default=None)
    args = ap.parse_args()

    texts = demo_texts()
    norm = DocumentNormalizer()
    lid = LanguageIdFilter(LangIdConfig(languages=None, threshold=0.0))
    lid.setup()
    docs = []
    for i, t in enumerate(texts):
        d = norm(Document(str(i), t))
        if isinstance(d, Document):
            docs.append(lid(d))
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    print(f"demo corpus: {len(docs)} documents, {mb:.2f} MB after normalization")

    cfg = CurateConfig.model_validate({"input": {"paths": ["x"]}, "output": {"dir": "x"}})
    stages = build_document_stages(cfg)
    for s in stages:
        s.setup()
    print("\nstage               docs/s     MB/s   (each stage on every document, best of", args.repeat, "runs)")
    for s in stages:
        sec = best_of(lambda: [s(Document(d.id, d.text, meta=dict(d.meta))) for d in docs], args.repeat)
        print(f"{s.name:18s} {len(docs) / sec:8.0f} {mb / sec:8.2f}")

    import spacy

    nlp = spacy.blank("en")
    spacy_sec = best_of(lambda: [[t.text for t in nlp.tokenizer(d.text)] for d in docs], args.repeat)
    ours_sec = best_of(lambda: [split_words(d.text) for d in docs], args.repeat)
    same = sum(split_words(d.text) == [t.text for t in nlp.tokenizer(d.text) if t.text.strip()] for d in docs)
    print(f"\nword splitting: spaCy blank('en') tokenizer {spacy_sec:.3f}s, split_words {ours_sec:.3f}s "
          f"-> {spacy_sec / ours_sec:.1f}x faster; identical token lists on {same}/{len(docs)} documents")

    if args.datatrove_path:
        sys.path[:0] = [p for p in args.datatrove_path.split(":") if p]
        from datatrove.data import Document as DTDocument
        from datatrove.pipeline.filters.c4_filters import C4QualityFilter as DTC4
        from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter as DTFineWeb
        from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter as DTQuality
        from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter as DTRepetition

        by_name = {s.name: s for s in stages}
        pairs = [("gopher_quality", DTQuality, "", {"min_stop_words": None}),
                 ("gopher_repetition", DTRepetition, "gopher_", {}), ("c4", DTC4, "c4_", {}),
                 ("fineweb", DTFineWeb, "fineweb_", {})]
        print("\nverdict agreement with datatrove", " (gopher_quality without the stop-word rule outside English:"
              " datatrove has English stop words only)")
        for lang_set, label in [({"en"}, "English"), ({"de", "fr", "es", "it", "pt", "nl"}, "de/fr/es/it/pt/nl")]:
            subset = [d for d in docs if d.meta.get("language") in lang_set]
            for name, cls, prefix, extra in pairs:
                cache: dict = {}
                agree = 0
                diffs: Counter = Counter()
                for d in subset:
                    lang = d.meta["language"]
                    key = lang if label != "English" else "en"
                    if key not in cache:
                        cache[key] = cls(language=key, **(extra if label != "English" else {}))
                    r = cache[key].filter(DTDocument(text=d.text, id=d.id))
                    theirs = "keep" if r is True else prefix + r[1]
                    ours_f = by_name[name]
                    if label != "English" and name == "gopher_quality":
                        from corpusforge.config import GopherQualityConfig
                        from corpusforge.transforms.quality.gopher import GopherQualityFilter
                        ours_f = GopherQualityFilter(GopherQualityConfig(min_stop_words=None))
                    o = ours_f(Document(d.id, d.text, meta=dict(d.meta)))
                    ours = o.reason if isinstance(o, Drop) else "keep"
                    if ours == theirs:
                        agree += 1
                    else:
                        diffs[(theirs, ours)] += 1
                print(f"  {label:18s} {name:18s} {agree}/{len(subset)} identical" + (f"  differing (datatrove, ours): "
                      f"{dict(diffs)}" if diffs else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
