"""Issue 13, items 3-6: one record never crashes or hangs the run; config problems are found before the
pipeline starts, as one line naming the key; the smaller reader defects."""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.config import ConfigError, CurateConfig, InputConfig
from corpusforge.io.readers import read_file
from corpusforge.pipelines.curate import run_curate
from corpusforge.pipelines.stage import ApplyStage, StageTimeout, run_with_budget
from corpusforge.records import Document, Quarantined
from corpusforge.transforms.base import DocumentTransform
from dedup_planted import real_documents


def _cfg(**kw) -> InputConfig:
    return InputConfig(paths=["x"], **kw)


def _docs(n=12):
    return [d for d in real_documents(min_words=80) if d["lang"] == "en"][:n]


def _run_cfg(inp: str, out: Path, **over) -> CurateConfig:
    d = {"input": {"paths": [inp]}, "output": {"dir": str(out), "num_shards": 2},
         "runner": {"runner": "FnApiRunner"}, "perplexity": {"enabled": False}, "pii": {"enabled": False},
         "dedup": {"enabled": True, "max_rounds": 8}, "report": False}
    for k, v in over.items():
        d.setdefault(k, {}).update(v)
    return CurateConfig.model_validate(d)


# ------------------------------------------------------------------------------ item 3: bad records
def test_lone_surrogates_in_id_url_and_meta_are_quarantined_not_a_crash(tmp_path):
    docs = _docs(6)
    lines = [json.dumps({"id": d["id"], "text": d["text"], "url": d["url"]}) for d in docs]
    # JSON's \udc00 escape decodes to a lone surrogate, which no UTF-8 encoder (Beam keys, Parquet) accepts
    lines += ['{"id": "bad\\udc00id", "text": "%s"}' % docs[0]["text"][:200].replace('"', "'").replace("\n", " "),
              '{"id": "bad-url", "url": "http://x.org/\\ud800", "text": "%s"}' % docs[1]["text"][:200].replace(
                  '"', "'").replace("\n", " ")]
    p = tmp_path / "in.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = list(read_file(str(p), _cfg()))
    bad = [o for o in out if isinstance(o, Quarantined)]
    assert [b.line for b in bad] == [7, 8]
    assert "'id' contains lone surrogates" in bad[0].error and "'url' contains lone surrogates" in bad[1].error
    stats = run_curate(_run_cfg(str(p), tmp_path / "run"))  # through Beam's keys and the writers
    c = stats["conservation"]
    assert c["ok"] and c["input"] == 8 and c["quarantined"] == 2


def test_parquet_with_corrupt_pages_is_quarantined_naming_the_file(tmp_path):
    p = tmp_path / "corrupt.parquet"
    rows = [{"id": f"r{i}", "text": f"row {i} " + "word " * 50} for i in range(3000)]
    pq.write_table(pa.Table.from_pylist(rows), p, row_group_size=1000, compression="none")
    data = bytearray(p.read_bytes())
    meta = pq.ParquetFile(p).metadata
    rg = meta.row_group(1).column(1)  # the middle row group's text column: footer intact, pages garbage
    start = rg.dictionary_page_offset or rg.data_page_offset
    data[start:start + 64] = b"\xff" * 64
    p.write_bytes(bytes(data))
    out = list(read_file(str(p), _cfg()))
    docs = [o for o in out if isinstance(o, Document)]
    (q,) = [o for o in out if isinstance(o, Quarantined)]
    assert len(docs) == 2000 and q.source == str(p) and q.line == 1001
    assert [d.line for d in docs] == list(range(1, 1001)) + list(range(2001, 3001))
    assert "unreadable Parquet row group 1 (rows 1001-2000, 1000 row(s) lost)" in q.error


# ------------------------------------------------------------------------------ item 4: time budget
class _Spin(DocumentTransform):
    """A stage that loops in pure Python for ever on a document containing 'HANG' (a pathological record)."""

    name = "spin"

    def __call__(self, doc):
        if "HANG" in doc.text:
            x = 0
            while True:
                x += 1
        return doc


