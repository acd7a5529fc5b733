"""Tokenizer training, evaluation and token shards on a run dir built from the real demo prose.

The run dir is written here (kept/ Parquet with the curate schema) from data/demo/part-000.jsonl (Debian
and LibreOffice documentation in ~10 languages, labelled by fastText) plus a few documents that probe
edge cases: PII placeholders, a literal end-of-text string, a 12 kB line, emoji, CR LF, tabs, and
Japanese/Chinese documents (spaCy's example sentences) that are held out of training by their ids.
Everything runs for real: Beam FnApiRunner, SentencePiece training and encoding.
"""
import ast
import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from corpusforge.cli import main
from corpusforge.config import RunnerConfig, TokenizerTrainConfig
from corpusforge.pipelines.tokenizer import build_training_sample
from corpusforge.tokenizers.sample import is_heldout, sample_lines, temperature_shares
from corpusforge.tokenizers.shards import TokenShards, shard_payload, EncodedDoc, token_dtype

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "part-000.jsonl"
SPACY_LANG = Path(spm.__file__).resolve().parents[1] / "spacy" / "lang"
KEPT_SCHEMA = pa.schema([
    ("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string()),
    ("language", pa.string()), ("language_score", pa.float64()), ("perplexity", pa.float64()),
    ("perplexity_bucket", pa.string()), ("annotations", pa.string()),
])
PLACEHOLDERS = ["<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<CREDIT_CARD>", "<IBAN_CODE>", "<IP_ADDRESS>",
                "<US_SSN>", "<STREET_ADDRESS>"]
VOCAB = 800
MAX_LINE = 512
HOLDOUT = 10.0


def demo_docs() -> list[dict]:
    docs = []
    for raw in DEMO.read_bytes().splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            continue  # the demo plants malformed lines for the curate tests
        if isinstance(rec, dict) and isinstance(rec.get("text"), str) and rec.get("id") and rec.get("lang_hint"):
            docs.append({"id": rec["id"], "text": rec["text"], "language": rec["lang_hint"]})
    return docs


def spacy_sentences(lang: str) -> list[str]:
    tree = ast.parse((SPACY_LANG / lang / "examples.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "sentences":
            return ast.literal_eval(node.value)
    raise AssertionError(f"no sentences in spacy/lang/{lang}/examples.py")


def id_with(prefix: str, heldout: bool) -> str:
    """The first id `prefix-N` on the wanted side of the held-out split (seed 0)."""
    n = 0
    while is_heldout(f"{prefix}-{n}", HOLDOUT, 0) != heldout:
        n += 1
    return f"{prefix}-{n}"


def write_run(run: Path, docs: list[dict]) -> Path:
    rows = [{"id": d["id"], "text": d["text"], "url": None, "source": "test", "language": d["language"],
             "language_score": 0.9, "perplexity": None, "perplexity_bucket": None, "annotations": "{}"} for d in docs]
    (run / "kept").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(sorted(rows, key=lambda r: r["id"]), schema=KEPT_SCHEMA),
                   run / "kept" / "part-00000-of-00001.parquet")
    return run


LONG_LINE = " ".join(f"Zeile{i} mit Wörtern und Zahlen {i * 7919}" for i in range(300)) + "x" * 3000


def edge_docs() -> list[dict]:
    return [
        {"id": id_with("pii-letter", False), "language": "en",
         "text": "Dear <PERSON>,\nplease write to <EMAIL_ADDRESS> or call <PHONE_NUMBER> from <STREET_ADDRESS>.\n"
                 "Card <CREDIT_CARD>, account <IBAN_CODE>, host <IP_ADDRESS>, SSN <US_SSN>."},
        {"id": id_with("long-line", False), "language": "de", "text": LONG_LINE},
        {"id": id_with("odd-bytes", False), "language": "en",
         "text": "Tabs\tand CR LF\r\nline <|endoftext|> in text 🎉 naïve café – “quotes”  two  spaces \u3000end"},
        {"id": id_with("marker-heldout", True), "language": "en",
         "text": "Qwertzuiopmarker is a held out document that must never reach the training sample."},
        {"id": id_with("ja-heldout", True), "language": "ja", "text": "\n".join(spacy_sentences("ja"))},
        {"id": id_with("zh-heldout", True), "language": "zh", "text": "\n".join(spacy_sentences("zh"))},
    ]


def train_args(run: Path, out: Path, *extra: str) -> list[str]:
    return ["train-tokenizer", "--run", str(run), "--out", str(out), "--vocab-size", str(VOCAB), "--quiet",
            "--holdout-percent", str(HOLDOUT), "--max-sentence-length", str(MAX_LINE), *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("tok")
    docs = demo_docs() + edge_docs()
    run = write_run(base / "run", docs)
    assert main(train_args(run, base / "tok")) == 0
    sp = spm.SentencePieceProcessor(model_file=str(base / "tok" / "tokenizer.model"))
    return {"base": base, "run": run, "tok": base / "tok", "sp": sp, "docs": docs}


# ------------------------------------------------------------------------------------------- training
def test_training_writes_bpe_model_card_and_budgeted_sample(trained):
    tok, sp = trained["tok"], trained["sp"]
    info = json.loads((tok / "training.json").read_text())
    assert info["model"]["model_type"] == "bpe" and info["sentencepiece"]["model_type"] == "bpe"
    assert sp.get_piece_size() == VOCAB and info["sentencepiece"]["byte_fallback"] is True
    assert info["sentencepiece"]["split_digits"] is True
    assert info["baseline"]["model_type"] == "unigram" and (tok / "baseline" / "tokenizer.model").exists()
    # Digits are split: no learned piece holds two digits (byte pieces are spelled <0x..>).
    learned = [sp.id_to_piece(i) for i in range(VOCAB) if not (sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i))]
    assert not any(sum(c.isdigit() for c in piece) > 1 for piece in learned)

    sample = (tok / "sample.txt").read_bytes().decode("utf-8").split("\n")[:-1]
    assert sample and all(0 < len(line.encode("utf-8")) <= MAX_LINE for line in sample)
    # The 12 kB line was split into sample lines, all of them kept, in order.
    pieces = sample_lines(LONG_LINE, MAX_LINE)
    assert len(pieces) > 20 and "".join(pieces) == LONG_LINE
    start = sample.index(pieces[0])
    assert sample[start:start + len(pieces)] == pieces
    assert not any("Qwertzuiopmarker" in line for line in sample), "a held-out document reached the sample"

    stats = json.loads((tok / "sample_stats.json").read_text())
    card = (tok / "MODEL_CARD.md").read_text()
    langs = {d["language"] for d in trained["docs"]}
    assert set(stats["languages"]) == langs
    for lang, v in stats["languages"].items():
        assert f"| {lang} |" in card
    assert "alpha = 0.3" in card and "num_threads=1" in card and "identity" in card
    assert sum(v["sampled_bytes"] for v in stats["languages"].values()) == stats["total_bytes"]


def test_same_inputs_give_the_same_model_bytes_on_another_runner_mode(trained, tmp_path):
    out = tmp_path / "again"
    assert main(train_args(trained["run"], out, "--direct-num-workers", "2",
                           "--direct-running-mode", "multi_processing")) == 0
    for name in ("tokenizer.model", "baseline/tokenizer.model", "sample.txt", "sample_stats.json", "training.json",
                 "MODEL_CARD.md", "tokenizer.vocab"):
        assert (out / name).read_bytes() == (trained["tok"] / name).read_bytes(), name


def test_byte_fallback_leaves_no_unknown_tokens_and_round_trips_any_unicode(trained):
    sp = trained["sp"]
    rng = random.Random(7)
    planes = [(0x0, 0x80), (0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000)]
    fallback_seen = 0
    for _ in range(400):
        chars = []
        for _ in range(rng.randrange(1, 60)):
            lo, hi = rng.choice(planes)
            c = chr(rng.randrange(lo, hi))
            chars.append(c if c != "\u2581" else "x")  # U+2581 is SentencePiece's space symbol (documented)
        text = "".join(chars)
        ids = sp.encode(text)
        assert sp.unk_id() not in ids, repr(text)
        assert sp.decode(ids) == text, repr(text)
        fallback_seen += sum(sp.is_byte(i) for i in ids)
    assert fallback_seen > 0


def test_placeholders_and_control_tokens_stay_single_tokens(trained):
    sp = trained["sp"]
    for p in PLACEHOLDERS + ["\n"]:
        pid = sp.piece_to_id(p)
        assert pid != sp.unk_id() and sp.id_to_piece(pid) == p
        ids = sp.encode(f"Contact{p}now and{p}{p}again")
        assert ids.count(pid) == 3, (p, [sp.id_to_piece(i) for i in ids])
    eos = sp.piece_to_id("<|endoftext|>")
    assert eos == sp.eos_id() and sp.is_control(eos)
    # A control piece is a single reserved id that raw text can never produce (no fake document boundaries).
    ids = sp.encode("text <|endoftext|> more")
    assert eos not in ids and sp.decode(ids) == "text <|endoftext|> more"


def test_vocab_too_large_for_the_sample_is_a_clear_error(trained, tmp_path, capsys):
    rc = main(["train-tokenizer", "--run", str(trained["run"]), "--out", str(tmp_path / "t"), "--quiet",
               "--vocab-size", "300000", "--baseline", "none"])
    assert rc == 2
    assert "--vocab-size" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- sample
@pytest.fixture(scope="module")
def skewed_run(tmp_path_factory):
    """Languages with very different amounts of text: de (all), fr (20 docs), it (8), en (4)."""
    docs = demo_docs()
    keep = {"de": 10_000, "fr": 20, "it": 8, "en": 4}
    chosen, seen = [], {}
    for d in docs:
        if d["language"] in keep and seen.get(d["language"], 0) < keep[d["language"]]:
            chosen.append(d)
            seen[d["language"]] = seen.get(d["language"], 0) + 1
    return write_run(tmp_path_factory.mktemp("skewed") / "run", chosen)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 0.0])
