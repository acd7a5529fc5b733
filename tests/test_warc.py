"""Web crawl input: WARC/WET/ARC bytes written by warcio (an independent writer) or by hand, read by
corpusforge.io.warc; HTML main-text extraction with both extractors; an end-to-end curate run over a WARC."""
import gzip
import io
import json
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpusforge.config import ConfigError, CurateConfig, HtmlExtractConfig, InputConfig
from corpusforge.io.readers import detect_format, read_file
from corpusforge.io.warc import decode_text, read_warc
from corpusforge.records import Document, Drop, Quarantined
from prose_samples import DE, EN, FR

MAIN_EN = [
    EN,
    "Every spring the town council repairs the old stone pier before the sailing season begins. Volunteers paint "
    "the railings, clean the benches and plant flowers in the boxes along the promenade, and the harbour master "
    "checks every mooring ring by hand. When the work is done, the whole town gathers for a small festival with "
    "music, grilled fish and boat races that children watch from the sea wall.",
    "The library near the station keeps a collection of maps and photographs of the coast that goes back to the "
    "eighteenth century. Researchers come from far away to study how the shoreline has changed, and the staff "
    "are happy to explain how to handle the fragile paper. On Saturday mornings there is a reading hour for "
    "children, and in winter the reading room is one of the warmest places in town.",
]
NAV_WORDS = "Home Products Pricing Careers Newsletter Sitemap"
FOOTER_WORDS = "Copyright Example Widgets Incorporated all rights reserved privacy cookies"


def page(paragraphs: list[str], title: str = "A page", charset: str = "utf-8") -> str:
    nav = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in NAV_WORDS.split())
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head><body>'
            f'<header><nav><ul>{nav}</ul></nav></header><main><article><h1>{title}</h1>{body}</article></main>'
            f"<footer><p>{FOOTER_WORDS}</p></footer></body></html>")


