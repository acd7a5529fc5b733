"""Per-filter signal histograms over every document that reaches a filter, with per-language thresholds, and
"would drop" counts for annotate-only stages (issue 16). Real curate runs on Beam's FnApiRunner."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusforge.config import CurateConfig, GopherQualityConfig
from corpusforge.pipelines.curate import run_curate
from corpusforge.transforms.signals import COUNT, FRACTION, SPECS, SignalTally, bin_index, signal_stats
from corpusforge.records import Document
from corpusforge.report.html import signals_section, would_drop_rows
from corpusforge.transforms.quality.gopher import GopherQualityFilter

PROSE = ("The committee met on Tuesday to discuss the budget for the coming year, and several members raised "
         "concerns about the cost of maintaining the old library building near the river. ")
FINNISH = "Tämä on suomenkielinen teksti, jossa kerrotaan kirjaston aukioloajoista ja uusista kirjoista. "


def _records() -> list[dict]:
    recs = [{"id": f"ok{i:02d}", "text": f"Item {i}. " + PROSE * 3 + f"Note {i * 7919}."} for i in range(12)]
    recs += [{"id": f"short{i}", "text": f"Just a few words, number {i}, said the committee today."} for i in range(5)]
    # Finnish: 12 words per sentence; 2 sentences are short for English (50 words) but not for Finnish (10).
    recs += [{"id": f"fi{i}", "text": f"Numero {i}. " + FINNISH * 2} for i in range(4)]
    return recs


def _curate(tmp: Path, files: int = 1, annotate: bool = True) -> Path:
    recs = _records()
    paths = []
    for k in range(files):
        path = tmp / f"in{k}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs[k::files]))
        paths.append(str(path))
    cfg = {"input": {"paths": paths}, "output": {"dir": str(tmp / "run"), "num_shards": 2},
           "langid": {"languages": ["en", "fi"], "threshold": 0.5},
           "gopher_quality": {"annotate_only": annotate, "per_language": {"fi": {"min_doc_words": 10}}},
           "gopher_repetition": {"enabled": False}, "c4": {"enabled": False}, "fineweb": {"enabled": False},
           "dedup": {"enabled": False}, "pii": {"enabled": False}}
    run_curate(CurateConfig.model_validate(cfg))
    return tmp / "run"


@pytest.fixture(scope="module")
def annotated(tmp_path_factory) -> Path:
    return _curate(tmp_path_factory.mktemp("annotated"))


def test_bins_are_fixed_and_thresholds_fall_on_edges():
    assert bin_index(FRACTION, 0.3) == 30 and FRACTION[30] == 0.3  # not 29 from 0.3 / 0.01 = 29.999...
    assert bin_index(FRACTION, 0.0) == 0 and bin_index(FRACTION, 7.5) == len(FRACTION) - 1  # last bin open
    assert bin_index(COUNT, 49) + 1 == bin_index(COUNT, 50) == COUNT.index(50)
    assert 100000 in COUNT and 2 in COUNT


def test_histograms_count_every_document_that_reached_the_stage(annotated):
    stats = json.loads((annotated / "stats.json").read_text())
    stage = next(s for s in stats["stages"] if s["stage"] == "gopher_quality")
    h = stats["signals"]["gopher_quality"]["n_words"]
    assert h["bins"] == list(COUNT) and len(h["counts"]) == len(COUNT)
    assert h["documents"] == sum(h["counts"]) == stage["in"] == 21
    assert {lang: v["documents"] for lang, v in h["languages"].items()} == {"en": 17, "fi": 4}
    # The thresholds each language was held to: English the default, Finnish its per_language value.
    lines = {(t["key"], t["value"]): t["languages"] for t in h["thresholds"]}
    assert lines[("min_doc_words", 50.0)] == ["en"] and lines[("min_doc_words", 10.0)] == ["fi"]
    assert h["languages"]["fi"]["thresholds"]["min_doc_words"] == 10.0
    # The short English documents sit left of their line, the kept ones right of it.
    en = {int(b): n for b, n in h["languages"]["en"]["counts"].items()}
    assert sum(n for b, n in en.items() if COUNT[b] < 50) == 5
    assert sum(n for b, n in en.items() if COUNT[b] >= 50) == 12
    assert set(stats["signals"]["gopher_quality"]) <= set(SPECS["gopher_quality"])


def test_annotate_only_would_drop_counts_and_kept_signals(annotated):
    stats = json.loads((annotated / "stats.json").read_text())
    assert stats["would_drop"]["gopher_quality"]["gopher_short_doc"] == {"documents": 5, "languages": {"en": 5}}
    assert stats["conservation"]["kept"] == 21  # annotate-only: nothing dropped
    rows = would_drop_rows(stats)
    assert rows[0][:4] == ["gopher_quality", "gopher_short_doc", 5, f"{100 * 5 / 21:.1f}%"]
    # Kept documents carry every signal, so a tuning run shows how close each is to its threshold.
    kept = [r for f in sorted((annotated / "kept").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    ann = {r["id"]: json.loads(r["annotations"]) for r in kept}
    assert ann["ok00"]["gopher_quality_verdict"] == "keep" and ann["ok00"]["gopher_quality_n_words"] > 50
    assert ann["short0"]["gopher_quality_verdict"] == "gopher_short_doc"
    assert 0 < ann["fi0"]["gopher_quality_n_words"] < 50 and ann["fi0"]["gopher_quality_verdict"] == "keep"
    page = (annotated / "report.html").read_text()
    assert "Would drop (annotate_only stages)" in page and "Filter signals (all documents" in page


def test_report_draws_each_signal_with_labelled_thresholds(annotated):
    stats = json.loads((annotated / "stats.json").read_text())
    html = "".join(signals_section(stats))
    n_words = html[html.index("gopher_quality: n_words"):]
    n_words = n_words[:n_words.index("</svg>")]
    assert "min_doc_words 50: drops below (en)" in n_words and "min_doc_words 10: drops below (fi)" in n_words
    assert n_words.count('class="threshold"') == 3  # 50 (en), 10 (fi), 100000 (both)
    # Every bin has a slot: bar widths come from the fixed bin count, empty bins draw nothing.
    bars = re.findall(r"<rect [^>]*><title>([^<]*)</title>", n_words)
    assert bars and all("documents" in b for b in bars) and len(bars) < len(COUNT)
    assert "<script" not in html and "http://www.w3.org/2000/svg" in html
    assert signals_section(stats) == signals_section(json.loads(json.dumps(stats)))  # same stats, same bytes


def test_counts_do_not_depend_on_bundling_and_signals_never_reach_kept(annotated, tmp_path):
    other = _curate(tmp_path, files=3, annotate=False)
    a = json.loads((annotated / "stats.json").read_text())
    b = json.loads((other / "stats.json").read_text())
    assert a["signals"] == b["signals"]  # annotate-only or not, one file or three: the same histograms
    assert b["would_drop"] == {} and b["conservation"]["dropped"] == 5
    for f in sorted((other / "kept").glob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            ann = set(json.loads(r["annotations"])) - {"gopher_quality_skipped"}  # skipped rules are always recorded
            assert not any(k.startswith("gopher_quality_") or k.startswith("_") for k in ann), ann


def test_tally_takes_the_measured_signals_off_kept_documents():
    f = GopherQualityFilter(GopherQualityConfig())
    good = Document("g", PROSE * 3, meta={"language": "en"})
    short = Document("s", "Too short.", meta={"language": "en"})
    tally = SignalTally(f)
    out = f(good)
    assert out is not good and "_measured_signals" in out.__dict__  # a copy: the input element is untouched
    tally.add(good, out)
    tally.add(short, f(short))
    assert "_measured_signals" not in out.__dict__ and "_measured_signals" not in good.__dict__
    counts = {tuple(k.split("\t")): v for k, v in tally.drain()}
    signals, would = signal_stats(counts, ["gopher_quality"])
    assert signals["gopher_quality"]["n_words"]["documents"] == 2 and would == {}
    assert tally.drain() == []  # drained per bundle
