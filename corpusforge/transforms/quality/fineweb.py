"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.3), as datatrove's
`FineWebQualityFilter` implements them, in this order over the non-blank lines (split on "\\n"):

  * fineweb_line_punct_ratio: fraction of lines ending in terminal punctuation (datatrove's
    TERMINAL_PUNCTUATION, any script) below `line_punct_thr` (0.12); with `line_punct_exclude_zero` a
    document with no such line at all is exempt;
  * fineweb_short_line_ratio: fraction of lines of at most `short_line_length` (30) characters above
    `short_line_thr` (0.67);
  * fineweb_char_dup_ratio: characters in repeated lines (every occurrence after the first) over the
    characters of the text without newlines, above `char_duplicates_ratio` (0.01);
  * fineweb_list_ratio: line breaks per word above `new_line_ratio` (0.3). Line breaks are counted between
    non-blank lines (datatrove counts every "\\n"): a blank line separates paragraphs, it is not a list
    item, and counting it made double-spaced prose look twice as list-like as the same text single-spaced.

Thresholds are resolved for the document's language (`corpusforge.languages`: FineWeb-2's line_punct_thr
and new_line_ratio; 10-character short lines for Chinese and Japanese, whose words average about two
characters). Words come from `text_utils.split_words` for the document's language (datatrove: spaCy
tokens); a text with
no non-blank line drops with `fineweb_empty`. Every drop carries the measured ratio and its threshold.
"""
from __future__ import annotations

from corpusforge.config import FineWebQualityConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.quality.gopher import find_duplicates
from corpusforge.transforms.quality.language_rules import document_language, kept, mark_skipped, rules_for
from corpusforge.transforms.text_utils import TERMINAL_PUNCTUATION, split_words

STOP_CHARS = tuple(sorted(TERMINAL_PUNCTUATION))


def _r(x: float) -> float:
    return round(x, 6)


class FineWebQualityFilter(DocumentTransform):
    """FineWeb line-punctuation, short-line, duplicated-line-character and list-like rules."""

    name = "fineweb"

    def __init__(self, cfg: FineWebQualityConfig | None = None):
        self.cfg = cfg or FineWebQualityConfig()
        self.annotate_only = self.cfg.annotate_only

    def __call__(self, doc: Document) -> TransformResult:
        language = document_language(doc)
        cfg, skipped = rules_for(self.cfg, self.name, language)
        if not cfg.enabled:
            return mark_skipped(doc, self.name, skipped)
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip() != ""]
        if not lines:
            return Drop("fineweb_empty", {})
        s: dict = {"n_lines": len(lines)}

        punct = sum(1 for line in lines if line.endswith(STOP_CHARS)) / len(lines)
        s["line_punct_ratio"] = _r(punct)
        if cfg.line_punct_thr is not None and punct < cfg.line_punct_thr and not (
                punct == 0 and cfg.line_punct_exclude_zero):
            return Drop("fineweb_line_punct_ratio", {**s, "threshold": cfg.line_punct_thr})

        short = sum(1 for line in lines if len(line) <= cfg.short_line_length) / len(lines)
        s["short_line_ratio"] = _r(short)
        if cfg.short_line_thr is not None and short > cfg.short_line_thr:
            return Drop("fineweb_short_line_ratio", {**s, "threshold": cfg.short_line_thr})

        chars = len(text.replace("\n", ""))
        dup = find_duplicates(lines)[1] / chars
        s["char_dup_ratio"] = _r(dup)
        if cfg.char_duplicates_ratio is not None and dup > cfg.char_duplicates_ratio:
            return Drop("fineweb_char_dup_ratio", {**s, "threshold": cfg.char_duplicates_ratio})

        n_words = len(split_words(text, language))
        list_ratio = (len(lines) - 1) / max(n_words, 1)
        s["list_ratio"] = _r(list_ratio)
        if cfg.new_line_ratio is not None and list_ratio > cfg.new_line_ratio:
            return Drop("fineweb_list_ratio", {**s, "threshold": cfg.new_line_ratio})
        return kept(doc, self.name, skipped, s, self.annotate_only)
