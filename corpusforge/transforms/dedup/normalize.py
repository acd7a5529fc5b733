"""Text normalization for dedup keys and shingles.

Follows CCNet's `normalize_for_dedup` (Wenzek et al. 2020, cc_net/text_normalizer.py): lowercase, every
digit folded to 0, punctuation and non-printing characters removed. CCNet only strips its list of Unicode
punctuation; we strip every non-word character (Unicode punctuation, symbols, and ASCII punctuation too),
so "Hello, world!" and "hello world" give the same key. Whitespace is removed entirely for the
exact-document key. The whole-document key keeps digits (`fold_digits=False`): CCNet folds them for short
paragraphs, but two documents that differ only in their numbers (price lists, data tables, release notes)
are different documents, and folding made unrelated number tables "exact copies".
"""
from __future__ import annotations

import re

_DIGIT_RE = re.compile(r"\d")
# Anything that is neither a word character nor whitespace, plus "_" (a word character to `re`).
_PUNCT_RE = re.compile(r"[^\w\s]|_")


def normalize_words(text: str, fold_digits: bool = True) -> list[str]:
    """Normalized words of `text`: lowercase, digits -> 0 (unless not `fold_digits`), punctuation removed,
    split on whitespace."""
    text = text.lower()
    if fold_digits:
        text = _DIGIT_RE.sub("0", text)
    return _PUNCT_RE.sub("", text).split()


def normalize_for_dedup(text: str, fold_digits: bool = True) -> str:
    """Normalized words joined with nothing (whitespace removed): CCNet's paragraph key with `fold_digits`."""
    return "".join(normalize_words(text, fold_digits))
