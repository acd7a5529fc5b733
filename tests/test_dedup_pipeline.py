"""The Deduplicate PTransform on the FnApiRunner: planted near duplicates from real prose, exact/URL/line
cases, multi-round connected components, verification, determinism across runs and worker counts."""
from __future__ import annotations

import json
from collections import Counter

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from corpusforge.config import DedupConfig
from corpusforge.pipelines.dedup import ConnectedComponents, _BandShards, _BucketPairs
from corpusforge.transforms.dedup.lsh import bucket_pairs, is_earlier, node_id, node_key
from corpusforge.transforms.dedup.shingles import jaccard, shingles
from dedup_planted import duplicate_scores, planted_set, real_documents, run_dedup

# Test-time bound; every test asserts that fewer rounds were needed, so results equal the default's.
ROUNDS = 8


@pytest.fixture(scope="module")
def planted():
    return planted_set(real_documents(min_words=150), seed=7)


@pytest.fixture(scope="module")
def planted_run(planted, tmp_path_factory):
    docs, _, _ = planted
    cfg = DedupConfig(enabled=True, max_rounds=ROUNDS)  # default threshold 0.8, 5-grams, 128 perms, 16x6, verified
    return run_dedup(docs, cfg, str(tmp_path_factory.mktemp("planted")))


def test_planted_precision_recall(planted, planted_run):
    docs, cluster, kind = planted
    dropped = {d["id"]: d["duplicate_of"] for d in planted_run["dropped"]}
    scores = duplicate_scores(dropped, cluster)
    print("planted set:", json.dumps(scores))
    assert scores["true_duplicates"] >= 300
    assert scores["precision"] >= 0.99
    # Recall where the threshold promises it: planted duplicates whose word 5-gram Jaccard to their original
    # is >= 0.8. (Shuffled paragraphs lose the 5-grams across paragraph boundaries: many fall below 0.8.)
    text = {d["id"]: d["text"] for d in docs}
    above = [d for d, c in cluster.items() if d != c and jaccard(shingles(text[d]), shingles(text[c])) >= 0.8]
    # a pair is found when one of the two is dropped into their cluster (which copy is kept is
    # lsh.representative_rank's choice)
    found = [d for d in above
             if (d in dropped and cluster.get(dropped[d]) == cluster[d])
             or (cluster[d] in dropped and cluster.get(dropped[cluster[d]]) == cluster[d])]
    assert len(above) >= 300 and len(found) / len(above) >= 0.99
    # hard negatives (unrelated pages sharing a long cookie banner: clusters of one) are never dropped
    size = Counter(cluster.values())
    assert not [d for d in dropped if d in cluster and size[cluster[d]] == 1]
    # every planted kind is represented and nothing is lost
    assert set(kind.values()) == {"edit", "reorder", "header", "exact"}
    assert len(planted_run["kept"]) + len(planted_run["dropped"]) == len(docs)
    assert planted_run["rounds"] < ROUNDS


def test_dropped_name_kept_representative_and_histogram(planted_run):
    kept = {d["id"] for d in planted_run["kept"]}
    reasons = Counter(d["reason"] for d in planted_run["dropped"])
    assert set(reasons) == {"dedup_exact", "dedup_near_duplicate"} and reasons["dedup_exact"] > 0
    assert all(d["duplicate_of"] in kept and d["stage"] == "dedup" for d in planted_run["dropped"])
    members = Counter(d["duplicate_of"] for d in planted_run["dropped"])
    expected = Counter(n + 1 for n in members.values())
    assert planted_run["cluster_sizes"] == dict(expected)


def _doc(i, text, url=None, **meta):
    return {"id": i, "text": text, "url": url, "meta": meta}


