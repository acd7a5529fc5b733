#!/usr/bin/env python3
"""Build a larger corpus for benchmarks from the demo's real paragraphs plus generated junk.

    .venv/bin/python scripts/make_bench_corpus.py --docs 20000 --out /tmp/bench-corpus

New documents are made by drawing paragraphs of one language from the demo's real documents (data/demo/), with
small word edits so that re-used paragraphs are not all identical; then junk pages, PII letters, exact and near
duplicates are mixed in at fixed rates. Output: gzipped JSONL shards (gzip mtime 0) plus planted.json with
what was planted. Same arguments, same bytes. Not committed: rebuild it when needed.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.testing import synthetic  # noqa: E402

DEMO = ROOT / "data" / "demo"
PROSE_MIN_WORDS = 8


def demo_records(demo: Path) -> list[dict]:
    """Every readable record of the demo with real text from a Debian package (no junk, no PII)."""
    from corpusforge.testing.synthetic import demo_real_records

    return demo_real_records(demo)


def paragraph_pools(recs: list[dict]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per language: prose paragraphs and short heading-like lines, deduplicated and sorted."""
    prose, heads = defaultdict(set), defaultdict(set)
    for r in recs:
        lang = r.get("lang_hint")
        if not lang:
            continue
        for line in r["text"].split("\n"):
            (prose if len(line.split()) >= PROSE_MIN_WORDS else heads)[lang].add(line)
    return ({k: sorted(v) for k, v in prose.items()}, {k: sorted(v) for k, v in heads.items()})


def make_doc(rng: random.Random, prose: list[str], heads: list[str]) -> str:
    paras = rng.sample(prose, min(len(prose), rng.randint(4, 12)))
    paras = [synthetic.perturb_words(p, rng, 1) if rng.random() < 0.3 else p for p in paras]
    if heads and rng.random() < 0.7:
        paras.insert(0, rng.choice(heads))
    return "\n".join(paras)


def write_shard(path: Path, recs: list[dict]) -> None:
    data = b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" for r in recs)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


def build(n_docs: int, out: Path, seed: int, shard_docs: int, junk_frac: float, pii_frac: float,
          near_frac: float, exact_frac: float, demo: Path) -> dict:
    rng = random.Random(seed)
    prose, heads = paragraph_pools(demo_records(demo))
    langs = sorted(prose)
    weights = [len(prose[lang]) for lang in langs]

    n_junk = int(n_docs * junk_frac)
    n_pii = int(n_docs * pii_frac)
    n_near = int(n_docs * near_frac)
    n_exact = int(n_docs * exact_frac)
    n_real = n_docs - n_junk - n_pii - n_near - n_exact
    if n_real <= 0:
        raise SystemExit("--docs is too small for the junk and duplicate fractions")

    docs = []
    for i in range(n_real):
        lang = rng.choices(langs, weights)[0]
        docs.append({"id": f"bench-{i:07d}", "text": make_doc(rng, prose[lang], heads.get(lang, [])),
                     "url": f"https://bench.example.org/{lang}/{i}", "lang_hint": lang})
    planted = {"seed": seed, "junk": {}, "pii": [], "near_duplicates": [], "exact_duplicates": []}
    for j in synthetic.junk_documents(n_junk, seed=seed, id_prefix="bench-junk"):
        docs.append({"id": j["id"], "text": j["text"], "url": None})
        planted["junk"][j["id"]] = j["kind"]
    for p in synthetic.pii_documents(n_pii, seed=seed, id_prefix="bench-pii"):
        docs.append({"id": p["id"], "text": p["text"], "url": None})
        planted["pii"].append(p["id"])
    originals = docs[:n_real]
    long_enough = [d for d in originals if len(d["text"].split()) >= 150]
    for k, orig in enumerate(rng.sample(long_enough, n_near)):
        edits = max(2, len(orig["text"].split()) // 120)
        text = synthetic.perturb_words(orig["text"], rng, edits)
        while edits > 1 and synthetic.jaccard(orig["text"], text) < 0.85:  # keep it a clear near duplicate
            edits -= 1
            text = synthetic.perturb_words(orig["text"], rng, edits)
        dup = dict(orig, id=f"{orig['id']}-near{k}", text=text, url=None)
        docs.append(dup)
        planted["near_duplicates"].append([orig["id"], dup["id"]])
    for k, orig in enumerate(rng.sample(originals, n_exact)):
        dup = dict(orig, id=f"{orig['id']}-exact{k}", url=None)
        docs.append(dup)
        planted["exact_duplicates"].append([orig["id"], dup["id"]])
    rng.shuffle(docs)

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.jsonl.gz"):
        old.unlink()
    n_shards = (len(docs) + shard_docs - 1) // shard_docs
    for s in range(n_shards):
        write_shard(out / f"part-{s:05d}.jsonl.gz", docs[s * shard_docs:(s + 1) * shard_docs])
    planted["docs"] = len(docs)
    planted["shards"] = n_shards
    planted["counts"] = {"real": n_real, "junk": n_junk, "pii": n_pii, "near_duplicates": n_near,
                         "exact_duplicates": n_exact}
    (out / "planted.json").write_text(json.dumps(planted, indent=1, sort_keys=True) + "\n")
    return planted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard-docs", type=int, default=5_000, help="documents per output shard")
    ap.add_argument("--junk-frac", type=float, default=0.08)
    ap.add_argument("--pii-frac", type=float, default=0.01)
    ap.add_argument("--near-dup-frac", type=float, default=0.05)
    ap.add_argument("--exact-dup-frac", type=float, default=0.02)
    ap.add_argument("--demo", type=Path, default=DEMO, help="demo corpus directory to draw paragraphs from")
    args = ap.parse_args(argv)
    planted = build(args.docs, args.out, args.seed, args.shard_docs, args.junk_frac, args.pii_frac,
                    args.near_dup_frac, args.exact_dup_frac, args.demo)
    size = sum(p.stat().st_size for p in args.out.glob("part-*.jsonl.gz"))
    print(f"{planted['docs']} docs in {planted['shards']} shards ({size / 1e6:.1f} MB gzipped) under {args.out}: "
          f"{planted['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
