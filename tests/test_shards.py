"""WriteSortedShards (pipelines/shards.py): rows go through sorted run files, only run paths are shuffled;
a shard's bytes depend only on its rows (not on spills, runs, merge passes or workers)."""
from __future__ import annotations

import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.config import RunnerConfig
from corpusforge.io.writers import ROW_GROUP_ROWS, iter_parquet_rows, row_group_batches, write_row_stream_atomic
from corpusforge.pipelines import shards
from corpusforge.pipelines.options import make_runner, pipeline_options
from corpusforge.pipelines.shards import GroupBySortedRuns, WriteSortedShards, shard_of

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("hashes", pa.list_(pa.uint32()))])


def _rows(n: int) -> list[dict]:
    # ids in an order unlike their sort order, texts and hash lists of different lengths
    return [{"id": f"doc-{(i * 7919) % n:06d}", "text": "word " * (i % 13 + 1),
             "hashes": np.arange(i % 7, dtype=np.uint32)} for i in range(n)]


def _run(build, workers: int = 1):
    mode = "in_memory" if workers == 1 else "multi_processing"
    cfg = RunnerConfig(runner="FnApiRunner", direct_num_workers=workers, direct_running_mode=mode)
    with beam.Pipeline(runner=make_runner(cfg), options=pipeline_options(cfg)) as p:
        build(p)


def _write(tmp_path, name: str, rows: list[dict], spill_bytes: int = shards.SPILL_BYTES, workers: int = 1,
           **kw) -> list[str]:
    out = tmp_path / name
    _run(lambda p: (p | "Rows" >> beam.Create(rows)
                    | WriteSortedShards(str(out / "kept"), str(out / "_runs" / "kept"), 3, SCHEMA, lambda r: r["id"],
                                        key_fn=lambda r: r["id"], spill_bytes=spill_bytes,
                                        **{k: v(p) if callable(v) and k == "facts" else v for k, v in kw.items()})),
         workers)
    return sorted(os.listdir(out / "kept"))


def _same_files(a, b, names):
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("n", [1, 500])
def test_many_runs_and_merge_passes_write_the_bytes_of_one_run(tmp_path, monkeypatch, n):
    """One run per shard, one run per ROW (spill_bytes=1) merged in passes of 8 (FAN_IN), and two worker
    processes: the same shard files, sorted, each holding exactly its shard's ids, the runs removed."""
    rows = _rows(n)
    one = _write(tmp_path, "one", rows)
    monkeypatch.setattr(shards, "FAN_IN", 8)
    many = _write(tmp_path, "many", rows, spill_bytes=1)
    two = _write(tmp_path, "two", rows, spill_bytes=2_000, workers=2)
    assert one == many == two and one  # a shard no row hashed to has no file
    _same_files(tmp_path / "one" / "kept", tmp_path / "many" / "kept", one)
    _same_files(tmp_path / "one" / "kept", tmp_path / "two" / "kept", one)
    for name in one:
        ids = pq.read_table(tmp_path / "many" / "kept" / name).column("id").to_pylist()
        assert ids == sorted(ids)
        total = int(name.split("-of-")[1].split(".")[0])
        assert {shard_of(i, total) for i in ids} == {int(name.split("-")[1])}
    assert sum(pq.read_metadata(tmp_path / "many" / "kept" / f).num_rows for f in many) == n
    for name in ("many", "two"):  # the runs, and their shard directories, are gone once each shard is in place
        runs = tmp_path / name / "_runs" / "kept"
        assert not runs.exists() or not os.listdir(runs)


def test_json_lines_shards_are_sorted_jsonl_files_whatever_the_spills(tmp_path, monkeypatch):
    """schema=JSON_LINES (the quarantine's write): each shard a .jsonl file of its lines sorted by the sort
    key, byte-identical with one run per line merged in passes of 4 and with one run per shard; every line
    once, in the shard of its key."""
    import json

    lines = [json.dumps({"source": f"f{i % 3}.jsonl", "line": (i * 37) % 101, "error": "x" * (i % 5)})
             for i in range(101)]

    def write(name, spill_bytes):
        out = tmp_path / name
        _run(lambda p: (p | beam.Create(lines)
                        | WriteSortedShards(str(out / "q"), str(out / "_runs"), 3, shards.JSON_LINES,
                                            lambda ln: (json.loads(ln)["source"], json.loads(ln)["line"], ln),
                                            key_fn=lambda ln: json.loads(ln)["source"], spill_bytes=spill_bytes)))
        return sorted(os.listdir(out / "q"))

    one = write("one", shards.SPILL_BYTES)
    monkeypatch.setattr(shards, "FAN_IN", 4)
    many = write("many", 1)
    assert one == many and all(n.endswith(".jsonl") for n in one)
    _same_files(tmp_path / "one" / "q", tmp_path / "many" / "q", one)
    seen = []
    for name in one:
        got = (tmp_path / "many" / "q" / name).read_text(encoding="utf-8").splitlines()
        recs = [json.loads(ln) for ln in got]
        assert [(r["source"], r["line"]) for r in recs] == sorted((r["source"], r["line"]) for r in recs)
        assert {shard_of(r["source"], 3) for r in recs} == {int(name.split("-")[1])}
        seen += got
    assert sorted(seen) == sorted(lines)


