"""MinHash signatures, computed for many documents at once, with datasketch's permutations and arithmetic.

datasketch (Zhu et al.) hashes every shingle to 32 bits (`sha1_hash32`) and applies `num_perm` random
permutations drawn from `np.random.RandomState(seed)` (drawn here the same way, `permutations`):
  * scheme "affine32" (datasketch >= 2.0 default): h = fmix32(hash); h -> a*h + b mod 2^32,
  * scheme "legacy" (datasketch < 2.0, text-dedup): h -> ((a*h + b) mod (2^61 - 1)) & (2^32 - 1), with
    a*h + b wrapping at 2^64 exactly as datasketch's uint64 numpy arithmetic does.
A document's signature is the per-permutation minimum. Here the 32-bit shingle hashes of a whole batch of
documents are stacked into one matrix and reduced per document with `np.minimum.reduceat`: the same
arithmetic on the same numbers, so given datasketch's shingle hashes the values are datasketch's
(tests/test_dedup_minhash.py checks that). The pipeline feeds it `shingles.hashed_shingles` (word hashes
combined with numpy instead of one SHA-1 per joined 5-gram string: faster, same 32-bit width).

LSH banding follows Broder (1997) / Leskovec et al. "Mining of Massive Datasets" ch. 3: `bands` x `rows`
rows of the signature; two documents are candidates if any band is identical. `optimal_bands_rows` is
datasketch's `_optimal_param` (also used by text-dedup): minimize the equally weighted integrals of the
false-positive and false-negative probability around the threshold. That optimum puts the 50% point near
the threshold (9 x 13 for 0.8: 50% at 0.84, a pair at 0.8 found 40% of the time), so the pipeline uses
`recall_bands_rows` instead: a pair at the threshold is a candidate with probability >= 0.99, and exact
Jaccard verification of every candidate removes the extra false candidates.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np

from corpusforge.config import DedupConfig
from corpusforge.transforms.dedup.shingles import POLY, fmix64

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH_LEGACY = np.uint64((1 << 32) - 1)
SCHEMES = ("affine32", "legacy")

# Bound on the shingles x permutations matrix built at once (elements): small enough to stay in cache.
_MAX_MATRIX = 1 << 19


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int, scheme: str = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """(a, b) permutation parameters, drawn as datasketch 2.0's `MinHash._init_permutations` draws them (the
    same generator calls in the same order, so the values are datasketch's; tests/test_dedup_minhash.py
    compares them with datasketch's own). Not taken from a datasketch object: importing datasketch imports
    its LSH and scipy with it (+0.9 s and +35 MB in every worker that computes signatures)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown MinHash scheme {scheme!r}: use one of {SCHEMES}")
    gen = np.random.RandomState(seed)
    if scheme == "legacy":  # one (a, b) pair per permutation, a in [1, p), b in [0, p)
        pairs = [(gen.randint(1, MERSENNE_PRIME, dtype=np.uint64), gen.randint(0, MERSENNE_PRIME, dtype=np.uint64))
                 for _ in range(num_perm)]
        a, b = np.array(pairs, dtype=np.uint64).T
    else:  # affine maps mod 2^32: an odd a (a bijection), any b
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
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


