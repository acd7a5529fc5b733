"""Token shards: the training-ready form of a kept corpus, and the reader that memory-maps it back.

A shard directory holds, for each shard `tokens-SSSSS-of-NNNNN`:
  * `.bin`       the shard's tokens as one flat little-endian array (uint16 when every id fits, else uint32),
                 documents back to back, each followed by the end-of-text id when `append_eos` is set;
  * `.idx.npy`   int64 offsets, one more than the shard's documents: document i is bin[off[i]:off[i+1]];
  * `.docs.parquet`  id and language of each document, in shard order;
  * `.idx`       the same offsets as a Megatron-LM indexed-dataset index (MMIDIDX, version 1), so
                 `tokens-SSSSS-of-NNNNN` is a data path prefix Megatron's `IndexedDataset` (and GPT-NeoX,
                 which shares the format) reads as is: one sequence per document, end-of-text included;
and once for the whole set: `tokenizer.model` (the SentencePiece model that encoded it) and `manifest.json`
(dtype, token and document counts per language, SHA-256 of every file). `_SUCCESS` is written last.
"""
from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge import storage

FORMAT = "corpusforge-token-shards/1"
MANIFEST = "manifest.json"
MODEL_FILE = "tokenizer.model"
SUCCESS = "_SUCCESS"
DOCS_SCHEMA = pa.schema([("id", pa.string()), ("language", pa.string())])


# Megatron-LM's index format: megatron/core/datasets/indexed_dataset.py (_IndexWriter, DType). Its DType codes
# have no uint32; ids below 2**31 are the same little-endian bytes as int32, so uint32 shards declare int32.
MEGATRON_INDEX_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_INDEX_VERSION = 1
MEGATRON_DTYPE_CODES = {"<u2": 8, "<u4": 4}


def megatron_index(offsets: np.ndarray, dtype: np.dtype) -> bytes:
    """The `.idx` of a `.bin` whose document i is tokens[offsets[i]:offsets[i+1]]: header, version, dtype code,
    sequence count, document count (+1), int32 sequence lengths, int64 byte pointers, int64 document indices."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if lengths.size and int(lengths.max()) >= 2**31:
        raise ValueError("a document longer than 2**31 tokens does not fit Megatron's int32 sequence lengths")
    documents = np.arange(len(lengths) + 1, dtype="<i8")  # one sequence per document
    return b"".join([
        MEGATRON_INDEX_HEADER,
        struct.pack("<Q", MEGATRON_INDEX_VERSION),
        struct.pack("<B", MEGATRON_DTYPE_CODES[np.dtype(dtype).newbyteorder("<").str]),
        struct.pack("<Q", len(lengths)),
        struct.pack("<Q", len(documents)),
        lengths.astype("<i4").tobytes(),
        (offsets[:-1] * np.dtype(dtype).itemsize).astype("<i8").tobytes(),
        documents.tobytes(),
    ])


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 halves the bytes whenever every id (0 .. vocab_size-1) fits in it."""
    return np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")


def shard_stem(index: int, num_shards: int) -> str:
    return f"tokens-{index:05d}-of-{num_shards:05d}"


@dataclass
class EncodedDoc:
    """One document's tokens on their way to a shard; `order` places it within the shard."""

    order: int
    id: str
    language: str
    tokens: np.ndarray
    num_bytes: int


