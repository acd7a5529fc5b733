"""Gopher quality and repetition rules: each threshold pinned just at / just past its boundary, with the
exact reason string, on English, German, French, Chinese and Japanese text."""
from __future__ import annotations

import pytest

from corpusforge.config import GopherQualityConfig, GopherRepetitionConfig
from corpusforge.records import Document, Drop
from corpusforge.transforms.base import apply_annotate_only
from corpusforge.transforms.quality.gopher import GopherQualityFilter, GopherRepetitionFilter

from prose_samples import DE, EN, FR, JA, ZH


def doc(text: str, lang: str | None = "en") -> Document:
    return Document("d", text, meta={} if lang is None else {"language": lang})


def reason(result) -> str:
    return result.reason if isinstance(result, Drop) else "keep"


# ------------------------------------------------------------------------------------------- quality
Q = GopherQualityFilter()


def words_doc(n: int, word: str = "house") -> str:
    """n words: the two English stop words 'the' and 'and', then n-2 copies of `word`."""
    return " ".join(["the", "and"] + [word] * (n - 2))


def test_quality_fifty_words_is_enough():
    assert reason(Q(doc(words_doc(50)))) == "keep"


def test_quality_short_doc_below_fifty_words():
    out = Q(doc(words_doc(49)))
    assert reason(out) == "gopher_short_doc"
    assert out.signals["n_words"] == 49 and out.signals["min_doc_words"] == 50


def test_quality_symbol_words_do_not_count_towards_length():
    text = " ".join(w + " ." for w in words_doc(49).split())  # 49 words + 49 "." symbol words
    out = Q(doc(text))
    assert reason(out) == "gopher_short_doc" and out.signals["n_words"] == 49


def test_quality_long_doc_boundary():
    assert reason(Q(doc(words_doc(100_000)))) == "keep"
    out = Q(doc(words_doc(100_001)))
    assert reason(out) == "gopher_long_doc" and out.signals["n_words"] == 100_001


def test_quality_mean_word_length_three_is_kept_below_is_dropped():
    # 49 three-letter words + one word of length 3 (mean 3.0) or 2 (mean 2.98).
    base = ["the", "and"] + ["abc"] * 47
    assert reason(Q(doc(" ".join(base + ["abc"])))) == "keep"
    out = Q(doc(" ".join(base + ["ab"])))
    assert reason(out) == "gopher_below_avg_threshold" and out.signals["avg_word_length"] == 2.98


def test_quality_mean_word_length_ten_is_kept_above_is_dropped():
    # the, and (3+3) + 47 ten-letter words (470) + one word of 24 letters -> 500 / 50 = 10.0 exactly.
    base = ["the", "and"] + ["abcdefghij"] * 47
    assert reason(Q(doc(" ".join(base + ["a" * 24])))) == "keep"
    out = Q(doc(" ".join(base + ["a" * 25])))
    assert reason(out) == "gopher_above_avg_threshold" and out.signals["avg_word_length"] == 10.02


def test_quality_hash_ratio_boundary():
    # Ratio over ALL words (symbols included): 6 '#' in 60 words = 0.1 (kept), 7 in 60 (dropped).
    assert reason(Q(doc(words_doc(54) + " #" * 6))) == "keep"
    out = Q(doc(words_doc(53) + " #" * 7))
    assert reason(out) == "gopher_too_many_hashes"
    assert out.signals["hash_ratio"] == round(7 / 60, 6) and out.signals["max_symbol_word_ratio"] == 0.1


@pytest.mark.parametrize("ellipsis", ["...", "\u2026"])
def test_quality_ellipsis_ratio_boundary(ellipsis):
    def text(n_words, n_ell):
        return words_doc(n_words) + f" {ellipsis} house" * n_ell  # keeps lines from ending in an ellipsis

    assert reason(Q(doc(text(48, 6)))) == "keep"  # 6 / (48 + 6*2) = 0.1
    out = Q(doc(text(46, 7)))  # 7 / (46 + 14) > 0.1
    assert reason(out) == "gopher_too_many_ellipsis"