def test_exact_url_and_line_dedup(tmp_path):
    prose = [d["text"] for d in real_documents(min_words=150)[:6]]
    nav = "Home | Products | Support | Contact"
    boiler = "Subscribe to our newsletter for monthly release notes and security advisories."
    recs = [
        _doc("a1", prose[0], "https://www.example.org/page/"),
        _doc("a0", prose[0].lower().replace(".", " !").replace(" ", "  "), "https://example.org/other"),  # exact after normalization
        _doc("u2", prose[1], "http://example.org/page?utm_source=feed"),  # same URL as a1
        _doc("u1", prose[2], "https://example.org/x?b=1&a=2"),
        _doc("u3", prose[3] + "\n" + prose[3], "https://example.org/x?a=2&b=1#frag"),  # longest for this URL
        _doc("l1", nav + "\n" + prose[4] + "\n" + boiler),
        _doc("l2", nav + "\n" + boiler + "\n" + prose[5]),
        _doc("l3", nav + "\n" + boiler + "\nToo short. Really."),  # left with 2 sentences
    ]
    cfg = DedupConfig(enabled=True, url=True, url_keep="longest", line_dedup=True, minhash=False)
    r = run_dedup(recs, cfg, str(tmp_path))
    dropped = {d["id"]: (d["reason"], d["duplicate_of"]) for d in r["dropped"]}
    assert dropped == {
        # a0 is a1 with its case flattened: the exact step keeps a1, the copy with more distinct characters
        # (lsh.representative_rank); a1 then loses its URL to the longer u2, and a0's pointer follows.
        "a0": ("dedup_exact", "u2"),
        "a1": ("dedup_url", "u2"),
        "u1": ("dedup_url", "u3"),
        "l3": ("dedup_line_too_few_sentences", "l1"),
    }
    kept = {d["id"]: d for d in r["kept"]}
    assert set(kept) == {"u2", "u3", "l1", "l2"}
    assert kept["l1"]["text"].startswith(nav) and boiler in kept["l1"]["text"]  # l1 owns both lines
    assert nav not in kept["l2"]["text"] and boiler not in kept["l2"]["text"]
    assert kept["l2"]["meta"]["dedup_lines_removed"] == 2
    assert r["cluster_sizes"] == {2: 1, 3: 1}


def test_state_holds_the_kept_documents_with_the_lines_they_kept(tmp_path):
    from corpusforge.pipelines.dedup import read_state
    from corpusforge.transforms.dedup.exact import line_hashes

    prose = [d["text"] for d in real_documents(min_words=150)[:3]]
    nav = "Home | Products | Support | Contact"
    recs = [_doc("l1", nav + "\n" + prose[0]), _doc("l2", nav + "\n" + prose[1]),
            _doc("x1", prose[2]), _doc("x2", prose[2])]
    cfg = DedupConfig(enabled=True, line_dedup=True, minhash=False)
    r = run_dedup(recs, cfg, str(tmp_path / "run"), write_state_to=str(tmp_path / "state"))
    kept = {d["id"]: d["text"] for d in r["kept"]}
    assert set(kept) == {"l1", "l2", "x1"}
    rows = {row["id"]: row for row in read_state(str(tmp_path / "state"))}
    assert set(rows) == set(kept)  # x2, dropped as an exact copy, has no state row
    for i, text in kept.items():  # the one that lost the nav line has the hashes of the lines it kept
        assert list(rows[i]["line_hashes"]) == line_hashes(text)
    owner, other = sorted(("l1", "l2"), key=lambda i: nav not in kept[i])
    assert nav not in kept[other]
    assert line_hashes(nav)[0] in list(rows[owner]["line_hashes"])
    assert line_hashes(nav)[0] not in list(rows[other]["line_hashes"])


def test_giant_bucket_is_linear_and_resolves_to_smallest_id(tmp_path):
    text = real_documents(min_words=150)[0]["text"]
    recs = [_doc(f"g{i:04d}", text) for i in range(400)]
    # window 4: each member is paired with the next 4 only (linear), and the bucket is still one cluster
    r = run_dedup(recs, DedupConfig(enabled=True, exact=False, max_rounds=ROUNDS, max_bucket_size=50,
                                    bucket_window=4), str(tmp_path))
    assert [d["id"] for d in r["kept"]] == ["g0000"]
    assert {d["duplicate_of"] for d in r["dropped"]} == {"g0000"} and len(r["dropped"]) == 399
    assert r["cluster_sizes"] == {400: 1}
    assert r["rounds"] < ROUNDS


_SINK: dict[str, list] = {}


