"""Web crawl readers: WARC (plain or record-gzipped), WET and ARC, streamed record by record with warcio.

What counts as an input record (the unit of `in == kept + dropped + quarantined`): a record that carries a
fetched document -- WARC `response` and `resource` records, WET `conversion` records and every ARC record
(warcio turns them into `response`s). `warcinfo`, `request`, `metadata` and `revisit` records describe a
crawl or a fetch and hold no document of their own (a Common Crawl WARC has one request and one metadata
record next to each response); they are not input records: the reader skips them and logs how many of each
type it skipped per file.

Every input record becomes one `Document` or one `Quarantined`:
  * Document: `id` is the WARC-Record-ID (ARC has none: a content-position hash), `url` the target URI,
    `text` the payload decoded to text (HTML stays HTML: the `html_extract` stage turns it into main text)
    and `meta` the fetch: `warc_record_id`, `warc_date` (fetch date), `warc_type`, `content_type` (as
    declared), `mime` (what the stage judges by), `http_status`, `charset`, `charset_source` and, when the
    crawler cut the payload, `warc_truncated`. Payloads that are not text (images, PDFs, ...) are not decoded:
    the Document has empty text and the `html_extract` stage drops it as `html_non_html`.
  * Quarantined: a payload over `input.max_line_bytes` (the raw-record cap, as for a JSONL line; not read
    into memory), a text payload that decodes to mostly replacement characters, a Content-Encoding that
    cannot be undone, a record cut short by the end of the file (a truncated gzip member or a short plain
    file), or a stream that cannot be parsed any further (then the rest of the file cannot be read either).

Library choice (measured, BENCHMARKS.md "WARC input"): FastWARC parsed the demo crawl about 3x faster than
warcio, but both read thousands of records per second while HTML extraction runs at tens to hundreds of
documents per second, and only warcio reads ARC; one library for all three formats wins.
"""
from __future__ import annotations

import codecs
import logging
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from corpusforge.config import InputConfig
from corpusforge.records import QUARANTINE_RAW_LIMIT, Document, Quarantined, derived_id

log = logging.getLogger("corpusforge.warc")

DOCUMENT_RECORD_TYPES = frozenset({"response", "resource", "conversion"})
# WARC 1.1 section 6 (continuation: segmented records, rare; counted with the skipped types).
KNOWN_RECORD_TYPES = DOCUMENT_RECORD_TYPES | {"warcinfo", "request", "metadata", "revisit", "continuation"}
# Payload types decoded to text; anything else reaches the html stage as an empty non-HTML document.
TEXT_MIMES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml"})
_READ_BLOCK = 1 << 16
# A decoded page with more control or replacement characters than this share of its characters is binary
# or in an encoding nothing recognised; 5% is our threshold (real pages, even mislabelled ones decoded as
# cp1252, have next to none; PNG or gzip bytes sent as text/html have over 10%).
MAX_REPLACEMENT_SHARE = 0.05
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")
# WHATWG encoding sniffing looks for <meta charset> in the first 1024 bytes; XHTML pages often declare it
# after a long <head>, so we look a little further.
_META_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str
    source: str  # bom | http | meta | utf-8 | detected | fallback


def _codec(name: str | None) -> str | None:
    """Python's codec name for a declared charset, or None when Python does not know it."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'").lower()).name
    except LookupError:
        return None


def _strict(data: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def sniff_declared_charset(data: bytes) -> str | None:
    """The charset a page declares about itself: <?xml encoding=...?> or <meta ... charset=...>."""
    head = data[:_META_SNIFF_BYTES]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def decode_text(data: bytes, http_charset: str | None) -> Decoded:
    """Bytes of a web page -> text. Never raises.

    Order as the WHATWG encoding sniffing algorithm: BOM, then the HTTP header's charset, then the page's own
    declaration, then UTF-8 -- except that a declared charset is only used when the bytes decode under it
    without error, because crawls are full of pages whose headers say UTF-8 over Latin-1 bytes. Then a
    statistical guess (uchardet, via Resiliparse) and finally cp1252 with replacement characters, which
    decodes any byte string (the WHATWG standard's default for an undeclared Western page).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom):].decode(codec, "replace"), codec, "bom")
    for name, source in ((http_charset, "http"), (sniff_declared_charset(data), "meta"), ("utf-8", "utf-8")):
        codec = _codec(name)
        if codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
            codec = None  # a page without a BOM that says UTF-16 is ASCII-compatible in practice (WHATWG)
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, codec, source)
    try:
        from resiliparse.parse.encoding import detect_encoding

        guess = _codec(detect_encoding(data))
    except Exception:  # the detector is a guess; any failure falls through to cp1252
        guess = None
    text = _strict(data, guess)
    if text is not None:
        return Decoded(text, guess, "detected")
    return Decoded(data.decode("cp1252", "replace"), "cp1252", "fallback")


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset_param(content_type: str | None) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type or "", re.I)
    return m.group(1) if m else None


