"""FineWeb rules pinned at their thresholds, with reason strings and signals, on several languages."""
from __future__ import annotations

import pytest

from corpusforge.config import FineWebQualityConfig
from corpusforge.records import Document, Drop
from corpusforge.transforms.quality.fineweb import FineWebQualityFilter

from prose_samples import DE, EN, FR, JA, ZH

FW = FineWebQualityFilter()
ANIMALS = ["otters", "badgers", "herons", "beavers", "foxes", "owls", "hares", "lynxes", "stoats", "voles",
           "ravens", "wrens", "moles", "bison", "elks", "deer", "swans", "geese", "crows", "newts",
           "toads", "frogs", "bats", "mice", "rats"]


def doc(text: str, lang: str = "en") -> Document:
    return Document("d", text, meta={"language": lang})


def reason(result) -> str:
    return result.reason if isinstance(result, Drop) else "keep"


def long_line(i: int, end: str = ".") -> str:
    """A distinct line of more than 30 characters, 8 words."""
    return f"The {ANIMALS[i % 25]} of valley number {i} were counted again{end}"


def test_real_prose_kept_in_five_languages():
    for text, lang in [(EN, "en"), (DE, "de"), (FR, "fr"), (ZH, "zh"), (JA, "ja")]:
        assert reason(FW(doc(text, lang))) == "keep", lang


def test_empty_and_blank_text():
    assert reason(FW(doc(""))) == "fineweb_empty"
    assert reason(FW(doc(" \n\t\n "))) == "fineweb_empty"


@pytest.mark.parametrize("n_punct,expected", [(3, "keep"), (2, "fineweb_line_punct_ratio")])
def test_line_punctuation_ratio_boundary(n_punct, expected):
    # 25 lines; 3/25 = 0.12 is kept (the rule drops strictly below 0.12).
    text = "\n".join(long_line(i, "." if i < n_punct else "") for i in range(25))
    out = FW(doc(text))
    assert reason(out) == expected
    if expected != "keep":
        assert out.signals["line_punct_ratio"] == 0.08 and out.signals["threshold"] == 0.12


def test_no_punctuated_line_exempt_with_exclude_zero():
    text = "\n".join(long_line(i, "") for i in range(25))
    assert reason(FW(doc(text))) == "fineweb_line_punct_ratio"
    f = FineWebQualityFilter(FineWebQualityConfig(line_punct_exclude_zero=True))
    assert reason(f(doc(text))) == "keep"


@pytest.mark.parametrize("mark", ["\u3002", "\uff01", "\u0964", "\u061f", "!", "?"])
def test_terminal_punctuation_of_other_scripts_counts(mark):
    text = "\n".join(long_line(i, mark if i < 3 else "") for i in range(25))
    assert reason(FW(doc(text))) == "keep"


def test_blank_lines_do_not_count():
    text = "\n\n".join(long_line(i, "." if i < 3 else "") for i in range(25))
    assert reason(FW(doc(text))) == "keep"


@pytest.mark.parametrize("n_short,expected", [(67, "keep"), (68, "fineweb_short_line_ratio")])
def test_short_line_ratio_boundary(n_short, expected):
    # 100 lines: 67 short ones (<= 30 chars) = 0.67 is kept; 68 is dropped.
    short = [f"Short line {i} is here." for i in range(n_short)]
    long_ = [long_line(i) for i in range(100 - n_short)]
    assert all(len(s) <= 30 for s in short) and all(len(s) > 30 for s in long_)
    out = FW(doc("\n".join(long_ + short)))
    assert reason(out) == expected


def test_short_line_length_is_inclusive_at_thirty():
    thirty = [f"Line {i:02d} has exactly thirty ch." for i in range(5)]
    assert {len(s) for s in thirty} == {30}
    assert reason(FW(doc("\n".join(thirty)))) == "fineweb_short_line_ratio"
    thirty_one = [s[:-1] + "s." for s in thirty]
    assert {len(s) for s in thirty_one} == {31}
    assert reason(FW(doc("\n".join(thirty_one)))) == "keep"


