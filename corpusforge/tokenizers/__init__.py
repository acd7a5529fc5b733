"""Tokenizers for the curated corpus: SentencePiece BPE training on a language-balanced sample (`train`),
evaluation on held-out kept documents (`evaluate`), and token shards with a memory-mapped reader (`shards`).

The Beam steps (training sample, `corpusforge tokenize`) live in `corpusforge.pipelines.tokenizer`.
"""
from __future__ import annotations

__all__ = ["TokenShards"]


def __getattr__(name: str):
    # Lazy, so `corpusforge train-tokenizer --help` does not import numpy and pyarrow.
    if name == "TokenShards":
        from corpusforge.tokenizers.shards import TokenShards

        return TokenShards
    raise AttributeError(name)