def test_sample_is_language_balanced_by_temperature(skewed_run, tmp_path, alpha):
    cfg = TokenizerTrainConfig(sample_bytes=20_000, alpha=alpha, max_sentence_length=200, holdout_percent=HOLDOUT)
    stats = build_training_sample(str(skewed_run), str(tmp_path), cfg, RunnerConfig())
    available = {lang: v["available_units"] for lang, v in stats["languages"].items()}
    expected = temperature_shares(available, alpha)
    assert len(available) == 4 and max(available.values()) > 8 * min(available.values())
    # The budget is below every language's text, so no language is capped and the shares are pure temperature.
    assert all(20_000 * expected[lang] < available[lang] for lang in available)
    assert 19_000 < stats["total_bytes"] <= 20_000
    for lang, v in stats["languages"].items():
        assert v["sampled_share"] == pytest.approx(expected[lang], abs=0.03), (lang, alpha)
    lines = (tmp_path / "sample.txt").read_bytes().decode("utf-8").split("\n")[:-1]
    assert len(lines) == stats["total_lines"] and all(len(x.encode("utf-8")) <= 200 for x in lines)


def test_sentence_budget_and_capped_language(skewed_run, tmp_path):
    # A sentence budget counts sample lines. With 600 lines, en has less text than its share and is taken
    # whole; the others split what is left in temperature proportions.
    cfg = TokenizerTrainConfig(sample_sentences=600, alpha=0.3, max_sentence_length=200, holdout_percent=HOLDOUT)
    stats = build_training_sample(str(skewed_run), str(tmp_path), cfg, RunnerConfig())
    langs = stats["languages"]
    assert stats["unit"] == "sentences" and stats["total_lines"] == 600
    capped = [lang for lang, v in langs.items() if v["sampled_lines"] == v["available_units"]]
    assert capped == ["en"]
    rest = {lang: v["available_units"] for lang, v in langs.items() if lang not in capped}
    rest_share = temperature_shares(rest, 0.3)
    rest_lines = sum(langs[lang]["sampled_lines"] for lang in rest)
    for lang in rest:
        assert langs[lang]["sampled_lines"] / rest_lines == pytest.approx(rest_share[lang], abs=0.01)


