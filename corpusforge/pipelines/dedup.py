"""Dedup as Beam composite PTransforms: exact, URL, MinHash-LSH near-duplicates, C4-style lines.

Shuffle no text. One pass over the documents computes every key a decision needs; all decisions are made
on small keyed records; the documents meet their decisions in the final join, which (like the exact group,
the LSH buckets, both verification steps, shingle hashes to pairs and pairs to their two ends' hashes, and
the moves of dropped documents' pointers) goes through sorted run files
(`pipelines/shards.GroupBySortedRuns`): only run paths cross a shuffle there, and a worker holds one key's
values at a time instead of its whole share of the shuffle (on the FnApiRunner a GroupByKey's output reaches
a worker as one message). What crosses each shuffle (or, marked "runs", each run file), in pickled bytes per
document measured on the development set (10,512 documents, 1,206 B of text and 153 distinct word 5-grams on
average; a Document pickles to 1,461 B; how: bench/results/dedup.md):

  shuffle              | key          | value                                           | bytes per document
  ExactGroup (runs)    | exact hash   | Keys (id, exact, url, url order, band keys)      | 297 (+9 per line hash
  UrlGroup             | URL key      | Keys of the survivors with a URL                 | 297   with line dedup)
  Buckets (runs)       | shard        | numpy chunks of (band key, node id); shard = band | ~39 x 16 bands
                       |              | key mod bucket_shards, a few chunks per bundle     |
  VerifyJoin (runs)    | node         | its candidate pairs; sorted uint32 shingle hashes | 779 + 2 x pairs
                       |              | (raw bytes)                                       |
  VerifyGroup (runs)   | pair         | the two nodes' shingle hashes                    | 2 x 779 per pair
  Components (rounds)  | node         | node ids (verified edges)                        | ~40 per edge
  LabelJoin            | node         | Keys + representative (only with line dedup)     | 297
  Resolve (runs, per   | id           | Drop (id, reason, duplicate_of, signals)         | 123 per dropped doc
  step)                |              |                                                  |
  LineGroup            | line hash    | node id                                          | ~40 per line
  FinalJoin (runs)     | id           | Document + Drop + removed lines                  | 1,461
  WriteState (runs)    | id           | state row (str + raw hash bytes) + kept marker     | 813

Nothing gathers the corpus, its signatures or its edges onto one worker: every decision is a GroupByKey on
a key (a hash, a URL, a shard of band keys, a node) followed by a per-key function from corpusforge.transforms.dedup.
The only global value is one int, the connected-components round count, checked before any label is used
(the run fails if the components did not converge in `max_rounds`).

Cost (issue 11, bench/results/dedup.md): the shingle hashes, signatures and band keys of a batch of documents
are computed with numpy for the whole batch (`shingles.hashed_shingles`, `minhash.band_keys`) from one
regex pass over the words that also gives the exact key; the band entries cross the bucket grouping as numpy
chunks per shard, a bucket being a run of equal keys in its sorted shard (one element per band and document
was most of the dedup's shuffled elements, each with the runner's fixed per-element cost); a candidate
pair seen in several buckets is deduplicated inside the first verification join (no Distinct shuffle); on
the FnApiRunner every GroupByKey is a stage with a fixed cost, so connected-components rounds are bounded by
`max_rounds` (default 20) and the run fails loudly if they do not suffice. The FnApiRunner also turns every
Flatten of two or more inputs (each CoGroupByKey has one) into a stage that decodes and re-encodes every
element, so: no Flatten with the state when there is none, one element per document on the document side of
the final join, near-duplicate Drops made from the labels without a join with the Keys, and the shingles
of a node cross a second shuffle only towards its candidate pairs.

Near duplicates (issue 11). Bands x rows make a pair at the threshold a candidate with probability >= 0.99
(`minhash.recall_bands_rows`; S-curve in `lsh_summary`). Every LSH bucket yields candidate PAIRS, each
member with the next `bucket_window` members in id order (all pairs in a bucket of <= window+1 documents,
linear in a giant one), and each pair is verified by the exact Jaccard of the two documents' shingle sets,
so an edge means "these two documents are >= threshold similar", never "both met a third document in a
bucket". Clusters are the connected components of verified edges (so a chain A~B~C can join A and C: the
rule text-dedup and datatrove use too).

Order: exact -> URL -> near duplicates -> lines. A document dropped at one step names the document it
duplicates; if that one is dropped at a later step, the pointer is moved to the later step's representative,
so `duplicate_of` always names a kept document (or a document of an earlier run). Every representative is
the smallest node of its group: an earlier run's document first, then the best `lsh.representative_rank`
(lowest perplexity, most distinct characters), then the smallest id. Same input, same
result, whatever the worker count or bundle order.

Refresh: with `state_dir`, the state rows of earlier runs (exact hash, URL key, band keys, shingle hashes,
and line hashes when line dedup is on, per kept id; Parquet) join every step, so a new document that duplicates an earlier one is
dropped naming it, after the same verification. State written with other MinHash params is refused.
"""
from __future__ import annotations