def shard_payload(docs: Sequence[EncodedDoc], dtype: np.dtype, eos_id: int | None) -> dict[str, bytes]:
    """The three files of one shard, as bytes, from its documents in shard order.

    Built in memory so a writer can hash and store them atomically on any filesystem; a shard is one
    worker's share of the corpus (its size is set by the number of shards).
    """
    parts: list[np.ndarray] = []
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    eos = np.array([eos_id], dtype=dtype) if eos_id is not None else None
    for i, doc in enumerate(docs):
        parts.append(doc.tokens.astype(dtype, copy=False))
        n = len(doc.tokens)
        if eos is not None:
            parts.append(eos)
            n += 1
        offsets[i + 1] = offsets[i] + n
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    idx = io.BytesIO()
    np.save(idx, offsets, allow_pickle=False)
    table = pa.Table.from_pydict(
        {"id": [d.id for d in docs], "language": [d.language for d in docs]}, schema=DOCS_SCHEMA
    )
    sink = pa.BufferOutputStream()
    # No statistics timestamps or writer-dependent metadata: the same documents give the same bytes.
    pq.write_table(table, sink, compression="zstd", write_statistics=False, store_schema=False)
    return {
        ".bin": flat.astype(dtype.newbyteorder("<"), copy=False).tobytes(),
        ".idx.npy": idx.getvalue(),
        ".docs.parquet": sink.getvalue().to_pybytes(),
        ".idx": megatron_index(offsets, dtype),
    }


class TokenShards:
    """Read a token shard directory through memory maps; documents come back in manifest order.

    >>> shards = TokenShards("runs/demo/tokens")
    >>> shards.text(0) == original_text_of(shards.doc_id(0))
    """

    def __init__(self, directory: str):
        self.directory = directory
        path = os.path.join(directory, MANIFEST)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: is {directory} the --out of `corpusforge tokenize`?")
        with open(path, encoding="utf-8") as f:
            self.manifest = json.load(f)
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown format {self.manifest.get('format')!r}, expected {FORMAT!r}")
        self.dtype = np.dtype(self.manifest["dtype"])
        self.eos_id = self.manifest["eos_id"] if self.manifest["append_eos"] else None
        self._tokens = [np.memmap(os.path.join(directory, s["files"][".bin"]), dtype=self.dtype, mode="r")
                        if s["num_tokens"] else np.zeros(0, dtype=self.dtype) for s in self.manifest["shards"]]
        self._offsets = [np.load(os.path.join(directory, s["files"][".idx.npy"]), mmap_mode="r")
                         for s in self.manifest["shards"]]
        counts = [len(o) - 1 for o in self._offsets]
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _locate(self, i: int) -> tuple[int, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"document {i} out of range (0..{len(self) - 1})")
        shard = int(np.searchsorted(self._starts, i, side="right") - 1)
        return shard, i - int(self._starts[shard])

    def tokens(self, i: int, with_eos: bool = False) -> np.ndarray:
        """Document i's token ids: a read-only view into the memory-mapped shard."""
        shard, j = self._locate(i)
        off = self._offsets[shard]
        start, end = int(off[j]), int(off[j + 1])
        if self.eos_id is not None and not with_eos:
            end -= 1
        return self._tokens[shard][start:end]

    @cached_property
    def _docs(self) -> list[dict]:
        rows: list[dict] = []
        for s in self.manifest["shards"]:
            rows.extend(pq.read_table(os.path.join(self.directory, s["files"][".docs.parquet"])).to_pylist())
        return rows

    def doc_id(self, i: int) -> str:
        self._locate(i)
        return self._docs[i]["id"]

    def language(self, i: int) -> str:
        self._locate(i)
        return self._docs[i]["language"]

    @cached_property
    def processor(self):
        import sentencepiece as spm

        return spm.SentencePieceProcessor(model_file=os.path.join(self.directory, MODEL_FILE))

    def text(self, i: int) -> str:
        return self.processor.decode(self.tokens(i).tolist())

    def documents(self) -> Iterator[dict]:
        """Every document as {id, language, tokens, text}, in shard order."""
        for i in range(len(self)):
            yield {"id": self.doc_id(i), "language": self.language(i), "tokens": self.tokens(i), "text": self.text(i)}

    def verify(self) -> list[str]:
        """Files whose SHA-256 differs from the manifest (empty when the shards are intact)."""
        bad = []
        for s in self.manifest["shards"]:
            for name in s["files"].values():
                if storage.sha256_file(os.path.join(self.directory, name)) != s["sha256"][name]:
                    bad.append(name)
        model = os.path.join(self.directory, MODEL_FILE)
        if storage.sha256_file(model) != self.manifest["tokenizer"]["sha256"]:
            bad.append(MODEL_FILE)
        return bad
