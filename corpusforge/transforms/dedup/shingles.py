"""Shingles for MinHash: word n-grams (default 5, as text-dedup and datatrove) or character n-grams.

The Jaccard similarity the dedup threshold refers to is the common one (text-dedup's MinHash splits the
lowercased text on `\\W`, datatrove shingles lowercased words): lowercase the text, take its Unicode words
(regex `\\w+`), and compare the sets of word 5-grams of the whole document. Verification (`jaccard` on shingle
hashes) computes exactly this, so a user's `threshold: 0.8` means "pairs at 5-gram Jaccard 0.8".

Earlier versions shingled each line separately after CCNet normalization (digits folded to 0, a short line
as one shingle). That inflated the similarity of pages made of short boilerplate lines or number tables
(unrelated pages sharing a cookie banner scored 0.7 against a true 0.43), so it is no longer used; exact
dedup still uses the CCNet normalization (`normalize.normalize_for_dedup`).

A document shorter than n words gives one shingle of all its words, so short documents still count.
Character shingles are taken over the words joined by single spaces.
"""
from __future__ import annotations

import re

_WORD_RE = re.compile(r"\w+")
KINDS = ("word", "char")


def words(text: str) -> list[str]:
    """Lowercased Unicode words (`\\w+`) of `text`."""
    return _WORD_RE.findall(text.lower())


def word_shingles(ws: list[str], n: int) -> list[str]:
    if len(ws) <= n:
        return [" ".join(ws)] if ws else []
    return [" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1)]


def char_shingles(text: str, n: int) -> list[str]:
    if len(text) <= n:
        return [text] if text else []
    return [text[i:i + n] for i in range(len(text) - n + 1)]


def shingles(text: str, n: int = 5, kind: str = "word") -> set[str]:
    """Set of shingles of `text`; `kind` is "word" or "char"."""
    if kind not in KINDS:
        raise ValueError(f"unknown shingle kind {kind!r}: use one of {KINDS}")
    ws = words(text)
    return set(word_shingles(ws, n) if kind == "word" else char_shingles(" ".join(ws), n))


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
