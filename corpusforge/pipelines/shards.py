"""Sharded, sorted Parquet outputs whose rows never cross a shuffle (issue 13, item 5).

A GroupByKey hands a worker its share of the grouped output at once (the local FnApiRunner sends it as one
data-plane message, bench/bench_runner_shuffle.py), so a write that groups rows costs each worker memory in
proportion to the corpus. `WriteSortedShards` is an external sort instead, as Spark's sort shuffle and
datatrove's MinHash stages do it with files:

    rows  --spill-->  sorted runs per shard (files)  --GroupByKey of run PATHS-->  streamed merge per shard

`_SpillRuns` runs fused with whatever makes the rows; all the spills of a bundle together hold at most
`spill_bytes` of pickled rows (`_SpillBudget`): when full, the one holding most writes its largest shard's rows
as one sorted run (and each spill writes every shard's at the end of its bundle) and emits (shard, run path).
Only those paths cross the shuffle. `_MergeRuns` merges a shard's runs as streams (one row per run in memory,
`FAN_IN` runs at a time) into its Parquet file (bounded row groups, io/writers.py), so a shard's bytes depend
only on its rows, never on bundles, spills or worker count.

`facts`: (key, fact) pairs spilled the same way; each row is written as `join_fn(row, facts of its key)`,
joined while the shard's sorted rows and facts stream by (the rows must sort by key first).

    rows | "WriteKept" >> WriteSortedShards(f"{out}/kept", f"{out}/_runs/kept", 2, KEPT_SCHEMA, sort_key,
                                            key_fn=lambda r: r["id"])
"""
from __future__ import annotations

import hashlib
import heapq
import io
import itertools
import pickle
import threading
import uuid
import weakref
from typing import Any, Callable, Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from corpusforge import storage
from corpusforge.io.writers import shard_name, write_jsonl_atomic, write_row_stream_atomic

# Pickled rows a spilling bundle holds before it writes its largest shard's rows as a sorted run. It costs the
# worker more than its size (the rows' tuples, the sort): at 80,000 documents phase B's keys stage peaked at 313 MB
# with 8 MB and 298 MB with 4 MB, at the same speed (BENCHMARKS.md "Reliability", fifteenth session).
SPILL_BYTES = 4 << 20
FAN_IN = 128  # runs merged at once (open files); more runs are first merged in passes of FAN_IN
_READ_BUFFER = 1 << 16
ROWS, FACTS = "rows", "facts"
# `schema` of a WriteSortedShards whose rows are JSON lines (str): one JSONL file per shard instead of Parquet.
JSON_LINES = "jsonl"


def shard_of(key: str, total: int) -> int:
    """The output shard of a document id (or any string key): a keyed hash, stable across runs and workers."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") % total


# ---------------------------------------------------------------------------------------------- run files
def write_run(records: list[tuple[Any, bytes]], path: str) -> str:
    """(sort key, pickled (sort key, row)) records -> a run file, in sort-key order, atomically."""
    records.sort(key=_sort_key)
    with storage.atomic_writer(path) as f:
        for _, blob in records:
            f.write(blob)
    return path


def iter_run(path: str) -> Iterator[tuple[Any, Any]]:
    """A run file's (sort key, row) records, one at a time."""
    with storage.open_read(path) as raw:
        f = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, _READ_BUFFER)
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def merged(paths: list[str]) -> Iterator[tuple[Any, Any]]:
    """The records of sorted run files in sort-key order (ties in path order)."""
    return heapq.merge(*(iter_run(p) for p in sorted(paths)), key=_sort_key)


def _sort_key(record):
    return record[0]


def at_most_fan_in(runs_dir: str, shard: int, paths: list[str], kind: str, removable: list[str]) -> list[str]:
    """A shard's runs, first merged in passes of FAN_IN runs while there are more (so a merge never opens more
    than FAN_IN files); the intermediate runs are added to `removable`."""
    paths = sorted(paths)
    level = 0
    while len(paths) > FAN_IN:
        level += 1
        out = []
        for i in range(0, len(paths), FAN_IN):
            path = storage.join(runs_dir, f"{shard:05d}", f"{kind}-merged-{level}-{i // FAN_IN:05d}.run")
            out.append(merge_runs_to_one(paths[i:i + FAN_IN], path))
        removable.extend(out)
        paths = out
    return paths


