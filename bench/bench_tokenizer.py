"""Tokenizer benchmarks: training time and peak memory vs sample size; encode throughput, Beam vs a plain loop.

    .venv/bin/python bench/bench_tokenizer.py                       # sizes 0.5 1 2 MB, encode corpus x8
    .venv/bin/python bench/bench_tokenizer.py --sizes 1 4 16 --corpus /tmp/bench-corpus --copies 2

Corpus: real prose of the demo (data/demo/part-000.jsonl, part-001.jsonl.gz: Debian and LibreOffice
documentation, ~10 languages; records with a fastText language label), or the JSONL(.gz) shards of
scripts/make_bench_corpus.py with --corpus. It is written as a curate run's kept/ (4 Parquet shards).

1. Training, per sample size: the Beam sample step (FnApiRunner, in_memory), then SentencePiece BPE and
   the unigram baseline, each in a fresh child process that reports its peak RSS (VmHWM), next to the
   peak RSS of a child that only imports sentencepiece.
2. Encoding: the kept corpus (repeated --copies times under new ids, so fixed pipeline costs do not
   dominate) encoded by
     * loop:       one Python process, pyarrow batches, sp.encode per document (the floor),
     * loop-batch: the same, sp.encode on each 2048-document batch (1 thread, as the Beam step),
     * beam-1:     `corpusforge tokenize` on FnApiRunner in_memory, 1 worker, which also checks that every
                   document decodes back to its text, groups by shard and writes the shards,
     * beam-1-noverify: the same without the decode check (the like-for-like comparison with the loops),
     * beam-2mp:   the same with 2 workers, multi_processing.
   MB/s = UTF-8 bytes of kept text / wall seconds; ratios are against `loop` from this same run.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEPT_COLUMNS = ["id", "text", "url", "source", "language", "language_score", "perplexity", "perplexity_bucket",
                "annotations"]


def corpus_records(corpus: Path | None) -> list[dict]:
    if corpus is None:
        demo = ROOT / "data" / "demo"
        raws = (demo / "part-000.jsonl").read_bytes().split(b"\n")
        raws += gzip.decompress((demo / "part-001.jsonl.gz").read_bytes()).split(b"\n")
    else:
        raws = []
        for f in sorted(corpus.glob("*.jsonl*")):
            data = f.read_bytes()
            raws += (gzip.decompress(data) if f.name.endswith(".gz") else data).split(b"\n")
    recs, seen = [], set()
    for raw in raws:
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            continue
        lang = rec.get("lang_hint") or rec.get("path_lang")
        if not lang or not rec.get("id") or rec["id"] in seen:
            continue
        seen.add(rec["id"])
        recs.append({"id": rec["id"], "text": rec["text"], "language": lang})
    return recs


def write_run(run: Path, recs: list[dict], shards: int = 4) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string()),
                        ("language", pa.string()), ("language_score", pa.float64()), ("perplexity", pa.float64()),
                        ("perplexity_bucket", pa.string()), ("annotations", pa.string())])
    (run / "kept").mkdir(parents=True, exist_ok=True)
    recs = sorted(recs, key=lambda r: r["id"])
    for s in range(shards):
        rows = [{"id": r["id"], "text": r["text"], "url": None, "source": "bench", "language": r["language"],
                 "language_score": 1.0, "perplexity": None, "perplexity_bucket": None, "annotations": "{}"}
                for r in recs[s::shards]]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), run / "kept" / f"part-{s:05d}-of-{shards:05d}.parquet")
    return sum(len(r["text"].encode("utf-8")) for r in recs)


# ------------------------------------------------------------------------------------------- training
# Children import only sentencepiece, so their peak RSS is training's, not the package's imports.
CHILD_TRAIN = r"""
import io, json, sys, time
import sentencepiece as spm
args = json.loads(sys.argv[2])
with open(sys.argv[1], "rb") as f:
    lines = [raw.rstrip(b"\n").decode("utf-8") for raw in f if raw != b"\n"]
model = io.BytesIO()
t0 = time.perf_counter()
spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, minloglevel=2, **args)
seconds = time.perf_counter() - t0
# VmHWM is this process image's peak RSS (ru_maxrss from wait4 would include the parent's, inherited at fork).
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": seconds, "peak_mib": hwm,
                  "pieces": spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()}))
