"""A planted near-duplicate set made from real prose, for the dedup tests and bench/bench_dedup.py.

Originals are real documents of the demo corpus (Debian documentation prose in 7 languages, see
data/demo/SOURCES.md), or, for bench sizes, documents composed of real paragraphs of one language. Each
duplicated original gets 1-3 variants of these kinds:
  * "edit":    1-15% of its words edited. Like a re-published copy, most edits are surface changes (case,
               punctuation, numbers: 80% of edited words, scattered); the lexical ones (replace, insert, delete:
               20% of edited words) sit in one contiguous run, like a rewritten phrase;
  * "reorder": its paragraphs shuffled;
  * "header":  a site boilerplate header (and sometimes a footer) added, plus a few surface edits;
  * "exact":   a byte copy (exact dedup catches it before MinHash).
Hard negatives: unrelated originals that all carry the same long boilerplate header and footer (a cookie
notice and navigation): they share shingles but must not be clustered.

`random_lexical_edits=True` scatters every edit as a lexical edit instead: the stress case where 5-gram
Jaccard falls well below 0.8 (reported by the bench, not asserted).
"""
from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"

HEADERS = [
    "Home | Products | Support | Community | Downloads | Contact us | Sign in",
    "Skip to main content. Search this site. Menu: News, Guides, Reference, About the project.",
    "You are here: Documentation > User guide > Chapter overview. Last updated on 12 March 2021.",
    "Welcome to our knowledge base. Browse the categories on the left or use the search box above.",
]
FOOTERS = [
    "Share this page on social media. Copyright 2021 Example Docs. All rights reserved. Privacy policy.",
    "Was this page helpful? Yes / No. Send feedback to the documentation team. Terms of use apply.",
]
NEGATIVE_HEADER = (
    "This website uses cookies to improve your experience. By continuing to browse the site you agree to our "
    "use of cookies. Read our cookie policy and privacy statement for more details. Accept all cookies. "
    "Manage preferences. Home | About | Blog | Documentation | Forum | Download | Donate | Contact"
)
NEGATIVE_FOOTER = (
    "Subscribe to our newsletter to get the latest news and release announcements delivered to your inbox "
    "every month. Follow us on social media. Copyright the project contributors. All rights reserved."
)


def real_documents(demo: Path = DEMO, min_words: int = 0) -> list[dict]:
    """Real prose records of the demo corpus (no planted copies, junk, PII letters) with at least `min_words`
    words, sorted by id."""
    from corpusforge.testing.synthetic import demo_real_records

    recs = demo_real_records(demo)
    out = {}
    for r in recs:
        if len(r["text"].split()) < min_words or not r.get("id") or re.search(r"-(copy|edit)\d+$", str(r["id"])):
            continue
        out[str(r["id"])] = {"id": str(r["id"]), "text": r["text"], "url": r.get("url"), "lang": r.get("lang_hint")}
    return [out[k] for k in sorted(out)]


def composed_documents(n: int, seed: int = 0) -> list[dict]:
    """n documents made of 4-12 real paragraphs of one language each (for bench sizes)."""
    rng = random.Random(seed)
    pools = defaultdict(set)
    for r in real_documents():
        for para in r["text"].split("\n"):
            if len(para.split()) >= 8:
                pools[r["lang"]].add(para)
    langs = sorted(pools)
    pools = {k: sorted(v) for k, v in pools.items()}
    docs = []
    for i in range(n):
        lang = langs[i % len(langs)]
        paras = rng.sample(pools[lang], min(len(pools[lang]), rng.randint(4, 12)))
        docs.append({"id": f"c{i:07d}", "text": "\n".join(paras), "url": f"https://example.org/{lang}/{i}", "lang": lang})
    return docs


def _surface_edit(word: str, rng: random.Random) -> str:
    op = rng.choice(["case", "punct", "number"])
    if op == "case":
        return word.upper() if word[:1].islower() else word.lower()
    if op == "punct":
        return word.rstrip(".,;:!?") if word[-1:] in ".,;:!?" else word + rng.choice([",", ";", ":", "."])
    if any(c.isdigit() for c in word):
        return re.sub(r"\d", lambda _: str(rng.randint(0, 9)), word)
    return word.capitalize() if word[:1].islower() else word + "!"


