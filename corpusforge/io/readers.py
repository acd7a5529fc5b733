"""Readers for JSONL, JSONL.gz and Parquet inputs. Pure Python over `corpusforge.storage` (local, gs://).

A reader never raises on bad records: each record becomes a `Document` or a `Quarantined` with the source
file, the line (or row) number, what was wrong, and a bounded copy of the raw bytes.
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from typing import Iterator

from corpusforge import storage
from corpusforge.config import ConfigError, CurateConfig, InputConfig
from corpusforge.records import QUARANTINE_RAW_LIMIT, Document, Quarantined, derived_id

_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    path: str
    size: int
    checksum: str  # sha256 of the bytes for local files, the store's checksum otherwise


# Web crawls, read by corpusforge.io.warc (WET before WARC: Common Crawl names WET files *.warc.wet.gz).
WEB_CRAWL_FORMATS = {"wet": (".wet", ".wet.gz"), "warc": (".warc", ".warc.gz"), "arc": (".arc", ".arc.gz")}


def detect_format(path: str, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    p = path.lower()
    if p.endswith((".jsonl.gz", ".json.gz", ".ndjson.gz")):
        return "jsonl.gz"
    if p.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if p.endswith((".parquet", ".pq")):
        return "parquet"
    for fmt, endings in WEB_CRAWL_FORMATS.items():
        if p.endswith(endings):
            return fmt
    raise ConfigError(
        f"cannot tell the format of input {path!r} from its name; set input.format to jsonl, jsonl.gz, parquet, "
        "warc, wet or arc"
    )


def check_crawl_input(cfg: CurateConfig) -> None:
    """WARC and ARC payloads are HTML: without this stage every later rule would judge markup."""
    endings = WEB_CRAWL_FORMATS["warc"] + WEB_CRAWL_FORMATS["arc"]
    crawl = cfg.input.format in ("warc", "arc") or (
        cfg.input.format == "auto" and any(p.lower().endswith(endings) for p in cfg.input.paths))
    if crawl and not cfg.html.enabled:
        raise ConfigError("input is a WARC/ARC web crawl but html.enabled is false: set html.enabled: true so "
                          "pages are reduced to their main text (see configs/warc.yaml)")


def resolve_inputs(cfg: InputConfig, with_checksums: bool = True) -> list[InputFile]:
    """Expand paths and globs into a sorted, de-duplicated file list. No match is a config error."""
    files: dict[str, int] = {}
    for pattern in cfg.paths:
        matched = storage.match_sizes(pattern)
        if not matched:
            raise ConfigError(f"input.paths: {pattern!r} matches no file (check the path or glob)")
        for path, size in matched:
            detect_format(path, cfg.format)
            files[path] = size
    return [InputFile(p, files[p], storage.checksum(p) if with_checksums else "") for p in sorted(files)]


def _bounded(raw: bytes) -> bytes:
    return raw[: QUARANTINE_RAW_LIMIT + 1]


def record_to_document(obj, cfg: InputConfig, source: str, line: int, raw: bytes) -> Document | Quarantined:
    """Validate one parsed record and build the Document, or say exactly what is wrong with it."""
    def bad(msg: str) -> Quarantined:
        return Quarantined(source, line, msg, _bounded(raw))

    if not isinstance(obj, dict):
        return bad(f"record is a JSON {type(obj).__name__}, expected an object with a {cfg.text_field!r} field")
    if cfg.text_field not in obj or obj[cfg.text_field] is None:
        return bad(f"missing text field {cfg.text_field!r} (set input.text_field if your field has another name)")
    text = obj[cfg.text_field]
    if not isinstance(text, str):
        return bad(f"text field {cfg.text_field!r} is a {type(text).__name__}, expected a string")
    if not text.strip():
        return bad("empty text")
    nbytes = len(text.encode("utf-8", "surrogatepass"))
    if nbytes > cfg.max_text_bytes:
        return bad(f"text is {nbytes} bytes, over input.max_text_bytes={cfg.max_text_bytes}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return bad("text contains lone surrogates (invalid Unicode)")
    raw_id = obj.get(cfg.id_field)
    if raw_id is None or raw_id == "":
        doc_id = derived_id(text, source, line)
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        return bad(f"id field {cfg.id_field!r} is a {type(raw_id).__name__}, expected a string or integer")
    url = obj.get(cfg.url_field) if cfg.url_field else None
    if url is not None and not isinstance(url, str):
        url = str(url)
    meta = {f: obj[f] for f in cfg.meta_fields if obj.get(f) is not None}
    # Ids, URLs and annotations become Beam keys and Parquet strings, which must be valid UTF-8: a lone
    # surrogate escape ("\udc00", legal in JSON) would crash the run at the first key (issue 13, item 3).
    for name, value in ((cfg.id_field, doc_id), (cfg.url_field, url), ("meta_fields", meta)):
        if value is not None and not _valid_unicode(value):
            return bad(f"field {name!r} contains lone surrogates (invalid Unicode)")
    return Document(id=doc_id, text=text, url=url, source=source, line=line, meta=meta)


def _valid_unicode(value) -> bool:
    try:
        (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_lines(f, max_line_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line_number, bytes, too_long) reading at most max_line_bytes of any line into memory."""
    n = 0
    while True:
        chunk = f.readline(max_line_bytes + 1)
        if not chunk:
            return
        n += 1
        if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
            head = chunk
            while chunk and not chunk.endswith(b"\n"):
                chunk = f.readline(_READ_CHUNK)
            yield n, head, True
            continue
        yield n, chunk, False


