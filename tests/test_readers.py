"""Readers: every bad record becomes a quarantine record with a clear error; good ones become Documents."""
import base64
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.config import InputConfig
from corpusforge.io.readers import read_file, resolve_inputs
from corpusforge.records import Document, Quarantined, derived_id


def _cfg(tmp_path, **kw):
    return InputConfig(paths=[str(tmp_path / "*")], **kw)


def _write_lines(path, lines: list[bytes]):
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_jsonl_good_and_bad_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    _write_lines(p, [
        json.dumps({"id": "1", "text": "hello", "url": "http://x"}).encode(),
        b'{"id": "2", "text": ',                                   # broken JSON
        b'{"id": "3", "text": "caf\xe9"}',                         # invalid UTF-8 (latin-1 byte)
        json.dumps({"id": "4"}).encode(),                           # missing text
        json.dumps({"id": "5", "text": 5}).encode(),                # non-string text
        json.dumps({"id": "6", "text": "   "}).encode(),            # empty text
        json.dumps({"id": "7", "text": "x" * 200}).encode(),        # over max_text_bytes
        b"",                                                        # blank line
        json.dumps([1, 2]).encode(),                                # not an object
        json.dumps({"id": {"a": 1}, "text": "t"}).encode(),         # bad id type
        json.dumps({"text": "no id here"}).encode(),                # derived id
    ])
    out = list(read_file(str(p), _cfg(tmp_path, max_text_bytes=100)))
    assert len(out) == 11
    docs = [o for o in out if isinstance(o, Document)]
    bad = {o.line: o.error for o in out if isinstance(o, Quarantined)}
    assert [d.id for d in docs] == ["1", derived_id("no id here", str(p), 11)]
    assert docs[0].url == "http://x" and docs[0].line == 1 and docs[0].source == str(p)
    assert bad[2].startswith("invalid JSON")
    assert bad[3].startswith("invalid UTF-8")
    assert "missing text field 'text'" in bad[4]
    assert "is a int, expected a string" in bad[5]
    assert bad[6] == "empty text"
    assert "over input.max_text_bytes=100" in bad[7]
    assert bad[8] == "blank line"
    assert "JSON list" in bad[9]
    assert "id field 'id' is a dict" in bad[10]


def test_quarantine_record_keeps_bounded_raw_bytes(tmp_path):
    p = tmp_path / "a.jsonl"
    raw = b'{"id": 1, "text": "' + b"y" * 10_000
    _write_lines(p, [raw])
    (q,) = list(read_file(str(p), _cfg(tmp_path)))
    rec = json.loads(q.to_json())
    assert rec["raw_truncated"] is True and rec["source"] == str(p) and rec["line"] == 1
    assert base64.b64decode(rec["raw_base64"]) == raw[:4096]


def test_huge_line_is_quarantined_without_parsing(tmp_path):
    p = tmp_path / "a.jsonl"
    _write_lines(p, [json.dumps({"id": "big", "text": "z" * 5000}).encode(), json.dumps({"id": "ok", "text": "fine"}).encode()])
    out = list(read_file(str(p), _cfg(tmp_path, max_line_bytes=1000)))
    assert isinstance(out[0], Quarantined) and "max_line_bytes=1000" in out[0].error
    assert isinstance(out[1], Document) and out[1].id == "ok" and out[1].line == 2


def test_jsonl_gz_and_truncated_gz(tmp_path):
    good = tmp_path / "a.jsonl.gz"
    payload = "".join(json.dumps({"id": str(i), "text": f"doc {i}"}) + "\n" for i in range(50)).encode()
    good.write_bytes(gzip.compress(payload))
    assert [d.id for d in read_file(str(good), _cfg(tmp_path))] == [str(i) for i in range(50)]
    broken = tmp_path / "b.jsonl.gz"
    broken.write_bytes(gzip.compress(payload)[:-30])
    out = list(read_file(str(broken), _cfg(tmp_path)))
    assert isinstance(out[-1], Quarantined) and "input stream broken" in out[-1].error
    assert all(isinstance(o, Document) for o in out[:-1])


def test_parquet_rows(tmp_path):
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["one", None, ""]}), p)
    out = list(read_file(str(p), _cfg(tmp_path)))
    assert isinstance(out[0], Document) and out[0].id == "a"
    assert "missing text field" in out[1].error and out[2].error == "empty text"
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    (q,) = list(read_file(str(bad), _cfg(tmp_path)))
    assert "unreadable Parquet file" in q.error


def test_configurable_field_names(tmp_path):
    p = tmp_path / "a.jsonl"
    _write_lines(p, [json.dumps({"doc_id": 7, "content": "body", "link": "u"}).encode()])
    (d,) = list(read_file(str(p), _cfg(tmp_path, text_field="content", id_field="doc_id", url_field="link")))
    assert (d.id, d.text, d.url) == ("7", "body", "u")


def test_integer_and_string_ids_are_one_id(tmp_path):
    # Ids are strings in every output (Parquet `id` column, duplicate_of, state): an integer id is its decimal
    # string, as datatrove does. So 777 and "777" name the same document, and the pipeline's unique-id step
    # quarantines the later one as "duplicate id" (test_pipeline_e2e); floats and booleans are refused.
    p = tmp_path / "a.jsonl"
    _write_lines(p, [json.dumps({"id": 777, "text": "a"}).encode(), json.dumps({"id": "777", "text": "b"}).encode(),
                     json.dumps({"id": 7.0, "text": "c"}).encode(), json.dumps({"id": True, "text": "d"}).encode()])
    a, b, c, d = read_file(str(p), _cfg(tmp_path))
    assert a.id == b.id == "777"
    assert isinstance(c, Quarantined) and "is a float" in c.error and isinstance(d, Quarantined)


def test_resolve_inputs_sorted_with_checksums(tmp_path):
    for name in ("b.jsonl", "a.jsonl"):
        (tmp_path / name).write_text('{"text": "x"}\n')
    files = resolve_inputs(InputConfig(paths=[str(tmp_path / "*.jsonl")]))
    assert [f.path.rsplit("/", 1)[1] for f in files] == ["a.jsonl", "b.jsonl"]
    assert files[0].checksum == files[1].checksum and files[0].checksum.startswith("sha256:")


def test_meta_fields_are_copied_into_annotations(tmp_path):
    p = tmp_path / "a.jsonl"
    _write_lines(p, [json.dumps({"id": "1", "text": "t", "date": "2024-05-01", "lang": "en"}).encode()])
    (d,) = list(read_file(str(p), _cfg(tmp_path, meta_fields=["date", "missing"])))
    assert d.meta == {"date": "2024-05-01"}
