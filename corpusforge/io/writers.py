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

# Columns whose values repeat from row to row are the only ones Parquet's dictionary encoding helps; each schema
# marks them itself (`repeated`). The others (ids, texts, URLs, JSON, hash lists) are mostly distinct: a
# dictionary there only costs the writer a hash table per column chunk before it falls back to plain encoding.
# Measured on a dedup state shard of 20,000 rows (BENCHMARKS.md "Reliability", thirteenth session): +64 MB over
# the process's base and 26.9 MB written with every column's dictionary, +30 MB and 23.2 MB with `params` alone,
# in half the time.
_REPEATED = {b"corpusforge.encoding": b"dictionary"}


def repeated(name: str, type_: pa.DataType) -> pa.Field:
    """A schema field whose values repeat from row to row (a language, a stage, a source file): the writers
    give it Parquet's dictionary encoding, and only such fields."""
    return pa.field(name, type_, metadata=_REPEATED)


def _as_written(schema: pa.Schema) -> tuple[pa.Schema, list[str]]:
    """The schema a file is written with (without the `repeated` marks: they instruct the writer, the file does
    not carry them) and the columns to dictionary-encode."""
    marked = [f.name for f in schema if f.metadata and f.metadata.get(b"corpusforge.encoding") == b"dictionary"]
    return pa.schema([f.remove_metadata() for f in schema], metadata=schema.metadata), marked


# Annotations promoted to their own typed columns; everything else goes into `annotations` (JSON).
KEPT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        repeated("source", pa.string()),
        ("line", pa.int64()),
        repeated("language", pa.string()),
        ("language_score", pa.float64()),
        ("perplexity", pa.float64()),
        repeated("perplexity_bucket", pa.string()),
        ("annotations", pa.string()),
    ]
)
DROPPED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        repeated("stage", pa.string()),
        repeated("reason", pa.string()),
        ("duplicate_of", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        repeated("source", pa.string()),
        ("line", pa.int64()),
        repeated("language", pa.string()),
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
    schema, dictionary = _as_written(schema)
    table = pa.Table.from_pylist(rows, schema=schema)
    with storage.atomic_writer(path) as f:
        pq.write_table(table, f, compression=compression, write_statistics=True,
                       use_dictionary=dictionary, row_group_size=max(1, min(len(rows), 10_000)))
    return path


ROW_GROUP_ROWS = 10_000
# A row group waits in memory whole before it is written: it closes at ROW_GROUP_ROWS rows or ROW_GROUP_BYTES
# of row data, whichever comes first, so what a writer holds is bounded whatever the document sizes. Parquet
# compresses page by page (1 MB pages), so small row groups cost little in size. Measured on one writer
# (BENCHMARKS.md "Reliability", fourteenth session): the development set twice (21,024 documents) 4 MB -> 1 MB:
# +42 -> +26 MB over the process, file +0.8%; 40,000 generated state-shaped rows +26 -> +11 MB (2,500: +19 -> +10).
ROW_GROUP_BYTES = 1 << 20


def _row_bytes(row: dict) -> int:
    """About what a row weighs: its strings and bytes, 8 bytes per element of an array, 8 per other value."""
    return sum(len(v) if isinstance(v, (str, bytes)) else 8 * len(v) if hasattr(v, "__len__") else 8
               for v in row.values())


def row_group_batches(pf: pq.ParquetFile, batch_rows: int = 1024, columns: list[str] | None = None):
    """A Parquet file's record batches, one row group at a time. pyarrow's `iter_batches` over the whole file
    reads ahead: on a 29 MB checkpoint shard of 67 row groups it held +63 MB over the process against +24 MB
    flat row group by row group, at the same speed (BENCHMARKS.md "Reliability", fourteenth session)."""
    for group in range(pf.num_row_groups):
        yield from pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns)


def iter_parquet_rows(path: str, batch_rows: int = 1024, columns: list[str] | None = None):
    """A Parquet file's rows, one record batch at a time (never the whole file in memory)."""
    import io

    with storage.open_read(path) as f:
        source = f if getattr(f, "seekable", lambda: False)() else io.BytesIO(f.read())
        for batch in row_group_batches(pq.ParquetFile(source), batch_rows, columns):
            yield from batch.to_pylist()


def write_row_stream_atomic(rows: Iterable[dict], schema: pa.Schema, path: str, compression: str = "zstd") -> str:
    """Rows in their final order -> one Parquet file, atomically, one bounded row group in memory at a time
    (ROW_GROUP_ROWS rows or ROW_GROUP_BYTES, whichever comes first): the file's bytes depend only on its rows."""
    schema, dictionary = _as_written(schema)
    with storage.atomic_writer(path) as f:
        writer = pq.ParquetWriter(f, schema, compression=compression, write_statistics=True,
                                  use_dictionary=dictionary)
        group: list[dict] = []
        size = 0
        for row in rows:
            group.append(row)
            size += _row_bytes(row)
            if len(group) == ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_pylist(group, schema=schema), row_group_size=len(group))
                group, size = [], 0
        if group:
            writer.write_table(pa.Table.from_pylist(group, schema=schema), row_group_size=len(group))
        writer.close()
    return path


def write_json_atomic(obj: Any, path: str) -> str:
    return storage.write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(lines: Iterable[str], path: str) -> str:
    """JSON lines (str, no newline) -> one UTF-8 file, atomically, a line at a time in memory."""
    with storage.atomic_writer(path) as f:
        for line in lines:
            f.write(line.encode("utf-8") + b"\n")
    return path


def shard_name(prefix: str, index: int, total: int, ext: str) -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}.{ext}"


# Phase checkpoints: a Document with every annotation, so a resumed run continues exactly where it stopped.
CHECKPOINT_SCHEMA = pa.schema(
    [("id", pa.string()), ("text", pa.string()), ("url", pa.string()), repeated("source", pa.string()),
     ("line", pa.int64()), ("meta", pa.string()), ("read_text", pa.string())]
)


def checkpoint_row(doc: Document, keep_read_text: bool = True) -> dict:
    """`keep_read_text`: whether the text before C4's line removal is still needed (by dedup)."""
    return {"id": doc.id, "text": doc.text, "url": doc.url, "source": doc.source, "line": doc.line,
            "meta": _json(doc.meta), "read_text": doc.read_text if keep_read_text else None}


def checkpoint_row_to_doc(row: dict) -> Document:
    return Document(id=row["id"], text=row["text"], url=row["url"], source=row["source"], line=row["line"],
                    meta=json.loads(row["meta"]), read_text=row.get("read_text"))
