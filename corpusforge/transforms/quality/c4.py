"""C4 cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", section 2.2), as implemented by TFDS `c4_utils.clean_page` and datatrove's
`C4QualityFilter`.

Line rules REMOVE lines and rewrite the text (kept lines joined by "\\n"), in this order per stripped line:
a word longer than `max_word_length` -> removed; Wikipedia citation markers ("[1]", "[edit]",
"[citation needed]") deleted; no terminal punctuation (or ending in "...") -> removed; fewer than
`min_words_per_line` words -> removed; "javascript" -> removed; a policy phrase ("terms of use", "privacy
policy", "uses cookies", ...) -> removed. Page rules drop the document: "lorem ipsum" (`c4_lorem_ipsum`) or
"{" (`c4_curly_bracket`; with `curly_bracket_removes_line` only that line is removed, as a "javascript" line
is) in a line that survived the earlier line rules, fewer than `min_num_sentences` sentences in the kept lines
(`c4_too_few_sentences`). When the sentence rule is off (or skipped for the
language) and no line is left, the document drops with `c4_no_lines_left` (datatrove would keep an empty text).

Constants: `constants: datatrove` (default) = 3 words per line, 5 sentences, end marks . ? ! " ';
`constants: tfds` = 5 words per line, 3 sentences, end marks . ? ! " (C4 as released).

Language handling (our addition; English behaves exactly as above): words of a line are whitespace tokens,
or for languages without spaces the words of their segmenter (`text_utils.split_words`); the
terminal-punctuation and sentence-count rules apply only to `languages` when set; the config resolved for
the document's language (`corpusforge.languages`) adds end marks: full-width marks and closing brackets for
Chinese and Japanese, ";" (the NFC form of the Greek question mark) for Greek.
Sentences are counted with `text_utils.split_sentences`, a regular-expression splitter (datatrove uses
spaCy's sentencizer, TFDS NLTK punkt; neither is used here so nothing is downloaded).

Kept documents carry the per-rule line counts in `meta["c4_lines"]`; drops carry them as signals. A document
whose lines were removed keeps its text before the removal in `read_text` (`Document.with_cleaned_text`), so
dedup can compare documents as they were read (`dedup.compare_text: read`, the default).
"""
from __future__ import annotations

import re

from corpusforge.config import C4QualityConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.quality.language_rules import document_language, mark_skipped, rules_for
from corpusforge.transforms.text_utils import split_line_words, split_sentences

CITATION_REGEX = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
)
LINE_RULES = ("too_long_word", "no_terminal_punct", "too_few_words", "javascript", "curly_bracket", "policy")


class C4QualityFilter(DocumentTransform):
    """C4 line cleaning and page filters (see module docstring)."""

    name = "c4"

    def __init__(self, cfg: C4QualityConfig | None = None):
        self.cfg = cfg or C4QualityConfig()
        self.annotate_only = self.cfg.annotate_only
        self.languages = None if self.cfg.languages is None else frozenset(self.cfg.languages)

    def __call__(self, doc: Document) -> TransformResult:
        language = document_language(doc)
        cfg, skipped = rules_for(self.cfg, self.name, language)
        if not cfg.enabled:
            return mark_skipped(doc, self.name, skipped)
        min_words_per_line = cfg.resolved_min_words_per_line()
        min_num_sentences = cfg.resolved_min_num_sentences()
        sentence_rules = self.languages is None or language in self.languages
        check_punct = cfg.filter_no_terminal_punct and sentence_rules
        count_sentences = sentence_rules and min_num_sentences > 0
        end_marks = cfg.resolved_terminal_punctuation()
        max_word = cfg.max_word_length if cfg.max_word_length is not None and cfg.max_word_length > 0 else None

        lines = doc.text.splitlines() if cfg.split_paragraph else split_sentences(doc.text, language)
        removed = dict.fromkeys(LINE_RULES, 0)
        kept_lines: list[str] = []
        num_sentences = 0
        for line in lines:
            line = line.strip()
            words = split_line_words(line, language)
            if max_word is not None and any(len(w) > max_word for w in words):
                removed["too_long_word"] += 1
                continue
            if cfg.remove_citations:
                line = CITATION_REGEX.sub("", line)
            if check_punct and (not line.endswith(end_marks) or line.endswith(ELLIPSIS)):
                removed["no_terminal_punct"] += 1
                continue
            if len(words) < min_words_per_line:
                removed["too_few_words"] += 1
                continue
            line_lower = line.lower()
            if cfg.filter_lorem_ipsum and "lorem ipsum" in line_lower:
                return Drop("c4_lorem_ipsum", self._signals(lines, kept_lines, removed, language))
            if cfg.filter_javascript and "javascript" in line_lower:
                removed["javascript"] += 1
                continue
            if cfg.filter_curly_bracket and "{" in line:
                if cfg.curly_bracket_removes_line:
                    removed["curly_bracket"] += 1
                    continue
                return Drop("c4_curly_bracket", self._signals(lines, kept_lines, removed, language))
            if cfg.filter_policy and any(p in line_lower for p in POLICY_SUBSTRINGS):
                removed["policy"] += 1
                continue
            if count_sentences:
                num_sentences += len(split_sentences(line, language)) if cfg.split_paragraph else 1
            kept_lines.append(line)

        if count_sentences and num_sentences < min_num_sentences:
            return Drop("c4_too_few_sentences", {
                **self._signals(lines, kept_lines, removed, language),
                "num_sentences": num_sentences, "min_num_sentences": min_num_sentences,
            })
        text = ("\n" if cfg.split_paragraph else " ").join(kept_lines).strip()
        if not text:
            return Drop("c4_no_lines_left", self._signals(lines, kept_lines, removed, language))
        out = doc.with_cleaned_text(text)  # a new Document (never modified in place); dedup can still compare
        if count_sentences:
            out.meta["c4_num_sentences"] = num_sentences
        out.meta["c4_lines"] = self._line_counts(lines, kept_lines, removed)
        if skipped:
            out.meta[f"{self.name}_skipped"] = sorted(skipped)
        return out

    @staticmethod
    def _line_counts(lines, kept_lines, removed) -> dict:
        return {"total": len(lines), "kept": len(kept_lines), **{f"removed_{k}": v for k, v in removed.items()}}

    def _signals(self, lines, kept_lines, removed, language) -> dict:
        return {"language": language, **self._line_counts(lines, kept_lines, removed)}