def signatures_from_hashes(hashes: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1,
                           scheme: str = "affine32", width: int | None = None) -> np.ndarray:
    """Signatures from `shingle_hashes` arrays: (n_docs, width or num_perm). `width` keeps only the first
    permutations of datasketch's `num_perm` set (what bands x rows uses), so the values stay datasketch's."""
    a, b = permutations(num_perm, seed, scheme)
    if width is not None:
        a, b = a[:width], b[:width]
    w = len(a)
    out = np.tile(empty_signature(w, scheme), (len(hashes), 1))
    max_rows = max(1, _MAX_MATRIX // w)
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


# ------------------------------------------------------------------------------------------- banding
@lru_cache(maxsize=None)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _integral_of_polynomial(f, lo: float, hi: float, degree: int) -> float:
    """Integral of `f` over [lo, hi], exact (up to rounding) when `f` is a polynomial of at most `degree`:
    Gauss-Legendre with n nodes is exact to degree 2n - 1. The S-curve and its complement are polynomials of
    degree bands*rows, so no adaptive quadrature (scipy's `quad`, whose import alone took 0.8 s of every
    dedup run's start) is needed; the two agree to 4e-13 on every split of 128 permutations."""
    x, w = _gauss_legendre(max(1, (degree + 2) // 2))
    half = 0.5 * (hi - lo)
    return half * float(w @ f(half * x + 0.5 * (hi + lo)))


def _false_positive_probability(threshold: float, b: int, r: int) -> float:
    return _integral_of_polynomial(lambda s: 1 - (1 - s ** r) ** b, 0.0, threshold, b * r)


def _false_negative_probability(threshold: float, b: int, r: int) -> float:
    return _integral_of_polynomial(lambda s: (1 - s ** r) ** b, threshold, 1.0, b * r)


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
    """Probability that two documents with this Jaccard similarity share at least one band: the LSH
    S-curve 1 - (1 - s^rows)^bands (Leskovec et al., MMDS 3.4.2)."""
    return 1.0 - (1.0 - similarity ** rows) ** bands


def s_curve_midpoint(bands: int, rows: int) -> float:
    """Similarity found with probability 1/2: (1 - 2^(-1/bands))^(1/rows)."""
    return (1.0 - 0.5 ** (1.0 / bands)) ** (1.0 / rows)


def false_candidate_mass(threshold: float, bands: int, rows: int) -> float:
    """Integral of the S-curve below the threshold (datasketch's false-positive measure): how many pairs
    under the threshold become candidates, weighting every similarity alike."""
    return _false_positive_probability(threshold, bands, rows)


@lru_cache(maxsize=64)
def recall_bands_rows(threshold: float, num_perm: int, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm that find a pair at `threshold` with probability >= `recall`
    and have the least false-candidate mass below the threshold (candidates are verified exactly, so a
    false candidate costs one Jaccard check, while a missed pair is lost).

    For each row count, the fewest bands that reach `recall` is best (more bands only add candidates):
    bands = ceil(log(1 - recall) / log(1 - threshold^rows)). If no split of `num_perm` reaches `recall`,
    the split with the highest probability at the threshold is returned.
    """
    best, best_mass, fallback = None, float("inf"), (0.0, (1, num_perm))
    for r in range(1, num_perm + 1):
        p_band = threshold ** r
        b = max(1, math.ceil(math.log1p(-recall) / math.log1p(-p_band))) if p_band < 1 else 1
        if b * r <= num_perm:
            mass = false_candidate_mass(threshold, b, r)
            if mass < best_mass:
                best, best_mass = (b, r), mass
        b_max = num_perm // r
        p = candidate_probability(threshold, b_max, r)
        if p > fallback[0]:
            fallback = (p, (b_max, r))
    return best if best is not None else fallback[1]


def bands_rows(cfg: DedupConfig) -> tuple[int, int]:
    """The banding a dedup config asks for: its explicit bands x rows, else `recall_bands_rows` for its
    threshold."""
    if cfg.bands is not None:
        return cfg.bands, cfg.rows
    return recall_bands_rows(cfg.threshold, cfg.num_perm, cfg.threshold_recall)


def s_curve(bands: int, rows: int, threshold: float) -> dict:
    """The S-curve facts stats.json and the docs state: formula, 50% point, P at the threshold and at
    threshold - 0.1 / + 0.1."""
    p = lambda s: round(candidate_probability(s, bands, rows), 6)  # noqa: E731
    return {"formula": "P(candidate | J=s) = 1-(1-s^rows)^bands", "bands": bands, "rows": rows,
            "midpoint_50pct": round(s_curve_midpoint(bands, rows), 4), "threshold": threshold,
            "p_at_threshold": p(threshold), "p_at_threshold_minus_0.1": p(max(0.0, threshold - 0.1)),
            "p_at_threshold_plus_0.1": p(min(1.0, threshold + 0.1))}


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, >= bands*rows) signatures -> (n_docs, bands) uint64 band keys, for a whole batch at once: the
    polynomial of the band's `rows` values (mod 2^64), started from the band index so equal values in
    different bands never share a key, finished with MurmurHash3's fmix64."""
    sig = np.asarray(signatures)[:, :bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    with np.errstate(over="ignore"):
        h = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), sig.shape[:2]).copy()
        for j in range(rows):
            h = h * POLY + sig[:, :, j]
        return fmix64(h)
