"""MinHash signatures, banding, shingles and normalization (pure logic, no Beam)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.hashfunc import sha1_hash32
from datasketch.lsh import _optimal_param

from corpusforge.transforms.dedup.lsh import bucket_pairs, components_union_find, large_star, node_key, small_star
from corpusforge.transforms.dedup.minhash import (band_keys, candidate_probability, false_candidate_mass,
                                                  optimal_bands_rows, recall_bands_rows, s_curve, s_curve_midpoint,
                                                  signatures_from_hashes)
from corpusforge.transforms.dedup.normalize import normalize_for_dedup, normalize_words
from corpusforge.transforms.dedup.shingles import hashed_shingles, jaccard, shingles, sorted_distinct
from dedup_planted import real_documents


def _ds_hashes(shs) -> np.ndarray:
    """datasketch's own 32-bit shingle hashes, to check our arithmetic on datasketch's inputs."""
    return np.array([sha1_hash32(s) for s in shs], dtype=np.uint32)


@pytest.fixture(scope="module")
def prose():
    return [d["text"] for d in real_documents()[:60]]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 42)])
def test_signatures_identical_to_datasketch(prose, scheme, num_perm, seed):
    sets = [sorted(s.encode() for s in shingles(t)) for t in prose] + [[]]
    ours = signatures_from_hashes([_ds_hashes(shs) for shs in sets], num_perm, seed, scheme)
    for row, shs in zip(ours, sets):
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        if shs:
            m.update_batch(shs)
        assert row.dtype == m.hashvalues.dtype
        assert np.array_equal(row, m.hashvalues)


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
def test_permutations_are_datasketchs_without_importing_it(scheme):
    import subprocess
    import sys

    from corpusforge.transforms.dedup.minhash import permutations
    for num_perm, seed in [(128, 1), (5, 0), (256, 42)]:
        a, b = permutations(num_perm, seed, scheme)
        da, db = MinHash(num_perm=num_perm, seed=seed, scheme=scheme).permutations
        assert a.dtype == np.asarray(da).dtype and np.array_equal(a, da) and np.array_equal(b, db)
    # A worker computing signatures does not pay for datasketch's import (its LSH imports scipy).
    code = ("import sys, numpy as np; from corpusforge.transforms.dedup.minhash import signatures_from_hashes; "
            f"signatures_from_hashes([np.arange(9, dtype=np.uint32)], 128, 1, {scheme!r}); "
            "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_signature_with_per_shingle_update_and_char_shingles(prose):
    shs = [s.encode() for s in shingles(prose[0], 4, "char")]
    m = MinHash(num_perm=128, seed=3)
    for s in shs:
        m.update(s)
    assert np.array_equal(signatures_from_hashes([_ds_hashes(shs)], 128, 3)[0], m.hashvalues)


def test_huge_document_is_chunked_identically(prose, monkeypatch):
    import corpusforge.transforms.dedup.minhash as mh

    hv = _ds_hashes([s.encode() for t in prose for s in shingles(t)])
    whole = signatures_from_hashes([hv])[0]
    monkeypatch.setattr(mh, "_MAX_MATRIX", 128 * 50)  # force slices of 50 shingles
    assert np.array_equal(signatures_from_hashes([hv[:10], hv, hv[:3]])[1], whole)


@pytest.mark.parametrize("threshold,num_perm", [(0.8, 128), (0.7, 256), (0.5, 64), (0.9, 128)])
def test_bands_rows_as_datasketch(threshold, num_perm):
    assert optimal_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_s_curve_masses_are_the_integrals_scipy_computes(threshold):
    """The exact polynomial quadrature of the S-curve's mass below and above the threshold gives scipy's
    adaptive `quad` values for every split of 64 permutations (a wrong node count or interval fails)."""
    from scipy.integrate import quad

    from corpusforge.transforms.dedup.minhash import _false_negative_probability, _false_positive_probability

    for b in range(1, 65):
        for r in range(1, 64 // b + 1):
            fp = quad(lambda s: 1 - (1 - s ** r) ** b, 0.0, threshold)[0]
            fn = quad(lambda s: (1 - s ** r) ** b, threshold, 1.0)[0]
            assert _false_positive_probability(threshold, b, r) == pytest.approx(fp, abs=1e-10)
            assert _false_negative_probability(threshold, b, r) == pytest.approx(fn, abs=1e-10)


def test_band_keys_match_datasketch_lsh_candidates(prose):
    """Two documents share a band key exactly when datasketch's MinHashLSH (same b, r) makes them candidates."""
    rng = random.Random(0)
    texts = prose[:30] + [" ".join(t.split()[: int(len(t.split()) * 0.9)]) for t in prose[:10]]
    b, r = optimal_bands_rows(0.8, 128)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    assert (lsh.b, lsh.r) == (b, r)
    keys = {}
    for i, t in enumerate(texts):
        m = MinHash(128)
        m.update_batch([s.encode() for s in shingles(t)])
        lsh.insert(str(i), m)
        keys[str(i)] = (m, set(band_keys(m.hashvalues[None, :], b, r)[0].tolist()))
    for i in rng.sample(sorted(keys), 15):
        ours = {j for j, (_, k) in keys.items() if k & keys[i][1]}
        assert ours == set(lsh.query(keys[i][0]))