def _lexical_edit(words: list[str], i: int, vocab: list[str], rng: random.Random) -> None:
    op = rng.choice(["replace", "insert", "delete"])
    if op == "replace":
        words[i] = rng.choice(vocab)
    elif op == "insert":
        words.insert(i, rng.choice(vocab))
    elif len(words) > 10:
        del words[i]


def edit_words(text: str, rate: float, rng: random.Random, random_lexical_edits: bool = False) -> str:
    """Edit `rate` of the words of `text` (see the module docstring), keeping the line structure."""
    lines = [line.split(" ") for line in text.split("\n")]
    flat = [(li, wi) for li, line in enumerate(lines) for wi in range(len(line)) if line[wi]]
    vocab = sorted({w for line in lines for w in line if w.isalpha()}) or ["word"]
    n_edits = max(1, round(rate * len(flat)))
    if random_lexical_edits:
        for li, wi in sorted(rng.sample(flat, min(n_edits, len(flat))), reverse=True):
            _lexical_edit(lines[li], wi, vocab, rng)
    else:
        n_lex = max(1, round(0.2 * n_edits))
        surface = rng.sample(flat, min(n_edits - n_lex, len(flat)))
        for li, wi in surface:
            lines[li][wi] = _surface_edit(lines[li][wi], rng)
        # one contiguous run of lexical edits, inside one line
        li = rng.choice([i for i, line in enumerate(lines) if len(line) > 3] or [0])
        start = rng.randrange(len(lines[li]))
        for wi in range(min(len(lines[li]) - 1, start + n_lex - 1), start - 1, -1):
            _lexical_edit(lines[li], wi, vocab, rng)
    out = "\n".join(" ".join(line) for line in lines)
    return out if out != text else text + " " + rng.choice(vocab)


def make_variant(text: str, kind: str, rng: random.Random, random_lexical_edits: bool = False) -> str:
    if kind == "exact":
        return text
    if kind == "edit":
        return edit_words(text, rng.uniform(0.01, 0.15), rng, random_lexical_edits)
    if kind == "reorder":
        paras = text.split("\n")
        shuffled = paras[:]
        while len(paras) > 1 and shuffled == paras:
            rng.shuffle(shuffled)
        return "\n".join(shuffled) if len(paras) > 1 else text + "\n" + rng.choice(HEADERS)
    if kind == "header":
        out = rng.choice(HEADERS) + "\n" + edit_words(text, 0.01, rng)
        return out + "\n" + rng.choice(FOOTERS) if rng.random() < 0.5 else out
    raise ValueError(kind)


def planted_set(originals: list[dict], seed: int = 0, dup_fraction: float = 0.5, negative_fraction: float = 0.25,
                kinds: tuple[str, ...] = ("edit", "edit", "reorder", "header", "exact"),
                random_lexical_edits: bool = False) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """-> (documents, cluster of each document id, kind of each variant id).

    Every original is its own cluster; a variant joins its original's cluster. Variant ids sort after their
    original's id, so the expected representative of a cluster is its original.
    """
    rng = random.Random(seed)
    docs, cluster, kind_of = [], {}, {}
    order = list(range(len(originals)))
    rng.shuffle(order)
    n_dup = int(dup_fraction * len(originals))
    n_neg = int(negative_fraction * len(originals))
    dup_idx, neg_idx = set(order[:n_dup]), set(order[n_dup:n_dup + n_neg])
    for i, o in enumerate(originals):
        text = o["text"]
        if i in neg_idx:
            text = NEGATIVE_HEADER + "\n" + text + "\n" + NEGATIVE_FOOTER
        docs.append({"id": o["id"], "text": text, "url": o.get("url")})
        cluster[o["id"]] = o["id"]
        if i in dup_idx:
            for v in range(rng.randint(1, 3)):
                kind = rng.choice(kinds)
                vid = f"{o['id']}~v{v}"
                docs.append({"id": vid, "text": make_variant(o["text"], kind, rng, random_lexical_edits),
                             "url": (o.get("url") or "") + f"?copy={v}"})
                cluster[vid], kind_of[vid] = o["id"], kind
    return docs, cluster, kind_of


