"""MinHash signatures, banding, shingles and normalization (pure logic, no Beam)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from corpusforge.transforms.dedup.lsh import bucket_star_edges, components_union_find, large_star, node_key, small_star
from corpusforge.transforms.dedup.minhash import band_keys, minhash_signature, minhash_signatures, optimal_bands_rows
from corpusforge.transforms.dedup.normalize import normalize_for_dedup, normalize_words
from corpusforge.transforms.dedup.shingles import jaccard, shingles
from dedup_planted import real_documents


@pytest.fixture(scope="module")
def prose():
    return [d["text"] for d in real_documents()[:60]]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 42)])
def test_signatures_identical_to_datasketch(prose, scheme, num_perm, seed):
    sets = [sorted(s.encode() for s in shingles(t)) for t in prose] + [[]]
    ours = minhash_signatures(sets, num_perm, seed, scheme)
    for row, shs in zip(ours, sets):
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        if shs:
            m.update_batch(shs)
        assert row.dtype == m.hashvalues.dtype
        assert np.array_equal(row, m.hashvalues)


def test_signature_with_per_shingle_update_and_char_shingles(prose):
    shs = [s.encode() for s in shingles(prose[0], 4, "char")]
    m = MinHash(num_perm=128, seed=3)
    for s in shs:
        m.update(s)
    assert np.array_equal(minhash_signature(shs, 128, 3), m.hashvalues)


def test_huge_document_is_chunked_identically(prose, monkeypatch):
    import corpusforge.transforms.dedup.minhash as mh

    shs = [s.encode() for t in prose for s in shingles(t)]
    whole = minhash_signature(shs)
    monkeypatch.setattr(mh, "_MAX_MATRIX", 128 * 50)  # force slices of 50 shingles
    assert np.array_equal(mh.minhash_signatures([shs[:10], shs, shs[:3]])[1], whole)


@pytest.mark.parametrize("threshold,num_perm", [(0.8, 128), (0.7, 256), (0.5, 64), (0.9, 128)])
def test_bands_rows_as_datasketch(threshold, num_perm):
    assert optimal_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


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
        keys[str(i)] = (m, set(enumerate(band_keys(m.hashvalues, b, r))))
    for i in rng.sample(sorted(keys), 15):
        ours = {j for j, (_, k) in keys.items() if k & keys[i][1]}
        assert ours == set(lsh.query(keys[i][0]))


def test_normalization_as_ccnet_dedup():
    assert normalize_for_dedup("Hello,  World! It's 2024.") == normalize_for_dedup("hello world its 1999")
    assert normalize_words("Ça coûte 12,50 €, n'est-ce pas?") == ["ça", "coûte", "0000", "nestce", "pas"]
    assert normalize_for_dedup("a b") != normalize_for_dedup("a c")


def test_shingles_ignore_paragraph_order_and_surface_changes():
    a = "The first paragraph talks about boats in the harbour.\nThe second one is about bread and cheese."
    b = "THE SECOND ONE is about bread, and cheese!\nThe first paragraph talks about boats in the harbour"
    assert shingles(a) == shingles(b)
    assert jaccard(shingles(a), shingles("Something else entirely, about trains and stations.")) == 0.0
    assert shingles("two words") == {"two words"}  # shorter than n: one shingle
    with pytest.raises(ValueError):
        shingles("x", kind="bytes")


def test_star_steps_and_reference_components():
    nodes = [node_key(x) for x in "dcba"] + [node_key("z", earlier=True)]
    assert sorted(bucket_star_edges(nodes)) == sorted((n, node_key("z", True)) for n in nodes[:4])
    assert list(bucket_star_edges([node_key("a", True), node_key("b", True)])) == []  # earlier-only bucket
    assert list(bucket_star_edges([node_key("a")])) == []
    assert large_star("b", ["a", "c", "d"]) == [("c", "a"), ("d", "a")]
    assert small_star("d", ["b", "c"]) == [("c", "b"), ("d", "b")]
    assert components_union_find([("b", "a"), ("c", "b"), ("e", "d")]) == {"a": "a", "b": "a", "c": "a", "d": "d",
                                                                           "e": "d"}
