"""Output writers: Parquet shards for kept/ and dropped/, JSONL for quarantine/, atomic JSON files.

Every writer writes through `storage.atomic_writer` (temporary name, then rename), so a killed run never
leaves a half-written file under a final name. Rows are sorted and Parquet is written without timestamps, so
the same rows give the same bytes.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge import storage
from corpusforge.records import Document, Dropped

# Annotations promoted to their own typed columns; everything else goes into `annotations` (JSON).
KEPT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("source", pa.string()),
        ("line", pa.int64()),
        ("language", pa.string()),
        ("language_score", pa.float64()),
        ("perplexity", pa.float64()),
        ("perplexity_bucket", pa.string()),
        ("annotations", pa.string()),
    ]
)
DROPPED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("duplicate_of", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("source", pa.string()),
        ("line", pa.int64()),
        ("language", pa.string()),
        ("signals", pa.string()),
    ]
)
_PROMOTED = ("language", "language_score", "perplexity", "perplexity_bucket")


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def kept_row(doc: Document) -> dict:
    meta = doc.meta
    return {
        "id": doc.id,
        "text": doc.text,
        "url": doc.url,
        "source": doc.source,
        "line": doc.line,
        "language": meta.get("language"),
        "language_score": meta.get("language_score"),
        "perplexity": meta.get("perplexity"),
        "perplexity_bucket": meta.get("perplexity_bucket"),
        "annotations": _json({k: v for k, v in meta.items() if k not in _PROMOTED}),
    }


def dropped_row(d: Dropped) -> dict:
    return {
        "id": d.doc.id,
        "stage": d.stage,
        "reason": d.reason,
        "duplicate_of": d.duplicate_of,
        "text": d.doc.text,
        "url": d.doc.url,
        "source": d.doc.source,
        "line": d.doc.line,
        "language": d.doc.meta.get("language"),
        "signals": _json(d.signals),
    }


def write_parquet_atomic(rows: list[dict], schema: pa.Schema, path: str, compression: str = "zstd") -> str:
    """Write rows (already in their final order) as one Parquet file, atomically."""
    table = pa.Table.from_pylist(rows, schema=schema)
    with storage.atomic_writer(path) as f:
        pq.write_table(table, f, compression=compression, write_statistics=True,
                       row_group_size=max(1, min(len(rows), 10_000)))
    return path


# Rows of one shard held in memory before a sorted run is spilled to a local temporary file. Text dominates a
# row's size: 64 MB of it bounds the writer whatever the shard size (issue 13, item 5).
SORT_BUFFER_BYTES = 64 << 20
ROW_GROUP_ROWS = 10_000
MERGE_ROWS = 4096  # rows read ahead over all the inputs of a merge, as Python objects


def _row_bytes(row: dict) -> int:
    """About what a row costs in memory: its strings, and 8 bytes per element of a hash list."""
    return sum(len(v) if isinstance(v, str) else 8 * len(v) if hasattr(v, "__len__") else 8
               for v in row.values()) + 64


def write_parquet_sorted_atomic(rows: Iterable[dict], schema: pa.Schema, path: str, sort_key,
                                buffer_bytes: int = SORT_BUFFER_BYTES, compression: str = "zstd") -> str:
    """Write rows in `sort_key` order as one Parquet file, atomically, with memory bounded by `buffer_bytes`.

    An external merge sort: sorted runs of at most `buffer_bytes` are spilled to local Parquet files and
    merged row group by row group. A shard that fits in one run is written straight from memory; both paths
    give row groups of ROW_GROUP_ROWS rows, so the bytes depend only on the rows. `compression="none"` is for
    intermediate files read back once (the sorted runs of pipelines/shards.py).
    """
    import heapq
    import shutil
    import tempfile

    spill_dir = None
    runs: list[str] = []
    buf: list[dict] = []
    size = 0
    try:
        for row in rows:
            buf.append(row)
            size += _row_bytes(row)
            if size >= buffer_bytes:
                spill_dir = spill_dir or tempfile.mkdtemp(prefix="corpusforge-sort-")
                buf.sort(key=sort_key)
                runs.append(f"{spill_dir}/run-{len(runs):05d}.parquet")
                pq.write_table(pa.Table.from_pylist(buf, schema=schema), runs[-1], compression="none",
                               row_group_size=ROW_GROUP_ROWS)
                buf, size = [], 0
        buf.sort(key=sort_key)
        if not runs:
            return write_parquet_atomic(buf, schema, path, compression)
        return _write_row_stream(heapq.merge(*_run_streams(runs), iter(buf), key=sort_key), schema, path, compression)
    finally:
        if spill_dir:
            shutil.rmtree(spill_dir, ignore_errors=True)


def merge_sorted_parquet_atomic(paths: list[str], schema: pa.Schema, path: str, sort_key) -> str:
    """Parquet files each sorted by `sort_key` -> one file in `sort_key` order, atomically, with a small record
    batch per input and one row group (as Arrow columns) in memory; the bytes are those of
    `write_parquet_sorted_atomic` on the same rows."""
    import heapq

    return _write_row_stream(heapq.merge(*_run_streams(paths), key=sort_key), schema, path)


def _run_streams(paths: list[str]) -> list:
    """One row iterator per sorted file, each reading small batches: the rows waiting in a merge stay about
    MERGE_ROWS however many files there are."""
    batch = max(16, MERGE_ROWS // max(len(paths), 1))
    return [iter_parquet_rows(p, batch) for p in paths]


def iter_parquet_rows(path: str, batch_rows: int = 1024):
    """A Parquet file's rows, one record batch at a time (never the whole file in memory)."""
    import io

    with storage.open_read(path) as f:
        source = f if getattr(f, "seekable", lambda: False)() else io.BytesIO(f.read())
        for batch in pq.ParquetFile(source).iter_batches(batch_size=batch_rows):
            yield from batch.to_pylist()