def duplicate_scores(dropped: dict[str, str], cluster: dict[str, str]) -> dict[str, float]:
    """Precision/recall/F1 of duplicate documents, whichever member of a cluster is kept.

    dropped: id -> duplicate_of for every document the dedup dropped. A planted cluster of n documents holds
    n-1 true duplicates and one member may survive (the dev set's metric, representative-agnostic): a drop
    is correct when it names a member of its own cluster and the cluster still keeps one member.
    """
    members = defaultdict(list)
    for doc_id, c in cluster.items():
        members[c].append(doc_id)
    truth = sum(len(ids) - 1 for ids in members.values())
    hits = defaultdict(int)
    for d, rep in dropped.items():
        if d in cluster and cluster.get(rep) == cluster[d]:
            hits[cluster[d]] += 1
    correct = sum(min(n, len(members[c]) - 1) for c, n in hits.items())
    precision = correct / len(dropped) if dropped else 1.0
    recall = correct / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_duplicates": truth,
            "dropped": len(dropped), "correct": correct}


# ------------------------------------------------------------------------------- running the PTransform
def _dropped_json(d) -> str:
    return json.dumps({"id": d.doc.id, "reason": d.reason, "duplicate_of": d.duplicate_of, "stage": d.stage,
                       "text": d.doc.text}, sort_keys=True)


def _kept_json(doc) -> str:
    return json.dumps({"id": doc.id, "text": doc.text, "meta": doc.meta}, sort_keys=True)


def _to_document(rec: dict):
    from corpusforge.records import Document

    return Document(id=rec["id"], text=rec["text"], url=rec.get("url"), source=rec.get("source", "mem"),
                    line=rec.get("line", -1), meta=dict(rec.get("meta") or {}))


def _read_jsonl(path: str):
    """One JSONL file -> records (read inside the pipeline, as curate reads its checkpoint shards)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def run_dedup(records: list[dict] | None, cfg, out_dir: str, state_dir: str | None = None, num_workers: int = 1,
              mode: str = "in_memory", write_state_to: str | None = None, paths: list[str] | None = None) -> dict:
    """Run Deduplicate on `records` (or on the JSONL files `paths`, read by the pipeline: the corpus is then
    not pickled into the pipeline graph) with the FnApiRunner; return kept, dropped, cluster_sizes, rounds."""
    import glob
    import os

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from corpusforge.pipelines.dedup import Deduplicate, WriteState

    opts = PipelineOptions([f"--direct_num_workers={num_workers}", f"--direct_running_mode={mode}",
                            "--no_save_main_session", "--pickle_library=cloudpickle"])
    os.makedirs(out_dir, exist_ok=True)
    if mode == "multi_processing":
        # Worker processes unpickle this module's functions by name: they must be able to import it.
        here = str(Path(__file__).resolve().parent)
        py_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if here not in py_paths:
            os.environ["PYTHONPATH"] = os.pathsep.join([here, *[x for x in py_paths if x]])
    with beam.Pipeline(runner=FnApiRunner(), options=opts) as p:
        if paths is not None:
            recs = p | beam.Create(sorted(paths)) | "ReadJsonl" >> beam.FlatMap(_read_jsonl)
        else:
            recs = p | beam.Create(records)
        docs = recs | "ToDoc" >> beam.Map(_to_document)
        dd = docs | "Dedup" >> Deduplicate(cfg, state_dir=state_dir, runs_dir=f"{out_dir}/_runs")
        dd["kept"] | "KJ" >> beam.Map(_kept_json) | "KW" >> beam.io.WriteToText(f"{out_dir}/kept")
        dd["dropped"] | "DJ" >> beam.Map(_dropped_json) | "DW" >> beam.io.WriteToText(f"{out_dir}/dropped")
        dd["cluster_sizes"] | "CJ" >> beam.Map(json.dumps) | "CW" >> beam.io.WriteToText(f"{out_dir}/clusters")
        dd["cc_rounds"] | "RJ" >> beam.Map(json.dumps) | "RW" >> beam.io.WriteToText(f"{out_dir}/rounds")
        if write_state_to:
            kept_ids = dd["kept"] | "KeptIds" >> beam.Map(lambda d: (d.id, None))
            dd["state"] | WriteState(write_state_to, kept_ids, dd["state_lines"], num_shards=2)

    def load(prefix):
        return [json.loads(line) for f in sorted(glob.glob(f"{out_dir}/{prefix}-*")) for line in open(f, encoding="utf-8")]

    return {"kept": sorted(load("kept"), key=lambda r: r["id"]),
            "dropped": sorted(load("dropped"), key=lambda r: r["id"]),
            "cluster_sizes": dict(sorted(tuple(x) for x in load("clusters"))),
            "rounds": load("rounds")[0]}
