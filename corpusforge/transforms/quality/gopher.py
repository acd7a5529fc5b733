"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A.1.1 and table A1).

Rule order, thresholds, comparisons (strict `>` / `<`) and reason names follow datatrove 0.10
(`GopherQualityFilter`, `GopherRepetitionFilter`), with our `gopher_` prefix on the repetition reasons.
Words come from `text_utils.split_words` for the document's language (`meta["language"]`, English when
unset), where datatrove uses spaCy's tokenizer; see that module for the differences.

Language extensions (defaults keep the English rule as published):
  * the stop-word rule uses `stop_words[language]`; a language without a list skips it;
  * languages written without spaces (`unsegmented_languages`) are segmented per character and skip the
    average-word-length rules, which assume space-separated words.

Every drop carries the measured values that decided it (and those measured before it) as signals.
"""
from __future__ import annotations

from collections import Counter

from corpusforge.config import GopherQualityConfig, GopherRepetitionConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.text_utils import (
    DEFAULT_LANGUAGE, UNSEGMENTED_LANGUAGES, is_symbol_word, split_lines, split_paragraphs, split_words,
)

ELLIPSES = ("...", "\u2026")
BULLETS = ("\u2022", "-")


def _ratio(x: float) -> float:
    return round(x, 6)


def document_language(doc: Document) -> str:
    return doc.meta.get("language") or DEFAULT_LANGUAGE


class GopherQualityFilter(DocumentTransform):
    """Gopher quality filter: document length, mean word length, symbol ratios, bullet and ellipsis lines,
    alphabetic words, stop words. Defaults as datatrove's GopherQualityFilter."""

    name = "gopher_quality"

    def __init__(self, cfg: GopherQualityConfig | None = None):
        self.cfg = cfg or GopherQualityConfig()
        self.annotate_only = self.cfg.annotate_only
        self.stop_words = {lang: frozenset(words) for lang, words in self.cfg.stop_words.items()}
        self.unsegmented = frozenset(self.cfg.unsegmented_languages)

    def __call__(self, doc: Document) -> TransformResult:
        cfg = self.cfg
        text = doc.text
        language = document_language(doc)
        unsegmented = language in self.unsegmented
        words = split_words(text, language, self.unsegmented)
        n_words = len(words)
        non_symbol_words = [w for w in words if not is_symbol_word(w)]
        n_non_symbol = len(non_symbol_words)
        s: dict = {"language": language, "n_words": n_non_symbol}

        if cfg.min_doc_words and n_non_symbol < cfg.min_doc_words:
            return Drop("gopher_short_doc", {**s, "min_doc_words": cfg.min_doc_words})
        if cfg.max_doc_words and n_non_symbol > cfg.max_doc_words:
            return Drop("gopher_long_doc", {**s, "max_doc_words": cfg.max_doc_words})

        if non_symbol_words and not unsegmented:
            avg = sum(len(w) for w in non_symbol_words) / n_non_symbol
            s["avg_word_length"] = _ratio(avg)
            if cfg.min_avg_word_length and avg < cfg.min_avg_word_length:
                return Drop("gopher_below_avg_threshold", {**s, "min_avg_word_length": cfg.min_avg_word_length})
            if cfg.max_avg_word_length and avg > cfg.max_avg_word_length:
                return Drop("gopher_above_avg_threshold", {**s, "max_avg_word_length": cfg.max_avg_word_length})

        if n_words:
            hash_ratio = text.count("#") / n_words
            s["hash_ratio"] = _ratio(hash_ratio)
            if cfg.max_symbol_word_ratio and hash_ratio > cfg.max_symbol_word_ratio:
                return Drop("gopher_too_many_hashes", {**s, "max_symbol_word_ratio": cfg.max_symbol_word_ratio})
            ellipsis_ratio = (text.count("...") + text.count("\u2026")) / n_words
            s["ellipsis_ratio"] = _ratio(ellipsis_ratio)
            if cfg.max_symbol_word_ratio and ellipsis_ratio > cfg.max_symbol_word_ratio:
                return Drop("gopher_too_many_ellipsis", {**s, "max_symbol_word_ratio": cfg.max_symbol_word_ratio})

        lines = text.splitlines()
        if lines:
            bullet_ratio = sum(line.lstrip().startswith(BULLETS) for line in lines) / len(lines)
            s["bullet_lines_ratio"] = _ratio(bullet_ratio)
            if cfg.max_bullet_lines_ratio and bullet_ratio > cfg.max_bullet_lines_ratio:
                return Drop("gopher_too_many_bullets", {**s, "max_bullet_lines_ratio": cfg.max_bullet_lines_ratio})
            end_ellipsis_ratio = sum(line.rstrip().endswith(ELLIPSES) for line in lines) / len(lines)
            s["end_ellipsis_lines_ratio"] = _ratio(end_ellipsis_ratio)
            if cfg.max_ellipsis_lines_ratio and end_ellipsis_ratio > cfg.max_ellipsis_lines_ratio:
                return Drop("gopher_too_many_end_ellipsis",
                            {**s, "max_ellipsis_lines_ratio": cfg.max_ellipsis_lines_ratio})

        if n_words:
            # datatrove's name is historical: the rule keeps docs where >= 80% of words contain a letter.
            alpha_ratio = sum(any(c.isalpha() for c in w) for w in words) / n_words
            s["alpha_words_ratio"] = _ratio(alpha_ratio)
            if cfg.max_non_alpha_words_ratio and alpha_ratio < cfg.max_non_alpha_words_ratio:
                return Drop("gopher_below_alpha_threshold",
                            {**s, "min_alpha_words_ratio": cfg.max_non_alpha_words_ratio})

        stop_words = self.stop_words.get(language)
        if cfg.min_stop_words and stop_words:
            n_stop = len(stop_words.intersection(words))
            s["stop_words"] = n_stop
            if n_stop < cfg.min_stop_words:
                return Drop("gopher_enough_stop_words", {**s, "min_stop_words": cfg.min_stop_words})
        return doc


