"""Language ID with the real fastText lid.176.ftz, on real labelled sentences (spaCy's per-language example
sentences), plus threshold, language-list and registry behaviour."""
from __future__ import annotations

import ast
import importlib.util
import pickle
from pathlib import Path

import pytest

from corpusforge.config import ConfigError, CurateConfig, LangIdConfig
from corpusforge.records import Document, Drop
from corpusforge.transforms.langid import LanguageIdFilter, default_model_path
from corpusforge.transforms.registry import build_document_stages

SPACY_LANG = Path(list(importlib.util.find_spec("spacy").submodule_search_locations)[0]) / "lang"
DEMO_LANGS = ["en", "de", "fr", "es", "it", "pt", "nl"]
MORE_LANGS = ["ru", "pl", "sv", "da", "fi", "el", "he", "hi", "ja", "zh", "ko", "tr", "uk", "ro", "vi"]


def spacy_examples(lang: str) -> list[str]:
    """The `sentences` list of spacy/lang/<lang>/examples.py, read without importing spaCy."""
    tree = ast.parse((SPACY_LANG / lang / "examples.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "sentences":
            return ast.literal_eval(node.value)
    raise AssertionError(f"no sentences in spacy/lang/{lang}/examples.py")


@pytest.fixture(scope="module")
def lid() -> LanguageIdFilter:
    f = LanguageIdFilter(LangIdConfig(languages=None, threshold=0.0))
    f.setup()
    return f


def with_cfg(lid: LanguageIdFilter, **cfg) -> LanguageIdFilter:
    """Another filter sharing the loaded model (the model is read-only)."""
    f = LanguageIdFilter(LangIdConfig(**cfg))
    f._model = lid._model
    return f


def test_model_ships_in_lumi_package():
    path = default_model_path()
    assert path.name == "lid.176.ftz" and path.is_file()


@pytest.mark.parametrize("langs,min_acc", [(DEMO_LANGS, 0.95), (DEMO_LANGS + MORE_LANGS, 0.9)])
def test_accuracy_on_spacy_example_sentences(lid, langs, min_acc):
    gold, texts = [], []
    for lang in langs:
        for s in spacy_examples(lang):
            gold.append(lang)
            texts.append(s)
    assert len(texts) >= 50
    preds = [lang for lang, _ in lid.predict(texts)]
    acc = sum(p == g for p, g in zip(preds, gold)) / len(gold)
    assert acc >= min_acc, f"accuracy {acc:.3f} over {len(gold)} sentences"


def test_annotates_language_and_rounded_score(lid):
    doc = Document("d", "Was ist die Hauptstadt von Deutschland? Berlin ist die Hauptstadt.")
    out = lid(doc)
    assert out is not doc and doc.meta == {}  # a new Document: the input element is never modified
    assert out.meta["language"] == "de"
    score = out.meta["language_score"]
    assert 0.65 < score <= 1.0 and round(score, 4) == score


def test_newlines_replaced_before_predict(lid):
    lines = "Le chat dort sur le canapé.\nIl fait beau aujourd'hui.\nNous allons au marché."
    a = lid(Document("a", lines))
    b = lid(Document("b", lines.replace("\n", " ")))
    assert a.meta["language"] == b.meta["language"] == "fr"
    assert a.meta["language_score"] == b.meta["language_score"]


def test_batch_and_single_give_identical_scores(lid):
    texts = spacy_examples("es")[:5] + spacy_examples("nl")
    single = [lid(Document(str(i), t)).meta["language_score"] for i, t in enumerate(texts)]
    batch = [r.meta["language_score"] for r in lid.process_batch([Document(str(i), t) for i, t in enumerate(texts)])]
    assert single == batch


def test_threshold_boundary_equal_score_is_kept(lid):
    text = "Sushi ramen tofu"
    lang, score = lid.predict([text])[0]
    assert score < 0.65
    assert isinstance(with_cfg(lid, languages=None, threshold=score)(Document("d", text)), Document)
    dropped = with_cfg(lid, languages=None, threshold=min(score + 0.0001, 1.0))(Document("d", text))
    assert isinstance(dropped, Drop) and dropped.reason == "langid_low_score"
    assert dropped.signals["language"] == lang and dropped.signals["language_score"] == score


def test_default_threshold_drops_ambiguous_text(lid):
    out = with_cfg(lid)(Document("d", "Sushi ramen tofu"))
    assert isinstance(out, Drop) and out.reason == "langid_low_score"
    assert out.signals["threshold"] == 0.65


def test_unwanted_language_dropped_with_reason(lid):
    sv = " ".join(spacy_examples("sv"))
    out = with_cfg(lid, languages=["en", "de"])(Document("d", sv))
    assert isinstance(out, Drop) and out.reason == "langid_unwanted_language"
    assert out.signals["language"] == "sv" and out.signals["language_score"] >= 0.65


def test_languages_null_keeps_every_confident_language(lid):
    for lang in ("sv", "ru", "ja"):
        out = with_cfg(lid, languages=None)(Document("d", " ".join(spacy_examples(lang))))
        assert isinstance(out, Document) and out.meta["language"] == lang


def test_chinese_and_japanese_identified(lid):
    assert lid(Document("z", " ".join(spacy_examples("zh")))).meta["language"] == "zh"
    assert lid(Document("j", " ".join(spacy_examples("ja")))).meta["language"] == "ja"


def test_per_language_threshold_overrides_default(lid):
    de = "Trend zum Urlaub in Deutschland beschert Gastwirten mehr Umsatz"
    en = "The weather was lovely, so we walked along the river after lunch."
    strict = with_cfg(lid, languages=None, threshold=0.65, per_language_threshold={"de": 1.0})
    out_de = strict(Document("d", de))
    assert isinstance(out_de, Drop) and out_de.reason == "langid_low_score" and out_de.signals["threshold"] == 1.0
    assert isinstance(strict(Document("e", en)), Document)


def test_dropped_document_still_carries_language_annotation(lid):
    # dropped/ and annotate-only runs need the language on the document the drop keeps.
    from corpusforge.transforms.base import apply_annotate_only

    doc = Document("d", " ".join(spacy_examples("pl")))
    f = with_cfg(lid, languages=["en"])
    out = f(doc)
    assert isinstance(out, Drop) and out.annotations["language"] == "pl" and "language" not in doc.meta
    assert out.annotate(doc).meta["language"] == "pl"
    f.annotate_only = True
    kept = apply_annotate_only(f, doc, f(doc))
    assert kept.meta["language"] == "pl" and kept.meta["langid_verdict"] == "langid_unwanted_language"


def test_missing_model_path_is_a_config_error(tmp_path):
    missing = tmp_path / "nope" / "lid.bin"
    with pytest.raises(ConfigError, match="model file not found") as err:
        LanguageIdFilter(LangIdConfig(model_path=str(missing)))
    assert str(missing) in str(err.value)


def test_pickles_without_model_and_reloads(lid):
    blob = pickle.dumps(lid)
    assert len(blob) < 10_000  # the 900 kB model is not in the pickle
    clone = pickle.loads(blob)
    assert clone._model is None
    clone.setup()
    assert clone(Document("d", "This is a plain English sentence about the sea.")).meta["language"] == "en"


def test_registry_builds_enabled_stages_in_order():
    cfg = CurateConfig.model_validate({"input": {"paths": ["x.jsonl"]}, "output": {"dir": "out"}})
    names = [t.name for t in build_document_stages(cfg)]
    assert names == ["normalize", "langid", "gopher_repetition", "gopher_quality", "c4", "fineweb"]
    cfg = CurateConfig.model_validate({
        "input": {"paths": ["x.jsonl"]}, "output": {"dir": "out"},
        "langid": {"enabled": False}, "c4": {"annotate_only": True}, "fineweb": {"enabled": False},
    })
    stages = build_document_stages(cfg)
    assert [t.name for t in stages] == ["normalize", "gopher_repetition", "gopher_quality", "c4"]
    assert [t.annotate_only for t in stages] == [False, False, False, True]


# ---------------------------------------------------------------------- one language, several written standards
GROUPED_LANGS = ["hr", "da", "id", "ms"]  # spaCy's example sentences; lid.176 splits them over their siblings


@pytest.mark.parametrize("lang", GROUPED_LANGS)
def test_group_score_sums_the_siblings_of_the_top_language(lid, lang):
    sentences = spacy_examples(lang)
    assert len(sentences) >= 5
    alone = with_cfg(lid, languages=None, confusable_groups=[])
    grouped = [r for r in lid.predict_scores(sentences)]
    top_only = alone.predict_scores(sentences)
    for (l1, group_score, top), (l2, s2, t2) in zip(grouped, top_only):
        assert l1 == l2 and top == t2 == s2  # same label; without groups the score is the top probability
        assert group_score >= top
    # real sentences that pass 0.65 only when the group's probability is counted
    passing = sum(s >= 0.65 for _, s, _ in grouped)
    passing_alone = sum(s >= 0.65 for _, s, _ in top_only)
    assert passing > passing_alone, (lang, passing, passing_alone)


@pytest.mark.parametrize("lang", ["hr", "ms"])
def test_prose_split_over_sibling_standards_is_kept_with_its_label(lid, lang):
    doc = Document("d", " ".join(spacy_examples(lang)))
    out = with_cfg(lid, languages=None)(doc)
    assert isinstance(out, Document) and out.meta["language"] == lang
    assert out.meta["language_score"] >= 0.65 > out.meta["language_top_score"]
    dropped = with_cfg(lid, languages=None, confusable_groups=[])(doc)
    assert isinstance(dropped, Drop) and dropped.reason == "langid_low_score"
    assert dropped.signals["language_score"] == out.meta["language_top_score"]


def test_languages_outside_groups_score_their_top_probability(lid):
    texts = [s for lang in ("en", "de", "fr", "ru", "ja") for s in spacy_examples(lang)]
    for lang, score, top in lid.predict_scores(texts):
        if lang not in {"no", "nn", "da", "id", "ms", "sh", "hr", "sr", "bs", "zh", "wuu", "yue", "ar", "arz"}:
            assert score == top
    out = lid(Document("d", " ".join(spacy_examples("de"))))
    assert "language_top_score" not in out.meta


def test_a_language_in_two_groups_is_a_config_error():
    with pytest.raises(Exception, match="in two confusable groups"):
        LangIdConfig(confusable_groups=[["id", "ms"], ["ms", "jv"]])