@pytest.mark.parametrize("bullet", ["-", "\u2022"])
def test_quality_bullet_lines_ninety_percent_kept_all_dropped(bullet):
    lines = [f"the cat and the horse sat near number{i}" for i in range(10)]
    nine = "\n".join(f"{bullet} {ln}" if i < 9 else ln for i, ln in enumerate(lines))
    assert reason(Q(doc(nine))) == "keep"
    ten = "\n".join(f"  {bullet} {ln}" for ln in lines)  # indented bullets count (lstrip)
    out = Q(doc(ten))
    assert reason(out) == "gopher_too_many_bullets" and out.signals["bullet_lines_ratio"] == 1.0


def test_quality_end_ellipsis_lines_boundary():
    def text(n_ell):
        return "\n".join(f"the cat and the horse sat near number{i}" + (" ..." if i < n_ell else ".") for i in range(10))

    assert reason(Q(doc(text(3)))) == "keep"
    out = Q(doc(text(4)))
    assert reason(out) == "gopher_too_many_end_ellipsis" and out.signals["end_ellipsis_lines_ratio"] == 0.4


def test_quality_alphabetic_words_eighty_percent_boundary():
    # 80 words: 64 with a letter and 16 numbers -> 0.8 (kept); 63 and 17 -> 0.7875 (dropped).
    assert reason(Q(doc(words_doc(64) + " 123" * 16))) == "keep"
    out = Q(doc(words_doc(63) + " 123" * 17))
    assert reason(out) == "gopher_below_alpha_threshold" and out.signals["alpha_words_ratio"] == 0.7875


def test_quality_two_stop_words_needed():
    one = " ".join(["the"] + ["house"] * 60)
    out = Q(doc(one))
    assert reason(out) == "gopher_enough_stop_words" and out.signals["stop_words"] == 1


def test_quality_stop_words_are_case_sensitive_like_datatrove():
    assert reason(Q(doc(" ".join(["The", "And"] + ["house"] * 60)))) == "gopher_enough_stop_words"


def test_quality_german_uses_german_stop_words():
    text = " ".join(["der", "und"] + ["Haus"] * 60)
    assert reason(Q(doc(text, "de"))) == "keep"
    assert reason(Q(doc(text, "en"))) == "gopher_enough_stop_words"


def test_quality_language_without_stop_words_skips_rule():
    sv = " ".join(["huset"] * 60)  # no Swedish list configured
    assert reason(Q(doc(sv, "sv"))) == "keep"


@pytest.mark.parametrize("text,lang", [(EN, "en"), (DE, "de"), (FR, "fr"), (ZH, "zh"), (JA, "ja")])
def test_quality_real_prose_is_kept(text, lang):
    assert reason(Q(doc(text, lang))) == "keep"