def test_normalization_as_ccnet_dedup():
    assert normalize_for_dedup("Hello,  World! It's 2024.") == normalize_for_dedup("hello world its 1999")
    assert normalize_words("Ça coûte 12,50 €, n'est-ce pas?") == ["ça", "coûte", "0000", "nestce", "pas"]
    assert normalize_for_dedup("a b") != normalize_for_dedup("a c")


def test_exact_key_is_the_ccnet_normalized_text_with_digits():
    # The key is computed from the shingle words (one regex pass for both); it must stay the hash of CCNet's
    # normalization with digits kept, the key earlier runs stored in their state.
    import xxhash

    from corpusforge.transforms.dedup.exact import exact_hash

    texts = [d["text"] for d in real_documents(min_words=0)][:300] + [
        "snake_case __init__ ___", "Ça coûte 12,50 €, n'est-ce pas?", "İstanbul ΣΊΣΥΦΟΣ straße ß", "日本語の文章です。",
        "tab\tand\u00a0nbsp\u2028sep", "", "___", "x\udc00y", "① ² ٣ 𝟘 ½"]
    for t in texts:
        assert exact_hash(t) == xxhash.xxh3_128_hexdigest(
            normalize_for_dedup(t, fold_digits=False).encode("utf-8", "surrogatepass")), t[:80]
    assert exact_hash("Hello,  World!") == exact_hash("hello world") != exact_hash("hello world 2")


def test_shingles_are_lowercased_unicode_word_5grams():
    # The Jaccard the threshold refers to: lowercase, words = \w+ (Unicode), 5-gram set over the whole text.
    import re

    text = "Ça coûte 12,50 €.\nThe FIRST paragraph talks about boats; in the harbour!"
    ws = re.findall(r"\w+", text.lower())
    assert shingles(text) == {" ".join(ws[i:i + 5]) for i in range(len(ws) - 4)}
    assert "50 the first paragraph talks" in shingles(text)  # shingles span line breaks
    a = "The first paragraph talks about boats in the harbour.\nThe second one is about bread and cheese."
    b = "THE FIRST paragraph talks about boats, in the harbour!\nThe second one is about bread and cheese"
    assert shingles(a) == shingles(b)  # case and punctuation do not matter
    assert jaccard(shingles(a), shingles("Something else entirely, about trains and stations.")) == 0.0
    assert shingles("two words") == {"two words"}  # shorter than n: one shingle
    assert shingles("…!?") == set()
    assert shingles("ab cd", 3, "char") == {"ab ", "b c", " cd"}
    with pytest.raises(ValueError):
        shingles("x", kind="bytes")


