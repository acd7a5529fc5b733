"""Shingles for MinHash: word n-grams (default 5, as text-dedup and datatrove) or character n-grams.

Shingles are computed on normalized text (`normalize.normalize_words`), so case, digit and punctuation
changes do not break a near-duplicate match. They never span a line break: a page whose paragraphs were
reordered has the same shingle set as the original. A line shorter than n words gives one shingle of all
its words (text-dedup's `min_length` behaviour), so short lines and short documents still count.
"""
from __future__ import annotations

from corpusforge.transforms.dedup.normalize import normalize_words


def word_shingles(words: list[str], n: int) -> list[str]:
    if len(words) <= n:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def char_shingles(text: str, n: int) -> list[str]:
    if len(text) <= n:
        return [text] if text else []
    return [text[i:i + n] for i in range(len(text) - n + 1)]


def shingles(text: str, n: int = 5, kind: str = "word") -> set[str]:
    """Set of shingles of `text`, line by line after normalization; `kind` is "word" or "char"."""
    if kind not in ("word", "char"):
        raise ValueError(f"unknown shingle kind {kind!r}: use 'word' or 'char'")
    out: set[str] = set()
    for line in text.split("\n"):
        words = normalize_words(line)
        out.update(word_shingles(words, n) if kind == "word" else char_shingles(" ".join(words), n))
    return out


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