"""
CHILD_IDLE = """
import json, sentencepiece
print(json.dumps({"peak_mib": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""


def run_child(code: str, *argv: str) -> dict:
    """Run a child Python that prints one JSON object (with its own peak RSS, `peak_mib`)."""
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return json.loads(proc.stdout)


def bench_training(run: Path, work: Path, sizes_mb: list[float], vocab: int) -> list[dict]:
    from corpusforge.config import RunnerConfig, TokenizerTrainConfig
    from corpusforge.pipelines.tokenizer import build_training_sample
    from corpusforge.tokenizers.train import sentencepiece_args

    idle_mib = run_child(CHILD_IDLE)["peak_mib"]
    rows = []
    for mb in sizes_mb:
        cfg = TokenizerTrainConfig(sample_bytes=int(mb * 1e6), vocab_size=vocab, hard_vocab_limit=False)
        out = work / f"sample-{mb}"
        out.mkdir(parents=True)
        t0 = time.perf_counter()
        stats = build_training_sample(str(run), str(out), cfg, RunnerConfig())
        sample_s = time.perf_counter() - t0
        row = {"budget_mb": mb, "sample_mb": stats["total_bytes"] / 1e6, "lines": stats["total_lines"],
               "languages": len(stats["languages"]), "sample_s": sample_s, "idle_mib": idle_mib}
        for model_type in ("bpe", "unigram"):
            args = sentencepiece_args(cfg, model_type, vocab)
            res = run_child(CHILD_TRAIN, str(out / "sample.txt"), json.dumps(args))
            row[f"{model_type}_s"] = res["seconds"]
            row[f"{model_type}_pieces"] = res["pieces"]
            row[f"{model_type}_peak_mib"] = res["peak_mib"]
        rows.append(row)
        print(f"  sample {row['sample_mb']:.2f} MB ({row['lines']} lines): beam sample {sample_s:.1f}s, "
              f"bpe {row['bpe_s']:.1f}s / {row['bpe_peak_mib']:.0f} MiB, "
              f"unigram {row['unigram_s']:.1f}s / {row['unigram_peak_mib']:.0f} MiB", flush=True)
    return rows


# ------------------------------------------------------------------------------------------- encoding
def bench_loop(run: Path, model: Path, batch: bool) -> tuple[float, int, int]:
    import numpy as np
    import pyarrow.parquet as pq
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    t0 = time.perf_counter()
    nbytes = ntok = 0
    for path in sorted((run / "kept").glob("*.parquet")):
        for b in pq.ParquetFile(path).iter_batches(batch_size=2048, columns=["id", "text", "language"]):
            texts = b.column("text").to_pylist()
            encoded = sp.encode(texts, num_threads=1) if batch else [sp.encode(t) for t in texts]
            for t, ids in zip(texts, encoded):
                arr = np.asarray(ids, dtype=np.uint16)
                nbytes += len(t.encode("utf-8"))
                ntok += len(arr)
    return time.perf_counter() - t0, nbytes, ntok


def bench_beam(run: Path, tok: Path, out: Path, workers: int, mode: str, verify: bool,
               threads: int = 1) -> tuple[float, dict]:
    from corpusforge.config import RunnerConfig
    from corpusforge.pipelines.tokenizer import run_tokenize

    runner = RunnerConfig(direct_num_workers=workers, direct_running_mode=mode)
    t0 = time.perf_counter()
    manifest = run_tokenize(str(run), str(tok), str(out), num_shards=4, runner=runner, verify_roundtrip=verify,
                            overwrite=True, encode_threads=threads)
    return time.perf_counter() - t0, manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None, help="dir of JSONL(.gz) shards (default: the demo)")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="sample budgets in MB")
    ap.add_argument("--vocab-size", type=int, default=4000)
    ap.add_argument("--copies", type=int, default=8, help="copies of the kept corpus for the encode benchmark")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args(argv)

    from corpusforge.cli import main as cli

    recs = corpus_records(args.corpus)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; corpus: {len(recs)} labelled documents, "
          f"{sum(len(r['text'].encode()) for r in recs) / 1e6:.2f} MB")
    with tempfile.TemporaryDirectory(prefix="bench-tok-") as tmp:
        tmp = Path(tmp)
        write_run(tmp / "run", recs)
        if not args.skip_training:
            print("training (Beam sample step, then SentencePiece in a child process per model):")
            rows = bench_training(tmp / "run", tmp / "train", args.sizes, args.vocab_size)
            print(json.dumps({"training": rows}, indent=1))

        rc = cli(["train-tokenizer", "--run", str(tmp / "run"), "--out", str(tmp / "tok"), "--quiet",
                  "--sample-bytes", str(int(max(args.sizes) * 1e6)),
                  "--vocab-size", str(args.vocab_size), "--baseline", "none", "--soft-vocab-limit"])
        assert rc == 0
        copies = [dict(r, id=f"{r['id']}~{c}") for c in range(args.copies) for r in recs]
        total = write_run(tmp / "enc", copies)
        print(f"encoding: {len(copies)} documents, {total / 1e6:.1f} MB")
        results = {}
        for name, batch in (("loop", False), ("loop-batch", True)):
            s, nbytes, ntok = bench_loop(tmp / "enc", tmp / "tok" / "tokenizer.model", batch)
            results[name] = {"seconds": s, "mb_s": nbytes / 1e6 / s, "tokens": ntok}
        for name, workers, mode, verify in (("beam-1", 1, "in_memory", True), ("beam-1-noverify", 1, "in_memory", False),
                                            ("beam-2mp", 2, "multi_processing", True)):
            s, manifest = bench_beam(tmp / "enc", tmp / "tok", tmp / f"shards-{name}", workers, mode, verify)
            results[name] = {"seconds": s, "mb_s": total / 1e6 / s, "tokens": manifest["total_tokens"]}
        assert len({r["tokens"] for r in results.values()}) == 1, "runs disagree on the token count"
        base = results["loop"]["mb_s"]
        print(f"{'encoder':<18} {'seconds':>8} {'MB/s':>7} {'vs loop':>8}")
        for name, r in results.items():
            print(f"{name:<18} {r['seconds']:>8.2f} {r['mb_s']:>7.2f} {r['mb_s'] / base:>7.2f}x")
        print(json.dumps({"encode": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