# ------------------------------------------------------------------------------------------ repetition
def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in them): every occurrence after the first counts."""
    seen: set[str] = set()
    dup_elements = dup_chars = 0
    for item in items:
        if item in seen:
            dup_elements += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_elements, dup_chars


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by the most frequent n-gram (n-gram joined by spaces, times its count)."""
    counts = Counter(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
    if not counts:
        return 0
    gram, count = counts.most_common(1)[0]
    return len(gram) * count


def duplicate_ngram_chars(words: list[str], n: int) -> int:
    """Characters in n-grams seen before, scanning left to right and skipping past each repeat so that
    overlapping repeats are not counted twice (datatrove's find_all_duplicate; n-grams joined without
    spaces)."""
    seen: set[str] = set()
    repeated = idx = 0
    limit = len(words) - n + 1
    while idx < limit:
        gram = "".join(words[idx:idx + n])
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


class GopherRepetitionFilter(DocumentTransform):
    """Gopher repetition filter: duplicate paragraphs and lines (by count and by characters), the most
    frequent 2/3/4-gram's character share, and the character share of repeated 5..10-grams. Every fraction
    is relative to the document's character count. Defaults as datatrove's GopherRepetitionFilter."""

    name = "gopher_repetition"

    def __init__(self, cfg: GopherRepetitionConfig | None = None, unsegmented_languages=UNSEGMENTED_LANGUAGES):
        self.cfg = cfg or GopherRepetitionConfig()
        self.annotate_only = self.cfg.annotate_only
        self.unsegmented = frozenset(unsegmented_languages)

    def __call__(self, doc: Document) -> TransformResult:
        cfg = self.cfg
        text = doc.text
        if not text:
            return Drop("gopher_empty", {})
        n_chars = len(text)
        s: dict = {}

        paragraphs = split_paragraphs(text)
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        s["dup_para_frac"] = _ratio(para_dups / len(paragraphs))
        if cfg.dup_para_frac and para_dups / len(paragraphs) > cfg.dup_para_frac:
            return Drop("gopher_dup_para_frac", {**s, "threshold": cfg.dup_para_frac})
        s["dup_para_char_frac"] = _ratio(para_dup_chars / n_chars)
        if cfg.dup_para_char_frac and para_dup_chars / n_chars > cfg.dup_para_char_frac:
            return Drop("gopher_dup_para_char_frac", {**s, "threshold": cfg.dup_para_char_frac})

        lines = split_lines(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        s["dup_line_frac"] = _ratio(line_dups / len(lines))
        if cfg.dup_line_frac and line_dups / len(lines) > cfg.dup_line_frac:
            return Drop("gopher_dup_line_frac", {**s, "threshold": cfg.dup_line_frac})
        s["dup_line_char_frac"] = _ratio(line_dup_chars / n_chars)
        if cfg.dup_line_char_frac and line_dup_chars / n_chars > cfg.dup_line_char_frac:
            return Drop("gopher_dup_line_char_frac", {**s, "threshold": cfg.dup_line_char_frac})

        words = split_words(text, document_language(doc), self.unsegmented)
        for n, frac in cfg.top_n_grams:
            if len(words) < n:
                continue
            value = top_ngram_chars(words, n) / n_chars
            s[f"top_{n}_gram_char_frac"] = _ratio(value)
            if value > frac:
                return Drop(f"gopher_top_{n}_gram", {**s, "threshold": frac})
        for n, frac in cfg.dup_n_grams:
            value = duplicate_ngram_chars(words, n) / n_chars
            s[f"duplicated_{n}_n_grams_char_frac"] = _ratio(value)
            if value > frac:
                return Drop(f"gopher_duplicated_{n}_n_grams", {**s, "threshold": frac})
        return doc
