"""LSH buckets and connected components, as pure functions the Beam pipeline applies per key.

Nodes are strings that sort in representative order: `node_key(id, earlier, rank)` puts documents of an
earlier run (refresh state) before every new document, then orders by `rank` (`representative_rank`: the
copy worth keeping first), then by id, so the smallest node of a component is its representative.

Connected components use large-star / small-star rounds (Kiveris et al. 2014, "Connected Components in
MapReduce and Beyond"), the algorithm text-dedup runs on Spark: O(log^2 n) rounds, each one a group-by-node,
and no step needs more than one node's neighbourhood in memory. When the edge set is a forest of stars rooted
at each component's smallest node, nothing changes any more; `star_violation` detects that per node.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

EARLIER, NEW = "0", "1"
SEP = "\x1f"  # between the rank and the id; ranks never contain it, so the first one ends the rank
_NO_PERPLEXITY = "9" * 10


def representative_rank(perplexity: float | None, text: str) -> str:
    """Which copy of a duplicate cluster is kept, as a string that sorts best first: the most fluent copy
    (lowest perplexity, when the perplexity stage scored the documents: an edited or spun copy reads worse
    than the text it was made from), then the one with the most distinct characters (a copy whose case or
    accents were flattened has fewer), then (in `node_key`) the smallest id. Deterministic: it depends on the
    document only."""
    p = _NO_PERPLEXITY if perplexity is None else f"{min(int(round(perplexity * 10)), 10 ** 10 - 1):010d}"
    return f"{p}{99_999 - min(len(set(text)), 99_999):05d}"


def node_key(doc_id: str, earlier: bool = False, rank: str = "") -> str:
    return (EARLIER if earlier else NEW) + rank + SEP + doc_id


def node_id(node: str) -> str:
    return node.split(SEP, 1)[1]


def is_earlier(node: str) -> bool:
    return node[:1] == EARLIER


def bucket_pairs(members: list[str], window: int) -> Iterator[tuple[str, str]]:
    """Candidate pairs (u, v), u < v, of one LSH bucket whose `members` are sorted and distinct: each member
    with the next `window` members. A bucket of up to window+1 documents gives all its pairs, so every pair
    that shares a band is checked directly; a giant bucket (boilerplate) gives at most window pairs per
    member, still connecting all of it. Pairs of two earlier-run documents are skipped (already decided)."""
    for i, u in enumerate(members):
        for v in members[i + 1:i + 1 + window]:
            if not (is_earlier(u) and is_earlier(v)):
                yield u, v


def runs(sorted_values) -> list[tuple[int, int]]:
    """(start, end) of each run of equal values in a sorted numpy array."""
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return list(zip(starts.tolist(), np.r_[starts[1:], len(sorted_values)].tolist()))


def shared_buckets(keys, nodes) -> Iterator[list[str]]:
    """Band keys (uint64 array) and the node of each entry (object array) -> the sorted distinct members of
    every bucket (run of equal keys) with two or more members, in key order."""
    order = np.argsort(keys, kind="stable")
    keys, nodes = keys[order], nodes[order]
    for s, e in runs(keys):
        if e - s >= 2:
            members = sorted(set(nodes[s:e].tolist()))
            if len(members) >= 2:
                yield members


def large_star(node: str, neighbours: Iterable[str]) -> list[tuple[str, str]]:
    """Connect every larger neighbour of `node` to the smallest node of its closed neighbourhood."""
    nb = set(neighbours)
    m = min(nb | {node})
    return [(v, m) for v in sorted(nb) if v > node]


def small_star(node: str, smaller_neighbours: Iterable[str]) -> list[tuple[str, str]]:
    """Connect `node` and its smaller neighbours to the smallest of them."""
    nb = set(smaller_neighbours)
    m = min(nb | {node})
    return [(v, m) for v in sorted(nb | {node}) if v != m]


def star_violation(smaller: set[str], larger: set[str]) -> bool:
    """True if this node breaks 'stars rooted at the smallest node': it has two parents, or it has a parent
    and children."""
    return len(smaller) > 1 or (len(smaller) >= 1 and len(larger) >= 1)


def components_union_find(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Reference (single-machine) components: node -> smallest node of its component. For tests and the
    bench's baseline only; the pipeline never gathers edges."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}
