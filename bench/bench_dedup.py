#!/usr/bin/env python3
"""Near-duplicate dedup, side by side on one corpus (issue 11): corpusforge vs datasketch vs datatrove.

    .venv/bin/python bench/bench_dedup.py                                  # development set, threshold 0.8
    .venv/bin/python bench/bench_dedup.py --threshold 0.7 \\
        --datatrove-python /path/to/venv-with-datatrove/bin/python         # adds datatrove's 4 stages
    .venv/bin/python bench/bench_dedup.py --scale 4 --methods ours1        # memory at 4x the corpus

Corpus: the labelled development set (`--evaldev`, default ../shared/evaldev): its documents and its truth
(planted clusters with the true word 5-gram Jaccard of each variant to its source, hard negatives).
`--scale k` adds k-1 renamed copies of every document whose words are mapped to another vocabulary (each
letter shifted, in every script), so the copies are new documents with the same duplicate structure and no cross-copy
duplicates: memory per worker can be compared at 1x and kx.

Every method runs in its own child process on the same JSONL file and writes `{id: duplicate_of}` for the
documents it removes; the parent times it and samples the resident memory of the child's whole process tree
(Beam workers included) every 50 ms. Methods, all with word 5-grams of lowercased `\\w+` words:
  * ours1 / ours2: `Deduplicate` (exact + MinHash LSH + verification + connected components) on the
    FnApiRunner with 1 worker (in_memory) and 2 workers (multi_processing), default settings but `threshold`;
    the pipeline reads the JSONL shards itself (before 2026-11-30 the records went through `beam.Create`,
    which pickled and bz2-compressed the whole corpus into the pipeline graph: ~1/3 of our time at 1x);
  * datasketch: `MinHash.update_batch` + `MinHashLSH(threshold, num_perm)` insert/query + union-find (its own
    bands x rows, no verification; one process holds every signature);
  * datatrove: its four stages (MinhashDedupSignature, MinhashDedupBuckets, MinhashDedupCluster,
    MinhashDedupFilter) on LocalPipelineExecutor, with the same tokenization (a `\\w+` tokenizer, lowercase
    only) and the same bands x rows as ours, run by `--datatrove-python` (datatrove is not a project
    dependency; install it in a separate venv: `pip install "datatrove[processing]==0.10.1" orjson`; its log is
    shown only if it fails). `--datatrove-default` adds a run with datatrove's own
    defaults (14 x 8, its text normalization: digits folded, punctuation removed), with the same `\w+` word
    split (its default English tokenizer needs spaCy in the bench venv).
Scores use the development set's own metric code (evaldev/metrics.py): caught by Jaccard bucket, document
precision/recall, hard negatives removed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


# ------------------------------------------------------------------------------------------ corpus
def _shift(text: str, k: int) -> str:
    """Copy k of a text: ASCII letters rotated by k, every other letter moved k code points (CJK, Greek,
    Cyrillic: still letters, so still `\w`): a new vocabulary in every script, same structure."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            ch = chr((ord(ch) - 97 + k) % 26 + 97)
        elif "A" <= ch <= "Z":
            ch = chr((ord(ch) - 65 + k) % 26 + 65)
        elif ch.isalpha() and chr(ord(ch) + k).isalpha():
            ch = chr(ord(ch) + k)
        out.append(ch)
    return "".join(out)


SHARDS = 4


def build_corpus(evaldev: Path, scale: int, directory: Path) -> tuple[int, dict]:
    """The corpus as SHARDS JSONL files (so datatrove's readers can use 2 tasks), documents dealt round-robin."""
    sys.path.insert(0, str(evaldev))
    import metrics as ec

    truth = ec.load_truth(evaldev / "data")
    directory.mkdir(parents=True, exist_ok=True)
    outs = [open(directory / f"part-{i:05d}.jsonl", "w", encoding="utf-8") for i in range(SHARDS)]
    n = 0
    for f in sorted((evaldev / "data").glob("part-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                for k in range(scale):
                    rid = r["id"] if k == 0 else f"{r['id']}~x{k}"
                    text = r["text"] if k == 0 else _shift(r["text"], k)
                    outs[n % SHARDS].write(json.dumps({"id": rid, "text": text}, ensure_ascii=False) + "\n")
                    n += 1
    for o in outs:
        o.close()
    return n, truth


def score(removed: dict[str, str], truth: dict, evaldev: Path) -> dict:
    """Scores on the original (copy 0) documents only, with the development set's metric code."""
    sys.path.insert(0, str(evaldev))
    import metrics as ec

    r = {i for i in removed if "~x" not in i}
    doc = ec.dedup_doc_scores(r, truth)
    return {"caught": ec.removed_recall_by_jaccard(r, truth), "precision": doc["precision"],
            "recall": doc["recall"], "removed": len(r), "hard_negatives_removed": doc.get("hard_negatives_removed")}


# --------------------------------------------------------------------------------- process memory
def _children(pid: int) -> list[int]:
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
        todo += _children(p)
    return total


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, int, int]:
    """(seconds, peak tree RSS bytes, return code). The child's log (datatrove logs every task at INFO) is
    kept in a temporary file and printed only if the child fails."""
    with tempfile.TemporaryFile(mode="w+") as log:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.05)
        secs = time.perf_counter() - t
        if proc.returncode != 0:
            log.seek(0)
            print(log.read()[-8000:], flush=True)
    return secs, peak, proc.returncode