def warc_bytes(records, gzip_records: bool = True) -> bytes:
    """records: (url, kind, payload bytes, http headers or None, extra WARC headers)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    for i, (url, kind, payload, http, extra) in enumerate(records):
        headers = {"WARC-Date": f"2024-05-01T00:00:{i:02d}Z", "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>",
                   **(extra or {})}
        if kind == "request":
            rec = w.create_warc_record(url, "request", payload=io.BytesIO(b""), warc_headers_dict=headers,
                                       http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")],
                                                                     is_http_request=True))
        elif http is None:
            rec = w.create_warc_record(url, kind, payload=io.BytesIO(payload), length=len(payload),
                                       warc_headers_dict=headers)
        else:
            rec = w.create_warc_record(url, kind, payload=io.BytesIO(payload), length=len(payload),
                                       warc_headers_dict=headers,
                                       http_headers=StatusAndHeaders(http[0], http[1], protocol="HTTP/1.1"))
        w.write_record(rec)
    return buf.getvalue()


def html_response(url: str, html: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
                  extra=None):
    return (url, "response", html, (status, [("Content-Type", content_type)]), extra)


def read(data: bytes, fmt: str = "warc", **cfg) -> list:
    return list(read_warc(io.BytesIO(data), InputConfig(paths=["x"], **cfg), "mem.warc", fmt))


def extractor(**kw):
    from corpusforge.transforms.html_extract import HtmlExtractor

    t = HtmlExtractor(HtmlExtractConfig(enabled=True, **kw))
    t.setup()
    return t


SAMPLE = [
    ("https://example.org/", "request", b"", None, None),
    html_response("https://example.org/a", page(MAIN_EN, "Harbour").encode()),
    html_response("https://example.org/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"),
    ("https://example.org/b", "metadata", b"fetchTimeMs: 12\n", None, {"Content-Type": "application/warc-fields"}),
    html_response("https://example.org/c", page([DE], "Stadt").encode()),
]


# ------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize("gzipped", [True, False])
def test_record_gzipped_and_plain_give_the_same_documents(gzipped):
    data = warc_bytes(SAMPLE, gzip_records=gzipped)
    assert data[:2] == b"\x1f\x8b" if gzipped else data.startswith(b"WARC/1.")
    out = read(data)
    # request and metadata records are not input records; the PNG response is (dropped later as non-HTML).
    assert [type(r) for r in out] == [Document, Document, Document]
    a, png, c = out
    assert a.id == "urn:uuid:00000000-0000-0000-0000-000000000001" and a.url == "https://example.org/a"
    assert a.line == 2 and c.line == 5  # position among all records, skipped ones counted
    assert a.meta["warc_date"] == "2024-05-01T00:00:01Z" and a.meta["mime"] == "text/html"
    assert a.meta["charset"] == "utf-8" and a.meta["charset_source"] == "http" and a.meta["http_status"] == 200
    assert a.meta["warc_record_id"] == a.id and "<p>" in a.text
    assert png.text == "" and png.meta["mime"] == "image/png"
    assert "Gäste" in c.text


def test_file_extensions_dispatch_to_the_crawl_reader(tmp_path):
    assert detect_format("s3/CC-MAIN-2024-00000.warc.gz") == "warc"
    assert detect_format("CC-MAIN-2024-00000.warc.wet.gz") == "wet"
    assert detect_format("IA-001.arc.gz") == "arc" and detect_format("x.warc") == "warc"
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(warc_bytes(SAMPLE))
    out = list(read_file(str(path), InputConfig(paths=[str(path)])))
    assert len(out) == 3 and all(d.source == str(path) for d in out)


def test_truncated_gzip_member_quarantines_the_cut_record_and_keeps_the_rest():
    data = warc_bytes(SAMPLE)
    out = read(data[:-200])  # the last member (a response) loses its end
    assert [type(r) for r in out] == [Document, Document, Quarantined]
    q = out[-1]
    assert "cut short" in q.error and "https://example.org/c" in q.error
    assert q.doc_id == "urn:uuid:00000000-0000-0000-0000-000000000004" and q.line == 5


def test_file_cut_inside_record_headers_ends_with_one_quarantine_record():
    data = warc_bytes(SAMPLE, gzip_records=False)
    cut = data.index(b"WARC/1.", data.index(b"https://example.org/c") - 400)  # start of the last record
    out = read(data[: cut + 40])
    assert [type(r) for r in out[:3]] == [Document, Document, Quarantined] and len(out) == 3
    assert out[2].error.startswith(("input stream broken", "record cut short"))


def test_non_utf8_page_declared_utf8_is_decoded_by_detection():
    html = page([FR], "Village", charset="utf-8").encode("latin-1")  # bytes are Latin-1, everything says UTF-8
    (doc,) = read(warc_bytes([html_response("https://example.fr/", html)]))
    assert "rivière" in doc.text and "douzième" in doc.text and "\ufffd" not in doc.text
    assert doc.meta["charset_source"] in ("detected", "fallback") and doc.meta["charset"] != "utf-8"


def test_decode_text_never_raises():
    assert decode_text(b"\xef\xbb\xbfcaf\xc3\xa9", None).text == "café"
    assert decode_text("café".encode("utf-16"), None).text == "café"
    assert decode_text(b"caf\xc3\xa9", "no-such-charset").text == "café"  # unknown label: ignored
    euc = '<meta charset="euc-jp"><p>日本語のページ</p>'.encode("euc-jp")
    assert "日本語" in decode_text(euc, None).text and decode_text(euc, None).source == "meta"
    for junk in (bytes(range(256)) * 8, b"\xff\xfe\x00", b""):
        assert isinstance(decode_text(junk, "utf-8").text, str)


def test_binary_payload_labelled_html_is_quarantined_not_kept():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    (q,) = read(warc_bytes([html_response("https://example.org/fake.html", png)]))
    assert isinstance(q, Quarantined) and "undecodable page" in q.error and "example.org/fake.html" in q.error


def test_fifty_megabyte_page_streams_past_the_cap_and_reads_under_a_higher_one():
    big = page(MAIN_EN * 40_000, "Big").encode()
    assert len(big) > 50_000_000
    data = warc_bytes([html_response("https://example.org/big", big), SAMPLE[1]])
    del big
    tracemalloc.start()
    out = read(data, max_line_bytes=2_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(out[0], Quarantined) and "over input.max_line_bytes=2000000" in out[0].error
    assert isinstance(out[1], Document) and out[1].url == "https://example.org/a"  # the next record is intact
    assert peak < 20_000_000, f"reading held {peak} bytes: the oversized payload was buffered"
    doc = read(data, max_line_bytes=64_000_000)[0]
    assert isinstance(doc, Document) and len(doc.text) > 50_000_000


def test_records_without_http_headers():
    html = page(MAIN_EN, "Local file").encode()
    resource = ("file:///srv/www/index.html", "resource", html, None, {"Content-Type": "text/html"})
    # A response whose block is bare HTML, no status line (seen in home-made crawls); warcio will not write
    # one, so it is written by hand.
    bare = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:bare>\r\n"
            b"WARC-Date: 2024-05-01T00:00:00Z\r\nWARC-Target-URI: https://example.org/bare\r\n"
            b"Content-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(html)) + html + b"\r\n\r\n"
    out = read(warc_bytes([resource], gzip_records=False) + bare)
    assert [type(r) for r in out] == [Document, Document]
    for doc in out:
        assert "http_status" not in doc.meta and doc.meta["mime"] == "text/html" and "Harbour" not in doc.text
        assert "stone pier" in extractor(extractor="resiliparse", time_limit_s=None)(doc).text


def test_wet_conversion_records_pass_through_the_html_stage():
    text = "\n".join(MAIN_EN).encode()
    rec = ("https://example.org/a", "conversion", text, None,
           {"Content-Type": "text/plain", "WARC-Refers-To": "<urn:uuid:1>"})
    (doc,) = read(warc_bytes([rec]))
    assert doc.meta["warc_type"] == "conversion" and doc.meta["mime"] == "text/plain"
    out = extractor(time_limit_s=None)(doc)
    assert isinstance(out, Document) and out.text == "\n".join(MAIN_EN)


def test_arc_file_is_read():
    html = page(MAIN_EN, "Arc").encode()
    body = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + html
    desc = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = (b"filedesc://test.arc 0.0.0.0 20240501000000 text/plain %d\n" % len(desc) + desc + b"\n"
           + b"http://example.com/page 93.184.216.34 20240501120000 text/html %d\n" % len(body) + body + b"\n")
    for data in (arc, gzip.compress(arc, mtime=0)):
        (doc,) = read(data, "arc")
        assert doc.url == "http://example.com/page" and doc.meta["http_status"] == 200
        assert doc.meta["warc_date"].startswith("2024-05-01T12:00:00") and doc.id.startswith("doc-")
        assert "stone pier" in doc.text


# ---------------------------------------------------------------------------------------- extraction
@pytest.mark.parametrize("name", ["trafilatura", "resiliparse"])
def test_extractors_keep_main_text_and_leave_navigation(name):
    (doc, png, _) = read(warc_bytes(SAMPLE))
    out = extractor(extractor=name, time_limit_s=None)(doc)
    assert isinstance(out, Document) and out.meta["html_extractor"] == name
    for p in MAIN_EN:
        assert p.split(". ")[0] in out.text
    assert "Pricing" not in out.text and "rights reserved" not in out.text and "<p>" not in out.text
    assert out.meta["warc_record_id"] == doc.id and out.url == doc.url  # fetch fields travel on
    drop = extractor(extractor=name, time_limit_s=None)(png)
    assert isinstance(drop, Drop) and drop.reason == "html_non_html" and drop.signals["mime"] == "image/png"


def test_drop_reasons_of_the_html_stage():
    t = extractor(time_limit_s=None, blocked_domains=["spam.example"], blocked_url_patterns=[r"[?&]sessionid="])
    mk = lambda url, text="<html><body><p>x</p></body></html>", **meta: Document(  # noqa: E731
        "i", text, url, meta={"mime": "text/html", **meta})
    assert t(mk("https://www.spam.example/a")).signals == {"rule": "domain:spam.example"}
    assert t(mk("https://spam.example/a")).reason == "url_blocked"
    assert not isinstance(t(mk("https://notspam.example/a", page(MAIN_EN).encode().decode())), Drop)
    assert t(mk("https://ok.example/a?x=1&sessionid=9")).reason == "url_blocked"
    assert t(mk("https://ok.example/404", page(MAIN_EN), http_status=404)).reason == "html_http_status"
    assert t(mk("https://ok.example/empty", "<html><body><div> </div><script>go()</script></body></html>")).reason == \
        "html_empty_after_extraction"
    assert t(mk("https://ok.example/redirect", "", http_status=200)).reason == "html_empty_after_extraction"
    assert t(mk("https://[broken/", page(MAIN_EN))).text  # an unparseable URL is not an error


def test_blocked_domains_file(tmp_path):
    f = tmp_path / "blocked.txt"
    f.write_text("# adult and spam hosts\nbad.example\n\n  worse.example  # trailing comment\n")
    t = extractor(time_limit_s=None, blocked_domains_file=str(f))
    assert t.blocklist.match("http://a.worse.example/x") == "domain:worse.example"
    assert t.blocklist.match("http://good.example/x") is None


def test_time_limit_kills_a_slow_extraction_and_the_next_page_still_works():
    t = extractor(extractor="resiliparse", time_limit_s=0.05)
    huge = Document("big", page(MAIN_EN * 20_000), "https://example.org/huge", meta={"mime": "text/html"})
    small = Document("ok", page(MAIN_EN), "https://example.org/ok", meta={"mime": "text/html"})
    from corpusforge.transforms.html_extract import ExtractionTimeout

    start = time.monotonic()
    with pytest.raises(ExtractionTimeout, match="example.org/huge"):
        t(huge)
    assert time.monotonic() - start < 5
    assert "stone pier" in extractor(extractor="resiliparse", time_limit_s=5)(small).text
    assert "stone pier" in t.__class__(HtmlExtractConfig(enabled=True, time_limit_s=5))(small).text


def test_a_page_larger_than_the_socket_buffer_goes_through_after_a_library_set_a_default_timeout():
    """Beam's GCP auth calls socket.setdefaulttimeout(); sockets made after that are non-blocking underneath,
    and sending a page larger than the socket buffer to a child still starting up failed (BlockingIOError)."""
    import socket

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    try:
        big = Document("big", page(MAIN_EN * 1000), "https://example.org/big", meta={"mime": "text/html"})
        assert len(big.text) > 1_000_000
        assert "stone pier" in extractor(extractor="resiliparse", time_limit_s=60)(big).text
    finally:
        socket.setdefaulttimeout(old)


def test_html_stage_config_rules():
    with pytest.raises(ValueError, match="annotate_only"):
        HtmlExtractConfig(annotate_only=True)
    with pytest.raises(ValueError, match="regular expression"):
        HtmlExtractConfig(blocked_url_patterns=["("])
    from corpusforge.pipelines.curate import build_stages

    cfg = CurateConfig(input={"paths": ["crawl/*.warc.gz"]}, output={"dir": "x"})
    with pytest.raises(ConfigError, match="html.enabled"):
        build_stages(cfg)
    cfg = CurateConfig(input={"paths": ["crawl/*.warc.gz"]}, output={"dir": "x"}, html={"enabled": True})
    assert build_stages(cfg)[0][0].name == "html_extract"


# ----------------------------------------------------------------------------------------- end to end
def test_curate_run_over_a_warc_accounts_for_every_record(tmp_path):
    from corpusforge.pipelines.curate import run_curate

    more = [EN + " " + MAIN_EN[1], MAIN_EN[2] + " " + MAIN_EN[1]]
    records = [
        ("https://example.org/", "request", b"", None, None),
        html_response("https://example.org/a", page(MAIN_EN, "Harbour").encode()),
        html_response("https://example.org/b", page(more + MAIN_EN[:1], "Pier").encode()),
        html_response("https://example.org/a-copy", page(MAIN_EN, "Harbour").encode()),  # exact duplicate text
        html_response("https://example.org/style.css", b"body{color:red}", "text/css"),
        html_response("https://example.org/gone", page(MAIN_EN).encode(), status="404 Not Found"),
        html_response("https://ads.example/x", page(MAIN_EN).encode()),
        html_response("https://example.org/nav-only", b"<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        html_response("https://example.org/bin", b"\x00\x01\x02\x03" * 500),
        html_response("https://example.org/de", page([DE, DE.replace("Stadt", "Gemeinde")], "Stadt").encode()),
    ]
    data = warc_bytes(records)
    (tmp_path / "crawl-0.warc.gz").write_bytes(data[:-100])  # its last record (the German page) cut short
    (tmp_path / "crawl-1.warc").write_bytes(warc_bytes(records[:3], gzip_records=False))  # same ids again
    out = tmp_path / "run"
    cfg = CurateConfig.model_validate({
        "input": {"paths": [str(tmp_path / "crawl-*")]},
        "output": {"dir": str(out), "num_shards": 1},
        "html": {"enabled": True, "extractor": "resiliparse", "blocked_domains": ["ads.example"]},
        "langid": {"languages": ["en", "de"]},
        "dedup": {"enabled": True, "exact": True, "minhash": False},
        "c4": {"enabled": False}, "fineweb": {"enabled": False},
        "gopher_quality": {"enabled": False}, "gopher_repetition": {"enabled": False},
    })
    stats = run_curate(cfg)
    c = stats["conservation"]
    # 9 input records in file 0 (the request is not one) + 2 in file 1.
    assert c["ok"] and c["input"] == 11 == c["kept"] + c["dropped"] + c["quarantined"]
    kept = pq.read_table(out / "kept").to_pylist()
    dropped = {r["url"]: r["reason"] for r in pq.read_table(out / "dropped").to_pylist()}
    quarantine = [json.loads(l) for l in open(next((out / "quarantine").glob("*.jsonl")), encoding="utf-8")]
    assert sorted(r["url"] for r in kept) == ["https://example.org/a", "https://example.org/b"]
    assert dropped == {"https://example.org/style.css": "html_non_html", "https://example.org/gone": "html_http_status",
                       "https://ads.example/x": "url_blocked",
                       "https://example.org/nav-only": "html_empty_after_extraction",
                       "https://example.org/a-copy": "dedup_exact"}
    errors = sorted(q["error"].split(" (")[0].split(":")[0] for q in quarantine)
    assert len(quarantine) == 4 and sum("duplicate id" in q["error"] for q in quarantine) == 2
    assert any("undecodable page" in q["error"] for q in quarantine), errors
    assert any("cut short" in q["error"] and "example.org/de" in q["error"] for q in quarantine), errors
    ann = json.loads(kept[0]["annotations"])
    assert ann["warc_record_id"] == kept[0]["id"] and ann["warc_date"] and ann["charset"] == "utf-8"
    assert ann["html_extractor"] == "resiliparse" and "<p>" not in kept[0]["text"]


@pytest.mark.parametrize("gzipped", [True, False])
def test_every_cut_point_of_the_last_record_is_accounted_for(gzipped):
    """Cut the file at every few bytes of its last record: the first records always come out whole and the
    last one is always exactly one Quarantined, or a whole Document when only the gzip trailer was cut."""
    data = warc_bytes(SAMPLE, gzip_records=gzipped)
    start = len(warc_bytes(SAMPLE[:-1], gzip_records=gzipped))
    for cut in range(start + 1, len(data), 13):
        out = read(data[:cut])
        assert [type(r) for r in out[:2]] == [Document, Document], cut
        assert len(out) == 3, (cut, out[2:])
        if isinstance(out[2], Document):
            assert gzipped and cut > len(data) - 20 and out[2].text == read(data)[2].text, cut
        else:
            assert isinstance(out[2], Quarantined), cut
    assert isinstance(read(data)[-1], Document)