def test_run_files_merge_in_sort_key_order(tmp_path):
    """Runs written from unsorted records come back merged in sort-key order, rows unchanged."""
    import pickle

    recs = [((i * 37) % 101, {"i": i, "b": bytes([i % 256]) * (i % 5)}) for i in range(101)]
    paths = []
    for j in range(4):
        part = recs[j::4]
        paths.append(shards.write_run([(k, pickle.dumps((k, r))) for k, r in part], str(tmp_path / f"r{j}.run")))
    out = list(shards.merged(paths))
    assert [k for k, _ in out] == sorted(k for k, _ in recs)
    assert sorted((r["i"], r["b"]) for _, r in out) == sorted((r["i"], r["b"]) for _, r in recs)


def test_parquet_files_are_read_row_group_by_row_group(tmp_path, monkeypatch):
    """Rows come back whole and in order across row groups, in batches that never span two groups (a reader
    holds one row group at a time), with only the columns asked for."""
    from corpusforge.io import writers

    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 2_000)
    rows = sorted(_rows(700), key=lambda r: r["id"])
    path = str(tmp_path / "groups.parquet")
    write_row_stream_atomic(iter(rows), SCHEMA, path)
    pf = pq.ParquetFile(path)
    sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
    assert len(sizes) > 5
    batches = list(row_group_batches(pf, 1000))
    assert [b.num_rows for b in batches] == sizes  # batch_rows above every group's size: one batch per group
    assert [b.num_rows for b in row_group_batches(pf, 7)] == [n for size in sizes for n in
                                                            [7] * (size // 7) + ([size % 7] if size % 7 else [])]
    back = list(iter_parquet_rows(path, batch_rows=16))
    assert [r["id"] for r in back] == [r["id"] for r in rows] and back[3]["text"] == rows[3]["text"]
    assert list(iter_parquet_rows(path, columns=["id"]))[5] == {"id": rows[5]["id"]}


def test_row_groups_close_at_their_row_or_byte_bound(tmp_path, monkeypatch):
    """A row group closes at ROW_GROUP_ROWS rows or ROW_GROUP_BYTES of row data, whichever comes first (so a
    writer's memory is bounded whatever the document sizes); the rows come back unchanged and in order."""
    from corpusforge.io import writers

    rows = sorted(_rows(ROW_GROUP_ROWS + 2500), key=lambda r: r["id"])
    write_row_stream_atomic(iter(rows), SCHEMA, str(tmp_path / "rows.parquet"))
    meta = pq.read_metadata(tmp_path / "rows.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS, 2500]
    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 20_000)
    big = rows[:100] + [{"id": "zz-big", "text": "x" * 50_000, "hashes": []}] + rows[100:300]
    write_row_stream_atomic(iter(big), SCHEMA, str(tmp_path / "bytes.parquet"))
    meta = pq.read_metadata(tmp_path / "bytes.parquet")
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [101, 200]  # the 50 kB row crosses 20 kB: its group closes with it; 200 small rows stay under
    back = pq.read_table(tmp_path / "bytes.parquet").to_pylist()
    assert [r["id"] for r in back] == [r["id"] for r in big]
    assert back[100]["text"] == big[100]["text"] and back[5]["hashes"] == list(big[5]["hashes"])


def test_only_columns_whose_values_repeat_get_a_parquet_dictionary(tmp_path):
    """Distinct values (ids, texts, hash lists) are written plain: a dictionary there only costs the writer memory
    (a hash table per column chunk); the columns a schema marks `repeated` (the language) keep their
    dictionary, and only those: the same column unmarked in another schema is plain. Both writers agree, the
    values come back unchanged, and the files do not carry the marks."""
    from corpusforge.io.writers import KEPT_SCHEMA, write_parquet_atomic

    plain = pa.schema([("id", pa.string()), ("language", pa.string())])
    write_row_stream_atomic(iter([{"id": f"d{i}", "language": "en"} for i in range(100)]), plain,
                            str(tmp_path / "plain.parquet"))
    assert "RLE_DICTIONARY" not in pq.read_metadata(tmp_path / "plain.parquet").row_group(0).column(1).encodings

    rows = [{"id": f"doc-{i:05d}", "text": f"text number {i} " * 5, "url": None, "source": "a.jsonl", "line": i,
             "language": ("en", "de")[i % 2], "language_score": 0.9, "perplexity": None, "perplexity_bucket": None,
             "annotations": "{}"} for i in range(3000)]
    for name, write in (("stream", lambda p: write_row_stream_atomic(iter(rows), KEPT_SCHEMA, p)),
                        ("whole", lambda p: write_parquet_atomic(rows, KEPT_SCHEMA, p))):
        path = str(tmp_path / f"{name}.parquet")
        write(path)
        group = pq.read_metadata(path).row_group(0)
        encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
        assert "RLE_DICTIONARY" in encodings["language"] and "RLE_DICTIONARY" in encodings["source"]
        assert not any("DICTIONARY" in e for e in encodings["id"] + encodings["text"]), encodings
        assert pq.read_table(path).to_pylist() == rows
        assert all(f.metadata is None for f in pq.read_schema(path))


def _upper_if_kept(row: dict, facts: list):
    return {**row, "text": row["text"].upper()} if "keep" in facts else None


@pytest.mark.parametrize("spill_bytes", [shards.SPILL_BYTES, 1])
def test_facts_join_in_the_write_keeps_and_changes_rows_by_their_facts(tmp_path, spill_bytes):
    """Rows joined to (key, fact) pairs as the shard's runs are merged: only rows with a "keep" fact are
    written, as join_fn made them; facts of keys without rows are ignored; the bytes are those of a plain
    write of the joined rows."""
    rows = _rows(500)
    keep = {r["id"] for r in rows if int(r["id"][4:]) % 3}
    facts = [(i, "keep") for i in sorted(keep)] + [("doc-999999", "keep"), ("doc-", "keep"), (rows[0]["id"], "other")]
    joined = _write(tmp_path, "joined", rows, spill_bytes=spill_bytes, join_fn=_upper_if_kept,
                    facts=lambda p: p | "Facts" >> beam.Create(facts))
    plain = _write(tmp_path, "plain", [{**r, "text": r["text"].upper()} for r in rows if r["id"] in keep])
    assert joined == plain
    _same_files(tmp_path / "joined" / "kept", tmp_path / "plain" / "kept", plain)
    with pytest.raises(ValueError, match="go together"):
        WriteSortedShards("k", "r", 3, SCHEMA, str, key_fn=str, join_fn=_upper_if_kept)


def _sorted_groups(groups):
    def canon(values):
        return sorted(values, key=repr)
    return sorted((k, canon(v) if isinstance(v, list) else {t: canon(x) for t, x in v.items()}) for k, v in groups)


@pytest.mark.parametrize("spill_bytes,fan_in", [(shards.SPILL_BYTES, 128), (1, 4)])
def test_sorted_run_grouping_gives_beams_groups(tmp_path, monkeypatch, spill_bytes, fan_in):
    """GroupBySortedRuns = Beam's GroupByKey / CoGroupByKey (a key's values as a multiset, every tag present,
    keys of one input only included, a tag fed by two PCollections), with one run per shard or one run per
    value merged in passes."""
    from apache_beam.testing.util import assert_that

    monkeypatch.setattr(shards, "FAN_IN", fan_in)
    pairs = [(f"k{(i * 31) % 97}", {"i": i, "text": "x" * (i % 9)}) for i in range(400)]
    pairs += [("", {"i": -2, "text": "empty key"}), ("é ü 日本", {"i": -1, "text": ""})]
    other = [(f"k{i}", i) for i in range(90, 130)]

    def check(expected):
        def _check(actual):
            assert _sorted_groups(actual) == _sorted_groups(expected)
        return _check

    def groups(*inputs):  # what Beam's GroupByKey / CoGroupByKey give, as plain Python
        keys = {k for pairs_ in inputs for k, _ in pairs_}
        by_key = [{k: [v for kk, v in pairs_ if kk == k] for k in keys} for pairs_ in inputs]
        if len(inputs) == 1:
            return list(by_key[0].items())
        return [(k, {"a": by_key[0][k], "b": by_key[1][k]}) for k in keys]

    # tuple keys (the dedup's candidate pairs): two keys whose parts joined with NUL are equal stay apart
    tuples = [((f"n{i % 13}", f"m{i % 7}"), i) for i in range(200)] + [(("a\x00b", "c"), -1), (("a", "b\x00c"), -2)]
    expected_one, expected_two, expected_tuples = groups(pairs), groups(pairs, other), groups(tuples)
    assert len(expected_two) > len(expected_one)

    def build(p):
        one = p | "P" >> beam.Create(pairs) | "One" >> GroupBySortedRuns(str(tmp_path / "r1"), 5, spill_bytes)
        # a tag given two PCollections: their values are that tag's
        b = (p | "B1" >> beam.Create(other[::2]), p | "B2" >> beam.Create(other[1::2]))
        two = {"a": p | "A" >> beam.Create(pairs), "b": b} | "Two" >> GroupBySortedRuns(str(tmp_path / "r2"), 5,
                                                                                         spill_bytes)
        three = p | "T" >> beam.Create(tuples) | "Tuples" >> GroupBySortedRuns(str(tmp_path / "r3"), 5, spill_bytes)
        assert_that(one, check(expected_one), label="CheckOne")
        assert_that(two, check(expected_two), label="CheckTwo")
        assert_that(three, check(expected_tuples), label="CheckTuples")

    _run(build)
    for d in ("r1", "r2", "r3"):  # the runs and their shard directories are removed once merged
        assert not (tmp_path / d).exists() or not os.listdir(tmp_path / d)


def _spill_runs(tmp_path, kind: str, spill_bytes: int) -> shards._SpillRuns:
    spill = shards._SpillRuns(str(tmp_path / "runs"), 4, kind, lambda kv: (kv[0], kv[0], kv[1]), spill_bytes)
    spill.start_bundle()
    return spill


def _records(paths: list[str]) -> list:
    return sorted(record for path in paths for record in shards.iter_run(path))


def test_the_spills_of_a_bundle_share_one_budget(tmp_path):
    """Two spills fused in one stage (one bundle, one thread) hold at most `spill_bytes` together, not each:
    when the total is reached, the one holding most writes a run (here the big one, while the small one
    receives), and that run's path comes out with the big one's next output or at its bundle's end. No row is
    lost or written twice."""
    budget = shards._thread_budget()
    limit, before = 40_000, budget.held
    big, small = _spill_runs(tmp_path, "big", limit), _spill_runs(tmp_path, "small", limit)
    sent = {"big": [], "small": []}
    held_most = 0
    for i in range(300):
        for spill, name, text in ((big, "big", "x" * 400), (small, "small", "y" * 20)):
            sent[name] += [value for _, (_, value) in spill.process((f"{name}-{i:04d}", text))]
            held_most = max(held_most, big.held + small.held)
    assert held_most < limit + 500  # one row over the limit at most, never two limits
    assert not sent["small"]  # the small spill never had to write: the big one did, for both
    sent["big"] += [wv.value[1][1] for wv in big.finish_bundle()]
    sent["small"] += [wv.value[1][1] for wv in small.finish_bundle()]
    assert len(sent["big"]) > 4 and len(sent["small"]) == len({shard_of(f"small-{i:04d}", 4) for i in range(300)})
    for name, text in (("big", "x" * 400), ("small", "y" * 20)):
        assert _records(sent[name]) == [(f"{name}-{i:04d}", text) for i in range(300)]
    assert budget.held == before and big not in budget.spills and small not in budget.spills


def test_a_failed_bundle_gives_its_budget_back(tmp_path):
    budget = shards._thread_budget()
    before = budget.held
    spill = _spill_runs(tmp_path, "failed", 10_000)
    list(spill.process(("a", "z" * 1_000)))
    assert budget.held >= before + 1_000
    spill.teardown()  # the bundle failed: no finish_bundle
    assert budget.held == before and spill not in budget.spills


def test_bundles_on_other_threads_have_their_own_budget(tmp_path):
    """A Dataflow worker runs several bundles at once, one per thread: one bundle's rows never make another's
    spill write early."""
    import threading

    here = _spill_runs(tmp_path, "here", 10_000)
    list(here.process(("a", "z" * 6_000)))
    sent = []

    def other_bundle():
        there = _spill_runs(tmp_path, "there", 10_000)
        sent.extend(there.process(("b", "z" * 5_000)))  # 11 kB in this process, 5 kB in this bundle
        sent.extend(wv.value for wv in there.finish_bundle())

    thread = threading.Thread(target=other_bundle)
    thread.start()
    thread.join()
    assert len(sent) == 1 and here.held > 6_000  # "there" wrote only at its end, "here" still holds its row
    assert len(list(here.finish_bundle())) == 1
