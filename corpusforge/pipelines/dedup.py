"""Dedup as Beam composite PTransforms: exact, URL, MinHash-LSH near-duplicates, C4-style lines.

Nothing here gathers the corpus, its signatures or its edges onto one worker: every decision is a
GroupByKey on a key (a hash, a URL, a band key, a node) followed by a per-key function from
corpusforge.transforms.dedup. The only global values are counts (sum of star violations per round), used
to stop connected-components rounds early.

Order: exact -> URL -> near duplicates -> lines. A document dropped at one step names the document it
duplicates; if that one is dropped at a later step, the pointer is moved to the later step's representative,
so `duplicate_of` always names a kept document (or a document of an earlier run). Every representative is
the smallest node of its group: an earlier run's document first, then the smallest id. Same input, same
result, whatever the worker count or bundle order.

Refresh: with `state_dir`, the state rows of earlier runs (exact hash, URL key, band keys, line hashes per
kept id; Parquet) join every step, so a new document that duplicates an earlier one is dropped naming it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics

from corpusforge.config import ConfigError, DedupConfig
from corpusforge.records import Document, Dropped
from corpusforge.transforms.dedup import exact as exact_mod
from corpusforge.transforms.dedup import lsh
from corpusforge.transforms.dedup.minhash import band_keys, minhash_signatures
from corpusforge.transforms.dedup.shingles import shingles as make_shingles
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
    ("params", pa.string()),
])


def minhash_params(cfg: DedupConfig) -> str:
    """What band keys depend on; state written with other params cannot be compared with this run's."""
    b, r = cfg.bands_rows()
    return f"{cfg.shingle}{cfg.ngram}-perm{cfg.num_perm}-seed{cfg.seed}-{cfg.scheme}-b{b}r{r}"


@dataclass
class Keyed:
    """A document and its dedup keys as it moves through the steps."""

    doc: Document
    exact: str
    url: str | None
    bands: list[int] = field(default_factory=list)
    shingles: Any = None  # sorted unique uint32 shingle hashes, only when verify_jaccard


# ------------------------------------------------------------------------------------ state I/O
def state_files(state_dir: str) -> list[str]:
    """Parquet files of a state: a refresh version (state.json lists them), a state root (LATEST points to
    the version), or a plain directory of Parquet shards (a curate run's state/)."""
    from apache_beam.io.filesystems import FileSystems

    d = state_dir.rstrip("/")
    if FileSystems.exists(f"{d}/LATEST"):
        with FileSystems.open(f"{d}/LATEST", compression_type="uncompressed") as f:
            d = f"{d}/{json.loads(f.read().decode())['version_dir']}"
    if FileSystems.exists(f"{d}/state.json"):
        with FileSystems.open(f"{d}/state.json", compression_type="uncompressed") as f:
            manifest = json.loads(f.read().decode())
        root = d.rsplit("/", 2)[0]
        return [f"{root}/{rel}" for rel in manifest["files"]]
    if not FileSystems.exists(d):
        raise ConfigError(f"dedup state {state_dir!r} does not exist")
    return sorted(m.path for m in FileSystems.match([f"{d}/*.parquet"])[0].metadata_list)


def _read_state_file(path: str, expected_params: str | None):
    import io

    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as f:
        table = pq.read_table(io.BytesIO(f.read()))
    for row in table.to_pylist():
        if expected_params and row["band_keys"] and row["params"] != expected_params:
            raise ValueError(
                f"dedup state {path} was written with MinHash params {row['params']!r}, this run uses "
                f"{expected_params!r}: band keys are not comparable. Use the same dedup settings or a new state_dir.")
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


class _WriteStateShard(beam.DoFn):
    def __init__(self, path: str, total: int):
        self.path, self.total = path, total

    def process(self, item):
        from corpusforge.io.writers import shard_name, write_parquet_atomic

        shard, rows = item
        rows = sorted(rows, key=lambda r: r["id"])
        yield write_parquet_atomic(rows, STATE_SCHEMA, f"{self.path}/{shard_name('part', shard, self.total, 'parquet')}")


