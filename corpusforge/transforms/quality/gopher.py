"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A.1.1 and table A1).

Rule order, thresholds, comparisons (strict `>` / `<`) and reason names follow datatrove 0.10
(`GopherQualityFilter`, `GopherRepetitionFilter`), with our `gopher_` prefix on the repetition reasons.
Words come from `text_utils.split_words` for the document's language (`meta["language"]`, English when
unset): spaCy-like rules for alphabetic scripts, jieba for Chinese, MeCab for Japanese.

Per language (FineWeb-2's approach, `corpusforge.languages`): each rule's threshold is the stage config
resolved for the document's language (`for_language`), so Japanese, Russian or Greek are held to values
measured on their own text; a rule whose value is null for a language is skipped and the skip is recorded
in `meta["<stage>_skipped"]` (counted in stats). Where words are single characters (Thai, Khmer, ...), the
word-length and n-gram rules are skipped.

The alphabetic-word rule counts the share of words that contain a letter (Unicode: Cyrillic, Greek, kana and
Han count) among words as Gopher means them: tokens that are not punctuation alone. datatrove divides by
every spaCy token, so each "." and "," counts as a non-alphabetic word and ordinary prose with short
sentences falls below 0.8; FineWeb-2 lowered the threshold per language to compensate. We keep Gopher's 0.8
on Gopher's definition instead.

Every verdict carries every signal the stage measured (kept documents too, in annotate-only runs), so a user
can see how close a document is to each threshold.
"""
from __future__ import annotations

from collections import Counter

from corpusforge.config import GopherQualityConfig, GopherRepetitionConfig
from corpusforge.languages import word_segmenter
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.quality.language_rules import document_language, kept, mark_skipped, rules_for
from corpusforge.transforms.text_utils import is_symbol_word, split_lines, split_paragraphs, split_words

ELLIPSES = ("...", "\u2026")
BULLETS = ("\u2022", "-")


def _ratio(x: float) -> float:
    return round(x, 6)


class GopherQualityFilter(DocumentTransform):
    """Gopher quality filter: document length, mean word length, symbol ratios, bullet and ellipsis lines,
    alphabetic words, stop words. Defaults as datatrove's GopherQualityFilter, per language as FineWeb-2."""

    name = "gopher_quality"

    def __init__(self, cfg: GopherQualityConfig | None = None):
        self.cfg = cfg or GopherQualityConfig()
        self.annotate_only = self.cfg.annotate_only

    def signals(self, text: str, language: str) -> dict:
        """Every measurement the rules compare, for `text` in `language`."""
        words = split_words(text, language)
        non_symbol = [w for w in words if not is_symbol_word(w)]
        n_words, n = len(words), len(non_symbol)
        lines = text.splitlines()
        s: dict = {"language": language, "n_words": n}
        if n:
            s["avg_word_length"] = _ratio(sum(len(w) for w in non_symbol) / n)
            s["alpha_words_ratio"] = _ratio(sum(any(c.isalpha() for c in w) for w in non_symbol) / n)
        if n_words:
            s["hash_ratio"] = _ratio(text.count("#") / n_words)
            s["ellipsis_ratio"] = _ratio((text.count("...") + text.count("\u2026")) / n_words)
        if lines:
            s["bullet_lines_ratio"] = _ratio(sum(line.lstrip().startswith(BULLETS) for line in lines) / len(lines))
            s["end_ellipsis_lines_ratio"] = _ratio(sum(line.rstrip().endswith(ELLIPSES) for line in lines) / len(lines))
        s["_words"] = frozenset(words)
        return s

    def __call__(self, doc: Document) -> TransformResult:
        language = document_language(doc)
        cfg, skipped = rules_for(self.cfg, self.name, language)
        if not cfg.enabled:
            return mark_skipped(doc, self.name, skipped)
        s = self.signals(doc.text, language)
        words = s.pop("_words")
        if cfg.stop_words and cfg.min_stop_words:
            s["stop_words"] = len(words.intersection(cfg.stop_words))
        elif cfg.min_stop_words:
            skipped.append("stop_words")
        verdict = self.verdict(cfg, s)
        if verdict is not None:
            reason, limit = verdict
            return Drop(reason, {**s, **limit})
        return kept(doc, self.name, skipped, s, self.annotate_only)

    @staticmethod
    def verdict(cfg: GopherQualityConfig, s: dict) -> tuple[str, dict] | None:
        """(reason, {threshold name: value}) of the first rule `s` breaks, in datatrove's order; None: keep."""
        n = s["n_words"]
        if cfg.min_doc_words and n < cfg.min_doc_words:
            return "gopher_short_doc", {"min_doc_words": cfg.min_doc_words}
        if cfg.max_doc_words and n > cfg.max_doc_words:
            return "gopher_long_doc", {"max_doc_words": cfg.max_doc_words}
        avg = s.get("avg_word_length")
        if avg is not None and cfg.min_avg_word_length and avg < cfg.min_avg_word_length:
            return "gopher_below_avg_threshold", {"min_avg_word_length": cfg.min_avg_word_length}
        if avg is not None and cfg.max_avg_word_length and avg > cfg.max_avg_word_length:
            return "gopher_above_avg_threshold", {"max_avg_word_length": cfg.max_avg_word_length}
        if cfg.max_symbol_word_ratio and s.get("hash_ratio", 0) > cfg.max_symbol_word_ratio:
            return "gopher_too_many_hashes", {"max_symbol_word_ratio": cfg.max_symbol_word_ratio}
        if cfg.max_symbol_word_ratio and s.get("ellipsis_ratio", 0) > cfg.max_symbol_word_ratio:
            return "gopher_too_many_ellipsis", {"max_symbol_word_ratio": cfg.max_symbol_word_ratio}
        if cfg.max_bullet_lines_ratio and s.get("bullet_lines_ratio", 0) > cfg.max_bullet_lines_ratio:
            return "gopher_too_many_bullets", {"max_bullet_lines_ratio": cfg.max_bullet_lines_ratio}
        if cfg.max_ellipsis_lines_ratio and s.get("end_ellipsis_lines_ratio", 0) > cfg.max_ellipsis_lines_ratio:
            return "gopher_too_many_end_ellipsis", {"max_ellipsis_lines_ratio": cfg.max_ellipsis_lines_ratio}
        # datatrove's name is historical: the rule keeps docs where >= 80% of words contain a letter.
        alpha = s.get("alpha_words_ratio")
        if alpha is not None and cfg.max_non_alpha_words_ratio and alpha < cfg.max_non_alpha_words_ratio:
            return "gopher_below_alpha_threshold", {"min_alpha_words_ratio": cfg.max_non_alpha_words_ratio}
        if "stop_words" in s and s["stop_words"] < cfg.min_stop_words:
            return "gopher_enough_stop_words", {"min_stop_words": cfg.min_stop_words}
        return None


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


def top_ngram_chars(words: list[str], n: int, joiner: str = " ") -> int:
    """Characters covered by the most frequent n-gram (its words joined by `joiner`, times its count). The
    joiner is the text's own word separator: a space, or nothing for languages written without spaces,
    where a space would add characters the text does not have."""
    counts = Counter(joiner.join(words[i:i + n]) for i in range(len(words) - n + 1))
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
    is relative to the document's character count. Defaults as datatrove's GopherRepetitionFilter, per
    language as FineWeb-2 (word n-grams over the language's own word segmentation)."""

    name = "gopher_repetition"

    def __init__(self, cfg: GopherRepetitionConfig | None = None):
        self.cfg = cfg or GopherRepetitionConfig()
        self.annotate_only = self.cfg.annotate_only

    def __call__(self, doc: Document) -> TransformResult:
        text = doc.text
        if not text:
            return Drop("gopher_empty", {})
        language = document_language(doc)
        cfg, skipped = rules_for(self.cfg, self.name, language)
        if not cfg.enabled:
            return mark_skipped(doc, self.name, skipped)
        n_chars = len(text)
        s: dict = {}
        paragraphs = split_paragraphs(text)
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        s["dup_para_frac"] = _ratio(para_dups / len(paragraphs))
        s["dup_para_char_frac"] = _ratio(para_dup_chars / n_chars)
        lines = split_lines(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        s["dup_line_frac"] = _ratio(line_dups / len(lines))
        s["dup_line_char_frac"] = _ratio(line_dup_chars / n_chars)
        checks = [(f"gopher_{k}", s[k], getattr(cfg, k)) for k in
                  ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")]
        if cfg.top_n_grams or cfg.dup_n_grams:
            # n-grams of words as Gopher counts them, punctuation tokens left out (see the module docstring)
            words = [w for w in split_words(text, language) if not is_symbol_word(w)]
            for n, frac in cfg.top_n_grams or ():
                if len(words) >= n:
                    joiner = " " if word_segmenter(language) == "rules" else ""
                    s[f"top_{n}_gram_char_frac"] = value = _ratio(top_ngram_chars(words, n, joiner) / n_chars)
                    checks.append((f"gopher_top_{n}_gram", value, frac))
            for n, frac in cfg.dup_n_grams or ():
                s[f"duplicated_{n}_n_grams_char_frac"] = value = _ratio(duplicate_ngram_chars(words, n) / n_chars)
                checks.append((f"gopher_duplicated_{n}_n_grams", value, frac))
        for reason, value, threshold in checks:
            if threshold and value > threshold:
                return Drop(reason, {**s, "threshold": threshold, "language": language})
        return kept(doc, self.name, skipped, s, self.annotate_only)