class _Prefixed:
    """A read-only stream: `head` (bytes already read to sniff the format) followed by the rest of `f`."""

    def __init__(self, head: bytes, f):
        self.head, self.f = head, f

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data):]
            return data
        return self.f.read(size)


class _Gunzip:
    """Multi-member gzip decompression that hands out every byte it can: at a truncated member it returns
    what was decompressed and then ends, so the reader sees a record cut short instead of losing the whole
    read block (Python's GzipFile raises EOFError and drops it). Output is produced in bounded steps, so a
    highly compressed 50 MB page never sits in memory at once."""

    def __init__(self, f):
        self.f = f
        self.d = zlib.decompressobj(31)
        self.pending = b""  # compressed bytes not yet given to the decompressor
        self.buf = bytearray()
        self.eof = False
        self.member_in = self.member_out = 0
        self.cut_before_any_output = False  # the file ends in a member that produced nothing

    def _fill(self) -> None:
        if not self.pending:
            self.pending = self.f.read(_READ_BLOCK)
            if not self.pending:
                self.eof = True
                self.cut_before_any_output = self.member_in > 0 and self.member_out == 0 and not self.d.eof
                return
        self.member_in += len(self.pending)
        out = self.d.decompress(self.pending, _READ_BLOCK)
        self.member_out += len(out)
        self.buf += out
        self.pending = self.d.unconsumed_tail
        if self.d.eof:  # the next member starts in unused_data
            self.pending = self.d.unused_data
            self.d = zlib.decompressobj(31)
            self.member_in = self.member_out = 0
        else:
            self.member_in -= len(self.pending)

    def read(self, size: int = -1) -> bytes:
        while not self.eof and (size < 0 or len(self.buf) < size):
            self._fill()
        n = len(self.buf) if size < 0 else min(size, len(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def _decompressed(fileobj):
    """gzip is undone here, not by warcio: warcio reads only one gzip member per record and rejects a file
    gzipped as a whole (`gzip crawl.warc`), which this reads like a record-gzipped one."""
    head = fileobj.read(2)
    stream = _Prefixed(head, fileobj)
    return _Gunzip(stream) if head == b"\x1f\x8b" else stream


class _CountingReader:
    """Counts the bytes warcio reads from the file, to notice a file that ends inside a record's headers."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.n += len(data)
        return data


class _Unreadable(Exception):
    """The record's payload cannot be turned into bytes (broken Content-Encoding)."""


def _read_payload(record, limit: int) -> tuple[bytes, bool]:
    """(payload, over_limit): reads at most limit+1 bytes; the iterator skips the rest without storing it."""
    stream = record.content_stream()
    chunks, n = [], 0
    try:
        while n <= limit:
            chunk = stream.read(min(_READ_BLOCK, limit + 1 - n))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
    except (zlib.error, OSError, EOFError, ValueError) as e:  # gzip/deflate/brotli Content-Encoding errors
        raise _Unreadable(f"{type(e).__name__}: {e}") from e
    return b"".join(chunks), n > limit


def _cut_short(record) -> bool:
    """True when the file ended before the record's Content-Length was read (truncated member or file)."""
    raw = record.raw_stream
    while raw.read(_READ_BLOCK):
        pass
    return getattr(raw, "limit", 0) > 0


def read_warc(fileobj, cfg: InputConfig, source: str, fmt: str = "warc") -> Iterator[Document | Quarantined]:
    """Every input record of one WARC / WET / ARC file (gzip or plain, detected from the bytes), in order.

    `line` is the record's position in the file (1-based, every record counted, skipped ones too), so a
    quarantined record can be found again.
    """
    from warcio.archiveiterator import ArchiveIterator

    skipped: Counter[str] = Counter()
    position = 0
    counted = _CountingReader(_decompressed(fileobj))
    # HTTP headers are parsed below, only where the block is an HTTP message: warcio would parse any http(s)
    # response's first lines as headers, eating the top of a bare-HTML block.
    records = ArchiveIterator(counted, arc2warc=True, no_record_parse=True)

    def broken(what: str) -> Quarantined:
        return Quarantined(source, position, f"input stream broken ({what}); records after this point could "
                                             "not be read", b"")

    while True:
        try:
            record = next(records)
        except StopIteration:
            # warcio ends quietly when the file stops inside a record's headers: bytes read past the end of
            # the last whole record are that record, cut short.
            cut_member = getattr(counted.f, "cut_before_any_output", False)
            if counted.n > records.offset or cut_member:
                position += 1
                yield broken(f"the file ends inside a record's headers or gzip member, {counted.n - records.offset} "
                             "decompressed bytes after the last complete record")
            break
        except Exception as e:  # warcio: ArchiveLoadFailed, zlib errors, bad headers
            position += 1
            yield broken(f"{type(e).__name__}: {e}")
            break
        position += 1
        if record.rec_type not in KNOWN_RECORD_TYPES:  # a header block cut or garbled mid-line
            yield broken(f"record with WARC-Type {record.rec_type!r}")
            break
        if record.rec_type not in DOCUMENT_RECORD_TYPES:
            skipped[record.rec_type] += 1
            continue
        try:
            _parse_http_headers(records.loader, record)
            yield _record_to_outcome(record, cfg, source, position, arc=fmt == "arc")
        except Exception as e:  # a record warcio parsed but cannot stream: it and everything after is lost
            yield broken(f"{type(e).__name__}: {e}")
            break
    if skipped:
        log.info("%s: skipped %s records that hold no document (not input records)", source,
                 ", ".join(f"{n} {t}" for t, n in sorted(skipped.items())))


def _parse_http_headers(loader, record) -> None:
    """Set record.http_headers when the block is an HTTP response (WARC Content-Type application/http)."""
    if record.rec_type != "response":
        return
    # warcio's ARC conversion labels the block application/http too.
    if (record.rec_headers.get_header("Content-Type") or "").lower().startswith("application/http"):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        record.http_headers = loader.load_http_headers(record.rec_type, uri, record.raw_stream, record.length)


def _record_to_outcome(record, cfg: InputConfig, source: str, position: int, arc: bool) -> Document | Quarantined:
    h = record.rec_headers
    url = h.get_header("WARC-Target-URI") or None
    # warcio gives converted ARC records a random WARC-Record-ID: not an id of the record, and not reproducible.
    record_id = None if arc else (h.get_header("WARC-Record-ID") or "").strip("<>") or None
    http = record.http_headers
    content_type = (http.get_header("Content-Type") if http is not None else None) or h.get_header("Content-Type")
    # Common Crawl's sniffed type beats the server's header, which is often wrong or missing (as datatrove).
    mime = _mime(h.get_header("WARC-Identified-Payload-Type")) or _mime(content_type)
    if record.rec_type == "conversion" and not mime:
        mime = "text/plain"

    def quarantine(msg: str, raw: bytes = b"") -> Quarantined:
        return Quarantined(source, position, f"{msg} [url {url}, record {record_id}]", raw[: QUARANTINE_RAW_LIMIT + 1],
                           doc_id=record_id)

    if not (h.get_header("Content-Length") or "").strip().isdigit():
        return quarantine("record has no Content-Length (its header block is cut short or malformed)")
    limit = cfg.max_line_bytes
    is_text = mime in TEXT_MIMES
    try:
        payload, over = _read_payload(record, limit if is_text else 0)
    except _Unreadable as e:
        return quarantine(f"payload cannot be decoded from its Content-Encoding ({e})")
    if is_text and over:
        return quarantine(f"payload over input.max_line_bytes={limit} (raise it to read larger pages); not read")
    if _cut_short(record):
        return quarantine("record cut short: the file ends inside it (truncated download or gzip member)", payload)
    meta = {
        "warc_record_id": record_id,
        "warc_date": h.get_header("WARC-Date"),
        "warc_type": record.rec_type,
        "content_type": content_type,
        "mime": mime or None,
        "http_status": int(http.get_statuscode()) if http is not None and (http.get_statuscode() or "").isdigit() else None,
    }
    if h.get_header("WARC-Truncated"):
        meta["warc_truncated"] = h.get_header("WARC-Truncated")
    text = ""
    if is_text:
        decoded = decode_text(payload, _charset_param(content_type))
        bad = len(_NOT_TEXT.findall(decoded.text))
        if decoded.text and bad / len(decoded.text) > MAX_REPLACEMENT_SHARE:
            return quarantine(f"undecodable page: {bad} of {len(decoded.text)} characters are control or "
                              f"replacement characters (binary, or no charset tried fits; last: {decoded.charset})",
                              payload)
        text = decoded.text
        meta.update(charset=decoded.charset, charset_source=decoded.source)
    doc_id = record_id or derived_id(f"{url}\0{meta['warc_date']}", source, position)
    meta = {k: v for k, v in meta.items() if v is not None}
    return Document(id=doc_id, text=text, url=url, source=source, line=position, meta=meta)
