"""Text normalization for dedup keys and shingles.

Follows CCNet's `normalize_for_dedup` (Wenzek et al. 2020, cc_net/text_normalizer.py): lowercase, every
digit folded to 0, punctuation and non-printing characters removed. CCNet only strips its list of Unicode
punctuation; we strip every non-word character (Unicode punctuation, symbols, and ASCII punctuation too),
so "Hello, world!" and "hello world" give the same key. Whitespace separates words for shingling and is
removed entirely for the exact-document key.
"""
from __future__ import annotations

import re

_DIGIT_RE = re.compile(r"\d")
# Anything that is neither a word character nor whitespace, plus "_" (a word character to `re`).
_PUNCT_RE = re.compile(r"[^\w\s]|_")


def normalize_words(text: str) -> list[str]:
    """Normalized words of `text`: lowercase, digits -> 0, punctuation removed, split on whitespace."""
    text = _DIGIT_RE.sub("0", text.lower())
    return _PUNCT_RE.sub("", text).split()


def normalize_for_dedup(text: str) -> str:
    """The exact-dedup key text: normalized words joined with nothing (whitespace removed)."""
    return "".join(normalize_words(text))