def _state_shard(row: dict, total: int):
    import hashlib

    return int.from_bytes(hashlib.blake2b(row["id"].encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "big") % total, row


def _write_empty_shards(_, path: str, total: int):
    """Every shard exists after the write, even one no row hashed to (a reader lists them all)."""
    from corpusforge.io.writers import shard_name, write_parquet_atomic
    from apache_beam.io.filesystems import FileSystems

    for i in range(total):
        p = f"{path}/{shard_name('part', i, total, 'parquet')}"
        if not FileSystems.exists(p):
            write_parquet_atomic([], STATE_SCHEMA, p)
    return path


class WriteState(beam.PTransform):
    """State rows -> `path/part-NNNNN-of-MMMMM.parquet`, rows sorted by id, each file written atomically."""

    def __init__(self, path: str, num_shards: int = 4):
        super().__init__()
        self.path, self.num_shards = path.rstrip("/"), num_shards

    def expand(self, rows):
        written = (rows
                   | "ShardState" >> beam.Map(_state_shard, self.num_shards)
                   | "GroupState" >> beam.GroupByKey()
                   | "WriteStateShards" >> beam.ParDo(_WriteStateShard(self.path, self.num_shards)))
        return (written
                | "StateWritten" >> beam.combiners.Count.Globally()
                | "FillEmptyStateShards" >> beam.Map(_write_empty_shards, self.path, self.num_shards))


def write_state(rows, path: str, num_shards: int = 4):
    return rows | "WriteDedupState" >> WriteState(path, num_shards)


# ------------------------------------------------------------------------------------- per step
def _dropped(k: Keyed, reason: str, duplicate_of: str, **signals) -> beam.pvalue.TaggedOutput:
    Metrics.counter(NS, f"reason.{reason}").inc()
    return beam.pvalue.TaggedOutput("dropped", Dropped(k.doc, STAGE, reason, dict(signals), duplicate_of))


def _to_keyed(doc: Document) -> Keyed:
    return Keyed(doc, exact_mod.exact_hash(doc.text), normalize_url(doc.url))


def _decide_exact(item):
    _, groups = item
    new = sorted(groups["new"], key=lambda k: k.doc.id)
    earlier = sorted(groups["earlier"])
    if not new:
        return
    if earlier:
        for k in new:
            yield _dropped(k, "dedup_exact", earlier[0], earlier_run=True)
        return
    yield new[0]
    for k in new[1:]:
        yield _dropped(k, "dedup_exact", new[0].doc.id)


def _exact_key(k: Keyed):
    return k.exact, k


def _state_exact_key(row: dict):
    return row["exact_hash"], row["id"]


def _has_url(row: dict) -> bool:
    return bool(row["url_key"])


def _state_url_key(row: dict):
    return row["url_key"], row["id"]


def _node_shingles(k: Keyed):
    return lsh.node_key(k.doc.id), k.shingles


def _url_order_key(policy: str, date_field: str | None):
    def key(k: Keyed):
        date = k.doc.meta.get(date_field) if date_field else None
        return url_keep_order(policy, k.doc.id, len(k.doc.text), str(date) if date is not None else None,
                              (k.doc.source, k.doc.line))
    return key


class _DecideUrl(beam.DoFn):
    def __init__(self, policy: str, date_field: str | None):
        self.policy, self.date_field = policy, date_field

    def process(self, item):
        _, groups = item
        new = sorted(groups["new"], key=_url_order_key(self.policy, self.date_field))
        earlier = sorted(groups["earlier"])
        if not new:
            return
        if earlier:
            for k in new:
                yield _dropped(k, "dedup_url", earlier[0], earlier_run=True)
            return
        yield new[0]
        for k in new[1:]:
            yield _dropped(k, "dedup_url", new[0].doc.id, url_keep=self.policy)


def _key_url(k: Keyed):
    if k.url is None:
        yield beam.pvalue.TaggedOutput("no_url", k)
    else:
        yield k.url, k


class _Signatures(beam.DoFn):
    """Batches of Keyed -> Keyed with band keys (and shingle hashes when verifying)."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.bands, self.rows = cfg.bands_rows()
        self._docs = Metrics.counter(NS, "signatures")
        self._empty = Metrics.counter(NS, "no_shingles")

    def process(self, batch: list[Keyed]):
        cfg = self.cfg
        sets = [[s.encode("utf-8", "surrogatepass") for s in make_shingles(k.doc.text, cfg.ngram, cfg.shingle)]
                for k in batch]
        sigs = minhash_signatures(sets, cfg.num_perm, cfg.seed, cfg.scheme)
        self._docs.inc(len(batch))
        for k, shs, sig in zip(batch, sets, sigs):
            if not shs:
                # No shingles (text empty after normalization): all such documents would share every bucket.
                self._empty.inc()
                yield k
                continue
            sh = None
            if cfg.verify_jaccard:
                from corpusforge.transforms.dedup.minhash import sha1_hash32

                sh = np.unique(np.fromiter((sha1_hash32(s) for s in shs), dtype=np.uint32, count=len(shs)))
            # A new Keyed: Beam elements must not be mutated in place.
            yield Keyed(k.doc, k.exact, k.url, band_keys(sig, self.bands, self.rows), sh)


def _bucket_entries(k: Keyed):
    node = lsh.node_key(k.doc.id)
    for i, key in enumerate(k.bands):
        yield (i, key), node


def _state_bucket_entries(row: dict):
    node = lsh.node_key(row["id"], earlier=True)
    for i, key in enumerate(row["band_keys"] or []):
        yield (i, key), node


class _BucketEdges(beam.DoFn):
    """One LSH bucket -> star edges to its smallest node, in two streaming passes (never a pair loop)."""

    def __init__(self, max_bucket_size: int):
        self.max_bucket_size = max_bucket_size
        self._buckets = Metrics.counter(NS, "buckets_with_candidates")
        self._giant = Metrics.counter(NS, "giant_buckets")
        self._size = Metrics.distribution(NS, "bucket_size")

    def process(self, item):
        _, nodes = item
        root, size, any_new = None, 0, False
        for n in nodes:
            size += 1
            root = n if root is None or n < root else root
            any_new = any_new or not lsh.is_earlier(n)
        if size < 2 or not any_new:
            return
        self._buckets.inc()
        self._size.update(size)
        if size > self.max_bucket_size:
            self._giant.inc()
        for n in nodes:
            if n != root:
                yield n, root


# -------------------------------------------------------------------------- connected components
def _both_directions(edge):
    u, v = edge
    if u == v:
        return
    yield u, v
    yield v, u


class _LargeStar(beam.DoFn):
    """Large-star at one node; also reports whether the node breaks the converged (star forest) shape."""

    def process(self, item):
        node, neighbours = item
        nb = set(neighbours)
        smaller = {v for v in nb if v < node}
        if lsh.star_violation(smaller, nb - smaller):
            yield beam.pvalue.TaggedOutput("violation", 1)
        yield from lsh.large_star(node, nb)


def _route(edge, violations: int):
    # Round k's input was already a star forest: large-star left it as it was, and it is final.
    if violations == 0:
        yield beam.pvalue.TaggedOutput("final", edge)
    else:
        yield edge


def _key_by_larger(edge):
    u, v = edge
    return (u, v) if u > v else (v, u)


def _small_star(item):
    node, smaller = item
    yield from lsh.small_star(node, smaller)


def _count_round(violations: int, k: int) -> int:
    """Round k's number if it did work (its input was not yet a star forest), else 0."""
    if violations:
        Metrics.counter(NS, "cc_rounds").inc()
        return k
    return 0


def _violation_flags(item):
    node, neighbours = item
    nb = set(neighbours)
    smaller = {v for v in nb if v < node}
    if lsh.star_violation(smaller, nb - smaller):
        yield 1


def _check_converged(violations: int, max_rounds: int) -> int:
    if violations:
        Metrics.counter(NS, "cc_not_converged").inc()
        log.warning("connected components did not converge in dedup.max_rounds=%d rounds (%d nodes still not in "
                    "a star); raise dedup.max_rounds", max_rounds, violations)
    return violations


class ConnectedComponents(beam.PTransform):
    """Edges (u, v) -> (node, smallest node of its component) for every node that is not its own root.

    Large-star / small-star rounds unrolled at graph construction (Beam has no loops): at most `max_rounds`
    rounds. Each round's large-star also counts nodes that break the star-forest shape; once that count is
    0 the edges go to the final output and every later round runs on nothing. Outputs: "labels" and
    "rounds" (a one-element PCollection: rounds used, deterministic), plus the Metrics counter cc_rounds.
    """

    def __init__(self, max_rounds: int = 30):
        super().__init__()
        self.max_rounds = max_rounds

    def expand(self, edges):
        active, finals, per_round = edges, [], []
        for k in range(1, self.max_rounds + 1):
            ls = (active
                  | f"R{k}LargeStarKey" >> beam.FlatMap(_both_directions)
                  | f"R{k}LargeStarGroup" >> beam.GroupByKey()
                  | f"R{k}LargeStar" >> beam.ParDo(_LargeStar()).with_outputs("violation", main="edges"))
            violations = ls.violation | f"R{k}Violations" >> beam.CombineGlobally(sum)
            per_round.append(violations | f"R{k}Count" >> beam.Map(_count_round, k))
            routed = ls.edges | f"R{k}Route" >> beam.FlatMap(
                _route, beam.pvalue.AsSingleton(violations)).with_outputs("final", main="active")
            finals.append(routed.final)
            active = (routed.active
                      | f"R{k}SmallStarKey" >> beam.Map(_key_by_larger)
                      | f"R{k}SmallStarGroup" >> beam.GroupByKey()
                      | f"R{k}SmallStar" >> beam.FlatMap(_small_star))
        # Edges still active after the last round: converged only if they already form stars.
        (active
         | "LeftoverKey" >> beam.FlatMap(_both_directions)
         | "LeftoverGroup" >> beam.GroupByKey()
         | "LeftoverViolations" >> beam.FlatMap(_violation_flags)
         | "LeftoverCount" >> beam.CombineGlobally(sum)
         | "CheckConverged" >> beam.Map(_check_converged, self.max_rounds))
        final = (*finals, active) | "FinalEdges" >> beam.Flatten()
        labels = (final
                  | "LabelKey" >> beam.Map(_key_by_larger)
                  | "LabelGroup" >> beam.CombinePerKey(min))
        rounds = (tuple(per_round) | "PerRound" >> beam.Flatten()
                  | "RoundsUsed" >> beam.CombineGlobally(max))
        return {"labels": labels, "rounds": rounds}


# ----------------------------------------------------------------------------------- verification
def _jaccard_u32(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


def _attach_member_shingles(item):
    member, g = item
    sh = next(iter(g["shingles"]), None)
    for root in g["edges"]:
        yield root, (member, sh)


class _VerifyEdges(beam.DoFn):
    def __init__(self, threshold: float):
        self.threshold = threshold
        self._rejected = Metrics.counter(NS, "verify_rejected_edges")

    def process(self, item):
        root, g = item
        root_sh = next(iter(g["shingles"]), None)
        for member, sh in g["edges"]:
            # An earlier run's document has no shingles in the state: its edge is kept unverified.
            if root_sh is None or sh is None or _jaccard_u32(sh, root_sh) >= self.threshold:
                yield member, root
            else:
                self._rejected.inc()


# ------------------------------------------------------------------------------------- near dups
def _apply_labels(item):
    _, g = item
    labels = list(g["label"])
    for k in g["doc"]:
        if labels:
            rep = min(labels)
            yield _dropped(k, "dedup_near_duplicate", lsh.node_id(rep), earlier_run=lsh.is_earlier(rep))
        else:
            yield k


def _node_of(k: Keyed):
    return lsh.node_key(k.doc.id), k


# ------------------------------------------------------------------------------------------ lines
def _line_entries(k: Keyed):
    node = lsh.node_key(k.doc.id)
    for h in exact_mod.line_hashes(k.doc.text):
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


class _RemoveLines(beam.DoFn):
    def __init__(self, min_sentences: int):
        self.min_sentences = min_sentences
        self._removed = Metrics.counter(NS, "lines_removed")

    def process(self, item):
        _, g = item
        removals = sorted(g["removed"])
        for k in g["doc"]:
            if not removals:
                yield k
                continue
            removed = {h for h, _ in removals}
            text = exact_mod.remove_lines(k.doc.text, removed)
            self._removed.inc(len(removed))
            lang = k.doc.meta.get("language")
            if not text.strip() or exact_mod.too_few_sentences(text, self.min_sentences, lang):
                owner = min(o for _, o in removals)
                yield _dropped(k, "dedup_line_too_few_sentences", lsh.node_id(owner), lines_removed=len(removed))
                continue
            doc = k.doc.with_text(text)
            doc.meta["dedup_lines_removed"] = len(removed)
            yield Keyed(doc, k.exact, k.url, k.bands, k.shingles)


# ------------------------------------------------------------------------------ pointer resolution
def _drop_by_target(d: Dropped):
    return d.duplicate_of, d


def _pointer(d: Dropped):
    return d.doc.id, d.duplicate_of


def _retarget(item):
    _, g = item
    nxt = sorted(g["next"])
    for d in g["drops"]:
        if nxt:
            d = Dropped(d.doc, d.stage, d.reason, {**d.signals, "first_duplicate_of": d.duplicate_of}, nxt[0])
        yield d


def _cluster_rep(d: Dropped):
    return d.duplicate_of, 1


def _size_of(item):
    _, n = item
    return n + 1, 1


def _state_row(k: Keyed, params: str) -> dict:
    return {"id": k.doc.id, "exact_hash": k.exact, "url_key": k.url, "band_keys": list(k.bands),
            "line_hashes": exact_mod.line_hashes(k.doc.text), "params": params}


def _doc_of(k: Keyed) -> Document:
    return k.doc


def _count_kept(k: Keyed) -> Keyed:
    Metrics.counter(NS, "kept").inc()
    return k


# ------------------------------------------------------------------------------------ composite
class Deduplicate(beam.PTransform):
    """Documents -> {"kept", "dropped", "cluster_sizes", "state", "cc_rounds"}.

    kept: Documents (text with duplicate lines removed when line_dedup). dropped: Dropped(stage="dedup",
    reason dedup_exact | dedup_url | dedup_near_duplicate | dedup_line_too_few_sentences, duplicate_of).
    cluster_sizes: (size, number of clusters), a cluster being a kept representative and the documents
    dropped as its exact/URL/near duplicates. state: one row per kept document (see STATE_SCHEMA).
    cc_rounds: one int, connected-components rounds used.
    """

    def __init__(self, cfg: DedupConfig, state_dir: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.state_dir = state_dir
        self.params = minhash_params(cfg) if cfg.minhash else ""

    def expand(self, docs):
        cfg, p = self.cfg, docs.pipeline
        if self.state_dir:
            state = p | "ReadState" >> ReadState(self.state_dir, self.params or None)
        else:
            state = p | "NoState" >> beam.Create([])
        keyed = docs | "Keys" >> beam.Map(_to_keyed)
        dropped = []
        id_steps = 0

        if cfg.exact:
            id_steps += 1
            ex = ({"new": keyed | "ExactKey" >> beam.Map(_exact_key),
                   "earlier": state | "StateExactKey" >> beam.Map(_state_exact_key)}
                  | "ExactGroup" >> beam.CoGroupByKey()
                  | "ExactDecide" >> beam.FlatMap(_decide_exact).with_outputs("dropped", main="kept"))
            keyed, _ = ex.kept, dropped.append(ex.dropped)

        if cfg.url:
            id_steps += 1
            by_url = keyed | "UrlKey" >> beam.FlatMap(_key_url).with_outputs("no_url", main="keyed")
            state_urls = (state | "StateUrls" >> beam.Filter(_has_url)
                          | "StateUrlKey" >> beam.Map(_state_url_key))
            ud = ({"new": by_url.keyed, "earlier": state_urls}
                  | "UrlGroup" >> beam.CoGroupByKey()
                  | "UrlDecide" >> beam.ParDo(_DecideUrl(cfg.url_keep, cfg.url_date_field)).with_outputs(
                        "dropped", main="kept"))
            dropped.append(ud.dropped)
            keyed = (ud.kept, by_url.no_url) | "UrlSurvivors" >> beam.Flatten()

        rounds = None
        if cfg.minhash:
            id_steps += 1
            signed = (keyed
                      | "SignatureBatches" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.signature_batch_size)
                      | "Signatures" >> beam.ParDo(_Signatures(cfg)))
            entries = ((signed | "BucketEntries" >> beam.FlatMap(_bucket_entries),
                        state | "StateBucketEntries" >> beam.FlatMap(_state_bucket_entries))
                       | "AllBucketEntries" >> beam.Flatten())
            edges = (entries
                     | "Buckets" >> beam.GroupByKey()
                     | "BucketEdges" >> beam.ParDo(_BucketEdges(cfg.max_bucket_size)))
            if cfg.verify_jaccard:
                shingles = signed | "ShingleSets" >> beam.Map(_node_shingles)
                edges = ({"edges": edges, "shingles": shingles}
                         | "VerifyJoinMember" >> beam.CoGroupByKey()
                         | "VerifyAttachMember" >> beam.FlatMap(_attach_member_shingles))
                edges = ({"edges": edges, "shingles": shingles}
                         | "VerifyJoinRoot" >> beam.CoGroupByKey()
                         | "VerifyEdges" >> beam.ParDo(_VerifyEdges(cfg.threshold)))
            cc = edges | "Components" >> ConnectedComponents(cfg.max_rounds)
            rounds = cc["rounds"]
            nd = ({"doc": signed | "NodeOfDoc" >> beam.Map(_node_of), "label": cc["labels"]}
                  | "LabelJoin" >> beam.CoGroupByKey()
                  | "NearDecide" >> beam.FlatMap(_apply_labels).with_outputs("dropped", main="kept"))
            keyed = nd.kept
            dropped.append(nd.dropped)

        id_dropped = (tuple(dropped) | "IdDropped" >> beam.Flatten()) if dropped else (p | "NoIdDropped" >> beam.Create([]))
        # A pointer can be moved once per later step: exact -> URL -> near.
        for r in range(max(0, id_steps - 1)):
            id_dropped = ({"drops": id_dropped | f"Resolve{r}ByTarget" >> beam.Map(_drop_by_target),
                           "next": id_dropped | f"Resolve{r}Pointers" >> beam.Map(_pointer)}
                          | f"Resolve{r}Join" >> beam.CoGroupByKey()
                          | f"Resolve{r}" >> beam.FlatMap(_retarget))
        cluster_sizes = (id_dropped
                         | "ClusterRep" >> beam.Map(_cluster_rep)
                         | "ClusterMembers" >> beam.CombinePerKey(sum)
                         | "ClusterSize" >> beam.Map(_size_of)
                         | "ClusterSizeHistogram" >> beam.CombinePerKey(sum))
        all_dropped = [id_dropped]

        if cfg.line_dedup:
            owners = ((keyed | "LineEntries" >> beam.FlatMap(_line_entries),
                       state | "StateLineEntries" >> beam.FlatMap(_state_line_entries))
                      | "AllLineEntries" >> beam.Flatten()
                      | "LineGroup" >> beam.GroupByKey()
                      | "LineOwners" >> beam.FlatMap(_line_owners))
            ld = ({"doc": keyed | "LineNodeOfDoc" >> beam.Map(_node_of), "removed": owners}
                  | "LineJoin" >> beam.CoGroupByKey()
                  | "RemoveLines" >> beam.ParDo(_RemoveLines(cfg.line_dedup_min_sentences)).with_outputs(
                        "dropped", main="kept"))
            keyed = ld.kept
            all_dropped.append(ld.dropped)

        keyed = keyed | "CountKept" >> beam.Map(_count_kept)
        out = {
            "kept": keyed | "KeptDocs" >> beam.Map(_doc_of),
            "dropped": tuple(all_dropped) | "AllDedupDropped" >> beam.Flatten(),
            "cluster_sizes": cluster_sizes,
            "state": keyed | "StateRows" >> beam.Map(_state_row, self.params),
        }
        out["cc_rounds"] = rounds if rounds is not None else (p | "NoRounds" >> beam.Create([0]))
        return out
