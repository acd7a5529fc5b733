"""Reading a finished curate run: its kept Parquet shards, for the tokenizer commands (local or remote)."""
from __future__ import annotations

from typing import Iterator

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.io.writers import row_group_batches

KEPT_COLUMNS = ["id", "text", "language"]


def kept_files(run_dir: str) -> list[str]:
    """The run's kept Parquet shards, sorted; a user error when there are none."""
    pattern = storage.join(run_dir, "kept", "*.parquet")
    files = storage.match(pattern)
    if not files:
        raise ConfigError(f"no kept documents: {pattern} matches nothing (is --run the output dir of `corpusforge curate`?)")
    return files


def kept_rows(files: list[str]) -> int:
    """Documents in the kept shards, from their Parquet footers (no row is read): progress lines' total."""
    import pyarrow.parquet as pq

    total = 0
    for path in files:
        with storage.open_read(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def read_kept_file(path: str, batch_rows: int = 2048) -> Iterator[dict]:
    """Rows {id, text, language} of one kept Parquet shard, read a record batch at a time."""
    for rows in read_kept_batches(path, batch_rows):
        yield from rows


def read_kept_batches(path: str, batch_rows: int = 512) -> Iterator[list[dict]]:
    """Like read_kept_file, a list of rows at a time: one Beam element per batch keeps per-element cost low."""
    import pyarrow.parquet as pq

    with storage.open_read(path) as f:
        pf = pq.ParquetFile(f)
        missing = [c for c in KEPT_COLUMNS if c not in pf.schema_arrow.names]
        if missing:
            raise ValueError(f"{path}: kept shard lacks column(s) {missing}")
        for batch in row_group_batches(pf, batch_rows, KEPT_COLUMNS):
            yield batch.to_pylist()