def _sink(value, name: str):
    # FnApiRunner in_memory runs in this process; the function is pickled by reference, so this is the
    # module's own dict.
    _SINK.setdefault(name, []).append(value)


def _bands_of_entry(entry):
    bucket, node = entry
    return (bucket,), node


def _bucket_pairs_through_shards(entries: list[tuple[int, str]], shards: int, chunk: int, window: int = 32):
    _SINK.clear()
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(["--no_save_main_session"])) as p:
        (p | beam.Create(entries) | beam.ParDo(_BandShards(shards, _bands_of_entry, chunk=chunk))
         | beam.GroupByKey() | beam.ParDo(_BucketPairs(window, 10_000)) | beam.Map(_sink, "pairs"))
    return sorted(_SINK.get("pairs", []))


def test_sharded_buckets_give_the_pairs_of_each_bucket():
    # Band keys of 64 bits (the top bit set too), buckets of 1 to 40 members, earlier-run nodes, entries sent
    # in chunks of 7 to 5 shards: the pairs are exactly each bucket's own pairs (members sorted, window 32).
    rng = np.random.default_rng(3)
    buckets = {}
    for b in range(60):
        key = int(rng.integers(0, 2**63)) * 2 + int(b % 2)
        size = 40 if b == 7 else int(rng.integers(1, 6))
        buckets[key] = sorted({node_key(f"d{int(x):03d}", earlier=bool(x % 5 == 0))
                               for x in rng.integers(0, 200, size)})
    entries = [(np.uint64(key), n) for key, ms in buckets.items() for n in ms]  # beyond the int64 coder
    rng.shuffle(entries)
    expected = sorted(pr for ms in buckets.values() if len(ms) > 1 and not is_earlier(ms[-1])
                      for pr in bucket_pairs(ms, 32))
    assert len(expected) > 100
    assert _bucket_pairs_through_shards([tuple(e) for e in entries], shards=5, chunk=7) == expected
    assert _bucket_pairs_through_shards([tuple(e) for e in entries], shards=1, chunk=10**6) == expected


def test_state_rows_without_band_keys_send_no_bucket_entries():
    # State of a run with MinHash off has null band keys: no entry, no crash; a row with keys gives entries of
    # an earlier-run node.
    from corpusforge.pipelines.dedup import _state_bands

    shards = _BandShards(4, _state_bands)
    shards.start_bundle()
    for row in ({"id": "a", "band_keys": None}, {"id": "b", "band_keys": []},
                {"id": "c", "band_keys": np.array([5, 6, 9], dtype=np.uint64)}):
        assert list(shards.process(row)) == []
    chunks = sorted((wv.value[0], wv.value[1][0].tolist(), wv.value[1][1].tolist()) for wv in shards.finish_bundle())
    earlier_c = node_key("c", earlier=True)
    assert chunks == [("1", [5, 9], [earlier_c, earlier_c]), ("2", [6], [earlier_c])]


def _components(buckets: list[list[str]], max_rounds: int):
    """Bucket members -> labels and rounds, through the pipeline's own bucket step and ConnectedComponents."""
    _SINK.clear()
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(["--no_save_main_session"])) as p:
        entries = p | beam.Create([(b, node_key(n)) for b, ms in enumerate(buckets) for n in ms])
        edges = (entries | beam.ParDo(_BandShards(3, _bands_of_entry, chunk=4)) | beam.GroupByKey()
                 | beam.ParDo(_BucketPairs(32, 10_000)))
        cc = edges | ConnectedComponents(max_rounds)
        cc["labels"] | "L" >> beam.Map(_sink, "labels")
        cc["rounds"] | "R" >> beam.Map(_sink, "rounds")
    assert len(_SINK["rounds"]) == 1
    return {node_id(n): node_id(rep) for n, rep in _SINK.get("labels", [])}, _SINK["rounds"][0]