def test_run_with_budget_interrupts_pure_python_and_never_fires_late():
    def spin():
        while True:
            pass

    t = time.time()
    with pytest.raises(StageTimeout):
        run_with_budget(spin, 0.3)
    assert time.time() - t < 2
    timeouts = 0
    for i in range(20_000):  # a deadline that fires as the call returns must never land afterwards
        try:
            assert run_with_budget(lambda v: v, 1e-5 if i % 2 else 5.0, i) == i
        except StageTimeout:
            timeouts += 1
        x = 0
        for j in range(50):  # a stray asynchronous exception would land in this loop, outside any guard
            x += j
    assert timeouts <= 10_000


def test_slow_document_is_quarantined_naming_the_stage(tmp_path):
    docs = [Document(f"d{i}", f"text {i}", source="s", line=i) for i in range(5)]
    docs.append(Document("slow", "HANG here", source="s", line=99))
    got = {}
    t = time.time()
    with beam.Pipeline(runner="FnApiRunner") as p:
        res = p | beam.Create(docs) | ApplyStage(_Spin(), None, seconds_per_doc=0.5)
        res["kept"] | "k" >> beam.Map(lambda d: d.id) | "kl" >> beam.combiners.ToList() | "ks" >> beam.Map(
            lambda ids: (tmp_path / "kept").write_text(json.dumps(sorted(ids))))
        res["quarantined"] | "q" >> beam.Map(lambda q: q.error) | "ql" >> beam.combiners.ToList() | "qs" >> beam.Map(
            lambda e: (tmp_path / "q").write_text(json.dumps(e)))
    assert time.time() - t < 60
    assert json.loads((tmp_path / "kept").read_text()) == [f"d{i}" for i in range(5)]
    (err,) = json.loads((tmp_path / "q").read_text())
    assert "stage 'spin'" in err and "time budget of 0.5 s" in err and "input.max_seconds_per_stage" in err


# ------------------------------------------------------------------------------ item 5: config checks
def test_config_problems_are_found_before_the_pipeline_starts(tmp_path, monkeypatch):
    p = tmp_path / "in.jsonl"
    p.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    monkeypatch.delenv("CORPUSFORGE_PII_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"pii.operator=hash .*CORPUSFORGE_PII_SECRET"):
        run_curate(_run_cfg(str(p), tmp_path / "r1", pii={"enabled": True, "operator": "hash"}))
    with pytest.raises(ConfigError, match=r"pii.ner_languages.fr: spaCy package 'fr_no_such_model' is not installed"):
        run_curate(_run_cfg(str(p), tmp_path / "r2", pii={"enabled": True, "ner_languages": {"fr": "fr_no_such_model"}}))
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"output.dir .* is not a writable directory"):
        run_curate(_run_cfg(str(p), blocker / "run"))
    assert not (tmp_path / "r1").exists() or not any((tmp_path / "r1").iterdir())


# ------------------------------------------------------------------------------ item 6: smaller defects
def test_utf8_bom_does_not_quarantine_the_first_record(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": "first"}).encode() + b"\n"
                  + json.dumps({"id": "b", "text": "second"}).encode() + b"\n")
    out = list(read_file(str(p), _cfg()))
    assert [(type(o).__name__, o.id) for o in out] == [("Document", "a"), ("Document", "b")]
    assert out[0].text == "first"


def test_truncated_gz_names_the_line_and_how_many_were_read(tmp_path):
    payload = "".join(json.dumps({"id": str(i), "text": f"doc {i} " * 40}) + "\n" for i in range(400)).encode()
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(gzip.compress(payload)[: len(gzip.compress(payload)) // 2])
    out = list(read_file(str(p), _cfg()))
    docs = [o for o in out if isinstance(o, Document)]
    (q,) = [o for o in out if isinstance(o, Quarantined)]
    assert q.line == len(docs) + 1 and q.line > 1
    assert f"{len(docs)} line(s) were read" in q.error and "input stream broken" in q.error
