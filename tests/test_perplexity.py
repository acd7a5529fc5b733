"""CCNet perplexity stage and `corpusforge train-lm`, with real SentencePiece, KenLM (lmplz, query) and Beam.

The models are trained once per module from the shipped clean reference text (data/lm_reference) and
scored on held-out real prose from the demo corpus (data/demo), which the reference is disjoint from.
"""
from __future__ import annotations

import json
import pickle
import random
import shutil
import unicodedata
from pathlib import Path

import apache_beam as beam
import kenlm
import pytest
import sentencepiece
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from corpusforge.cli import main as cli_main
from corpusforge.config import ConfigError, PerplexityConfig, load_config
from corpusforge.pipelines.stage import ApplyStage
from corpusforge.lm.train import find_kenlm_tool, read_reference, train_language_model
from corpusforge.records import Document, Drop
from corpusforge.transforms.base import apply_annotate_only
from corpusforge.transforms.perplexity import PerplexityFilter, perplexity_bucket
from corpusforge.transforms.text_normalizer import normalize, strip_accents

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "lm_reference"
DEMO_LANGS = sorted(p.stem for p in REFERENCE.glob("*.jsonl"))


def demo_prose(lang: str, n: int = 3) -> list[str]:
    """Real LibreOffice-guide prose from the demo corpus (never part of the reference)."""
    out = []
    for line in (ROOT / "data/demo/part-000.jsonl").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("lang_hint") == lang and str(rec.get("id", "")).startswith("lo-"):
            out.append(rec["text"])
    assert len(out) >= n, f"demo corpus has too few {lang} documents"
    return out[:n]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lm")
    for lang in DEMO_LANGS:
        texts = read_reference([str(REFERENCE / f"{lang}.jsonl")])
        train_language_model(lang, texts, out, keep_arpa=(lang == "en"), inputs=[str(REFERENCE / f"{lang}.jsonl")])
    return out


def cfg(models_dir, **kw) -> PerplexityConfig:
    """The stage with cutoffs from the models' reference text (most tests here); corpus cutoffs, the default,
    are tested at the end of this file."""
    kw.setdefault("cutoffs", "reference")
    kw.setdefault("drop_rule", "tail")
    return PerplexityConfig(enabled=True, models_dir=str(models_dir), **kw)


def doc(text: str, lang: str | None = "en", id: str = "d1") -> Document:
    return Document(id, text, meta={"language": lang} if lang else {})


# ----------------------------------------------------------------------------------- normalizer
def test_normalizer_matches_ccnet_rules():
    # lowercase, accents stripped, every Unicode digit -> 0, typographic punctuation -> ASCII, controls removed
    assert normalize("  Ça coûte 12,50 € — «très» cher…\t ") == 'ca coute 00,00 €  -  "tres" cher...'
    assert normalize("０２３４ | 0123") == "0000 | 0000"
    assert normalize("Zeile eins\nZeile zwei") == "zeile einszeile zwei"  # CCNet deletes newlines
    assert normalize("（テスト）：ok！") == "(テスト):ok!"
    assert normalize("") == "" and normalize(" \n ") == ""