def test_sample_lines_split_long_lines_without_loss():
    rng = random.Random(3)
    for _ in range(500):
        line = "".join(rng.choice(["a", "é", "語", "🎉", " ", "  ", "word "]) for _ in range(rng.randrange(1, 400)))
        limit = rng.randrange(4, 64)
        pieces = sample_lines(line, limit)
        assert all(len(p.encode("utf-8")) <= limit for p in pieces)
        if line.strip():
            assert "".join(pieces) == line
    assert sample_lines("one\n\n  \ntwo", 100) == ["one", "two"]


# ----------------------------------------------------------------------------------------- evaluation
def test_eval_reports_per_language_figures_and_baseline(trained):
    tok, run = trained["tok"], trained["run"]
    assert main(["eval-tokenizer", "--tokenizer", str(tok), "--run", str(run)]) == 0
    result = json.loads((tok / "eval.json").read_text())
    heldout_langs = {d["language"] for d in trained["docs"] if is_heldout(d["id"], HOLDOUT, 0)}
    assert set(result["tokenizer"]["languages"]) == heldout_langs and {"ja", "zh"} <= heldout_langs
    t, b = result["tokenizer"], result["baseline"]
    assert b["model_type"] == "unigram" and set(b["languages"]) == heldout_langs
    assert t["overall"]["unknown_tokens"] == 0
    for lang, v in t["languages"].items():
        assert v["bytes_per_token"] == pytest.approx(v["bytes"] / v["tokens"])
        assert 0.0 <= v["byte_fallback_rate"] <= 1.0 and 0 < v["vocab_utilisation"] <= 1.0
    # The trained scripts compress; scripts absent from training fall back to bytes.
    for lang in ("de", "fr", "es"):
        if lang in t["languages"]:
            assert t["languages"][lang]["bytes_per_token"] > 2.0
            assert t["languages"][lang]["byte_fallback_rate"] < 0.02
            assert 1.0 < t["languages"][lang]["tokens_per_word"] < 4.0
    assert t["languages"]["ja"]["byte_fallback_rate"] > 0.5 and t["languages"]["ja"]["tokens_per_word"] is None
    assert t["overall"]["tokens"] == sum(v["tokens"] for v in t["languages"].values())
    # The same documents for both tokenizers.
    assert all(b["languages"][lang]["bytes"] == v["bytes"] for lang, v in t["languages"].items())

    report = json.loads((run / "tokenizer_eval.json").read_text())
    assert report["schema"] == "corpusforge-tokenizer-eval/1" and report["tokenizer"] == t
    html = (tok / "eval.html").read_text()
    assert html == report["html"] and html.startswith('<section class="tokenizer-eval">')
    assert "<td>overall</td>" in html and "baseline unigram" in html