import json
import logging
import tempfile
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from corpusforge import storage
from corpusforge.config import ConfigError, DedupConfig
from corpusforge.io.writers import iter_parquet_rows, repeated
from corpusforge.pipelines.shards import GroupBySortedRuns, WriteSortedShards
from corpusforge.records import Document, Dropped
from corpusforge.transforms.dedup import exact as exact_mod
from corpusforge.transforms.dedup import lsh
from corpusforge.transforms.dedup.minhash import band_keys, bands_rows, s_curve, signatures_from_hashes
from corpusforge.transforms.dedup.shingles import hashed_shingles_of_words, words
from corpusforge.transforms.dedup.url import normalize_url, url_keep_order

log = logging.getLogger("corpusforge.dedup")

STAGE = "dedup"
NS = "corpusforge.dedup"
STATE_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("exact_hash", pa.string()),
    ("url_key", pa.string()),
    ("band_keys", pa.list_(pa.uint64())),
    ("line_hashes", pa.list_(pa.uint64())),
    repeated("params", pa.string()),
    ("shingle_hashes", pa.list_(pa.uint32())),  # sorted; empty when verification is off
])
# What shingles are made of and how shingles and bands are hashed; part of the params, so state made with the
# old per-line shingles ("uwords" alone: SHA-1 per joined 5-gram, xxh3 band keys) is refused.
SHINGLE_TOKENS = "uwords-xxpoly"


def minhash_params(cfg: DedupConfig) -> str:
    """What band keys depend on; state written with other params cannot be compared with this run's. The
    text compared is named only when it is not the kept text (state written before `compare_text` existed
    compared the kept text)."""
    b, r = bands_rows(cfg)
    text = "" if cfg.compare_text == "kept" else f"-{cfg.compare_text}text"
    return f"{cfg.shingle}{cfg.ngram}-{SHINGLE_TOKENS}-perm{cfg.num_perm}-seed{cfg.seed}-{cfg.scheme}-b{b}r{r}{text}"


def lsh_summary(cfg: DedupConfig) -> dict:
    """The banding facts for stats.json: S-curve (formula, 50% point, P at the threshold), params, checks."""
    b, r = bands_rows(cfg)
    return {**s_curve(b, r, cfg.threshold), "params": minhash_params(cfg), "shingle": cfg.shingle,
            "ngram": cfg.ngram, "num_perm": cfg.num_perm, "permutations_used": b * r,
            "verify_jaccard": cfg.verify_jaccard, "bucket_window": cfg.bucket_window, "compare_text": cfg.compare_text}


class Keys(NamedTuple):
    """The small record every decision works on: a document's keys, never its text (a NamedTuple: it
    pickles without field names)."""

    id: str
    exact: str
    url: str | None
    order: Any = None  # url_keep sort key, only when URL dedup is on
    bands: tuple = ()
    lines: tuple = ()  # only when line dedup is on
    rank: str = ""  # lsh.representative_rank: which copy of a cluster is kept

    @property
    def node(self) -> str:
        return lsh.node_key(self.id, rank=self.rank)


class Drop(NamedTuple):
    """A dedup decision to drop document `id` as a duplicate of `duplicate_of`."""

    id: str
    reason: str
    duplicate_of: str
    signals: dict = {}


# ------------------------------------------------------------------------------------ state I/O
def state_files(state_dir: str) -> list[str]:
    """Parquet files of a state: a refresh version (state.json lists them), a state root (LATEST points to
    the version), or a plain directory of Parquet shards (a curate run's state/)."""
    d = state_dir.rstrip("/")
    if storage.exists(f"{d}/LATEST"):
        d = f"{d}/{json.loads(storage.read_text(f'{d}/LATEST'))['version_dir']}"
    if storage.exists(f"{d}/state.json"):
        manifest = json.loads(storage.read_text(f"{d}/state.json"))
        root = d.rsplit("/", 2)[0]
        return [f"{root}/{rel}" for rel in manifest["files"]]
    if not storage.exists(d):
        raise ConfigError(f"dedup state {state_dir!r} does not exist")
    return storage.match(f"{d}/*.parquet")


def _read_state_file(path: str, expected_params: str | None):
    for row in iter_parquet_rows(path):
        if expected_params and row["band_keys"] and row["params"] != expected_params:
            raise ValueError(
                f"dedup state {path} was written with MinHash params {row['params']!r}, this run uses "
                f"{expected_params!r}: band keys are not comparable. Use the same dedup settings (a state written "
                "before dedup.compare_text existed needs compare_text: kept) or a new state_dir.")
        yield row


class ReadState(beam.PTransform):
    def __init__(self, state_dir: str, expected_params: str | None = None):
        super().__init__()
        self.files = state_files(state_dir)
        self.expected_params = expected_params

    def expand(self, pbegin):
        return (pbegin
                | "StateFiles" >> beam.Create(self.files)
                | "ReadStateRows" >> beam.FlatMap(_read_state_file, self.expected_params))


def read_state(state_dir: str) -> list[dict]:
    """All state rows, in memory: for tests and inspection of small states only."""
    return [r for p in state_files(state_dir) for r in _read_state_file(p, None)]


def _write_empty_shards(_, path: str, total: int):
    """Every shard exists after the write, even one no row hashed to (a reader lists them all)."""
    from corpusforge.io.writers import shard_name, write_parquet_atomic

    for i in range(total):
        p = f"{path}/{shard_name('part', i, total, 'parquet')}"
        if not storage.exists(p):
            write_parquet_atomic([], STATE_SCHEMA, p)
    return path


