"""Sharded, sorted Parquet outputs with memory per worker bounded by a group, not by a shard (issue 13, item 5).

A GroupByKey hands a worker each group whole (the local FnApiRunner even sends it as one data-plane
message), so grouping a shard under one key costs a worker memory in proportion to the shard, which grows
with the corpus. `WriteSortedShards` groups rows by (shard, bucket) instead, with as many buckets per shard
as its expected bytes need for groups of about GROUP_BYTES; each group is written as a sorted run, then each
shard's runs are merged as streams into its final file (`merge_sorted_parquet_atomic`: one record batch per
run and one row group in Arrow form in memory). With one bucket per shard (a small corpus) it is the one-step
write it always was. Either way a shard's bytes depend only on its rows.

    rows | "WriteKept" >> WriteSortedShards(f"{out}/kept", f"{out}/_runs/kept", 2, KEPT_SCHEMA, sort_key,
                                            key_fn=lambda r: r["id"], expected_bytes=input_bytes)
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Callable

import apache_beam as beam

from corpusforge import storage
from corpusforge.io.writers import merge_sorted_parquet_atomic, shard_name, write_parquet_sorted_atomic

# Expected bytes (as stored: compressed input, zstd checkpoints) per group. A decoded row takes several
# times its stored size in a worker; 1 MiB stored keeps a group to some tens of MB.
GROUP_BYTES = 1 << 20


def shard_of(key: str, total: int) -> int:
    """The output shard of a document id (or any string key): a keyed hash, stable across runs and workers."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") % total


def _bucket_of(key: str, buckets: int) -> int:
    if buckets == 1:
        return 0
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"cf-bucket").digest()
    return int.from_bytes(digest, "big") % buckets


def buckets_per_shard(expected_bytes: int, total: int) -> int:
    """Groups per shard so that one holds about GROUP_BYTES of the expected bytes (at least one)."""
    return max(1, math.ceil(max(expected_bytes, 0) / max(total, 1) / GROUP_BYTES))


class _WriteGroup(beam.DoFn):
    """((shard, bucket), rows) -> the shard's file (one bucket) or one sorted run of it (several)."""

    def __init__(self, directory: str, runs_dir: str, total: int, buckets: int, schema, sort_key, join_fn=None):
        self.directory, self.runs_dir, self.total, self.buckets = directory, runs_dir, total, buckets
        self.schema, self.sort_key, self.join_fn = schema, sort_key, join_fn

    def _joined(self, groups) -> list:
        facts: dict[str, list] = {}
        for key, fact in groups["facts"]:
            facts.setdefault(key, []).append(fact)
        rows = (self.join_fn(row, facts.get(key, [])) for key, row in groups["rows"])
        return [row for row in rows if row is not None]

    def process(self, item):
        (shard, bucket), rows = item
        if self.join_fn is not None:
            rows = self._joined(rows)
            if not rows:
                return
        if self.buckets == 1:
            path = f"{self.directory}/{shard_name('part', shard, self.total, 'parquet')}"
            yield write_parquet_sorted_atomic(rows, self.schema, path, self.sort_key)
            return
        run = f"{self.runs_dir}/{shard:05d}/run-{bucket:05d}.parquet"
        yield shard, write_parquet_sorted_atomic(rows, self.schema, run, self.sort_key, compression="none")


class _MergeRuns(beam.DoFn):
    """(shard, run paths) -> the shard's file, merged as streams; the runs are removed once it is in place."""

    def __init__(self, directory: str, total: int, schema, sort_key):
        self.directory, self.total, self.schema, self.sort_key = directory, total, schema, sort_key

    def process(self, item):
        shard, runs = item
        runs = sorted(runs)
        path = f"{self.directory}/{shard_name('part', shard, self.total, 'parquet')}"
        merge_sorted_parquet_atomic(runs, self.schema, path, self.sort_key)
        for run in runs:
            storage.remove(run)
        yield path


class WriteSortedShards(beam.PTransform):
    """Rows -> `directory/part-NNNNN-of-MMMMM.parquet`, each sorted by `sort_key`, written atomically; yields
    the paths written. A shard no row hashed to gets no file here (the caller fills empty shards).

    `facts` (optional): a PCollection of (key, fact); each row is written as `join_fn(row, facts of its key)`,
    or not at all when that returns None. The join happens in the write's own grouping, so the rows cross
    one shuffle, not a join's and then the write's."""

    def __init__(self, directory: str, runs_dir: str, total: int, schema, sort_key: Callable[[dict], Any],
                 key_fn: Callable[[Any], str], row_fn: Callable[[Any], dict] | None = None, expected_bytes: int = 0,
                 facts: beam.PCollection | None = None, join_fn: Callable[[dict, list], dict | None] | None = None):
        super().__init__()
        if (facts is None) != (join_fn is None):
            raise ValueError("WriteSortedShards: `facts` and `join_fn` go together")
        self.directory, self.runs_dir, self.total, self.schema = directory, runs_dir, total, schema
        self.sort_key, self.key_fn, self.row_fn = sort_key, key_fn, row_fn
        self.facts, self.join_fn = facts, join_fn
        self.buckets = buckets_per_shard(expected_bytes, total)

    def _group_key(self, key: str):
        return shard_of(key, self.total), _bucket_of(key, self.buckets)

    def _keyed(self, x):
        return self._group_key(self.key_fn(x)), self.row_fn(x) if self.row_fn else x

    def _keyed_with_key(self, x):
        key = self.key_fn(x)
        return self._group_key(key), (key, self.row_fn(x) if self.row_fn else x)

    def _fact_keyed(self, kv):
        return self._group_key(kv[0]), kv

    def expand(self, pcoll):
        if self.facts is None:
            groups = pcoll | "Key" >> beam.Map(self._keyed) | "Group" >> beam.GroupByKey()
        else:
            groups = ({"rows": pcoll | "Key" >> beam.Map(self._keyed_with_key),
                       "facts": self.facts | "FactKey" >> beam.Map(self._fact_keyed)}
                      | "Group" >> beam.CoGroupByKey())
        written = groups | "Write" >> beam.ParDo(_WriteGroup(self.directory, self.runs_dir, self.total, self.buckets,
                                                             self.schema, self.sort_key, self.join_fn))
        if self.buckets == 1:
            return written
        return (written
                | "GroupRuns" >> beam.GroupByKey()
                | "MergeRuns" >> beam.ParDo(_MergeRuns(self.directory, self.total, self.schema, self.sort_key)))