def test_chain_needs_several_rounds():
    # a-b, b-c, c-d: no bucket holds both a and d
    labels, rounds = _components([["a", "b"], ["b", "c"], ["c", "d"]], ROUNDS)
    assert labels == {"b": "a", "c": "a", "d": "a"}
    assert rounds == 2
    # a long chain given in reverse order plus a separate component: still the smallest id everywhere
    chain = [f"n{i:02d}" for i in range(40)]
    buckets = [[chain[i], chain[i + 1]] for i in reversed(range(39))] + [["x", "y"], ["y", "z"]]
    labels, rounds = _components(buckets, ROUNDS)
    assert labels == {**{n: "n00" for n in chain[1:]}, "y": "x", "z": "x"}
    assert 2 <= rounds < ROUNDS


def test_components_fail_loudly_when_not_converged():
    # The chain a-b-c-d needs 2 rounds; with 2 the last round's input is not yet a star forest, so the labels
    # cannot be trusted: the pipeline must fail, naming the setting, rather than emit wrong clusters.
    with pytest.raises(Exception, match="did not converge in dedup.max_rounds=2"):
        _components([["a", "b"], ["b", "c"], ["c", "d"]], 2)
    labels, rounds = _components([["a", "b"], ["b", "c"], ["c", "d"]], 3)
    assert labels == {"b": "a", "c": "a", "d": "a"} and rounds == 2


def test_verification_cuts_false_positives(planted, tmp_path):
    docs, cluster, _ = planted
    docs = docs[:300]
    cluster = {d["id"]: cluster[d["id"]] for d in docs}
    # 40 bands of 1 row: almost any shared shingle makes a candidate pair, so the boilerplate-sharing hard
    # negatives collide; exact Jaccard verification must remove those edges.
    loose = dict(enabled=True, bands=40, rows=1, max_rounds=ROUNDS)
    raw = run_dedup(docs, DedupConfig(**loose, verify_jaccard=False), str(tmp_path / "raw"))
    ver = run_dedup(docs, DedupConfig(**loose), str(tmp_path / "ver"))  # verification is on by default
    s_raw = duplicate_scores({d["id"]: d["duplicate_of"] for d in raw["dropped"]}, cluster)
    s_ver = duplicate_scores({d["id"]: d["duplicate_of"] for d in ver["dropped"]}, cluster)
    print("unverified", s_raw, "verified", s_ver)
    assert s_raw["precision"] < 0.9
    assert s_ver["precision"] >= 0.95 and s_ver["recall"] >= 0.9


def test_deterministic_across_runs_and_workers(planted, planted_run, tmp_path):
    docs, _, _ = planted
    again = run_dedup(docs, DedupConfig(enabled=True, max_rounds=ROUNDS), str(tmp_path / "again"))
    assert again == planted_run
    multi = run_dedup(docs, DedupConfig(enabled=True, max_rounds=ROUNDS), str(tmp_path / "multi"),
                      num_workers=2, mode="multi_processing")
    assert multi == planted_run


def _letters(i: int) -> str:
    return "".join(chr(97 + int(c, 26)) for c in np.base_repr(i, 26))


def _pair_at(j_target: float, tag: str, n: int = 404) -> tuple[dict, dict, float]:
    """Two documents of n distinct words whose word 5-gram Jaccard is the closest to `j_target` from the
    same side: b keeps a's first m words and replaces the rest (shared 5-grams m-4 of n-4 each)."""
    words = [f"{tag}w{_letters(i)}" for i in range(n)]  # no digits: exact dedup folds digits to 0
    s = n - 4
    x = int(j_target * 2 * s / (1 + j_target))  # shared shingles, rounded down
    while x / (2 * s - x) < j_target:
        x += 1
    m = x + 4
    b = words[:m] + [f"{tag}x{_letters(i)}" for i in range(n - m)]
    return _doc(f"{tag}-a", " ".join(words)), _doc(f"{tag}-b", " ".join(b)), x / (2 * s - x)