class WriteState(beam.PTransform):
    """Deduplicate's "state" ((id, state row) of every document that reached dedup) -> the state of the
    documents the run finally keeps: `path/part-NNNNN-of-MMMMM.parquet`, rows sorted by id, each file written
    atomically, through sorted runs (pipelines/shards.py: only run paths cross a shuffle).

    `kept_ids`: (id, anything) of the documents finally kept (a document a later stage drops, e.g. by the PII
    policy, gets no state row); `lines`: Deduplicate's "state_lines", the hashes of the lines a kept document
    has left after line dedup. Both are joined to the rows as the shard's sorted runs are merged."""

    def __init__(self, path: str, kept_ids, lines=None, num_shards: int = 4):
        super().__init__()
        self.path, self.num_shards = path.rstrip("/"), num_shards
        self.kept_ids, self.lines = kept_ids, lines

    def expand(self, rows):
        facts = self.kept_ids | "KeptFact" >> beam.Map(_kept_fact)
        if self.lines is not None:
            facts = (facts, self.lines | "LinesFact" >> beam.Map(_lines_fact)) | "StateFacts" >> beam.Flatten()
        parent, name = self.path.rsplit("/", 1)
        written = rows | "WriteStateShards" >> WriteSortedShards(
            self.path, f"{parent}/_runs/{name}", self.num_shards, STATE_SCHEMA, _state_id, key_fn=_first,
            row_fn=_second, facts=facts, join_fn=_state_of_kept)
        return (written
                | "StateWritten" >> beam.combiners.Count.Globally()
                | "FillEmptyStateShards" >> beam.Map(_write_empty_shards, self.path, self.num_shards))


def _state_id(row: tuple) -> str:
    return row[0]  # `state_row`'s tuple starts with the id


def _first(kv):
    return kv[0]


def _second(kv):
    return kv[1]


def _kept_fact(kv):
    return kv[0], ("kept", None)


def _lines_fact(kv):
    return kv[0], ("lines", kv[1])


def _state_of_kept(row: tuple, facts: list) -> dict | None:
    """A document's state row (STATE_SCHEMA) if it is kept, with the hashes of the lines line dedup left it;
    else None. `row` is `state_row`'s tuple."""
    if not any(tag == "kept" for tag, _ in facts):
        return None
    lines = [v for tag, v in facts if tag == "lines"]
    doc_id, exact, url, bands, line_hashes, params, shingles = row
    return {"id": doc_id, "exact_hash": exact, "url_key": url, "band_keys": np.frombuffer(bands, dtype=np.uint64),
            "line_hashes": np.frombuffer(lines[0] if lines else line_hashes, dtype=np.uint64), "params": params,
            "shingle_hashes": np.frombuffer(shingles, dtype=np.uint32)}


def state_row(k: "Keys", shingles, lines, params: str) -> tuple:
    """One document's state row as it crosses the write's shuffle: (id, exact hash, URL key, band keys, line
    hashes, params, shingle hashes), the hash lists as raw uint64/uint32 bytes. Beam encodes a tuple of str
    and bytes without pickle: measured on the development set, 813 instead of 1,317 bytes per row, 15x faster
    to encode and decode, and a quarter of the memory once decoded (1,051 instead of 3,883 bytes), which is
    what a worker holds of its share of the write. `_state_of_kept` makes the STATE_SCHEMA row."""
    return (k.id, k.exact, k.url, np.asarray(k.bands, dtype=np.uint64).tobytes(),
            np.asarray(lines, dtype=np.uint64).tobytes(), params,
            shingles.tobytes() if shingles is not None else b"")


