"""Normalization: Unicode form, control characters, whitespace, paragraph structure, keep_original."""
from __future__ import annotations

import pickle
import unicodedata

import pytest

from corpusforge.config import NormalizeConfig
from corpusforge.records import Document, Drop
from corpusforge.transforms.normalize import DocumentNormalizer, normalize_text


def run(text: str, **cfg) -> Document | Drop:
    return DocumentNormalizer(NormalizeConfig(**cfg))(Document("d1", text))


def test_nfc_composes_decomposed_accents():
    decomposed = "Cafe\u0301 cre\u0300me bru\u0302le\u0301e"
    out = run(decomposed)
    assert out.text == "Café crème brûlée"
    assert unicodedata.is_normalized("NFC", out.text)
    assert len(out.text) < len(decomposed)


def test_unicode_form_nfkc_folds_compatibility_characters():
    # Full-width Latin letters and the "fi" ligature fold under NFKC only.
    text = "\uff21\uff22\uff23 \ufb01le"
    assert run(text, unicode_form="NFKC").text == "ABC file"
    assert run(text, unicode_form="NFC").text == text


def test_unicode_form_none_leaves_decomposed_text():
    text = "Cafe\u0301"
    assert run(text, unicode_form="none").text == text


def test_control_characters_removed_but_tab_and_newline_kept():
    text = "a\x00b\x07c\x1bd\x7fe\x9ff\tg\nh"
    assert run(text).text == "abcdef\tg\nh"


def test_remove_control_chars_off_keeps_them():
    assert run("a\x07b", remove_control_chars=False).text == "a\x07b"


def test_invisible_format_characters_removed_but_zwj_kept():
    # BOM, zero-width space, soft hyphen go; the ZWJ inside the family emoji stays.
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    out = run("\ufeffzero\u200bwidth soft\u00adhyphen " + family)
    assert out.text == "zerowidth softhyphen " + family


def test_lone_surrogates_removed_so_text_encodes():
    out = run("bad \ud800 surrogate")
    assert out.text == "bad surrogate"
    out.text.encode("utf-8")  # must not raise


def test_line_breaks_unified():
    assert run("one\r\ntwo\rthree\u2028four\x85five").text == "one\ntwo\nthree\nfour\nfive"
    # U+2029 is a paragraph separator: it becomes a blank line.
    assert run("para one\u2029para two").text == "para one\n\npara two"


def test_space_runs_collapse_including_nbsp_and_ideographic_space():
    assert run("a  b\u00a0\u00a0c\u3000d \u2009 e").text == "a b c d e"


def test_trailing_spaces_stripped_per_line_and_leading_indent_collapsed():
    assert run("line one   \n    indented\t \nend").text == "line one\n indented\nend"


def test_blank_lines_capped_at_one_and_paragraphs_kept():
    text = "First paragraph.\n\n\n\n\nSecond paragraph.\n \t \n\nThird."
    assert run(text).text == "First paragraph.\n\nSecond paragraph.\n\nThird."


def test_single_newlines_survive_for_line_rules():
    text = "Line one.\nLine two.\nLine three."
    assert run(text).text == text


def test_document_stripped():
    assert run("\n\n   Hello world.   \n\n").text == "Hello world."


def test_normalize_whitespace_off_keeps_spacing():
    text = "a  b   \n\n\n\nc"
    assert run(text, normalize_whitespace=False).text == text


def test_empty_after_normalization_drops_with_reason():
    out = run("\x00\u200b  \n\t \n\ufeff")
    assert isinstance(out, Drop)
    assert out.reason == "normalize_empty"
    assert out.signals == {"original_chars": 9}


def test_keep_original_stores_text_as_read():
    raw = "Cafe\u0301  au   lait\r\n"
    doc = Document("d1", raw)
    out = DocumentNormalizer(NormalizeConfig(keep_original=True))(doc)
    assert out.text == "Café au lait"
    assert out.original_text == raw


def test_keep_original_off_stores_nothing():
    out = DocumentNormalizer(NormalizeConfig(keep_original=False))(Document("d1", "a  b"))
    assert out.text == "a b"
    assert out.original_text is None


def test_keep_original_does_not_overwrite_an_earlier_original():
    doc = Document("d1", "a  b", original_text="raw bytes as read")
    out = DocumentNormalizer(NormalizeConfig())(doc)
    assert out.original_text == "raw bytes as read"


@pytest.mark.parametrize("text", [
    "Ünïcödé  text\r\n\r\n\r\nwith\u00a0spaces \x00",
    "\u65e5\u672c\u8a9e\u3000\u306e\u6587\u7ae0\u3002\n\n\n\u6b21\u306e\u6bb5\u843d\u3002",
    "- bullet\n- bullet two   \n\n\n\n# heading\t\n",
])
def test_normalization_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_non_latin_text_kept_intact():
    text = "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\n\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435."
    assert run(text).text == text


def test_stage_name_annotate_only_and_pickling():
    t = DocumentNormalizer(NormalizeConfig(annotate_only=True))
    assert t.name == "normalize" and t.annotate_only is True
    clone = pickle.loads(pickle.dumps(t))
    assert clone(Document("d", "x  y")).text == "x y"


@pytest.mark.parametrize("blank", ["\t", " \t", "\u00a0\t"])
def test_megabyte_of_blanks_is_linear(blank):
    import time

    text = "prose " + blank * (1_000_000 // len(blank)) + "end"
    t0 = time.perf_counter()
    out = normalize_text(text)
    assert time.perf_counter() - t0 < 1.0 and out.startswith("prose") and out.endswith("end")