def test_threshold_pairs_found_and_below_not_merged(tmp_path):
    above = [_pair_at(0.805, f"up{_letters(i)}") for i in range(8)]
    below = [_pair_at(0.79, f"lo{_letters(i)}") for i in range(8)]
    below = [(a, b, j) if j < 0.8 else None for a, b, j in below]
    assert all(0.8 < j < 0.81 for _, _, j in above) and all(below)
    recs = [d for a, b, _ in above + below for d in (a, b)]
    r = run_dedup(recs, DedupConfig(enabled=True, max_rounds=ROUNDS), str(tmp_path / "default"))
    dropped = {d["id"]: d["duplicate_of"] for d in r["dropped"]}
    # every pair just above 0.8 is found (P(candidate) >= 0.99 at 0.8, then verified) ...
    assert {f"up{_letters(i)}-b": f"up{_letters(i)}-a" for i in range(8)}.items() <= dropped.items()
    # ... and none just below is merged
    assert not [d for d in dropped if d.startswith("lo")]
    # Without verification the same banding makes most of the 0.79 pairs candidates and merges them.
    raw = run_dedup(recs, DedupConfig(enabled=True, max_rounds=ROUNDS, verify_jaccard=False), str(tmp_path / "raw"))
    assert len([d for d in raw["dropped"] if d["id"].startswith("lo")]) >= 6


def test_verified_pair_is_not_lost_to_a_third_document(tmp_path):
    # c shares a bucket with a and b but resembles neither; a and b are near duplicates. A star rooted at the
    # bucket's smallest node ("a0-c") verified member-vs-root would reject both edges; pairs keep a~b.
    a, b, j = _pair_at(0.9, "tri")
    words = a["text"].split()
    c = _doc("a0-c", " ".join(words[:60] + [f"c{_letters(i)}" for i in range(300)]))
    r = run_dedup([a, b, c], DedupConfig(enabled=True, bands=40, rows=1, max_rounds=ROUNDS), str(tmp_path))
    assert {d["id"]: d["duplicate_of"] for d in r["dropped"]} == {"tri-b": "tri-a"}


def test_state_with_other_params_is_refused(tmp_path):
    docs = [_doc(f"s{i}", t["text"]) for i, t in enumerate(real_documents(min_words=150)[:6])]
    run_dedup(docs, DedupConfig(enabled=True), str(tmp_path / "one"), write_state_to=str(tmp_path / "state"))
    other = DedupConfig(enabled=True, threshold=0.7)
    with pytest.raises(Exception, match="MinHash params .* band keys are not comparable"):
        run_dedup(docs, other, str(tmp_path / "two"), state_dir=str(tmp_path / "state"))
    # the same params: every document is a duplicate of its own earlier-run copy, verified with stored shingles
    again = run_dedup(docs, DedupConfig(enabled=True), str(tmp_path / "three"), state_dir=str(tmp_path / "state"))
    assert {d["id"]: d["duplicate_of"] for d in again["dropped"]} == {d["id"]: d["id"] for d in docs}


def test_lsh_summary_states_the_s_curve():
    from corpusforge.pipelines.dedup import lsh_summary, minhash_params

    s = lsh_summary(DedupConfig(enabled=True))
    assert (s["bands"], s["rows"], s["verify_jaccard"]) == (16, 6, True)
    assert s["p_at_threshold"] >= 0.99 and s["midpoint_50pct"] == pytest.approx(0.59, abs=0.01)
    assert s["params"] == minhash_params(DedupConfig(enabled=True)) and "b16r6" in s["params"]
    s7 = lsh_summary(DedupConfig(enabled=True, threshold=0.7))
    assert (s7["bands"], s7["rows"]) == (17, 4) and s7["p_at_threshold"] >= 0.99
    assert lsh_summary(DedupConfig(enabled=True, bands=9, rows=13))["p_at_threshold"] < 0.5


def test_state_keeps_urls_only_for_url_dedup(tmp_path):
    from corpusforge.pipelines.dedup import read_state

    docs = [_doc(f"s{i}", t["text"], f"https://example.org/u?mail=user{i}@example.com")
            for i, t in enumerate(real_documents(min_words=150)[:4])]
    run_dedup(docs, DedupConfig(enabled=True), str(tmp_path / "a"), write_state_to=str(tmp_path / "sa"))
    assert [r["url_key"] for r in read_state(str(tmp_path / "sa"))] == [None] * 4
    run_dedup(docs, DedupConfig(enabled=True, url=True), str(tmp_path / "b"), write_state_to=str(tmp_path / "sb"))
    assert all(r["url_key"] for r in read_state(str(tmp_path / "sb")))