# --------------------------------------------------------------------------------------- token shards
def test_token_shards_round_trip_to_the_kept_text(trained, tmp_path):
    out = tmp_path / "shards"
    args = ["tokenize", "--run", str(trained["run"]), "--tokenizer", str(trained["tok"]), "--num-shards", "3"]
    assert main([*args, "--out", str(out)]) == 0
    shards = TokenShards(str(out))
    kept = {d["id"]: d for d in trained["docs"]}
    manifest = shards.manifest
    assert shards.dtype == np.dtype("<u2") and manifest["num_shards"] == 3 and shards.verify() == []
    assert len(shards) == len(kept) == manifest["total_documents"]
    assert manifest["roundtrip_mismatch_count"] == 0

    seen, per_lang = set(), {}
    for i, doc in enumerate(shards.documents()):
        src = kept[doc["id"]]
        assert doc["text"] == src["text"], doc["id"]
        assert doc["language"] == src["language"]
        with_eos = shards.tokens(i, with_eos=True)
        assert with_eos[-1] == shards.eos_id and shards.eos_id not in doc["tokens"]
        assert isinstance(doc["tokens"], np.memmap)
        seen.add(doc["id"])
        per_lang[doc["language"]] = per_lang.get(doc["language"], 0) + len(doc["tokens"])
    assert seen == set(kept)
    assert {k: v["tokens"] for k, v in manifest["languages"].items()} == per_lang
    on_disk = sum((out / s["files"][".bin"]).stat().st_size for s in manifest["shards"]) // 2
    assert on_disk == manifest["total_tokens"] + manifest["total_documents"]  # + one end-of-text per document

    # Same inputs, same shard bytes (a different shard count is a different split, so it is kept the same).
    # An existing output is not overwritten silently.
    again = tmp_path / "again"
    assert main([*args, "--out", str(again)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert all((out / n).read_bytes() == (again / n).read_bytes() for n in names)
    assert main([*args, "--out", str(out)]) == 2


def _progress_runs(monkeypatch, caplog, run) -> dict[str, list[str]]:
    """run(name) once with progress lines every 20 ms and once with --quiet's level; the lines of each."""
    import logging

    from corpusforge.pipelines import progress as P

    monkeypatch.setattr(P, "INTERVAL_S", 0.02)
    lines = {}
    for name, level in (("progress", logging.INFO), ("quiet", logging.WARNING)):
        caplog.clear()
        with caplog.at_level(level, logger="corpusforge.progress"):
            run(name)
        lines[name] = [r.getMessage() for r in caplog.records if r.name == "corpusforge.progress"]
    return lines


def test_tokenize_progress_counts_documents_and_leaves_the_shard_bytes_unchanged(trained, tmp_path, monkeypatch,
                                                                                  caplog):
    """Lines count documents encoded out of the kept shards' rows (their Parquet footers); with progress on or
    off the output is the same, byte for byte, and holds no counter files."""
    from corpusforge.pipelines import progress as P
    from corpusforge.pipelines.tokenizer import run_tokenize

    seen: list[dict] = []
    read_counts = P.read_counts
    monkeypatch.setattr(P, "read_counts", lambda d: seen.append(read_counts(d)) or seen[-1])
    lines = _progress_runs(monkeypatch, caplog, lambda name: run_tokenize(
        str(trained["run"]), str(trained["tok"]), str(tmp_path / name), num_shards=3))
    total = len(trained["docs"])
    encoding = [x for x in lines["progress"] if x.startswith("tokenize: encoding: ")]
    assert encoding and all(f" / {total} documents (" in x for x in encoding), lines["progress"]
    # The workers' counts reached the driver while the pipeline ran: every document encoded, then shards written.
    assert max(c.get("encoded", 0) for c in seen) == total and max(c.get("shards", 0) for c in seen) <= 3
    assert any(x.startswith(f"tokenize: encoding: {total} / {total} documents (100%), writing outputs")
               or re.fullmatch(r"tokenize: [1-3] / 3 shards written", x) for x in lines["progress"]), lines["progress"]
    assert lines["quiet"] == []
    names = sorted(p.name for p in (tmp_path / "progress").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "quiet").iterdir()) and "_progress" not in names
    assert "_work" not in names
    assert all((tmp_path / "progress" / n).read_bytes() == (tmp_path / "quiet" / n).read_bytes() for n in names)


def test_training_sample_progress_lines_and_the_same_sample(skewed_run, tmp_path, monkeypatch, caplog):
    cfg = TokenizerTrainConfig(sample_bytes=20_000, alpha=0.3, max_sentence_length=200, holdout_percent=HOLDOUT)
    stats = {}

    def run(name):
        (tmp_path / name).mkdir()
        stats[name] = build_training_sample(str(skewed_run), str(tmp_path / name), cfg, RunnerConfig())

    lines = _progress_runs(monkeypatch, caplog, run)
    total = pq.ParquetFile(next((skewed_run / "kept").iterdir())).metadata.num_rows
    sizing = [x for x in lines["progress"] if x.startswith("training sample: sizing languages: ")]
    drawing = [x for x in lines["progress"] if x.startswith("training sample: drawing documents: ")]
    assert sizing and drawing, lines["progress"]
    assert all(f" / {total} documents (" in x for x in sizing + drawing)
    assert lines["quiet"] == []
    assert stats["progress"] == stats["quiet"]
    assert sorted(p.name for p in (tmp_path / "progress").iterdir()) == ["sample.txt", "sample_stats.json"]


def test_shard_dtype_follows_the_vocabulary_size():
    assert token_dtype(65_536) == np.dtype("<u2") and token_dtype(65_537) == np.dtype("<u4")
    tokens = np.array([1, 65_535, 65_536, 1_000_000], dtype=np.int64)
    payload = shard_payload([EncodedDoc(0, "a", "en", tokens, 10)], token_dtype(2_000_000), eos_id=2)
    assert np.frombuffer(payload[".bin"], dtype="<u4").tolist() == [1, 65_535, 65_536, 1_000_000, 2]


# ------------------------------------------------------------------------ formats training stacks read
def test_megatron_indexed_dataset_round_trip(trained, tmp_path):
    """Each shard's .bin/.idx pair is read by Megatron-LM's own IndexedDataset (megatron-core), document by
    document, to the same tokens (end-of-text included) as our reader."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    out = tmp_path / "shards"
    assert main(["tokenize", "--run", str(trained["run"]), "--tokenizer", str(trained["tok"]), "--num-shards", "2",
                 "--out", str(out)]) == 0
    shards = TokenShards(str(out))
    i = 0
    for s in shards.manifest["shards"]:
        prefix = str(out / s["files"][".bin"])[: -len(".bin")]
        assert s["files"][".idx"] == Path(prefix).name + ".idx" and shards.verify() == []
        ds = IndexedDataset(prefix, mmap=True)
        assert len(ds) == s["num_docs"] and list(ds.document_indices) == list(range(s["num_docs"] + 1))
        for j in range(len(ds)):
            ours = shards.tokens(i, with_eos=True)
            assert ds[j].tolist() == ours.tolist() and ds[j][-1] == shards.eos_id
            i += 1
    assert i == len(shards)


def test_megatron_index_declares_int32_for_large_vocabularies(tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    tokens = np.array([1, 65_535, 65_536, 1_000_000], dtype=np.int64)
    docs = [EncodedDoc(0, "a", "en", tokens, 10), EncodedDoc(1, "b", "en", tokens[:1], 1)]
    payload = shard_payload(docs, token_dtype(2_000_000), eos_id=2)
    for ext in (".bin", ".idx"):
        (tmp_path / f"s{ext}").write_bytes(payload[ext])
    ds = IndexedDataset(str(tmp_path / "s"), mmap=True)
    assert [ds[0].tolist(), ds[1].tolist()] == [[1, 65_535, 65_536, 1_000_000, 2], [1, 2]]


def test_tokenizer_json_loads_offline_with_auto_tokenizer_and_matches_sentencepiece(trained):
    """AutoTokenizer.from_pretrained(TOKENIZER_DIR) with no network gives SentencePiece's ids and text back,
    on every kept document (newlines, digits, placeholders, any Unicode through byte fallback)."""
    from transformers import AutoTokenizer

    tok_dir = trained["tok"]
    info = json.loads((tok_dir / "training.json").read_text())
    assert info["hf_tokenizer"]["mismatched_lines"] == 0 and info["hf_tokenizer"]["checked_lines"] > 0
    assert "AutoTokenizer.from_pretrained" in (tok_dir / "MODEL_CARD.md").read_text()
    hf = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
    sp = trained["sp"]
    texts = [d["text"] for d in trained["docs"]] + ["  two  spaces\n\n<PERSON> 12345 \U0001f99c \u6f22\u5b57\t"]
    for text in texts:
        ids = hf.encode(text, add_special_tokens=False)
        assert ids == sp.encode(text), text[:60]
        assert hf.decode(ids) == sp.decode(ids)
    assert hf.eos_token == "<|endoftext|>" and hf.eos_token_id == sp.eos_id()