def _write_row_stream(rows: Iterable[dict], schema: pa.Schema, path: str, compression: str = "zstd",
                      batch_rows: int = 1024) -> str:
    """Rows in their final order -> one Parquet file of ROW_GROUP_ROWS-row groups. Rows become Arrow record
    batches `batch_rows` at a time, so a row group waits in columnar form, not as Python objects."""
    with storage.atomic_writer(path) as f:
        writer = pq.ParquetWriter(f, schema, compression=compression, write_statistics=True)
        batches: list[pa.RecordBatch] = []
        pending = chunk_rows = 0
        chunk: list[dict] = []

        def flush_group():
            nonlocal batches, pending
            if pending:
                table = pa.Table.from_batches(batches, schema=schema).combine_chunks()
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            batches, pending = [], 0

        for row in rows:
            chunk.append(row)
            chunk_rows += 1
            if chunk_rows == min(batch_rows, ROW_GROUP_ROWS - pending):
                batches.append(pa.RecordBatch.from_pylist(chunk, schema=schema))
                pending += chunk_rows
                chunk, chunk_rows = [], 0
                if pending == ROW_GROUP_ROWS:
                    flush_group()
        if chunk:
            batches.append(pa.RecordBatch.from_pylist(chunk, schema=schema))
            pending += chunk_rows
        flush_group()
        writer.close()
    return path


def write_json_atomic(obj: Any, path: str) -> str:
    return storage.write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(lines: Iterable[str], path: str) -> str:
    return storage.write_text_atomic(path, "".join(line + "\n" for line in lines))


def shard_name(prefix: str, index: int, total: int, ext: str) -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}.{ext}"


# Phase checkpoints: a Document with every annotation, so a resumed run continues exactly where it stopped.
CHECKPOINT_SCHEMA = pa.schema(
    [("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string()), ("line", pa.int64()),
     ("meta", pa.string())]
)


def checkpoint_row(doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "url": doc.url, "source": doc.source, "line": doc.line,
            "meta": _json(doc.meta)}


def checkpoint_row_to_doc(row: dict) -> Document:
    return Document(id=row["id"], text=row["text"], url=row["url"], source=row["source"], line=row["line"],
                    meta=json.loads(row["meta"]))