# ------------------------------------------------------------------------------------------ keys
class _ComputeKeys(beam.DoFn):
    """Batches of Documents -> Keys (main), (node, sorted distinct uint32 shingle hashes as raw bytes)
    ("shingles", when verifying; `shingle_array` reads them), (id, Document) ("docs", for the final join) and
    (id, state row) ("state", for the state of the documents the run keeps; `WriteState`).

    The only step that reads the text before the final join: the text as read (`Document.read_text`, when C4
    removed lines) or as kept, per `compare_text`; documents go on to the final join without `read_text`.
    Shingle hashes, signatures and band keys are computed with numpy for the whole batch. Signatures use the
    first bands*rows of datasketch's `num_perm` permutations (the rest would never reach a band)."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.params = minhash_params(cfg) if cfg.minhash else ""
        self.bands, self.rows = bands_rows(cfg) if cfg.minhash else (0, 0)
        self._docs = Metrics.counter(NS, "signatures")
        self._empty = Metrics.counter(NS, "no_shingles")

    def _order(self, doc: Document):
        if not self.cfg.url:
            return None
        f = self.cfg.url_date_field
        date = doc.meta.get(f) if f else None
        return url_keep_order(self.cfg.url_keep, doc.id, len(doc.text), str(date) if date is not None else None,
                              (doc.source, doc.line))

    def process(self, batch: list[Document]):
        cfg = self.cfg
        # The URL key exists only for URL dedup: otherwise nothing (not even the state) keeps a copy of URLs,
        # which may hold personal data (user names, e-mail addresses in query strings).
        # The exact key and the shingles are made of the text as read (before C4 removed lines) or as kept.
        ws = [words(d.read_text or d.text if cfg.compare_text == "read" else d.text) for d in batch]
        keys = [Keys(d.id, exact_mod.exact_hash_of_words(w), normalize_url(d.url) if cfg.url else None, self._order(d),
                     (), tuple(exact_mod.line_hashes(d.text)) if cfg.line_dedup else (),
                     lsh.representative_rank(d.meta.get("perplexity"), d.text)) for d, w in zip(batch, ws)]
        shingles = [None] * len(batch)
        if cfg.minhash:
            # Sorted distinct shingle hashes for the whole batch at once (numpy, no per-shingle Python).
            hashes = hashed_shingles_of_words(ws, cfg.ngram, cfg.shingle)
            sigs = signatures_from_hashes(hashes, cfg.num_perm, cfg.seed, cfg.scheme, width=self.bands * self.rows)
            bands = band_keys(sigs, self.bands, self.rows).tolist()
            self._docs.inc(len(batch))
            for i, (hv, bk) in enumerate(zip(hashes, bands)):
                if not hv.size:
                    # No shingles (no word at all): all such documents would share every bucket.
                    self._empty.inc()
                    continue
                keys[i] = keys[i]._replace(bands=tuple(bk))
                if cfg.verify_jaccard:
                    shingles[i] = hv
                    yield beam.pvalue.TaggedOutput("shingles", (keys[i].node, hv.tobytes()))
        for d, k, sh in zip(batch, keys, shingles):
            # The text and the hashes travel apart: the final join moves only the documents (on the FnApiRunner a
            # worker holds its whole share of a shuffle at once, so every byte in the largest one counts).
            yield beam.pvalue.TaggedOutput("docs", (d.id, d.without_read_text()))
            yield beam.pvalue.TaggedOutput("state", (d.id, state_row(k, sh, k.lines, self.params)))
            yield k


# ------------------------------------------------------------------------------------- per step
def _drop(k: Keys, reason: str, duplicate_of: str, **signals) -> beam.pvalue.TaggedOutput:
    return beam.pvalue.TaggedOutput("dropped", Drop(k.id, reason, duplicate_of, signals))


def _decide_exact(item):
    _, groups = item
    new = sorted(groups["new"], key=lambda k: (k.rank, k.id))  # the copy worth keeping first
    earlier = sorted(groups.get("earlier", ()))  # no "earlier" input without a state
    if not new:
        return
    if earlier:
        for k in new:
            yield _drop(k, "dedup_exact", earlier[0], earlier_run=True)
        return
    yield new[0]
    for k in new[1:]:
        yield _drop(k, "dedup_exact", new[0].id)


def _exact_key(k: Keys):
    return k.exact, k


def _state_exact_key(row: dict):
    return row["exact_hash"], row["id"]


def _has_url(row: dict) -> bool:
    return bool(row["url_key"])


def _state_url_key(row: dict):
    return row["url_key"], row["id"]


def _url_order(k: Keys):
    return k.order


class _DecideUrl(beam.DoFn):
    def __init__(self, policy: str):
        self.policy = policy

    def process(self, item):
        _, groups = item
        new = sorted(groups["new"], key=_url_order)
        earlier = sorted(groups.get("earlier", ()))
        if not new:
            return
        if earlier:
            for k in new:
                yield _drop(k, "dedup_url", earlier[0], earlier_run=True)
            return
        yield new[0]
        for k in new[1:]:
            yield _drop(k, "dedup_url", new[0].id, url_keep=self.policy)


def _key_url(k: Keys):
    if k.url is None:
        yield beam.pvalue.TaggedOutput("no_url", k)
    else:
        yield k.url, k


# ------------------------------------------------------------------------------- LSH candidates
def _keys_bands(k: Keys):
    return k.bands, k.node


def _state_bands(row: dict):
    bands = row["band_keys"]  # null when MinHash was off in the run that wrote the state
    return (() if bands is None else bands), lsh.node_key(row["id"], earlier=True)


class _BandShards(beam.DoFn):
    """Band keys of documents -> (shard, (band keys, nodes)) chunks, shard = str(band key mod `shards`).

    The LSH buckets cross their grouping (sorted run files) as numpy arrays, a few per bundle and shard,
    instead of one element per band and document (16 per document at threshold 0.8: most of the elements the
    dedup shuffled, each with its fixed per-element cost in the runner). A bucket's entries all land in one
    shard, where `_BucketPairs` sorts them. `entries_fn(element)` -> (band keys, node). At most `chunk` entries
    are held before they are sent (memory bounded per bundle; 32,768 instead of 131,072 took 20 MB off the worst
    worker at 80,000 documents, BENCHMARKS.md "Reliability", thirteenth session)."""

    def __init__(self, shards: int, entries_fn, chunk: int = 1 << 15):
        self.shards, self.entries_fn, self.chunk = shards, entries_fn, chunk

    def start_bundle(self):
        self._bands, self._nodes, self._n = [], [], 0

    def process(self, element):
        bands, node = self.entries_fn(element)
        if len(bands):
            self._bands.append(np.asarray(bands, dtype=np.uint64))
            self._nodes.append(node)
            self._n += len(bands)
            if self._n >= self.chunk:
                yield from self._flush()

    def finish_bundle(self):
        window = GlobalWindow()
        for kv in self._flush():
            yield WindowedValue(kv, window.max_timestamp(), (window,))

    def _flush(self):
        if not self._bands:
            return
        counts = np.fromiter(map(len, self._bands), dtype=np.int64, count=len(self._bands))
        keys = np.concatenate(self._bands)
        nodes = np.repeat(np.array(self._nodes, dtype=object), counts)
        self._bands, self._nodes, self._n = [], [], 0
        shard = keys % np.uint64(self.shards)
        order = np.argsort(shard, kind="stable")
        keys, nodes, shard = keys[order], nodes[order], shard[order]
        for s, e in lsh.runs(shard):
            yield str(shard[s]), (keys[s:e], nodes[s:e])


def _state_shingles(row: dict):
    sh = row.get("shingle_hashes")
    if sh:
        yield lsh.node_key(row["id"], earlier=True), np.asarray(sh, dtype=np.uint32).tobytes()


class _BucketPairs(beam.DoFn):
    """One shard of LSH buckets (`_BandShards` chunks) -> candidate pairs (smaller node, larger node) of each
    bucket, each member with the next `window` members: all pairs of a normal bucket, a linear number in a
    giant one (shared boilerplate). Buckets are the runs of equal band keys once the shard is sorted."""

    def __init__(self, window: int, max_bucket_size: int):
        self.window, self.max_bucket_size = window, max_bucket_size
        self._buckets = Metrics.counter(NS, "buckets_with_candidates")
        self._giant = Metrics.counter(NS, "giant_buckets")
        self._size = Metrics.distribution(NS, "bucket_size")

    def process(self, item):
        _, chunks = item
        chunks = list(chunks)
        for members in lsh.shared_buckets(np.concatenate([c[0] for c in chunks]),
                                          np.concatenate([c[1] for c in chunks])):
            if lsh.is_earlier(members[-1]):
                continue
            self._buckets.inc()
            self._size.update(len(members))
            if len(members) > self.max_bucket_size:
                self._giant.inc()
                log.warning("LSH bucket of %d documents (> dedup.max_bucket_size %d): pairing each with the next "
                            "%d", len(members), self.max_bucket_size, self.window)
            yield from lsh.bucket_pairs(members, self.window)


# -------------------------------------------------------------------------- connected components
def _both_directions(edge):
    u, v = edge
    if u == v:
        return
    yield u, v
    yield v, u


class _LargeStar(beam.DoFn):
    """Large-star at one node; also reports (tagged "violation", the round number) whether the node breaks
    the converged (star forest) shape."""

    def __init__(self, k: int):
        self.k = k

    def process(self, item):
        node, neighbours = item
        nb = set(neighbours)
        smaller = {v for v in nb if v < node}
        if lsh.star_violation(smaller, nb - smaller):
            yield beam.pvalue.TaggedOutput("violation", self.k)
        yield from lsh.large_star(node, nb)


def _small_star(item):
    node, smaller = item
    yield from lsh.small_star(node, smaller)


def _rounds_used(last_round_with_work: int) -> int:
    Metrics.counter(NS, "cc_rounds").inc(last_round_with_work)
    return last_round_with_work


def _converged_label(item, rounds: int, max_rounds: int):
    """Pass a label through only if connected components converged; otherwise fail the pipeline (a label
    of an unconverged component could name a node that is not the component's smallest: wrong clusters)."""
    if rounds >= max_rounds:
        Metrics.counter(NS, "cc_not_converged").inc()
        raise RuntimeError(
            f"dedup: connected components did not converge in dedup.max_rounds={max_rounds} rounds (round "
            f"{rounds} still changed the graph); raise dedup.max_rounds and run again")
    return item


class ConnectedComponents(beam.PTransform):
    """Edges (u, v) -> (node, smallest node of its component) for every node that is not its own root.

    Large-star / small-star rounds unrolled at graph construction (Beam has no loops): `max_rounds` rounds.
    A star forest rooted at each component's smallest node is a fixed point of both steps, so rounds after
    convergence pass the edges through unchanged; no per-round global count or side input is needed (each
    was a stage barrier). Round k's large-star sees its whole input neighbourhoods and reports whether that
    input was already a star forest; if even the last round's input was not, the labels are not trusted and
    the pipeline fails (`_converged_label`, fed the round count as a side input so no label leaves before
    the check). Outputs: "labels" and "rounds" (one element: the last round whose input was not yet a star
    forest, 0 if the bucket pairs were already stars; deterministic), plus the Metrics counter cc_rounds.
    Rounds needed, measured (tests/test_dedup_pipeline.py, bench/results/dedup.md): 1 on the development
    set; a path of 100,000 nodes in id order (the longest-diameter component) 17.
    """

    def __init__(self, max_rounds: int = 20):
        super().__init__()
        if max_rounds < 1:  # the labels are keyed by the larger node only after a round
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        self.max_rounds = max_rounds

    def expand(self, edges):
        active, per_round = edges, []
        for k in range(1, self.max_rounds + 1):
            ls = (active
                  | f"R{k}LargeStarKey" >> beam.FlatMap(_both_directions)
                  | f"R{k}LargeStarGroup" >> beam.GroupByKey()
                  | f"R{k}LargeStar" >> beam.ParDo(_LargeStar(k)).with_outputs("violation", main="edges"))
            per_round.append(ls.violation)
            # Large-star and small-star edges are (larger node, smaller node): already keyed by the larger.
            active = (ls.edges
                      | f"R{k}SmallStarGroup" >> beam.GroupByKey()
                      | f"R{k}SmallStar" >> beam.FlatMap(_small_star))
        rounds = (tuple(per_round) | "PerRound" >> beam.Flatten()
                  | "RoundsUsed" >> beam.CombineGlobally(lambda ks: max(ks, default=0))
                  | "CountRounds" >> beam.Map(_rounds_used))
        labels = (active
                  | "LabelGroup" >> beam.CombinePerKey(min)
                  | "Converged" >> beam.Map(_converged_label, beam.pvalue.AsSingleton(rounds), self.max_rounds))
        return {"labels": labels, "rounds": rounds}


# ----------------------------------------------------------------------------------- verification
def shingle_array(raw: bytes) -> np.ndarray:
    """Shingle hashes as they travel between steps (raw bytes: pickled 7x faster than an ndarray) -> uint32."""
    return np.frombuffer(raw, dtype=np.uint32)


def jaccard_u32(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted unique uint32 arrays (shingle hash sets)."""
    if not a.size and not b.size:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def _pair_ends(pair):
    yield pair[0], pair
    yield pair[1], pair


def _shingles_to_pairs(item):
    # Each node sends its shingles to each of its pairs, so only the shingles of nodes that are in a candidate
    # pair cross the next shuffle (one all-shingles shuffle instead of two). A pair found in several buckets
    # arrives here once per bucket: it gets this node's shingles once (no Distinct shuffle).
    node, g = item
    sh = next(iter(g["shingles"]), None)
    for pair in sorted(set(g["pairs"])):
        yield pair, sh


class _VerifyPairs(beam.DoFn):
    """((u, v), [shingle bytes of u, of v]) -> the edge (u, v) if their Jaccard reaches the threshold."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._checked = Metrics.counter(NS, "verify_checked_pairs")
        self._rejected = Metrics.counter(NS, "verify_rejected_pairs")

    def process(self, item):
        pair, shingles = item
        sh_u, sh_v = shingles
        # An earlier run's document stored without shingles (verification was off then): kept unverified.
        if sh_u is None or sh_v is None:
            yield pair
            return
        self._checked.inc()
        if jaccard_u32(shingle_array(sh_u), shingle_array(sh_v)) >= self.threshold:
            yield pair
        else:
            self._rejected.inc()


def _near_drop(label):
    # Every new node with a label is a survivor of the earlier steps that is not its cluster's representative.
    node, rep = label
    if not lsh.is_earlier(node):
        yield Drop(lsh.node_id(node), "dedup_near_duplicate", lsh.node_id(rep), {"earlier_run": lsh.is_earlier(rep)})


def _unlabelled(item):
    _, g = item
    if not list(g["label"]):
        yield from g["keys"]


def _keys_by_node(k: Keys):
    return k.node, k


# ------------------------------------------------------------------------------------------ lines
def _line_entries(k: Keys):
    node = k.node
    for h in k.lines:
        yield h, node


def _state_line_entries(row: dict):
    node = lsh.node_key(row["id"], earlier=True)
    for h in row["line_hashes"] or []:
        yield h, node


def _line_owners(item):
    h, nodes = item
    owner = None
    for n in nodes:
        owner = n if owner is None or n < owner else owner
    for n in nodes:
        if n != owner:
            yield n, (h, owner)


# ------------------------------------------------------------------------------ pointer resolution
def _drop_by_target(d: Drop):
    return d.duplicate_of, d


def _pointer(d: Drop):
    return d.id, d.duplicate_of


def _retarget(item):
    _, g = item
    nxt = sorted(g["next"])
    for d in g["drops"]:
        if nxt:
            d = Drop(d.id, d.reason, nxt[0], {**d.signals, "first_duplicate_of": d.duplicate_of})
        yield d


def _cluster_rep(d: Drop):
    return d.duplicate_of, 1


def _size_of(item):
    _, n = item
    return n + 1, 1


def _drop_by_id(d: Drop):
    return d.id, d


def _by_id(item):
    """(node, value) -> (document id, value): the final join is keyed by id, the decisions by ranked node."""
    node, value = item
    return lsh.node_id(node), value


# ------------------------------------------------------------------------------------- final join
class _Finalize(beam.DoFn):
    """The one join of documents with their decisions: a Drop -> Dropped; no Drop -> kept document (duplicate
    lines removed, C4's sentence rule applied; the hashes of the lines left go to "lines" for its state row)."""

    def __init__(self, min_sentences: int):
        self.min_sentences = min_sentences
        self._removed = Metrics.counter(NS, "lines_removed")
        self._kept = Metrics.counter(NS, "kept")

    def _dropped(self, doc: Document, reason: str, duplicate_of: str, signals: dict):
        Metrics.counter(NS, f"reason.{reason}").inc()
        return beam.pvalue.TaggedOutput("dropped", Dropped(doc, STAGE, reason, dict(signals), duplicate_of))

    def process(self, item):
        _, g = item
        drops = list(g["drop"])
        for doc in g["doc"]:
            if drops:
                d = drops[0]
                yield self._dropped(doc, d.reason, d.duplicate_of, d.signals)
                continue
            removals = sorted(g["removed"])
            if removals:
                removed = {h for h, _ in removals}
                text = exact_mod.remove_lines(doc.text, removed)
                self._removed.inc(len(removed))
                lang = doc.meta.get("language")
                if not text.strip() or exact_mod.too_few_sentences(text, self.min_sentences, lang):
                    owner = min(o for _, o in removals)
                    yield self._dropped(doc, "dedup_line_too_few_sentences", lsh.node_id(owner),
                                        {"lines_removed": len(removed)})
                    continue
                doc = doc.with_text(text)
                doc.meta["dedup_lines_removed"] = len(removed)
                yield beam.pvalue.TaggedOutput(
                    "lines", (doc.id, np.asarray(exact_mod.line_hashes(text), dtype=np.uint64).tobytes()))
            self._kept.inc()
            yield doc


# ------------------------------------------------------------------------------------ composite
class Deduplicate(beam.PTransform):
    """Documents -> {"kept", "dropped", "cluster_sizes", "state", "state_lines", "cc_rounds"}.

    kept: Documents (text with duplicate lines removed when line_dedup). dropped: Dropped(stage="dedup",
    reason dedup_exact | dedup_url | dedup_near_duplicate | dedup_line_too_few_sentences, duplicate_of).
    cluster_sizes: (size, number of clusters), a cluster being a kept representative and the documents
    dropped as its exact/URL/near duplicates. state: (id, state row) of every document that reached dedup
    and state_lines: (id, line hashes left) of the kept ones line dedup shortened; `WriteState` writes the
    state of the documents finally kept from them (see STATE_SCHEMA).
    cc_rounds: one int, connected-components rounds used. `lsh_summary(cfg)` gives the S-curve for stats.
    """

    def __init__(self, cfg: DedupConfig, state_dir: str | None = None, runs_dir: str | None = None,
                 sort_shards: int = 64):
        super().__init__()
        self.cfg = cfg
        self.state_dir = state_dir
        # The final join's sorted runs (pipelines/shards.py; runner.sort_shards); runs_dir None: a local temp dir
        self.runs_dir, self.sort_shards = runs_dir, sort_shards
        self.params = minhash_params(cfg) if cfg.minhash else ""

    def _runs(self, name: str) -> str:
        if self.runs_dir is None:
            self.runs_dir = tempfile.mkdtemp(prefix="corpusforge-runs-")
        return storage.join(self.runs_dir, name)

    @staticmethod
    def _with_state(name: str, pcoll, state, state_fn):
        """`pcoll` and, with a state, the state rows' entries (`state_fn` per row). Without a state, `pcoll`
        alone: on the FnApiRunner a Flatten of two inputs is always a stage of its own that decodes and
        re-encodes every element."""
        if state is None:
            return pcoll
        return (pcoll, state | f"State{name}" >> beam.FlatMap(state_fn)) | f"All{name}" >> beam.Flatten()

    def _near(self, keys, shingles, state):
        """Survivors' Keys -> (Keys for the final join, Drops, rounds): LSH pairs, verification, components,
        labels. The Keys returned include the near-dropped ones unless line dedup needs the survivors alone."""
        cfg = self.cfg
        chunks = keys | "BucketShards" >> beam.ParDo(_BandShards(cfg.bucket_shards, _keys_bands))
        if state is not None:  # a few chunks per bundle: this Flatten is cheap
            chunks = (chunks, state | "StateBucketShards" >> beam.ParDo(_BandShards(cfg.bucket_shards, _state_bands))
                      ) | "AllBucketShards" >> beam.Flatten()
        # The band entries cross no shuffle either: on the FnApiRunner a GroupByKey hands a worker all of its
        # shards' entries at once; through sorted run files it holds one LSH shard's entries at a time.
        pairs = (chunks
                 | "Buckets" >> GroupBySortedRuns(self._runs("buckets"), self.sort_shards)
                 | "BucketPairs" >> beam.ParDo(_BucketPairs(cfg.bucket_window, cfg.max_bucket_size)))
        if cfg.verify_jaccard:
            # Every document's shingle hashes meet its candidate pairs through sorted run files, not a shuffle.
            if state is not None:
                shingles = (shingles, state | "StateShingles" >> beam.FlatMap(_state_shingles))
            pairs = ({"pairs": pairs | "PairEnds" >> beam.FlatMap(_pair_ends), "shingles": shingles}
                     | "VerifyJoin" >> GroupBySortedRuns(self._runs("verify"), self.sort_shards)
                     | "ShinglesToPairs" >> beam.FlatMap(_shingles_to_pairs)
                     | "VerifyGroup" >> GroupBySortedRuns(self._runs("verify_pairs"), self.sort_shards)
                     | "VerifyPairs" >> beam.ParDo(_VerifyPairs(cfg.threshold)))
        cc = pairs | "Components" >> ConnectedComponents(cfg.max_rounds)
        near_dropped = cc["labels"] | "NearDrops" >> beam.FlatMap(_near_drop)
        if cfg.line_dedup:
            # Line dedup counts the lines of the survivors only: join the Keys with the labels. Without it the
            # near-dropped Keys go on to the final join, where their Drop wins (one shuffle of all Keys fewer).
            keys = ({"keys": keys | "NodeOfKeys" >> beam.Map(_keys_by_node), "label": cc["labels"]}
                    | "LabelJoin" >> beam.CoGroupByKey()
                    | "NearSurvivors" >> beam.FlatMap(_unlabelled))
        return keys, near_dropped, cc["rounds"]

    def expand(self, docs):
        cfg, p = self.cfg, docs.pipeline
        state = (p | "ReadState" >> ReadState(self.state_dir, self.params or None)) if self.state_dir else None
        computed = (docs
                    | "KeyBatches" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.signature_batch_size)
                    | "Keys" >> beam.ParDo(_ComputeKeys(cfg)).with_outputs("shingles", "docs", "state", main="keys"))
        keys, shingles = computed.keys, computed.shingles
        dropped = []
        id_steps = 0

        if cfg.exact:
            id_steps += 1
            groups = {"new": keys | "ExactKey" >> beam.Map(_exact_key)}
            if state is not None:  # only with a state: one input needs no Flatten, not even of run paths
                groups["earlier"] = state | "StateExactKey" >> beam.Map(_state_exact_key)
            ex = (groups
                  | "ExactGroup" >> GroupBySortedRuns(self._runs("exact"), self.sort_shards)
                  | "ExactDecide" >> beam.FlatMap(_decide_exact).with_outputs("dropped", main="kept"))
            keys, _ = ex.kept, dropped.append(ex.dropped)

        if cfg.url:
            id_steps += 1
            by_url = keys | "UrlKey" >> beam.FlatMap(_key_url).with_outputs("no_url", main="keyed")
            groups = {"new": by_url.keyed}
            if state is not None:
                groups["earlier"] = (state | "StateUrls" >> beam.Filter(_has_url)
                                     | "StateUrlKey" >> beam.Map(_state_url_key))
            ud = (groups
                  | "UrlGroup" >> beam.CoGroupByKey()
                  | "UrlDecide" >> beam.ParDo(_DecideUrl(cfg.url_keep)).with_outputs("dropped", main="kept"))
            dropped.append(ud.dropped)
            keys = (ud.kept, by_url.no_url) | "UrlSurvivors" >> beam.Flatten()

        rounds = None
        if cfg.minhash:
            id_steps += 1
            keys, near_dropped, rounds = self._near(keys, shingles, state)
            dropped.append(near_dropped)

        id_dropped = (tuple(dropped) | "IdDropped" >> beam.Flatten()) if dropped else (p | "NoIdDropped" >> beam.Create([]))
        # A pointer can be moved once per later step: exact -> URL -> near.
        for r in range(max(0, id_steps - 1)):
            id_dropped = ({"drops": id_dropped | f"Resolve{r}ByTarget" >> beam.Map(_drop_by_target),
                           "next": id_dropped | f"Resolve{r}Pointers" >> beam.Map(_pointer)}
                          | f"Resolve{r}Join" >> GroupBySortedRuns(self._runs(f"resolve{r}"), self.sort_shards)
                          | f"Resolve{r}" >> beam.FlatMap(_retarget))
        cluster_sizes = (id_dropped
                         | "ClusterRep" >> beam.Map(_cluster_rep)
                         | "ClusterMembers" >> beam.CombinePerKey(sum)
                         | "ClusterSize" >> beam.Map(_size_of)
                         | "ClusterSizeHistogram" >> beam.CombinePerKey(sum))

        if cfg.line_dedup:
            removed = (self._with_state("LineEntries", keys | "LineEntries" >> beam.FlatMap(_line_entries), state,
                                        _state_line_entries)
                       | "LineGroup" >> beam.GroupByKey()
                       | "LineOwners" >> beam.FlatMap(_line_owners))
        else:
            removed = p | "NoLineRemovals" >> beam.Create([])

        # A document without a Drop is kept; the Keys of the survivors need not join again. The documents
        # cross no shuffle here: sorted run files, only their paths are grouped (pipelines/shards.py).
        final = ({"doc": computed.docs,
                  "drop": id_dropped | "DropById" >> beam.Map(_drop_by_id),
                  "removed": removed | "RemovedById" >> beam.Map(_by_id)}
                 | "FinalJoin" >> GroupBySortedRuns(self._runs("final"), self.sort_shards)
                 | "Finalize" >> beam.ParDo(_Finalize(cfg.line_dedup_min_sentences)).with_outputs(
                     "dropped", "lines", main="kept"))
        out = {"kept": final.kept, "dropped": final.dropped, "cluster_sizes": cluster_sizes,
               "state": computed.state, "state_lines": final.lines}
        out["cc_rounds"] = rounds if rounds is not None else (p | "NoRounds" >> beam.Create([0]))
        return out