def unique_lines(n: int, width: int) -> list[str]:
    lines = []
    for i in range(n):
        base = f"Entry {i:03d} lists the {ANIMALS[i % 25]} seen"
        lines.append((base + " near the old mill pond and river bank")[: width - 1] + ".")
    assert all(len(s) == width for s in lines) and len(set(lines)) == n
    return lines


@pytest.mark.parametrize("shrink,expected", [(0, "keep"), (1, "fineweb_char_dup_ratio")])
def test_duplicated_line_characters_boundary(shrink, expected):
    # 99 unique 40-char lines + one repeat: 40 duplicated chars / 4000 chars = 0.01 (kept);
    # one character less anywhere else makes it 40 / 3999 (dropped).
    lines = unique_lines(99, 40)
    lines.append(lines[0])
    lines[5] = lines[5][: len(lines[5]) - 1 - shrink] + "."
    out = FW(doc("\n".join(lines)))
    assert reason(out) == expected
    if expected != "keep":
        assert out.signals["char_dup_ratio"] == round(40 / 3999, 6)


def test_duplicated_lines_in_german():
    lines = [s.strip() + "." for s in DE.split(". ") if s.strip()]
    out = FW(doc("\n".join(lines + lines[:1]), "de"))
    assert reason(out) == "fineweb_char_dup_ratio"


def list_lines(n_lines: int) -> list[str]:
    # Each line is 3 tokens (two long words and a full stop) and longer than 30 characters.
    return [f"Extraordinarily{ANIMALS[i]} remarkablecreatures{i}." for i in range(n_lines)]


@pytest.mark.parametrize("words_removed,expected", [(0, "keep"), (1, "fineweb_list_ratio")])
def test_newline_per_word_ratio_boundary(words_removed, expected):
    # 10 lines x 3 tokens = 30 words and 9 newlines: 0.3 is kept; 29 words is dropped.
    lines = list_lines(10)
    if words_removed:
        lines[0] = lines[0].replace(" ", "")  # two words glued into one
    assert all(len(s) > 30 for s in lines)
    out = FW(doc("\n".join(lines)))
    assert reason(out) == expected
    if expected != "keep":
        assert out.signals["list_ratio"] == round(9 / 29, 6) and out.signals["threshold"] == 0.3


def test_list_ratio_counts_chinese_characters_as_words():
    lines = [f"今天我们在第{c}个公园里看到了很多可爱的小动物和美丽的花朵还有一条清澈的小河{c}。" for c in "一二三四五六七八九十"]
    assert all(len(s) > 30 for s in lines)
    text = "\n".join(lines)
    assert reason(FW(doc(text, "zh"))) == "keep"
    # Split on spaces, each line would be two "words": far more newlines per word than allowed.
    assert reason(FW(doc(text, "en"))) == "fineweb_list_ratio"


def test_rules_run_in_datatrove_order():
    # Short AND unpunctuated: the punctuation rule comes first.
    text = "\n".join(f"menu item {i}" for i in range(20))
    assert reason(FW(doc(text))) == "fineweb_line_punct_ratio"


def test_disabled_rules_are_skipped():
    f = FineWebQualityFilter(FineWebQualityConfig(line_punct_thr=None, short_line_thr=None))
    text = "\n".join(f"menu item {chr(97 + i)} here" for i in range(5))
    assert reason(FW(doc(text))) == "fineweb_line_punct_ratio"
    assert reason(f(doc(text))) == "keep"  # 4 newlines / 20 words, no repeated line


def test_signals_carry_measured_values():
    out = FW(doc("\n".join(f"menu item {i}" for i in range(20))))
    assert out.signals == {"n_lines": 20, "line_punct_ratio": 0.0, "threshold": 0.12}


def test_name_and_annotate_only():
    f = FineWebQualityFilter(FineWebQualityConfig(annotate_only=True))
    assert f.name == "fineweb" and f.annotate_only is True
