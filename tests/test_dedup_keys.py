"""Exact keys, URL normalization and line-dedup helpers (pure logic)."""
from __future__ import annotations

import pytest

from corpusforge.transforms.dedup.exact import exact_hash, line_hashes, remove_lines, too_few_sentences
from corpusforge.transforms.dedup.url import normalize_url, url_keep_order


def test_exact_hash_ignores_case_punctuation_whitespace_but_not_digits():
    assert exact_hash("Version 2.1 released!\n\nSee notes.") == exact_hash("version 21 released see notes")
    assert exact_hash("version released") != exact_hash("version release")
    # documents that differ only in their numbers (data tables, price lists) are different documents
    assert exact_hash("2023-10-03 | 932.796 | 395.02") != exact_hash("2023-01-21 | 782.517 | 932.47")
    assert len(exact_hash("x")) == 32


@pytest.mark.parametrize("a,b", [
    ("https://www.example.com/a/b/", "http://example.com/a/b"),
    ("https://example.com/a?utm_source=x&b=2&a=1#top", "example.com/a?a=1&b=2"),
    ("http://EXAMPLE.com:80/p?fbclid=1&gclid=2", "https://example.com/p"),
])
def test_same_url(a, b):
    assert normalize_url(a) == normalize_url(b)


def test_different_url():
    assert normalize_url("https://example.com/a?id=1") != normalize_url("https://example.com/a?id=2")
    assert normalize_url("https://example.com:8080/a") != normalize_url("https://example.com/a")
    assert normalize_url("") is None and normalize_url(None) is None and normalize_url("http://[x") is None


def test_url_keep_policies():
    docs = [("b", 10, "2021-05-01", ("f", 1)), ("a", 5, "2020-01-01", ("f", 2)), ("c", 30, None, ("f", 3))]
    first = lambda policy: min(docs, key=lambda d: url_keep_order(policy, d[0], d[1], d[2], d[3]))[0]  # noqa: E731
    assert first("smallest_id") == "a"
    assert first("longest") == "c"
    assert first("newest") == "b"


def test_line_helpers():
    text = "Share this page\nA real sentence here. And another one.\n\nShare this page  "
    hs = line_hashes(text)
    assert len(hs) == 2  # distinct, non-empty, stripped
    assert remove_lines(text, {hs[0]}) == "A real sentence here. And another one.\n"
    assert too_few_sentences("One. Two.", 3) and not too_few_sentences("One. Two. Three.", 3)