def merge_runs_to_one(paths: list[str], path: str) -> str:
    """Several sorted runs -> one sorted run (a pass of a merge with more runs than FAN_IN)."""
    with storage.atomic_writer(path) as f:
        for record in merged(paths):
            f.write(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
    return path


# ------------------------------------------------------------------------------------------------ Beam
class _SpillBudget:
    """The pickled rows the `_SpillRuns` of one bundle hold together: the steps Beam fuses into one stage run
    in one thread, so there is one budget per thread (a Dataflow worker runs several bundles at once, each with
    its own). A fused stage often spills three or four outputs at once (the dedup's keys stage: documents, state
    rows, shingles, Keys); with a limit each, they held up to four times `spill_bytes` together (measured: +31 MB
    per worker for 40,000 documents). When the total reaches a spill's limit, the spill holding most writes its
    largest shard's rows as a run and sends the run's path with its next output (or at the end of its bundle)."""

    def __init__(self):
        self.lock = threading.Lock()  # teardown may come from another thread
        self.held = 0
        self.spills: weakref.WeakSet = weakref.WeakSet()

    def largest(self) -> "_SpillRuns":
        return max(self.spills, key=lambda spill: spill.held)


_THREAD = threading.local()


def _thread_budget() -> _SpillBudget:
    budget = getattr(_THREAD, "budget", None)
    if budget is None:
        budget = _THREAD.budget = _SpillBudget()
    return budget


class _SpillRuns(beam.DoFn):
    """Elements -> (shard, (kind, run path)); `record_fn(element)` gives (shard key, sort key, row). What all
    the spills of a bundle hold together is bounded by `spill_bytes` (`_SpillBudget`)."""

    def __init__(self, runs_dir: str, total: int, kind: str, record_fn, spill_bytes: int):
        self.runs_dir, self.total, self.kind, self.spill_bytes = runs_dir, total, kind, spill_bytes
        self.record_fn = record_fn

    def start_bundle(self):
        self._release()  # what a failed earlier bundle of this instance left
        self.buffers: dict[int, list] = {}
        self.sizes: dict[int, int] = {}
        self.held = 0
        self.written: list[tuple[int, tuple[str, str]]] = []  # runs written, their paths not yet sent
        self.bundle = uuid.uuid4().hex
        self._budget = _thread_budget()
        with self._budget.lock:
            self._budget.spills.add(self)

    def _spill(self, shard: int) -> tuple[int, tuple[str, str]]:
        """Writes `shard`'s rows as one run (the caller holds the budget's lock)."""
        records = self.buffers.pop(shard)
        size = self.sizes.pop(shard)
        self.held -= size
        self._budget.held -= size
        path = storage.join(self.runs_dir, f"{shard:05d}", f"{self.kind}-{self.bundle}-{uuid.uuid4().hex[:8]}.run")
        return shard, (self.kind, write_run(records, path))

    def process(self, element):
        key, sk, row = self.record_fn(element)
        blob = pickle.dumps((sk, row), protocol=pickle.HIGHEST_PROTOCOL)
        shard = shard_of(key, self.total)
        budget = self._budget
        with budget.lock:
            self.buffers.setdefault(shard, []).append((sk, blob))
            self.sizes[shard] = self.sizes.get(shard, 0) + len(blob)
            self.held += len(blob)
            budget.held += len(blob)
            if budget.held >= self.spill_bytes:
                spill = budget.largest()
                if spill.sizes:
                    spill.written.append(spill._spill(max(spill.sizes, key=spill.sizes.get)))
            written, self.written = self.written, []
        yield from written

    def finish_bundle(self):
        with self._budget.lock:
            written = self.written + [self._spill(shard) for shard in sorted(self.buffers)]
            self.written = []
            self._budget.spills.discard(self)
        for run in written:
            yield WindowedValue(run, 0, [GlobalWindow()])

    def teardown(self):
        self._release()

    def _release(self):
        budget = getattr(self, "_budget", None)
        if budget is None:
            return
        with budget.lock:
            budget.held -= self.held
            self.held = 0
            budget.spills.discard(self)


class _MergeRuns(beam.DoFn):
    """(shard, [(kind, run path)]) -> the shard's Parquet (or JSONL) file; its runs are removed once it is in
    place."""

    def __init__(self, directory: str, runs_dir: str, total: int, schema, join_fn=None):
        self.directory, self.runs_dir, self.total, self.schema = directory, runs_dir, total, schema
        self.join_fn = join_fn

    def process(self, item):
        shard, runs = item
        removable = [path for _, path in runs]
        row_runs = at_most_fan_in(self.runs_dir, shard, [p for k, p in runs if k == ROWS], ROWS, removable)
        if self.join_fn is None:
            rows = (row for _, row in merged(row_runs))
        else:
            fact_runs = at_most_fan_in(self.runs_dir, shard, [p for k, p in runs if k == FACTS], FACTS, removable)
            rows = _merge_join(merged(row_runs), merged(fact_runs), self.join_fn)
        first = next(rows, None)
        if first is None:  # every row of the shard was joined away: no file (the caller fills empty shards)
            _remove_all(removable)
            return
        rows = itertools.chain([first], rows)
        if self.schema == JSON_LINES:
            path = storage.join(self.directory, shard_name("part", shard, self.total, "jsonl"))
            write_jsonl_atomic(rows, path)
        else:
            path = storage.join(self.directory, shard_name("part", shard, self.total, "parquet"))
            write_row_stream_atomic(rows, self.schema, path)
        _remove_all(removable)
        yield path


def _remove_all(paths: list[str]) -> None:
    """A shard's merged runs, and then its run directory once empty."""
    for path in paths:
        storage.remove(path)
    for directory in sorted({path.rsplit("/", 1)[0] for path in paths}):
        storage.remove_if_empty(directory)


def _merge_join(rows: Iterator[tuple[Any, Any]], facts: Iterator[tuple[Any, Any]], join_fn) -> Iterator[dict]:
    """Rows (sort key starts with their join key) and (key, fact) records, both in key order ->
    join_fn(row, facts of the row's key), None results left out."""
    pending = next(facts, None)
    key, current = None, []
    for sk, row in rows:
        row_key = sk[0] if isinstance(sk, tuple) else sk
        if row_key != key:
            key, current = row_key, []
            while pending is not None and pending[0] < key:
                pending = next(facts, None)
            while pending is not None and pending[0] == key:
                current.append(pending[1][1])  # the record of a fact is (key, (key, fact))
                pending = next(facts, None)
        out = join_fn(row, current)
        if out is not None:
            yield out


class _RowRecord:
    """A row of a shard write: shard by `key_fn(element)`, sorted by `sort_key(row)`."""

    def __init__(self, key_fn, row_fn, sort_key):
        self.key_fn, self.row_fn, self.sort_key = key_fn, row_fn, sort_key

    def __call__(self, element):
        row = self.row_fn(element) if self.row_fn else element
        return self.key_fn(element), self.sort_key(row), row


def _fact_record(kv):
    return kv[0], kv[0], kv


class _TaggedRecord:
    """A (key, value) of input `tag` of a grouping: sorted by key, the tag kept with the value. A key is a str
    or a tuple of str (sharded by its parts joined with NUL; equal keys always share a shard)."""

    def __init__(self, tag: int):
        self.tag = tag

    def __call__(self, kv):
        key = kv[0]
        return key if isinstance(key, str) else "\x00".join(key), key, (self.tag, kv[1])


class WriteSortedShards(beam.PTransform):
    """Rows (one PCollection, or a tuple of them) -> `directory/part-NNNNN-of-MMMMM.parquet`, each sorted by
    `sort_key`, written atomically; yields the paths written. A shard no row hashed to gets no file here (the
    caller fills empty shards). With `schema=JSON_LINES` the rows are JSON lines and the shards `.jsonl` files.

    `key_fn(element)` names the shard (`shard_of`); `row_fn(element)` makes the row (default: the element).
    `facts` (optional): a PCollection of (key, fact); each row is written as `join_fn(row, facts of its key)`,
    or not at all when that returns None (`sort_key` must then order rows by their key first)."""

    def __init__(self, directory: str, runs_dir: str, total: int, schema, sort_key: Callable[[Any], Any],
                 key_fn: Callable[[Any], str], row_fn: Callable[[Any], Any] | None = None,
                 facts: beam.PCollection | None = None, join_fn: Callable[[Any, list], dict | None] | None = None,
                 spill_bytes: int = SPILL_BYTES):
        super().__init__()
        if (facts is None) != (join_fn is None):
            raise ValueError("WriteSortedShards: `facts` and `join_fn` go together")
        self.directory, self.runs_dir, self.total, self.schema = directory, runs_dir, total, schema
        self.sort_key, self.key_fn, self.row_fn = sort_key, key_fn, row_fn
        self.facts, self.join_fn, self.spill_bytes = facts, join_fn, spill_bytes

    def expand(self, pcolls):
        record = _RowRecord(self.key_fn, self.row_fn, self.sort_key)
        inputs = list(pcolls) if isinstance(pcolls, (tuple, list)) else [pcolls]
        # Each input is spilled where it is made; only run paths are Flattened (on the FnApiRunner a Flatten of
        # several inputs is a stage of its own that every element passes through).
        runs = [pcoll | f"SpillRows{i or ''}" >> beam.ParDo(
                    _SpillRuns(self.runs_dir, self.total, ROWS, record, self.spill_bytes)) for i, pcoll in enumerate(inputs)]
        if self.facts is not None:
            runs.append(self.facts | "SpillFacts" >> beam.ParDo(
                _SpillRuns(self.runs_dir, self.total, FACTS, _fact_record, self.spill_bytes)))
        runs = runs[0] if len(runs) == 1 else tuple(runs) | "AllRuns" >> beam.Flatten()
        return (runs
                | "GroupRuns" >> beam.GroupByKey()
                | "MergeRuns" >> beam.ParDo(_MergeRuns(self.directory, self.runs_dir, self.total, self.schema,
                                                       self.join_fn)))


class _MergeGroups(beam.DoFn):
    """(shard, [(kind, run path)]) -> (key, [values]) or (key, {tag: [values]}) for each key of the shard, in
    key order, as its runs stream by; the runs are removed once the shard is done."""

    def __init__(self, runs_dir: str, tags: list[str] | None):
        self.runs_dir, self.tags = runs_dir, tags

    def process(self, item):
        shard, runs = item
        paths = [path for _, path in runs]
        removable = list(paths)
        paths = at_most_fan_in(self.runs_dir, shard, paths, ROWS, removable)
        for key, records in itertools.groupby(merged(paths), key=_sort_key):
            if self.tags is None:
                yield key, [value for _, (_, value) in records]
            else:
                grouped = {tag: [] for tag in self.tags}
                for _, (tag, value) in records:
                    grouped[self.tags[tag]].append(value)
                yield key, grouped
        _remove_all(removable)


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class GroupBySortedRuns(beam.PTransform):
    """GroupByKey (one PCollection) or CoGroupByKey (a dict of them) of (key, value) pairs (key: a str or a
    tuple of str) whose values
    never cross a shuffle: they are spilled to sorted runs in `shards` shards (shard_of(key)), only the run
    paths are grouped, and each shard's runs are merged as streams, one key's values in memory at a time.
    Gives (key, [values]) or (key, {tag: [values]}) like Beam's; a key's values come in no fixed order. A tag
    may be given a tuple of PCollections (their values are that tag's; no Flatten of them).
    What follows runs fused with the merge, `shards` ways parallel."""

    def __init__(self, runs_dir: str, shards: int, spill_bytes: int = SPILL_BYTES):
        super().__init__()
        self.runs_dir, self.shards, self.spill_bytes = runs_dir, shards, spill_bytes

    def expand(self, pcolls):
        tags = sorted(pcolls) if isinstance(pcolls, dict) else None
        # (tag index, PCollection): a tag may be given a tuple of PCollections, each spilled where it is made
        inputs = [(i, pc) for i, t in enumerate(tags) for pc in _as_tuple(pcolls[t])] if tags else [(0, pcolls)]
        runs = [pcoll | f"Spill[{tags[i] if tags else 'values'}]{j or ''}" >> beam.ParDo(
                    _SpillRuns(self.runs_dir, self.shards, f"{ROWS}{i}", _TaggedRecord(i), self.spill_bytes))
                for j, (i, pcoll) in enumerate(inputs)]
        runs = runs[0] if len(runs) == 1 else tuple(runs) | "AllRuns" >> beam.Flatten()
        return (runs
                | "GroupRuns" >> beam.GroupByKey()
                | "MergeGroups" >> beam.ParDo(_MergeGroups(self.runs_dir, tags)))