# --------------------------------------------------------------------------------------- methods
def _read(directory: str) -> list[dict]:
    return [json.loads(line) for p in sorted(Path(directory).glob("*.jsonl")) for line in open(p, encoding="utf-8")]


def method_ours(inp: str, out: str, threshold: float, workers: int) -> None:
    from corpusforge.config import DedupConfig
    from dedup_planted import run_dedup

    with tempfile.TemporaryDirectory() as tmp:
        # The pipeline reads the JSONL shards itself (as curate reads its checkpoint shards and datatrove its
        # files): a beam.Create of the records would pickle the whole corpus into the pipeline graph.
        res = run_dedup(None, DedupConfig(enabled=True, threshold=threshold), tmp, num_workers=workers,
                        mode="multi_processing" if workers > 1 else "in_memory",
                        paths=sorted(str(p) for p in Path(inp).glob("*.jsonl")))
    json.dump({d["id"]: d["duplicate_of"] for d in res["dropped"]}, open(out, "w"))


def method_datasketch(inp: str, out: str, threshold: float, workers: int) -> None:
    from datasketch import MinHash, MinHashLSH

    from corpusforge.transforms.dedup.lsh import components_union_find
    from corpusforge.transforms.dedup.shingles import shingles

    docs = _read(inp)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sigs = []
    for d in docs:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles(d["text"])])
        lsh.insert(d["id"], m)
        sigs.append(m)
    edges = [(d["id"], o) for d, m in zip(docs, sigs) for o in lsh.query(m) if o != d["id"]]
    comp = components_union_find(edges)
    json.dump({x: rep for x, rep in comp.items() if x != rep}, open(out, "w"))


DATATROVE_SCRIPT = r'''
import atexit, json, re, shutil, sys, tempfile
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer

class UnicodeWords(WordTokenizer):
    """The shingling corpusforge uses: lowercase (done by the norm config), words = \w+."""
    def word_tokenize(self, text):
        return re.findall(r"\w+", text)
    def sent_tokenize(self, text):
        return [text]
    def span_tokenize(self, text):
        return [m.span() for m in re.finditer(r"\w+", text)]


def main():
    inp, out, bands, rows, workers, default = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"

    if default:  # datatrove's defaults (14 x 8, its text normalization), with the same \w+ word split
        cfg, tok = MinhashConfig(), UnicodeWords()
    else:
        norm = TextNormConfig(lowercase=True, norm_whitespace=False, remove_punctuation=False,
                              norm_unicode_diacritics=False, norm_numbers=False)
        cfg, tok = MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows, norm_config=norm), UnicodeWords()
    tmp = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, tmp, True)  # datatrove's signatures, buckets, logs
    reader = lambda: JsonlReader(inp, glob_pattern="*.jsonl", text_key="text", id_key="id")
    sig = f"{tmp}/sigs"; buckets = f"{tmp}/buckets"; rem = f"{tmp}/remove_ids"; res = f"{tmp}/out"
    LocalPipelineExecutor([reader(), MinhashDedupSignature(output_folder=sig, config=cfg, language=tok)],
                          tasks=workers, workers=workers, logging_dir=f"{tmp}/l1").run()
    LocalPipelineExecutor([MinhashDedupBuckets(input_folder=sig, output_folder=buckets, config=cfg)],
                          tasks=cfg.num_buckets, workers=workers, logging_dir=f"{tmp}/l2").run()
    LocalPipelineExecutor([MinhashDedupCluster(input_folder=buckets, output_folder=rem, config=cfg)],
                          tasks=1, logging_dir=f"{tmp}/l3").run()
    kept = set()
    LocalPipelineExecutor([reader(), MinhashDedupFilter(input_folder=rem), JsonlWriter(res, compression=None)],
                          tasks=workers, workers=workers, logging_dir=f"{tmp}/l4").run()
    import glob
    for f in glob.glob(f"{res}/*.jsonl"):
        for line in open(f):
            kept.add(json.loads(line)["id"])
    ids = [json.loads(l)["id"] for f in glob.glob(f"{inp}/*.jsonl") for l in open(f)]
    json.dump({i: "" for i in ids if i not in kept}, open(out, "w"))


if __name__ == "__main__":  # datatrove's executor spawns processes
    main()
'''

