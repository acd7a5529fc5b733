"""MinHash signatures, computed for many documents at once, equal to datasketch's `MinHash.hashvalues`.

datasketch (Zhu et al.) hashes every shingle with `sha1_hash32` (the first 4 bytes of SHA-1, little endian)
and applies `num_perm` random permutations drawn from `np.random.RandomState(seed)`:
  * scheme "affine32" (datasketch >= 2.0 default): h = fmix32(sha1_hash32(x)); h -> a*h + b mod 2^32,
  * scheme "legacy" (datasketch < 2.0, text-dedup): h -> ((a*h + b) mod (2^61 - 1)) & (2^32 - 1), with
    a*h + b wrapping at 2^64 exactly as datasketch's uint64 numpy arithmetic does.
A document's signature is the per-permutation minimum. The per-document loop in datasketch runs one numpy
call per document (or per shingle with `update`); here the shingle hashes of a whole batch of documents are
stacked into one matrix and reduced per document with `np.minimum.reduceat`, which is the same arithmetic on
the same numbers, so the values are identical (tests/test_dedup_minhash.py checks that).

LSH banding follows Broder (1997) / Leskovec et al. "Mining of Massive Datasets" ch. 3: `bands` x `rows`
rows of the signature; two documents are candidates if any band is identical. `optimal_bands_rows` is
datasketch's `_optimal_param` (also used by text-dedup): minimize the equally weighted integrals of the
false-positive and false-negative probability around the threshold.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import xxhash

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH_LEGACY = np.uint64((1 << 32) - 1)
SCHEMES = ("affine32", "legacy")

# Bound on the shingles x permutations matrix built at once (elements): small enough to stay in cache.
_MAX_MATRIX = 1 << 19


def sha1_hash32(data: bytes) -> int:
    """datasketch.hashfunc.sha1_hash32."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int, scheme: str = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """(a, b) permutation parameters, taken from datasketch itself so they can never drift from it."""
    from datasketch import MinHash

    if scheme not in SCHEMES:
        raise ValueError(f"unknown MinHash scheme {scheme!r}: use one of {SCHEMES}")
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=scheme).permutations
    a, b = np.array(a), np.array(b)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(hv: np.ndarray) -> np.ndarray:
    # MurmurHash3 finalizer, as datasketch's _fmix for width 32.
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    return hv ^ (hv >> np.uint32(16))


def empty_signature(num_perm: int, scheme: str = "affine32") -> np.ndarray:
    if scheme == "legacy":
        return np.full(num_perm, MAX_HASH_LEGACY, dtype=np.uint64)
    return np.full(num_perm, np.uint32(0xFFFFFFFF), dtype=np.uint32)


def _permute(hv: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: str) -> np.ndarray:
    """(k,) shingle hashes -> (k, num_perm) permuted values."""
    if scheme == "legacy":
        x = hv.astype(np.uint64)[:, None] * a[None, :] + b[None, :]  # wraps at 2^64, as datasketch
        # x mod (2^61 - 1) without a division: 2^61 = 1 (mod p), so x = hi*2^61 + lo = hi + lo; hi <= 7.
        y = (x & MERSENNE_PRIME) + (x >> np.uint64(61))
        y -= MERSENNE_PRIME * (y >= MERSENNE_PRIME)
        return np.bitwise_and(y, MAX_HASH_LEGACY)
    h = _fmix32(hv.astype(np.uint32))
    return h[:, None] * a[None, :] + b[None, :]  # uint32: wraps at 2^32


def minhash_signatures(shingle_sets: Sequence[Iterable[bytes]], num_perm: int = 128, seed: int = 1,
                       scheme: str = "affine32") -> np.ndarray:
    """Signatures of many documents: (n_docs, num_perm) array, row i == datasketch MinHash(shingles_i).

    A document without shingles gets datasketch's empty signature (every value the maximum hash).
    """
    a, b = permutations(num_perm, seed, scheme)
    out = np.tile(empty_signature(num_perm, scheme), (len(shingle_sets), 1))
    sha1 = hashlib.sha1
    # sha1_hash32 of every shingle: 4 little-endian digest bytes each, read as one uint32 array per document.
    hashes = [np.frombuffer(b"".join([sha1(s).digest()[:4] for s in shs]), dtype="<u4") for shs in shingle_sets]
    max_rows = max(1, _MAX_MATRIX // num_perm)
    i = 0
    while i < len(hashes):
        # A chunk of documents whose shingles fit the matrix bound (a huge document is a chunk of its own,
        # processed in row slices).
        j, rows = i, 0
        while j < len(hashes) and (j == i or rows + len(hashes[j]) <= max_rows):
            rows += len(hashes[j])
            j += 1
        docs = [k for k in range(i, j) if len(hashes[k])]
        if len(docs) == 1 and rows > max_rows:
            hv = hashes[docs[0]]
            for s in range(0, len(hv), max_rows):
                out[docs[0]] = np.minimum(out[docs[0]], _permute(hv[s:s + max_rows], a, b, scheme).min(axis=0))
        elif docs:
            stacked = np.concatenate([hashes[k] for k in docs])
            starts = np.cumsum([0] + [len(hashes[k]) for k in docs[:-1]])
            out[docs] = np.minimum.reduceat(_permute(stacked, a, b, scheme), starts, axis=0)
        i = j
    return out


def minhash_signature(shingles: Iterable[bytes], num_perm: int = 128, seed: int = 1,
                      scheme: str = "affine32") -> np.ndarray:
    return minhash_signatures([list(shingles)], num_perm, seed, scheme)[0]


# ------------------------------------------------------------------------------------------- banding
def _false_positive_probability(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]


def _false_negative_probability(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]


@lru_cache(maxsize=64)
def optimal_bands_rows(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                       false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing weighted FP + FN probability mass, as datasketch's `_optimal_param`."""
    min_error, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (_false_positive_probability(threshold, b, r) * false_positive_weight
                     + _false_negative_probability(threshold, b, r) * false_negative_weight)
            if error < min_error:
                min_error, opt = error, (b, r)
    return opt


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents with this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity ** rows) ** bands


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """One unsigned 64-bit key per band: xxh3_64 of the band's values (little-endian uint64 bytes), seeded
    with the band index so equal values in different bands never share a bucket."""
    sig = np.ascontiguousarray(signature, dtype="<u8")
    return [xxhash.xxh3_64_intdigest(sig[i * rows:(i + 1) * rows].tobytes(), seed=i) for i in range(bands)]