@pytest.mark.parametrize("threshold", [0.6, 0.7, 0.75, 0.8, 0.85, 0.9])
def test_recall_banding_finds_pairs_at_the_threshold(threshold):
    b, r = recall_bands_rows(threshold, 128)
    assert b * r <= 128
    assert candidate_probability(threshold, b, r) >= 0.99
    # fewest false candidates among every split that reaches 0.99 at the threshold
    mass = false_candidate_mass(threshold, b, r)
    for rr in range(1, 129):
        for bb in range(1, 128 // rr + 1):
            if candidate_probability(threshold, bb, rr) >= 0.99:
                assert false_candidate_mass(threshold, bb, rr) >= mass - 1e-12


def test_s_curve_values():
    # 0.8 with 128 permutations: 16 bands x 6 rows; datasketch's optimum 9 x 13 finds a pair at 0.8 40% of
    # the time.
    assert recall_bands_rows(0.8, 128) == (16, 6) and recall_bands_rows(0.7, 128) == (17, 4)
    c = s_curve(16, 6, 0.8)
    assert c["p_at_threshold"] == pytest.approx(1 - (1 - 0.8 ** 6) ** 16) and c["p_at_threshold"] > 0.992
    assert c["midpoint_50pct"] == pytest.approx(0.5905, abs=1e-4)
    assert candidate_probability(s_curve_midpoint(16, 6), 16, 6) == pytest.approx(0.5)
    assert candidate_probability(0.8, 9, 13) == pytest.approx(0.40, abs=0.01)
    assert s_curve_midpoint(9, 13) == pytest.approx(0.82, abs=0.01)
    # impossible recall (1 permutation): the best split is returned
    assert recall_bands_rows(0.5, 1) == (1, 1)


def test_signatures_with_width_are_the_first_permutations(prose):
    hashes = hashed_shingles(prose[:5])
    full = signatures_from_hashes(hashes, 128, 1)
    part = signatures_from_hashes(hashes, 128, 1, width=96)
    assert np.array_equal(full[:, :96], part)


def test_hashed_shingles_are_the_shingle_sets(prose):
    """The pipeline's batched shingle hashes: one distinct sorted uint32 per shingle of `shingles()` (no
    collision on this prose), the same whatever the batch, and their Jaccard is the shingle-set Jaccard."""
    texts = prose[:40] + ["", "two words", "…!?", "a b c d e", "a b c d e f"]
    batch = hashed_shingles(texts)
    for t, h in zip(texts, batch):
        assert h.dtype == np.uint32 and np.all(np.diff(h.astype(np.int64)) > 0)
        assert len(h) == len(shingles(t))
    alone = [hashed_shingles([t])[0] for t in texts]
    assert all(np.array_equal(a, b) for a, b in zip(batch, alone))
    assert [len(h) for h in batch[-5:]] == [0, 1, 0, 1, 2]
    cut = " ".join(prose[0].split()[:-30])
    a, b = hashed_shingles([prose[0], cut])
    inter = np.intersect1d(a, b).size
    assert inter / (a.size + b.size - inter) == pytest.approx(jaccard(shingles(prose[0]), shingles(cut)))
    assert hashed_shingles(["Hello, World: again and again!"])[0].tolist() == \
        hashed_shingles(["hello world again and AGAIN"])[0].tolist()
    char = hashed_shingles(texts[:5], 4, "char")
    assert [len(h) for h in char] == [len(shingles(t, 4, "char")) for t in texts[:5]]
    with pytest.raises(ValueError):
        hashed_shingles(["x"], kind="bytes")


def test_sorted_distinct_is_numpy_unique():
    rng = np.random.default_rng(0)
    for dtype, n, high in ((np.uint64, 5000, 300), (np.uint32, 1000, 2**32 - 1), (np.uint64, 0, 1), (np.uint32, 1, 9)):
        a = rng.integers(0, high, n, dtype=dtype)
        got = sorted_distinct(a)
        assert got.dtype == a.dtype and np.array_equal(got, np.unique(a))


def test_band_keys_differ_across_bands():
    sig = np.zeros((2, 12), dtype=np.uint32)  # every band holds the same values
    keys = band_keys(sig, 4, 3)
    assert keys.shape == (2, 4) and len(set(keys[0].tolist())) == 4
    assert np.array_equal(keys[0], keys[1])


def test_bucket_pairs_all_pairs_then_window():
    ms = sorted(node_key(x) for x in "abcd")
    assert sorted(bucket_pairs(ms, 32)) == sorted((u, v) for i, u in enumerate(ms) for v in ms[i + 1:])
    big = sorted(node_key(f"n{i:03d}") for i in range(100))
    pairs = list(bucket_pairs(big, 4))
    assert len(pairs) == sum(min(4, 99 - i) for i in range(100))
    assert set(components_union_find(pairs).values()) == {big[0]}  # still one component
    early = [node_key("a", True), node_key("b", True), node_key("c")]
    assert list(bucket_pairs(early, 32)) == [(early[0], early[2]), (early[1], early[2])]


def test_star_steps_and_reference_components():
    assert large_star("b", ["a", "c", "d"]) == [("c", "a"), ("d", "a")]
    assert small_star("d", ["b", "c"]) == [("c", "b"), ("d", "b")]
    assert components_union_find([("b", "a"), ("c", "b"), ("e", "d")]) == {"a": "a", "b": "a", "c": "a", "d": "d",
                                                                           "e": "d"}


def test_representative_rank_keeps_the_copy_worth_keeping():
    from corpusforge.transforms.dedup.lsh import node_id, representative_rank

    text = "The Quick Brown Fox jumps over the lazy dog near the River Thames."
    original = node_key("b", rank=representative_rank(None, text))
    flattened = node_key("a", rank=representative_rank(None, text.lower()))
    assert min(original, flattened) == original  # more distinct characters wins over the smaller id
    fluent = node_key("z", rank=representative_rank(120.5, text))
    edited = node_key("a", rank=representative_rank(480.0, text))
    assert min(fluent, edited) == fluent  # lower perplexity first
    same = [node_key(i, rank=representative_rank(None, text)) for i in "cab"]
    assert node_id(min(same)) == "a"  # identical copies: the smallest id
    earlier = node_key("zz", earlier=True)
    assert min([earlier, fluent, original]) == earlier  # an earlier run's document always stays
    assert node_id(node_key("id\x1fwith separator", rank=representative_rank(1.0, "x"))) == "id\x1fwith separator"
