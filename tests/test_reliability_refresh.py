"""Issue 13, item 6 (refresh): a new file reusing an id of an earlier version, or an edited file read again,
never leaves two kept documents under one id, and unchanged documents are not 'duplicates of themselves'."""
from __future__ import annotations

import glob
import json

import pyarrow.parquet as pq

from corpusforge.config import RefreshConfig
from corpusforge.pipelines.refresh import run_refresh
from dedup_planted import real_documents


def _write(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _rows(run_dir, sub):
    return [r for p in sorted(glob.glob(f"{run_dir}/{sub}/*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_reused_ids_and_edited_files(tmp_path):
    docs = [d for d in real_documents(min_words=150) if d["lang"] == "en"][:24]
    inp = tmp_path / "in"
    inp.mkdir()
    first = [{"id": d["id"], "text": d["text"]} for d in docs[:12]]
    _write(inp / "a.jsonl", first)
    cfg = RefreshConfig.model_validate({
        "input": {"paths": [str(inp / "*.jsonl")]}, "output": {"dir": str(tmp_path / "runs"), "num_shards": 2},
        "state_dir": str(tmp_path / "state"), "runner": {"runner": "FnApiRunner"},
        "perplexity": {"enabled": False}, "pii": {"enabled": False}, "dedup": {"enabled": True, "max_rounds": 8},
        "report": False})
    r1 = run_refresh(cfg)
    kept1 = {r["id"] for r in _rows(r1["run_dir"], "kept")}
    assert len(kept1) >= 6
    reused = sorted(kept1)[0]
    # a new file reuses a kept id for new text; the first file gets one more document (edited)
    _write(inp / "b.jsonl", [{"id": reused, "text": docs[12]["text"]}, {"id": "b-new", "text": docs[13]["text"]}])
    _write(inp / "a.jsonl", first + [{"id": "a-added", "text": docs[14]["text"]}])
    r2 = run_refresh(cfg)
    assert sorted(r2["new_inputs"]) == [str(inp / "a.jsonl"), str(inp / "b.jsonl")]
    kept2 = {r["id"] for r in _rows(r2["run_dir"], "kept")}
    assert not kept2 & kept1, "a second kept document under an id an earlier version kept"
    assert {"b-new", "a-added"} <= kept2
    dropped = {r["id"]: r for r in _rows(r2["run_dir"], "dropped")}
    for doc_id in kept1:  # the unchanged documents of the edited file, and the reused id
        assert (dropped[doc_id]["stage"], dropped[doc_id]["reason"]) == ("unique_id", "id_kept_by_earlier_refresh")
    assert not [r for r in dropped.values() if r["stage"] == "dedup" and r["duplicate_of"] == r["id"]]