def test_quality_chinese_counts_jieba_words():
    out = Q(doc(ZH, "en"))  # without the language, each clause is one "word"
    assert reason(out) == "gopher_short_doc"
    from corpusforge.transforms.text_utils import is_symbol_word, split_words
    n = len([w for w in split_words(ZH, "zh") if not is_symbol_word(w)])
    assert 50 <= n < len(ZH) // 2  # jieba words, not characters
    assert reason(Q(doc(ZH, "zh"))) == "keep"
    half = ZH[: ZH.index("。", len(ZH) // 3) + 1]  # the first sentences: fewer than 50 words
    out = Q(doc(half, "zh"))
    assert reason(out) == "gopher_short_doc" and out.signals["n_words"] < 50


def test_quality_japanese_word_length_rules_use_mecab_words():
    # MeCab words average about two characters: inside FineWeb-2's Japanese range (1..5), not English's (3..10).
    out = Q(doc(JA + JA, "ja"))
    assert reason(out) == "keep"
    assert 1 <= Q.signals(JA, "ja")["avg_word_length"] < 3


def test_quality_disabled_rule_is_skipped():
    f = GopherQualityFilter(GopherQualityConfig(min_doc_words=None))
    assert reason(f(doc(words_doc(10)))) == "keep"


def test_quality_missing_language_is_english():
    assert reason(Q(doc(" ".join(["der", "und"] + ["Haus"] * 60), None))) == "gopher_enough_stop_words"


def test_annotate_only_keeps_doc_and_records_verdict():
    f = GopherQualityFilter(GopherQualityConfig(annotate_only=True))
    d = doc(words_doc(20))
    out = apply_annotate_only(f, d, f(d))
    assert isinstance(out, Document) and out.text == d.text
    assert out.meta["gopher_quality_verdict"] == "gopher_short_doc"
    assert out.meta["gopher_quality_n_words"] == 20
    good = doc(EN)
    assert apply_annotate_only(f, good, f(good)).meta["gopher_quality_verdict"] == "keep"


# ---------------------------------------------------------------------------------------- repetition
R = GopherRepetitionFilter()
ONLY = dict(dup_line_frac=None, dup_para_frac=None, dup_line_char_frac=None, dup_para_char_frac=None,
            top_n_grams=[], dup_n_grams=[])


def only(**rules) -> GopherRepetitionFilter:
    return GopherRepetitionFilter(GopherRepetitionConfig(**{**ONLY, **rules}))


def filler(i: int) -> str:
    """A distinct 5-letter word starting with 'x' (no test word starts with x or y)."""
    s = ""
    for _ in range(4):
        i, r = divmod(i, 26)
        s += chr(97 + r)
    return "x" + s


def pad_to(text: str, total: int) -> str:
    """Append distinct filler words (space separated) until `text` is exactly `total` characters."""
    i = 0
    sep = " " if text else ""
    while total - len(text) - len(sep) >= 7:
        text += sep + filler(i)
        sep, i = " ", i + 1
    rem = total - len(text)
    if rem >= len(sep) + 1:
        text += sep + "y" * (rem - len(sep))
    elif rem == 1:
        text += "."
    assert len(text) == total
    return text


def test_repetition_real_prose_is_kept():
    for text, lang in [(EN, "en"), (DE, "de"), (FR, "fr"), (ZH, "zh"), (JA, "ja")]:
        assert reason(R(doc(text, lang))) == "keep", lang


def test_repetition_empty_text():
    assert reason(R(doc(""))) == "gopher_empty"


@pytest.mark.parametrize("dups,expected", [(3, "keep"), (4, "gopher_dup_para_frac")])
def test_repetition_duplicate_paragraph_fraction(dups, expected):
    paras = [f"paragraph number {i} " + pad_to("", 30) for i in range(10 - dups)]
    paras += [paras[0]] * dups  # 10 paragraphs, `dups` of them repeats
    out = only(dup_para_frac=0.3)(doc("\n\n".join(paras)))
    assert reason(out) == expected
    if expected != "keep":
        assert out.signals["dup_para_frac"] == dups / 10 and out.signals["threshold"] == 0.3


@pytest.mark.parametrize("head,expected", [(56, "keep"), (55, "gopher_dup_para_char_frac")])
def test_repetition_duplicate_paragraph_characters(head, expected):
    dup = "aaaa bbbb cccc ddddd"  # 20 characters
    text = pad_to("", head) + "\n\n" + dup + "\n\n" + dup  # 20 / 100 = 0.2 or 20 / 99
    out = only(dup_para_char_frac=0.2)(doc(text))
    assert reason(out) == expected


@pytest.mark.parametrize("dups,expected", [(3, "keep"), (4, "gopher_dup_line_frac")])
def test_repetition_duplicate_line_fraction(dups, expected):
    lines = [f"line {c} " + pad_to(c * 3, 20) for c in "abcdefghij"[: 10 - dups]]
    lines += [lines[1]] * dups
    assert reason(only(dup_line_frac=0.3)(doc("\n".join(lines)))) == expected


@pytest.mark.parametrize("head,expected", [(58, "keep"), (57, "gopher_dup_line_char_frac")])
def test_repetition_duplicate_line_characters(head, expected):
    dup = "aaaa bbbb cccc ddddd"
    text = pad_to("", head) + "\n" + dup + "\n" + dup  # 20 / 100 or 20 / 99
    out = only(dup_line_char_frac=0.2)(doc(text))
    assert reason(out) == expected
    if expected != "keep":
        assert out.signals["dup_line_char_frac"] == round(20 / 99, 6) and out.signals["threshold"] == 0.2


def repeated(gram: str, times: int, total: int) -> str:
    """`gram` `times` times, separated by distinct words, padded to `total` characters."""
    parts = []
    for i in range(times):
        parts.append(gram)
        parts.append("y" + filler(1000 + i)[1:])
    return pad_to(" ".join(parts[:-1]), total)


@pytest.mark.parametrize("n,gram,times,total,frac", [
    (2, "aaaa bbbb", 4, 180, 0.20),   # 9 chars * 4 = 36 = 0.20 * 180
    (3, "aaa bb cc", 2, 100, 0.18),   # 18 = 0.18 * 100
    (4, "aa bb cc ddd", 2, 150, 0.16),  # 24 = 0.16 * 150
])
def test_repetition_top_ngram_character_fraction(n, gram, times, total, frac):
    f = only(top_n_grams=[(n, frac)])
    assert reason(f(doc(repeated(gram, times, total)))) == "keep"
    out = f(doc(repeated(gram, times, total - 1)))
    assert reason(out) == f"gopher_top_{n}_gram"
    assert out.signals[f"top_{n}_gram_char_frac"] == round(len(gram) * times / (total - 1), 6)


@pytest.mark.parametrize("n,frac,words", [
    (5, 0.15, ["aaaaaa", "bbbbbb", "cccccc", "dddddd", "eeeeee"]),            # 30 chars = 0.15 * 200
    (6, 0.14, ["aaaa", "bbbb", "ccccc", "ddddd", "eeeee", "fffff"]),          # 28
    (7, 0.13, ["aaaa", "bbbb", "cccc", "dddd", "eeee", "fff", "ggg"]),        # 26
    (8, 0.12, ["aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh"]),      # 24
    (9, 0.11, ["aa", "bb", "cc", "dd", "ee", "fff", "ggg", "hhh", "iii"]),    # 22
    (10, 0.10, ["aa", "bb", "cc", "dd", "ee", "ff", "gg", "hh", "ii", "jj"]),  # 20
])
def test_repetition_duplicated_ngram_character_fraction(n, frac, words):
    seq = " ".join(words)
    assert sum(map(len, words)) == round(200 * frac)
    f = only(dup_n_grams=[(n, frac)])
    assert reason(f(doc(repeated(seq, 2, 200)))) == "keep"
    out = f(doc(repeated(seq, 2, 199)))
    assert reason(out) == f"gopher_duplicated_{n}_n_grams" and out.signals["threshold"] == frac


def test_repetition_rules_run_in_datatrove_order():
    # Repeated paragraphs also repeat lines and n-grams: the paragraph-count rule names the drop.
    text = "\n\n".join(["The same paragraph again and again."] * 5)
    assert reason(R(doc(text))) == "gopher_dup_para_frac"


def test_repetition_french_repeated_lines():
    lines = FR.split(". ")
    text = "\n".join(lines + lines[:3] + lines[:2])
    out = R(doc(text, "fr"))
    assert reason(out) == "gopher_dup_line_frac"
    assert out.signals["dup_line_frac"] > 0.3


def test_repetition_chinese_uses_character_ngrams():
    text = "今天天气很好我们去公园" * 5  # one clause, no spaces
    out = R(doc(text, "zh"))
    assert reason(out) == "gopher_top_2_gram"
    # Read as space-separated English it is one word: no n-gram repeats at all.
    assert reason(R(doc(text, "en"))) == "keep"


def test_repetition_keyword_spam_german():
    spam = " ".join(["billige", "Versicherung", "online", "vergleichen"] * 12)
    assert reason(R(doc(spam, "de"))).startswith("gopher_top_")


# ------------------------------------------------------------------------------------------ word split
def test_split_words_matches_spacy_english_tokenizer():
    """Our offline tokenizer reproduces spaCy's (datatrove's word splitter) on text without tokenizer
    exceptions; checked against the real spaCy English tokenizer."""
    import spacy

    from corpusforge.transforms.text_utils import split_words

    nlp = spacy.blank("en")
    samples = [
        EN,
        "COUNTIF(A1:A10;\"Chi\") (see /etc/fstab). \"Quoted,\" he said: yes!",
        "John's car costs $5. Hello!!! (a) [b] {c} #tag #another... next\u2026",
        "A well-known x-y pair, 3-4 items, a/b and a:b; it grew 3.14% over 5km.",
        "Is it U.S. policy? The NASA. Then [1] and [edit].",
    ]
    for text in samples:
        assert split_words(text) == [t.text for t in nlp(text) if t.text.strip()], text


def test_split_words_segments_chinese_and_japanese_into_words():
    from corpusforge.transforms.text_utils import split_words

    assert split_words("我爱北京。Python 3.11 很好！", "zh") == ["我", "爱", "北京", "。", "Python", "3.11", "很", "好", "！"]
    assert split_words("タワーです", "ja") == ["タワー", "です"]
    assert split_words("我爱北京。", "en") == ["我爱北京", "。"]