def test_fast_strip_accents_equals_nfd_definition():
    rng = random.Random(0)
    pool = [chr(i) for i in range(0x20, 0x2500)] + [chr(i) for i in range(0xAC00, 0xAC20)] + [
        "\U0001D165", "\U0001D16D", "\u0301", "\u0327", "\u0345"]
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 10)))
        assert strip_accents(text) == "".join(
            c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"), repr(text)
    assert strip_accents("각") == "\u1100\u1161\u11a8"  # CCNet's quirk: the decomposed form comes back


# ------------------------------------------------------------------------------------- scoring
def test_perplexity_equals_direct_kenlm_computation(models):
    lm = kenlm.Model(str(models / "en.arpa.bin"))
    sp = sentencepiece.SentencePieceProcessor(model_file=str(models / "en.sp.model"))
    text = demo_prose("en", 1)[0] + "\n\nA second paragraph, with 42 numbers — and “quotes”."
    log10_sum, tokens = 0.0, 0
    for line in text.split("\n"):
        norm = normalize(line)
        if not norm:
            continue
        pieces = sp.encode(norm, out_type=str)
        # full_scores gives one log10 probability per piece plus </s>
        scores = [s for s, _, _ in lm.full_scores(" ".join(pieces), bos=True, eos=True)]
        assert len(scores) == len(pieces) + 1
        log10_sum += sum(scores)
        tokens += len(pieces) + 1
    expected = round(10 ** (-log10_sum / tokens), 1)

    f = PerplexityFilter(cfg(models, drop_rule="none"))
    f.setup()
    out = f(doc(text))
    assert isinstance(out, Document)
    assert out.meta["perplexity"] == pytest.approx(expected, abs=1e-9)
    assert out.meta["perplexity_bucket"] in {"head", "middle", "tail"}


def test_document_scoring_mode_is_ccnet_mine(models, tmp_path):
    lm = kenlm.Model(str(models / "en.arpa.bin"))
    sp = sentencepiece.SentencePieceProcessor(model_file=str(models / "en.sp.model"))
    text = "First line of text.\nSecond line of text."
    tokenized = " ".join(sp.encode(normalize(text), out_type=str))  # the whole doc, newlines deleted
    expected = round(10 ** (-lm.score(tokenized) / (len(tokenized.split()) + 1)), 1)
    # The trained cutoffs were computed in "lines" mode: using them with another mode is refused.
    with pytest.raises(ConfigError, match="scoring 'lines'"):
        PerplexityFilter(cfg(models, drop_rule="none", scoring="document"))
    for name in ("en.arpa.bin", "en.sp.model"):
        shutil.copy(models / name, tmp_path / name)
    f = PerplexityFilter(cfg(tmp_path, drop_rule="none", scoring="document"))
    assert f.score(text, "en") == expected
    assert f.score(text, "en") != PerplexityFilter(cfg(tmp_path, drop_rule="none")).score(text, "en")


def test_arpa_and_binary_models_score_the_same(models, tmp_path):
    for name in ("en.arpa", "en.sp.model", "en.cutoffs.json"):
        shutil.copy(models / name, tmp_path / name)
    text = demo_prose("en", 1)[0]
    arpa = PerplexityFilter(cfg(tmp_path, languages=["en"]))
    binary = PerplexityFilter(cfg(models, languages=["en"]))
    assert arpa.files["en"].lm.endswith("en.arpa") and binary.files["en"].lm.endswith("en.arpa.bin")
    assert arpa.score(text, "en") == binary.score(text, "en")


@pytest.mark.parametrize("lang", DEMO_LANGS)
def test_prose_beats_shuffled_beats_character_soup(models, lang):
    f = PerplexityFilter(cfg(models, languages=[lang], drop_rule="none"))
    for i, text in enumerate(demo_prose(lang)):
        rng = random.Random(i)
        words = text.split()
        rng.shuffle(words)
        chars = [c for c in text if not c.isspace()]
        soup = "".join(rng.choice(chars) + (" " if rng.random() < 0.18 else "") for _ in range(len(text)))
        prose_ppl, shuffled_ppl, soup_ppl = (f.score(t, lang) for t in (text, " ".join(words), soup))
        assert prose_ppl < shuffled_ppl < soup_ppl, (lang, prose_ppl, shuffled_ppl, soup_ppl)


# -------------------------------------------------------------------------------------- buckets
def test_bucket_rule_at_the_cutoffs():
    assert perplexity_bucket(99.9, 100.0, 200.0) == "head"
    assert perplexity_bucket(100.0, 100.0, 200.0) == "middle"  # CCNet: head is strictly below
    assert perplexity_bucket(199.9, 100.0, 200.0) == "middle"
    assert perplexity_bucket(200.0, 100.0, 200.0) == "tail"
    assert perplexity_bucket(None, 100.0, 200.0) is None


def _with_cutoffs(models: Path, dest: Path, p30: float, p60: float) -> Path:
    for name in ("en.arpa.bin", "en.sp.model"):
        shutil.copy(models / name, dest / name)
    pct = {str(p): (p30 if p <= 30 else p60) for p in range(101)}
    (dest / "en.cutoffs.json").write_text(json.dumps({"language": "en", "scoring": "lines", "percentiles": pct}))
    return dest


def test_stage_buckets_and_drops_at_the_cutoffs(models, tmp_path):
    text = demo_prose("en", 1)[0]
    ppl = PerplexityFilter(cfg(models, drop_rule="none")).score(text, "en")
    cases = [((ppl + 0.1, ppl + 100), "head"), ((ppl, ppl + 100), "middle"), ((ppl - 50, ppl), "tail")]
    for i, ((p30, p60), bucket) in enumerate(cases):
        d = tmp_path / str(i)
        d.mkdir()
        _with_cutoffs(models, d, p30, p60)
        kept = PerplexityFilter(cfg(d, drop_rule="none"))(doc(text))
        assert kept.meta["perplexity_bucket"] == bucket
        result = PerplexityFilter(cfg(d, drop_rule="tail"))(doc(text))
        if bucket == "tail":
            assert isinstance(result, Drop) and result.reason == "perplexity_tail"
            assert result.signals["perplexity"] == ppl and result.signals["tail_cutoff"] == ppl
        else:
            assert isinstance(result, Document)


def test_max_perplexity_rule(models):
    text = demo_prose("en", 1)[0]
    ppl = PerplexityFilter(cfg(models, drop_rule="none")).score(text, "en")
    assert isinstance(PerplexityFilter(cfg(models, drop_rule="max_perplexity", max_perplexity=ppl))(doc(text)),
                      Document)
    dropped = PerplexityFilter(cfg(models, drop_rule="max_perplexity", max_perplexity=ppl - 0.1))(doc(text))
    assert isinstance(dropped, Drop) and dropped.reason == "perplexity_above_max"


def test_language_without_model_passes_with_null(models):
    f = PerplexityFilter(cfg(models))
    for d in (doc("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "la"), doc("no language", None)):
        out = f(d)
        assert isinstance(out, Document)
        assert out.meta["perplexity"] is None and out.meta["perplexity_bucket"] is None


def test_annotate_only_never_drops(models):
    soup = "xq zv ## kk ĳĳ " * 40
    f = PerplexityFilter(cfg(models, annotate_only=True))
    d = doc(soup)
    out = apply_annotate_only(f, d, f(d))
    assert isinstance(out, Document)
    assert out.meta["perplexity_verdict"] == "perplexity_tail" and out.meta["perplexity_bucket"] == "tail"


# ------------------------------------------------------------------------------- model layouts
def test_ccnet_layout_with_cutoff_csv(models, tmp_path):
    lm_sp = tmp_path / "data" / "lm_sp"
    lm_sp.mkdir(parents=True)
    shutil.copy(models / "en.arpa.bin", lm_sp / "en.arpa.bin")
    shutil.copy(models / "en.sp.model", lm_sp / "en.sp.model")
    rows = ["," + "en,fr"] + [f"{p},{100 + p},{50 + p}" for p in range(101)]
    (lm_sp / "cutoff.csv").write_text("\n".join(rows) + "\n")
    f = PerplexityFilter(cfg(tmp_path / "data"))
    assert f.languages == ["en"]
    assert f.cutoffs["en"] == (130.0, 160.0)


def test_remote_models_are_copied_to_the_cache_through_beam_filesystems(models, tmp_path, monkeypatch):
    # Treat a local dir as remote: the gs:// code path (FileSystems.match/open, cache copy) runs for real on
    # Beam's local filesystem.
    from corpusforge import storage

    monkeypatch.setattr(storage, "is_remote", lambda path: True)
    cache = tmp_path / "cache"
    f = PerplexityFilter(cfg(models, languages=["en"], cache_dir=str(cache)))
    f.setup()
    copied = sorted(p.name.split("-", 1)[1] for p in cache.iterdir())
    assert copied == ["en.arpa.bin", "en.sp.model"]
    text = demo_prose("en", 1)[0]
    monkeypatch.undo()
    assert f.score(text, "en") == PerplexityFilter(cfg(models, languages=["en"])).score(text, "en")


def test_missing_model_files_are_config_errors(models, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        PerplexityFilter(cfg(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"xx: missing .*xx\.sp\.model"):
        PerplexityFilter(cfg(models, languages=["en", "xx"]))
    shutil.copy(models / "en.sp.model", tmp_path / "en.sp.model")
    with pytest.raises(ConfigError, match="missing KenLM model"):
        PerplexityFilter(cfg(tmp_path))
    shutil.copy(models / "en.arpa.bin", tmp_path / "en.arpa.bin")
    with pytest.raises(ConfigError, match="no cutoffs"):
        PerplexityFilter(cfg(tmp_path, drop_rule="tail"))
    assert PerplexityFilter(cfg(tmp_path, drop_rule="none")).cutoffs == {}
    (tmp_path / "en.arpa.bin").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load kenlm model"):
        PerplexityFilter(cfg(tmp_path, drop_rule="none")).setup()


def test_config_validation():
    with pytest.raises(ConfigError, match="perplexity.max_perplexity"):
        load_config(None, data={"input": {"paths": ["x"]}, "output": {"dir": "y"},
                                "perplexity": {"drop_rule": "max_perplexity"}})
    with pytest.raises(ConfigError, match="head_percentile"):
        load_config(None, data={"input": {"paths": ["x"]}, "output": {"dir": "y"},
                                "perplexity": {"head_percentile": 60, "tail_percentile": 30}})


# --------------------------------------------------------------------------------- Beam + pickling
def test_stage_pickles_and_runs_in_beam(models):
    f = PerplexityFilter(cfg(models))
    f.setup()
    clone = pickle.loads(pickle.dumps(f))
    assert clone._models is None  # models are reloaded by setup() on the worker
    prose = min(demo_prose("de", 10), key=lambda t: f.score(t, "de"))
    soup = "qx zj ## §§ vv kk " * 30
    assert clone.score(prose, "de") == f.score(prose, "de")
    prose_bucket = f(doc(prose, "de")).meta["perplexity_bucket"]
    assert prose_bucket in {"head", "middle"}

    docs = [doc(prose, "de", "prose"), doc(soup, "de", "soup"), doc("Lorem ipsum dolor sit amet.", "la", "latin")]
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions()) as p:
        out = p | beam.Create(docs) | ApplyStage(PerplexityFilter(cfg(models)))
        assert_that(out["dropped"] | "dr" >> beam.Map(lambda d: (d.doc.id, d.stage, d.reason)),
                    equal_to([("soup", "perplexity", "perplexity_tail")]), label="dropped")
        assert_that(out["kept"] | "kp" >> beam.Map(lambda d: (d.id, d.meta["perplexity_bucket"])),
                    equal_to([("prose", prose_bucket), ("latin", None)]),
                    label="kept")


# -------------------------------------------------------------------------------------- training
def test_train_lm_cli_end_to_end_is_deterministic(models, tmp_path, capsys):
    ref = tmp_path / "ref.jsonl"
    lines = (REFERENCE / "fr.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    other = json.dumps({"text": "This English line must be ignored.", "lang_hint": "en"})
    records = [json.dumps({**json.loads(x), "lang_hint": "fr"}) for x in lines] + [other]
    ref.write_text("\n".join(records) + "\n", encoding="utf-8")
    for run in ("a", "b"):
        rc = cli_main(["train-lm", "--lang", "fr", "--input", str(ref), "--out", str(tmp_path / run),
                       "--lang-field", "lang_hint", "--min-heldout-docs", "8"])
        assert rc == 0
    assert "fr: vocab" in capsys.readouterr().out
    for name in ("fr.sp.model", "fr.arpa.bin", "fr.cutoffs.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    card = json.loads((tmp_path / "a" / "fr.model_card.json").read_text())
    assert card["reference_docs"] == 40 and card["heldout_docs"] == 8 and card["train_docs"] == 32
    assert card["sentencepiece"]["vocab_size_requested"] == 65536
    assert 100 < card["sentencepiece"]["vocab_size"] < 65536  # sized down for the small reference
    assert card["kenlm"]["order"] == 5 and card["kenlm"]["ngram_counts"]["5"] > 0
    assert card["files"]["fr.arpa.bin"]["bytes"] == (tmp_path / "a" / "fr.arpa.bin").stat().st_size
    assert card["heldout_perplexity"]["corpus"] > 1
    pct = json.loads((tmp_path / "a" / "fr.cutoffs.json").read_text())["percentiles"]
    values = [pct[str(p)] for p in range(101)]
    assert values == sorted(values) and values[30] <= values[60]
    assert "fr" in (tmp_path / "a" / "fr.model_card.md").read_text()
    # The trained directory is directly usable by the stage.
    f = PerplexityFilter(cfg(tmp_path / "a", languages=["fr"]))
    assert f.score(demo_prose("fr", 1)[0], "fr") > 1


def test_train_lm_logs_every_phase_and_progress_leaves_the_model_bytes_unchanged(tmp_path, monkeypatch, caplog):
    """Each phase has a start and a finish line (with its count where it loops over documents), lines come while
    a phase runs (every 5 ms here, 10 s in use), and the model files are the same with the lines off."""
    import logging
    import re

    from corpusforge.pipelines import progress as P

    monkeypatch.setattr(P, "INTERVAL_S", 0.005)
    ref = tmp_path / "ref.jsonl"
    ref.write_text("\n".join((REFERENCE / "fr.jsonl").read_text(encoding="utf-8").splitlines()[:40]) + "\n",
                   encoding="utf-8")
    kw = {"min_heldout_docs": 8, "vocab_size": 300}
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        texts = read_reference([str(ref)], lang="fr", progress=P.Step)
        card = train_language_model("fr", texts, tmp_path / "on", cutoff_texts=texts[:5], progress=P.Step, **kw)
    lines = [r.getMessage() for r in caplog.records if r.name == "corpusforge.progress"]
    n_lines = card["training_lines"]
    started = [m.group(1) for x in lines if (m := re.fullmatch(r"(.*): started(?: \(.*\))?", x))]
    assert started == ["train-lm fr: reading 1 file(s)", "train-lm fr: normalizing training documents",
                       f"train-lm fr: SentencePiece on {n_lines:,} lines", "train-lm fr: encoding into pieces",
                       "train-lm fr: lmplz (order 5)", "train-lm fr: build_binary",
                       "train-lm fr: scoring held-out documents", "train-lm fr: scoring --cutoff-input documents"], lines
    counted = {"train-lm fr: reading 1 file(s)": "40 records", "train-lm fr: normalizing training documents": "32 documents",
               "train-lm fr: encoding into pieces": f"{n_lines:,} lines",
               "train-lm fr: scoring held-out documents": "8 documents",
               "train-lm fr: scoring --cutoff-input documents": "5 documents"}
    for label, count in counted.items():
        assert any(re.fullmatch(rf"{re.escape(label)}: done, {count}, in \d+s", x) for x in lines), (label, lines)
    for label in (f"SentencePiece on {n_lines:,} lines", "lmplz (order 5)", "build_binary"):
        assert any(re.fullmatch(rf"train-lm fr: {re.escape(label)}: done in \d+s", x) for x in lines), (label, lines)
    # Between the start and finish lines, the reporter spoke: the external programs "running", loops done / total.
    assert any(re.search(r": running, \d+s elapsed$|: \d+ / \d+ (documents|lines) \(", x) for x in lines), lines

    caplog.clear()
    train_language_model("fr", read_reference([str(ref)], lang="fr"), tmp_path / "off", cutoff_texts=texts[:5], **kw)
    for name in ("fr.sp.model", "fr.arpa.bin", "fr.cutoffs.json"):
        assert (tmp_path / "on" / name).read_bytes() == (tmp_path / "off" / name).read_bytes(), name


def test_train_lm_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="input file not found"):
        read_reference([str(tmp_path / "missing.jsonl")])
    monkeypatch.setenv("CORPUSFORGE_KENLM_BIN", str(tmp_path))
    with pytest.raises(ConfigError, match="build_kenlm.sh"):
        find_kenlm_tool("lmplz")


# ------------------------------------------------------------------------------ corpus cutoffs (CCNet)
def test_defaults_annotate_with_corpus_cutoffs():
    c = PerplexityConfig(enabled=True, models_dir="x")
    assert c.cutoffs == "corpus" and c.drop_rule == "none" and (c.head_percentile, c.tail_percentile) == (30, 60)


def test_percentiles_from_the_log_grid_histogram():
    from corpusforge.transforms.perplexity import cutoffs_from_histogram, perplexity_bin

    values = [float(v) for v in range(100, 1100, 10)]  # 100 documents, perplexity 100..1090
    hist: dict[int, int] = {}
    for v in values:
        hist[perplexity_bin(v)] = hist.get(perplexity_bin(v), 0) + 1
    cut = cutoffs_from_histogram(hist, (30, 60))
    # nearest rank: the 30th value is 390, the 60th 690; the cutoff is the upper edge of their bin (<0.3% above)
    assert 390 < cut[30] <= 390 * 1.003 and 690 < cut[60] <= 690 * 1.003
    assert sum(v < cut[30] for v in values) == 30 and sum(v < cut[60] for v in values) == 60
    assert cutoffs_from_histogram({}, (30,)) == {}


_SINK: dict[str, list] = {}


def _collect(x, tag):
    _SINK.setdefault(tag, []).append(x)


def _beam_buckets(docs, pcfg, out):
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusforge.pipelines.perplexity import PerplexityBuckets

    _SINK.clear()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        res = p | beam.Create(docs) | PerplexityBuckets(pcfg, str(out))
        res["kept"] | "K" >> beam.Map(_collect, "kept")
        res["dropped"] | "D" >> beam.Map(_collect, "dropped")
    return _SINK.get("kept", []), _SINK.get("dropped", [])


def test_corpus_buckets_per_language_in_beam(tmp_path):
    import json as _json

    docs = [Document(f"en{i:03d}", "x", meta={"language": "en", "perplexity": float(100 + i)}) for i in range(100)]
    docs += [Document(f"de{i:03d}", "x", meta={"language": "de", "perplexity": float(1000 + 10 * i)}) for i in range(50)]
    docs += [Document("xx", "x", meta={"language": "sv", "perplexity": None})]
    pcfg = PerplexityConfig(enabled=True, models_dir="x")
    kept, dropped = _beam_buckets(docs, pcfg, tmp_path / "cut.json")
    assert not dropped and len(kept) == len(docs)
    buckets = {d.id: d.meta.get("perplexity_bucket") for d in kept}
    for lang, n in (("en", 100), ("de", 50)):
        ids = sorted(i for i in buckets if i.startswith(lang))
        got = [buckets[i] for i in ids]  # ids in perplexity order
        assert got.count("head") == round(0.3 * n) - 1 or got.count("head") == round(0.3 * n)
        assert got[0] == "head" and got[-1] == "tail" and got.count("tail") >= 0.39 * n
    assert buckets["xx"] is None
    written = _json.loads((tmp_path / "cut.json").read_text())
    assert written["en"]["documents"] == 100 and written["de"]["head"] > written["en"]["tail"]


def test_corpus_tail_drop_only_when_configured(tmp_path):
    docs = [Document(f"d{i:03d}", "x", meta={"language": "en", "perplexity": float(100 + i)}) for i in range(100)]
    pcfg = PerplexityConfig(enabled=True, models_dir="x", drop_rule="tail")
    kept, dropped = _beam_buckets(docs, pcfg, tmp_path / "cut.json")
    assert len(kept) + len(dropped) == 100 and 39 <= len(dropped) <= 41
    assert all(d.reason == "perplexity_tail" and d.stage == "perplexity" for d in dropped)
    assert min(d.doc.meta["perplexity"] for d in dropped) > max(d.meta["perplexity"] for d in kept)


def test_corpus_mode_transform_annotates_without_bucket(models):
    f = PerplexityFilter(PerplexityConfig(enabled=True, models_dir=str(models), languages=["en"]))
    out = f(Document("d", "The cat sat on the mat and looked out of the window.", meta={"language": "en"}))
    assert isinstance(out, Document) and out.meta["perplexity"] > 0 and "perplexity_bucket" not in out.meta
