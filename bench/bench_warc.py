#!/usr/bin/env python3
"""WARC input benchmark: extraction quality and speed per extractor on the demo crawl.

    .venv/bin/python scripts/build_warc_demo.py
    .venv/bin/python bench/bench_warc.py [--out bench/results/warc.json] [--datatrove-python PATH]

Quality, on the demo pages whose main text is known (data/warc-demo/truth.jsonl.gz: the text of each
manual page's main element, and of everything else on the served page): bag-of-words over lowercased \\w+
tokens, as in CleanEval-style evaluations.
  recall  = matched main words / main words            (share of main-text words recovered)
  leaked  = boilerplate words in the output beyond what the main text explains / boilerplate words
Speed: documents/s of reading + extraction over crawl-00000.warc.gz, one process, in-process extraction.
Reading: records/s of warcio and FastWARC over the same file (the library choice in corpusforge.io.warc).
With --datatrove-python (a Python that has datatrove installed, kept out of the project venv), the same file
is run through datatrove's WarcReader + Trafilatura extractor for documents/s.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.config import InputConfig  # noqa: E402
from corpusforge.io.warc import read_warc  # noqa: E402
from corpusforge.records import Document  # noqa: E402
from corpusforge.transforms.html_extract import extract_main_text  # noqa: E402

DEMO = ROOT / "data" / "warc-demo"
WORD = re.compile(r"\w+")


def words(text: str) -> Counter:
    return Counter(w.lower() for w in WORD.findall(text))


def score(extracted: str, main: str, boilerplate: str) -> tuple[float, float]:
    e, m, b = words(extracted), words(main), words(boilerplate)
    recall = sum(min(e[w], m[w]) for w in m) / max(1, sum(m.values()))
    excess = e - m
    leaked = sum(min(excess[w], b[w]) for w in b) / max(1, sum(b.values()))
    return recall, leaked


def read_docs(path: Path) -> list[Document]:
    with open(path, "rb") as f:
        return [d for d in read_warc(f, InputConfig(paths=[str(path)], max_line_bytes=2_000_000), str(path))
                if isinstance(d, Document)]


def reading_speed(path: Path, reps: int = 5) -> dict:
    from fastwarc.warc import ArchiveIterator as FastIter, WarcRecordType
    from warcio.archiveiterator import ArchiveIterator as WarcioIter

    def warcio_pass():
        with open(path, "rb") as f:
            return sum(len(r.content_stream().read()) >= 0 for r in WarcioIter(f) if r.rec_type == "response")

    def fastwarc_pass():
        with open(path, "rb") as f:
            return sum(len(r.reader.read()) >= 0 for r in FastIter(f, record_types=WarcRecordType.response))

    def corpusforge_pass():
        return len(read_docs(path))

    out = {}
    for name, fn in (("warcio", warcio_pass), ("fastwarc", fastwarc_pass), ("corpusforge_reader", corpusforge_pass)):
        fn()
        t = time.perf_counter()
        for _ in range(reps):
            n = fn()
        out[name] = {"records": n, "records_per_s": round(n * reps / (time.perf_counter() - t), 1)}
    return out


DATATROVE_SNIPPET = r"""
import sys, time
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.extractors import Trafilatura
path = sys.argv[1]
reader = WarcReader(str(__import__('pathlib').Path(path).parent), glob_pattern=__import__('pathlib').Path(path).name)
ex = Trafilatura(favour_precision=True, timeout=10.0)
t = time.perf_counter()
docs = list(ex.run(reader.run(), rank=0, world_size=1))
dt = time.perf_counter() - t
print(len(docs), dt)
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "warc.json")
    ap.add_argument("--datatrove-python", default=None)
    args = ap.parse_args()
    crawl = DEMO / "crawl-00000.warc.gz"
    truth = [json.loads(l) for l in gzip.open(DEMO / "truth.jsonl.gz", "rt", encoding="utf-8")]
    docs = {d.id: d for d in read_docs(crawl)}
    truth = [row for row in truth if row["record_id"].strip("<>") in docs]  # the pages of this file
    result = {"file": str(crawl.relative_to(ROOT)), "truth_pages": len(truth), "reading": reading_speed(crawl),
              "extractors": {}}
    html_docs = [d for d in docs.values() if d.meta.get("mime") == "text/html" and d.meta.get("http_status") == 200]
    for name in ("trafilatura", "resiliparse"):
        recalls, leaks = [], []
        for row in truth:
            doc = docs[row["record_id"].strip("<>")]
            r, l = score(extract_main_text(doc.text, name, doc.url), row["main"], row["boilerplate"])
            recalls.append(r)
            leaks.append(l)
        t = time.perf_counter()
        for d in html_docs:
            extract_main_text(d.text, name, d.url)
        dt = time.perf_counter() - t
        result["extractors"][name] = {
            "mean_main_words_recovered": round(sum(recalls) / len(recalls), 4),
            "min_main_words_recovered": round(min(recalls), 4),
            "mean_boilerplate_words_leaked": round(sum(leaks) / len(leaks), 4),
            "docs_per_s": round(len(html_docs) / dt, 1), "docs": len(html_docs),
        }
    if args.datatrove_python:
        proc = subprocess.run([args.datatrove_python, "-c", DATATROVE_SNIPPET, str(crawl)], capture_output=True,
                              text=True, timeout=1800)
        if proc.returncode == 0:
            n, dt = proc.stdout.split()[-2:]
            result["datatrove_warcreader_trafilatura"] = {"docs": int(n), "docs_per_s": round(int(n) / float(dt), 1)}
        else:
            result["datatrove_warcreader_trafilatura"] = {"error": proc.stderr[-500:]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