_BOM = b"\xef\xbb\xbf"


def read_jsonl(fileobj, cfg: InputConfig, source: str) -> Iterator[Document | Quarantined]:
    """Every line of a JSONL stream. A stream that breaks (truncated gzip) ends with one quarantine record at
    the line where it broke, saying how many lines were read before it."""
    line_no = 0
    try:
        for line_no, raw, too_long in _read_lines(fileobj, cfg.max_line_bytes):
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]  # editors on Windows write one; it is not part of the first record
            yield _parse_line(line_no, raw, too_long, cfg, source)
    except (OSError, EOFError, zlib.error) as e:
        yield Quarantined(source, line_no + 1, f"input stream broken at line {line_no + 1} ({type(e).__name__}: "
                                               f"{e}); {line_no} line(s) were read, the rest of the file could not be",
                          b"")


def _parse_line(line_no: int, raw: bytes, too_long: bool, cfg: InputConfig, source: str) -> Document | Quarantined:
    if too_long:
        return Quarantined(source, line_no, f"line longer than input.max_line_bytes={cfg.max_line_bytes}; not parsed",
                           _bounded(raw))
    stripped = raw.strip()
    if not stripped:
        return Quarantined(source, line_no, "blank line", raw)
    try:
        decoded = stripped.decode("utf-8")
    except UnicodeDecodeError as e:
        return Quarantined(source, line_no, f"invalid UTF-8 at byte {e.start}: {e.reason}", _bounded(raw))
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as e:
        return Quarantined(source, line_no, f"invalid JSON: {e.msg} at column {e.colno}", _bounded(raw))
    except RecursionError:
        return Quarantined(source, line_no, "invalid JSON: nested too deeply", _bounded(raw))
    return record_to_document(obj, cfg, source, line_no, raw)


def read_parquet(fileobj, cfg: InputConfig, source: str) -> Iterator[Document | Quarantined]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(fileobj)
    except Exception as e:
        yield Quarantined(source, 0, f"unreadable Parquet file: {type(e).__name__}: {e}", b"")
        return
    names = set(pf.schema_arrow.names)
    if cfg.text_field not in names:
        yield Quarantined(source, 0, f"Parquet file has no column {cfg.text_field!r} (columns: {sorted(names)})", b"")
        return
    columns = [c for c in (cfg.text_field, cfg.id_field, cfg.url_field, *cfg.meta_fields) if c and c in names]
    row = 0
    # Row group by row group: a valid footer does not make valid pages. A corrupt row group becomes one
    # quarantine record naming the file and the rows lost (issue 13, item 3); the next group is read.
    for rg in range(pf.num_row_groups):
        n = pf.metadata.row_group(rg).num_rows
        try:
            table = pf.read_row_group(rg, columns=columns)
        except Exception as e:
            yield Quarantined(source, row + 1, f"unreadable Parquet row group {rg} (rows {row + 1}-{row + n}, {n} "
                                               f"row(s) lost): {type(e).__name__}: {str(e)[:300]}", b"")
            row += n
            continue
        for batch in table.to_batches(max_chunksize=1024):
            for obj in batch.to_pylist():
                row += 1
                raw = json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8", "replace")
                yield record_to_document(obj, cfg, source, row, raw)


def read_file(path: str, cfg: InputConfig) -> Iterator[Document | Quarantined]:
    """Every record of one input file, in order. A file that cannot be opened is one quarantine record."""
    fmt = detect_format(path, cfg.format)
    try:
        f = storage.open_read(path)
    except Exception as e:
        yield Quarantined(path, 0, f"cannot open input: {type(e).__name__}: {e}", b"")
        return
    with f:
        if fmt in WEB_CRAWL_FORMATS:
            from corpusforge.io.warc import read_warc

            yield from read_warc(f, cfg, path, fmt)  # gzip or plain is detected from the bytes
            return
        if fmt == "parquet":
            # Parquet needs random access; a stream without seek (some stores) is read into memory once.
            seekable = getattr(f, "seekable", lambda: False)()
            yield from read_parquet(f if seekable else io.BytesIO(f.read()), cfg, path)
            return
        stream = gzip.GzipFile(fileobj=f, mode="rb") if fmt == "jsonl.gz" else f
        yield from read_jsonl(stream, cfg, path)
