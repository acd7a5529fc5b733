"""WriteSortedShards (pipelines/shards.py): groups of bounded size, the same bytes as a one-group write."""
from __future__ import annotations

import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.config import RunnerConfig
from corpusforge.io.writers import ROW_GROUP_ROWS, write_parquet_sorted_atomic
from corpusforge.pipelines.options import make_runner, pipeline_options
from corpusforge.pipelines.shards import GROUP_BYTES, WriteSortedShards, buckets_per_shard, shard_of

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("hashes", pa.list_(pa.uint32()))])


def _rows(n: int) -> list[dict]:
    # ids in an order unlike their sort order, texts and hash lists of different lengths
    return [{"id": f"doc-{(i * 7919) % n:06d}", "text": "word " * (i % 13 + 1),
             "hashes": np.arange(i % 7, dtype=np.uint32)} for i in range(n)]


def _write(tmp_path, name: str, rows: list[dict], expected_bytes: int) -> list[str]:
    out = tmp_path / name
    cfg = RunnerConfig(runner="FnApiRunner", direct_num_workers=1, direct_running_mode="in_memory")
    with beam.Pipeline(runner=make_runner(cfg), options=pipeline_options(cfg)) as p:
        (p | beam.Create(rows)
           | WriteSortedShards(str(out / "kept"), str(out / "_runs" / "kept"), 3, SCHEMA, lambda r: r["id"],
                               key_fn=lambda r: r["id"], expected_bytes=expected_bytes))
    return sorted(os.listdir(out / "kept"))


def test_buckets_grow_with_the_expected_bytes():
    assert WriteSortedShards("k", "r", 3, SCHEMA, str, key_fn=str, expected_bytes=12 * GROUP_BYTES).buckets == 4
    assert buckets_per_shard(0, 2) == 1
    assert buckets_per_shard(GROUP_BYTES, 2) == 1
    assert buckets_per_shard(8 * GROUP_BYTES, 2) == 4


@pytest.mark.parametrize("n", [1, 500])
def test_many_groups_write_the_bytes_of_one_group(tmp_path, n):
    rows = _rows(n)
    one = _write(tmp_path, "one", rows, expected_bytes=0)  # one group per shard: written directly
    many = _write(tmp_path, "many", rows, expected_bytes=12 * GROUP_BYTES)  # 4 sorted runs per shard, merged
    assert one == many and one  # the same shard files (a shard no row hashed to has none)
    for name in one:
        assert (tmp_path / "one" / "kept" / name).read_bytes() == (tmp_path / "many" / "kept" / name).read_bytes()
        ids = pq.read_table(tmp_path / "many" / "kept" / name).column("id").to_pylist()
        assert ids == sorted(ids)
        total = int(name.split("-of-")[1].split(".")[0])
        assert {shard_of(i, total) for i in ids} == {int(name.split("-")[1])}
    assert sum(pq.read_metadata(tmp_path / "many" / "kept" / f).num_rows for f in many) == n
    runs = tmp_path / "many" / "_runs" / "kept"  # the runs are gone once their shard is in place
    assert not runs.exists() or not [f for _, _, fs in os.walk(runs) for f in fs]


def test_spilled_sort_writes_the_bytes_of_an_in_memory_sort(tmp_path):
    """More rows than a row group and than the spill buffer: the streamed merge (record batches gathered
    into ROW_GROUP_ROWS-row groups) gives the bytes of the one-table write."""
    rows = _rows(ROW_GROUP_ROWS + 2500)
    write_parquet_sorted_atomic(rows, SCHEMA, str(tmp_path / "memory.parquet"), lambda r: r["id"])
    write_parquet_sorted_atomic(rows, SCHEMA, str(tmp_path / "spilled.parquet"), lambda r: r["id"],
                                buffer_bytes=50_000)
    assert (tmp_path / "memory.parquet").read_bytes() == (tmp_path / "spilled.parquet").read_bytes()
    meta = pq.read_metadata(tmp_path / "spilled.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS, 2500]


def _upper_if_kept(row: dict, facts: list):
    return {**row, "text": row["text"].upper()} if "keep" in facts else None


@pytest.mark.parametrize("expected_bytes", [0, 12 * GROUP_BYTES])
def test_facts_join_in_the_write_keeps_and_changes_rows_by_their_facts(tmp_path, expected_bytes):
    """Rows joined to (key, fact) pairs inside the write's own grouping: only rows with a "keep" fact are
    written, as join_fn made them; the bytes are those of a plain write of the joined rows."""
    rows = _rows(500)
    keep = {r["id"] for r in rows if int(r["id"][4:]) % 3}
    facts = [(i, "keep") for i in sorted(keep)] + [("doc-999999", "keep"), (rows[0]["id"], "other")]
    out = tmp_path / "joined"
    cfg = RunnerConfig(runner="FnApiRunner", direct_num_workers=1, direct_running_mode="in_memory")
    with beam.Pipeline(runner=make_runner(cfg), options=pipeline_options(cfg)) as p:
        (p | "Rows" >> beam.Create(rows)
           | WriteSortedShards(str(out / "kept"), str(out / "_runs" / "kept"), 3, SCHEMA, lambda r: r["id"],
                               key_fn=lambda r: r["id"], expected_bytes=expected_bytes,
                               facts=p | "Facts" >> beam.Create(facts), join_fn=_upper_if_kept))
    plain = _write(tmp_path, "plain", [{**r, "text": r["text"].upper()} for r in rows if r["id"] in keep], 0)
    assert sorted(os.listdir(out / "kept")) == plain
    for name in plain:
        assert (out / "kept" / name).read_bytes() == (tmp_path / "plain" / "kept" / name).read_bytes()
    with pytest.raises(ValueError, match="go together"):
        WriteSortedShards("k", "r", 3, SCHEMA, str, key_fn=str, join_fn=_upper_if_kept)