METHODS = {"ours1": (method_ours, 1), "ours2": (method_ours, 2), "datasketch": (method_datasketch, 1)}


# ------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evaldev", default=str(ROOT.parent / "shared" / "evaldev"))
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--scale", type=int, default=1, help="corpus copies (memory at 1x vs kx)")
    ap.add_argument("--methods", default="ours1,ours2,datasketch,datatrove")
    ap.add_argument("--datatrove-python", default=None,
                    help="a python where datatrove is importable (0.10.1 needs xxhash<4: its MinHash hashes str)")
    ap.add_argument("--datatrove-default", action="store_true", help="also run datatrove with its defaults")
    ap.add_argument("--run-method", help=argparse.SUPPRESS)
    ap.add_argument("--inp", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_method:
        fn, workers = METHODS[args.run_method]
        fn(args.inp, args.out, args.threshold, workers)
        return 0

    from corpusforge.config import DedupConfig
    from corpusforge.transforms.dedup.minhash import bands_rows

    evaldev = Path(args.evaldev)
    b, r = bands_rows(DedupConfig(enabled=True, threshold=args.threshold))
    methods = args.methods.split(",")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "tests"), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inp = f"{tmp}/corpus"
        n, truth = build_corpus(evaldev, args.scale, Path(inp))
        print(f"corpus: {n} documents (scale {args.scale}); threshold {args.threshold}; ours/datatrove bands x rows "
              f"{b} x {r}; nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}", flush=True)
        runs = []
        for m in methods:
            if m in METHODS:
                runs.append((m, [sys.executable, __file__, "--run-method", m, "--inp", inp, "--threshold",
                                 str(args.threshold)]))
            elif m == "datatrove" and args.datatrove_python:
                script = f"{tmp}/dt.py"
                Path(script).write_text(DATATROVE_SCRIPT)
                runs.append((f"datatrove {b}x{r} (2 workers)", [args.datatrove_python, script, inp, None, str(b), str(r),
                                                                 "2", "0"]))
                if args.datatrove_default:
                    runs.append(("datatrove defaults 14x8 (2 workers)",
                                 [args.datatrove_python, script, inp, None, "14", "8", "2", "1"]))
        for name, cmd in runs:
            out = f"{tmp}/{name.split()[0]}-{len(rows)}.json"
            if "--out" not in cmd and None not in cmd:
                cmd = cmd + ["--out", out]
            else:
                cmd = [out if c is None else c for c in cmd]
            secs, peak, rc = run_child(cmd, env)
            if rc != 0:
                print(f"{name}: failed (exit {rc})", flush=True)
                continue
            s = score(json.load(open(out)), truth, evaldev)
            rows.append((name, n / secs, secs, peak, s))
            print(f"{name}: {n / secs:,.0f} docs/s ({secs:.1f} s), peak RSS {peak / 2**20:,.0f} MiB, {json.dumps(s)}",
                  flush=True)
    print()
    print("| method | docs/s | s | peak RSS MiB | >=0.9 | 0.8-0.9 | 0.7-0.8 | 0.5-0.7 | doc precision | doc recall "
          "| hard negatives removed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rate, secs, peak, s in rows:
        c = s["caught"]
        print(f"| {name} | {rate:,.0f} | {secs:.1f} | {peak / 2**20:,.0f} | {c['>=0.9']['caught']:.4f} | "
              f"{c['0.8-0.9']['caught']:.4f} | {c['0.7-0.8']['caught']:.4f} | {c['0.5-0.7']['caught']:.4f} | "
              f"{s['precision']:.4f} | {s['recall']:.4f} | {s['hard_negatives_removed']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
