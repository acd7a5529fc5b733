"""Two-step refresh through the real curate pipeline: the second batch's duplicates of first-batch documents
are dropped naming them; a repeated refresh does nothing; earlier state versions are never modified."""
from __future__ import annotations

import glob
import hashlib
import json
import random

import pyarrow.parquet as pq
import pytest

from corpusforge.config import ConfigError, RefreshConfig
from corpusforge.pipelines.dedup import read_state
from corpusforge.pipelines.refresh import latest_version, run_refresh
from dedup_planted import edit_words, real_documents


def _write(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _rows(run_dir, sub):
    return [r for p in sorted(glob.glob(f"{run_dir}/{sub}/*.parquet")) for r in pq.read_table(p).to_pylist()]


def _digest(paths):
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths}


def test_two_step_refresh(tmp_path):
    docs = [d for d in real_documents(min_words=150) if d["lang"] == "en"][:36]
    rng = random.Random(3)
    batch1, fresh = docs[:24], docs[24:]
    inp = tmp_path / "in"
    inp.mkdir()
    _write(inp / "batch1.jsonl", [{"id": d["id"], "text": d["text"], "url": d["url"]} for d in batch1])
    cfg = RefreshConfig.model_validate({
        "input": {"paths": [str(inp / "*.jsonl")]},
        "output": {"dir": str(tmp_path / "runs"), "num_shards": 2},
        "state_dir": str(tmp_path / "state"),
        "runner": {"runner": "FnApiRunner"},
        "perplexity": {"enabled": False}, "pii": {"enabled": False},
        "dedup": {"enabled": True, "max_rounds": 8},
        "report": False,
    })
    r1 = run_refresh(cfg)
    assert r1["refreshed"] and r1["version"] == 1
    kept1 = {r["id"]: r["text"] for r in _rows(r1["run_dir"], "kept")}
    assert len(kept1) >= 12
    state1 = read_state(str(tmp_path / "state"))
    assert sorted(r["id"] for r in state1) == sorted(kept1)
    v1_files = sorted(glob.glob(str(tmp_path / "state/versions/v00001/**/*"), recursive=True))
    v1_digest = _digest([p for p in v1_files if p.endswith((".parquet", ".json"))])

    # Batch 2: copies and light edits of first-batch documents (as read: dedup compares the text before C4
    # removed lines, `dedup.compare_text`), new documents, and one in-batch duplicate.
    old = sorted(kept1)[:8]
    read1 = {d["id"]: d["text"] for d in batch1}
    batch2 = [{"id": f"b2-exact-{i}", "text": read1[o], "url": None} for i, o in enumerate(old[:3])]
    batch2 += [{"id": f"b2-near-{i}", "text": edit_words(read1[o], 0.02, rng), "url": None}
               for i, o in enumerate(old[3:8])]
    batch2 += [{"id": f"b2-new-{i}", "text": d["text"], "url": d["url"]} for i, d in enumerate(fresh)]
    batch2.append({"id": "b2-new-copy", "text": fresh[0]["text"], "url": None})
    _write(inp / "batch2.jsonl", batch2)

    r2 = run_refresh(cfg)
    assert r2["refreshed"] and r2["version"] == 2
    assert r2["new_inputs"] == [str(inp / "batch2.jsonl")]  # batch1 is not read again
    manifest = json.load(open(f"{r2['run_dir']}/manifest.json"))
    assert manifest["state_in"].endswith("versions/v00001")
    assert manifest["skipped_inputs"] == [str(inp / "batch1.jsonl")]
    dd = {r["id"]: r for r in _rows(r2["run_dir"], "dropped") if r["stage"] == "dedup"}
    for i, o in enumerate(old[:3]):
        assert (dd[f"b2-exact-{i}"]["reason"], dd[f"b2-exact-{i}"]["duplicate_of"]) == ("dedup_exact", o)
    for i, o in enumerate(old[3:8]):
        assert (dd[f"b2-near-{i}"]["reason"], dd[f"b2-near-{i}"]["duplicate_of"]) == ("dedup_near_duplicate", o)
    # within the new batch: the copy names the smallest id of its group
    assert dd["b2-new-copy"]["duplicate_of"] == "b2-new-0"
    assert set(dd) == {f"b2-exact-{i}" for i in range(3)} | {f"b2-near-{i}" for i in range(5)} | {"b2-new-copy"}
    kept2 = {r["id"] for r in _rows(r2["run_dir"], "kept")}
    assert not kept2 & set(kept1)

    v2 = latest_version(str(tmp_path / "state"))
    assert v2["version"] == 2 and len(v2["inputs"]) == 2
    assert sorted(r["id"] for r in read_state(str(tmp_path / "state"))) == sorted(set(kept1) | kept2)
    assert _digest(list(v1_digest)) == v1_digest  # version 1 untouched

    r3 = run_refresh(cfg)  # same input again: nothing to do
    assert not r3["refreshed"] and r3["version"] == 2
    assert sorted(glob.glob(str(tmp_path / "runs/*"))) == [str(tmp_path / "runs/v00001"), str(tmp_path / "runs/v00002")]

    # Keys of another text than the state's are refused before anything runs, with MinHash and exact only.
    _write(inp / "batch3.jsonl", [{"id": "b3-0", "text": fresh[1]["text"]}])
    for minhash in (True, False):
        other = cfg.model_copy(update={"dedup": cfg.dedup.model_copy(update={"compare_text": "kept",
                                                                             "minhash": minhash})})
        with pytest.raises(ConfigError, match="compare_text"):
            run_refresh(other)
    assert latest_version(str(tmp_path / "state"))["version"] == 2


# Issue 13, item 6: a new file reusing an id of an earlier version, or an edited file read again, never
# leaves two kept documents under one id, and unchanged documents are not "duplicates of themselves".
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
