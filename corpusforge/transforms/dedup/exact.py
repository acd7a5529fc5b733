"""Exact whole-document keys and C4-style line dedup, as pure functions.

* Whole document: xxh3-128 of the CCNet-style normalized text (`normalize.normalize_for_dedup`, digits
  kept), so copies that differ only in case, punctuation or whitespace share a key. The smallest id of each group is
  kept.
* Lines (C4, Raffel et al. 2020, TFDS `c4_utils.remove_duplicate_text`): a line that also appears in another
  document is kept in one document only (here the one that sorts first: an earlier run's, then the smallest
  id) and removed from the others; a page left with fewer than `min_sentences` sentences is dropped. Lines
  are compared after stripping surrounding whitespace, as C4 does.
"""
from __future__ import annotations

import xxhash

from corpusforge.transforms.dedup.shingles import words
from corpusforge.transforms.text_utils import split_sentences


def exact_hash(text: str) -> str:
    """Hex key of the normalized text (32 hex digits); digits are kept (see normalize.py)."""
    return exact_hash_of_words(words(text))


def exact_hash_of_words(ws: list[str]) -> str:
    """`exact_hash` of a text from its `shingles.words` (the pipeline computes them once for both keys): the
    words joined, less "_", are exactly `normalize.normalize_for_dedup(text, fold_digits=False)` (both keep
    the word characters of the lowercased text but "_", in order)."""
    return xxhash.xxh3_128_hexdigest("".join(ws).replace("_", "").encode("utf-8", "surrogatepass"))


def line_hash(line: str) -> int:
    return xxhash.xxh3_64_intdigest(line.strip().encode("utf-8", "surrogatepass"))


def line_hashes(text: str) -> list[int]:
    """Distinct hashes of the non-empty lines of `text`, in first-seen order."""
    seen: dict[int, None] = {}
    for line in text.split("\n"):
        if line.strip():
            seen.setdefault(line_hash(line), None)
    return list(seen)


def remove_lines(text: str, removed: set[int]) -> str:
    """`text` without the lines whose hash is in `removed`."""
    return "\n".join(line for line in text.split("\n") if not (line.strip() and line_hash(line) in removed))


def too_few_sentences(text: str, min_sentences: int, language: str | None = None) -> bool:
    return len(split_sentences(text, language)) < min_sentences
