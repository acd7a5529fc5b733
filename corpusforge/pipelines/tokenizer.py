"""Beam steps for tokenizers: the language-balanced training sample, and `corpusforge tokenize` (token shards).

Training sample (`build_training_sample`), in one pipeline that never gathers the corpus on one worker:
  1. read kept/ -> per document: language, units (UTF-8 bytes or lines of its sample lines), unless held out;
  2. CombinePerKey -> per-language totals -> one small plan: temperature share, target, keep threshold;
  3. read kept/ again -> keep a document when its keyed hash falls under its language's threshold
     (a little above the target, so the trim rarely runs short);
  4. GroupByKey(language) over those candidates -> take them in hash order up to the target;
  5. the budgeted sample (and only it) meets on one worker, which writes `sample.txt` and its statistics.

Token shards (`run_tokenize`): read kept/ -> encode on every worker (SentencePiece loaded once per worker)
-> key by shard (keyed hash of the id) -> GroupByKey -> each shard sorted by a keyed hash of the id (a
deterministic shuffle, so languages and sources mix) and written with its index -> manifest on the driver.

Both log progress every 10 s (corpusforge.pipelines.progress): documents read or encoded out of the kept
shards' row count (from their Parquet footers), rate, ETA. The counters live in `_work/_progress` and are
removed before anything is published; no output depends on them.
"""
from __future__ import annotations

import json
import logging
import re
import time
from contextlib import contextmanager
from typing import Iterable

import apache_beam as beam
import numpy as np

from corpusforge import storage
from corpusforge.config import ConfigError, RunnerConfig, TokenizerTrainConfig
from corpusforge.io.runs import kept_files, kept_rows, read_kept_batches, read_kept_file
from corpusforge.pipelines.progress import Counters, ProgressReporter, Tick, progress_dir
from corpusforge.tokenizers.sample import (
    is_heldout, keyed_hash, language_of, line_units, sample_lines, sample_plan, trim_to_target, unit_hash,
)
from corpusforge.tokenizers.shards import (
    FORMAT, MANIFEST, MODEL_FILE, SUCCESS, EncodedDoc, shard_payload, shard_stem, token_dtype,
)

log = logging.getLogger("corpusforge.tokenizer")

SAMPLE_FILE = "sample.txt"
SAMPLE_STATS = "sample_stats.json"


# --------------------------------------------------------------------------------------------- files
join = storage.join


def _read_kept(p: beam.Pipeline, files: list[str], label: str, progress: str | None = None):
    return (
        p
        | f"{label}Files" >> beam.Create(files)
        # Spread files over workers before reading; each file is read a batch at a time.
        | f"{label}Spread" >> beam.Reshuffle()
        | f"{label}Rows" >> beam.FlatMap(read_kept_file)
        | f"{label}Progress" >> beam.ParDo(Tick(progress, label))  # counts under `label` (None: counts nothing)
    )


@contextmanager
def _kept_pass_progress(work_dir: str, files: list[str], describe):
    """Around a pipeline over the kept shards: yields the workers' progress directory (None when the side
    channel is off: object stores, --quiet) while a reporter logs `describe(counts, total documents)` every
    10 s; the directory is removed afterwards, so it never reaches a published output."""
    directory = progress_dir(work_dir)
    total = kept_rows(files) if directory else None  # footers are read only when a line will be logged
    try:
        with ProgressReporter(directory, lambda counts: describe(counts, total)):
            yield directory
    finally:
        if directory:
            storage.remove(directory)


# ------------------------------------------------------------------------------------ training sample
def _sum_tuples(values: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    total: list[int] | None = None
    for v in values:
        total = list(v) if total is None else [a + b for a, b in zip(total, v)]
    return tuple(total) if total is not None else (0, 0, 0, 0)


def _language_totals(row: dict, cfg: TokenizerTrainConfig, unit: str):
    """(language, (sample units, documents, held-out documents, held-out bytes))."""
    lang = language_of(row.get("language"))
    text = row.get("text") or ""
    if is_heldout(row["id"], cfg.holdout_percent, cfg.seed):
        yield lang, (0, 0, 1, len(text.encode("utf-8")))
        return
    units = line_units(sample_lines(text, cfg.max_sentence_length), unit)
    if units:
        yield lang, (units, 1, 0, 0)


def _plan(totals: dict, cfg: TokenizerTrainConfig, unit: str, budget: int) -> dict:
    plan = sample_plan({lang: (t[0], t[1]) for lang, t in totals.items()}, cfg.alpha, budget)
    return {
        "plan": {lang: vars(p) for lang, p in plan.items()},
        "heldout": {lang: {"documents": t[2], "bytes": t[3]} for lang, t in sorted(totals.items())},
    }


def _candidates(row: dict, plan: dict, cfg: TokenizerTrainConfig):
    lang = language_of(row.get("language"))
    lang_plan = plan["plan"].get(lang)
    if lang_plan is None or is_heldout(row["id"], cfg.holdout_percent, cfg.seed):
        return
    u = unit_hash("sample", cfg.seed, row["id"])
    if u < lang_plan["threshold"]:
        lines = sample_lines(row.get("text") or "", cfg.max_sentence_length)
        if lines:
            yield lang, (u, row["id"], lines)


def _trim(item, plan: dict, unit: str):
    lang, candidates = item
    yield lang, trim_to_target(candidates, plan["plan"][lang]["target"], unit)


def _write_sample(per_language: list, plan: dict, out_dir: str, unit: str, budget: int, alpha: float) -> dict:
    """Runs once, on the budgeted sample: sample.txt (lines grouped by language, in hash order) + stats."""
    per_language = dict(sorted(per_language))
    lines_out: list[str] = []
    languages = {}
    for lang, p in plan["plan"].items():
        taken = per_language.get(lang, [])
        lines = [line for _, doc_lines in taken for line in doc_lines]
        lines_out.extend(lines)
        languages[lang] = {
            "available_units": p["available"],
            "available_documents": p["documents"],
            "temperature_share": p["share"],
            "target_units": p["target"],
            "sampled_documents": len(taken),
            "sampled_lines": len(lines),
            "sampled_bytes": sum(len(x.encode("utf-8")) for x in lines),
            "heldout_documents": plan["heldout"].get(lang, {}).get("documents", 0),
        }
    for lang, h in plan["heldout"].items():
        if lang not in languages:  # every document of this language was held out
            languages[lang] = {"available_units": 0, "available_documents": 0, "temperature_share": 0.0,
                               "target_units": 0, "sampled_documents": 0, "sampled_lines": 0,
                               "sampled_bytes": 0, "heldout_documents": h["documents"]}
    key = "sampled_lines" if unit == "sentences" else "sampled_bytes"
    total = sum(v[key] for v in languages.values())
    for v in languages.values():
        v["sampled_share"] = v[key] / total if total else 0.0
    stats = {
        "unit": unit,
        "budget": budget,
        "alpha": alpha,
        "languages": dict(sorted(languages.items())),
        "total_lines": len(lines_out),
        "total_bytes": sum(v["sampled_bytes"] for v in languages.values()),
        "sha256": storage.sha256_bytes("".join(x + "\n" for x in lines_out).encode("utf-8")),
    }
    storage.write_bytes_atomic(join(out_dir, SAMPLE_FILE), "".join(x + "\n" for x in lines_out).encode("utf-8"))
    storage.write_bytes_atomic(join(out_dir, SAMPLE_STATS), (json.dumps(stats, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return stats


def build_training_sample_pipeline(p: beam.Pipeline, files: list[str], cfg: TokenizerTrainConfig, out_dir: str,
                                   progress: str | None = None) -> None:
    unit, budget = cfg.sample_budget()
    totals = (
        _read_kept(p, files, "Count", progress)
        | "Units" >> beam.FlatMap(_language_totals, cfg=cfg, unit=unit)
        | "TotalsPerLanguage" >> beam.CombinePerKey(_sum_tuples)
        | "TotalsDict" >> beam.combiners.ToDict()
    )
    plan = totals | "Plan" >> beam.Map(_plan, cfg=cfg, unit=unit, budget=budget)
    plan_side = beam.pvalue.AsSingleton(plan)
    per_language = (
        _read_kept(p, files, "Sample", progress)
        | "Candidates" >> beam.FlatMap(_candidates, plan=plan_side, cfg=cfg)
        | "ByLanguage" >> beam.GroupByKey()
        | "TrimToTarget" >> beam.FlatMap(_trim, plan=plan_side, unit=unit)
    )
    (
        per_language
        | "Gather" >> beam.combiners.ToList()
        | "WriteSample" >> beam.Map(_write_sample, plan=plan_side, out_dir=out_dir, unit=unit, budget=budget,
                                    alpha=cfg.alpha)
    )


def _describe_sample(counts: dict[str, int], total: int | None):
    """The sample pass reads kept/ twice: once to size each language, once (after the plan) to draw from it."""
    if counts.get("Sample"):
        return "training sample: drawing documents", counts["Sample"], total, "documents"
    return "training sample: sizing languages", counts.get("Count", 0), total, "documents"


def build_training_sample(run_dir: str, out_dir: str, cfg: TokenizerTrainConfig, runner: RunnerConfig | None = None) -> dict:
    """Run the sample pipeline; returns the sample statistics (also in OUT/sample_stats.json)."""
    from corpusforge.pipelines.options import make_runner, pipeline_options

    runner = runner or RunnerConfig()
    files = kept_files(run_dir)
    t0 = time.time()
    with _kept_pass_progress(out_dir, files, _describe_sample) as progress:
        with beam.Pipeline(runner=make_runner(runner),
                           options=pipeline_options(runner, "corpusforge-tokenizer-sample")) as p:
            build_training_sample_pipeline(p, files, cfg, out_dir, progress)
    stats = json.loads(storage.read_bytes(join(out_dir, SAMPLE_STATS)))
    log.info("training sample: %d lines, %d bytes from %d files in %.1fs", stats["total_lines"], stats["total_bytes"],
             len(files), time.time() - t0)
    return stats


# ---------------------------------------------------------------------------------------- token shards
class EncodeDocuments(beam.DoFn):
    """[row] -> (shard, (order, id, language, token bytes, text bytes, round-trip ok)) per row.

    Encodes a batch of rows per call (SentencePiece's batch API, `threads` threads: 1 by default, since
    runners already run one worker per core). The model travels as bytes, so workers need no access to
    its path.
    """

    def __init__(self, model_proto: bytes, num_shards: int, seed: int, vocab_size: int, verify_roundtrip: bool,
                 threads: int = 1, progress: str | None = None):
        self.model_proto = model_proto
        self.progress = progress
        self.num_shards = num_shards
        self.seed = seed
        self.dtype = token_dtype(vocab_size)
        self.verify_roundtrip = verify_roundtrip
        self.threads = threads
        self.sp = None
        self.docs = beam.metrics.Metrics.counter("tokenize", "documents")
        self.tokens = beam.metrics.Metrics.counter("tokenize", "tokens")
        self.mismatch = beam.metrics.Metrics.counter("tokenize", "roundtrip_mismatch")

    def setup(self):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        self._counters = Counters(self.progress)

    def process(self, rows: list[dict]):
        texts = [row.get("text") or "" for row in rows]
        encoded = self.sp.encode(texts, num_threads=self.threads)
        # Never silent: a document whose decoded tokens differ from its text is named in the manifest.
        if self.verify_roundtrip:
            exact = [d == t for d, t in zip(self.sp.decode(encoded, num_threads=self.threads), texts)]
        else:
            exact = [True] * len(texts)
        for row, text, ids, ok in zip(rows, texts, encoded, exact):
            tokens = np.asarray(ids, dtype=self.dtype)
            self.docs.inc()
            self.tokens.inc(len(ids))
            if not ok:
                self.mismatch.inc()
            doc_id = row["id"]
            shard = keyed_hash("shard", self.seed, doc_id) % self.num_shards
            # Plain tuple with the tokens as bytes: the cheapest thing to pickle through the shuffle.
            yield shard, (keyed_hash("order", self.seed, doc_id), doc_id, language_of(row.get("language")),
                          tokens.tobytes(), len(text.encode("utf-8")), ok)
        self._counters.add("encoded", len(rows))  # once per batch: a Tick per document would cost more

    def finish_bundle(self):
        self._counters.flush(force=True)


class WriteTokenShard(beam.DoFn):
    """(shard, docs) -> the shard's files in the work dir, plus a small meta JSON the driver reads."""

    def __init__(self, work_dir: str, num_shards: int, vocab_size: int, eos_id: int | None):
        self.work_dir = work_dir
        self.num_shards = num_shards
        self.dtype = token_dtype(vocab_size)
        self.eos_id = eos_id

    def process(self, item):
        shard, values = item
        values = sorted(values, key=lambda v: (v[0], v[1]))
        docs = [EncodedDoc(order, doc_id, lang, np.frombuffer(tokens, dtype=self.dtype), nbytes)
                for order, doc_id, lang, tokens, nbytes, _ in values]
        yield write_shard(self.work_dir, shard, self.num_shards, docs, self.dtype, self.eos_id,
                          sorted(v[1] for v in values if not v[5]))


def write_shard(directory: str, shard: int, num_shards: int, docs: list[EncodedDoc], dtype: np.dtype,
                eos_id: int | None, mismatched: list[str]) -> dict:
    stem = shard_stem(shard, num_shards)
    payload = shard_payload(docs, dtype, eos_id)
    files, hashes = {}, {}
    for ext, data in payload.items():
        name = stem + ext
        storage.write_bytes_atomic(join(directory, name), data)
        files[ext] = name
        hashes[name] = storage.sha256_bytes(data)
    per_lang: dict[str, dict[str, int]] = {}
    for d in docs:
        s = per_lang.setdefault(d.language, {"documents": 0, "tokens": 0, "bytes": 0})
        s["documents"] += 1
        s["tokens"] += len(d.tokens)
        s["bytes"] += d.num_bytes
    meta = {
        "shard": shard, "files": files, "sha256": hashes, "num_docs": len(docs),
        "num_tokens": int(len(payload[".bin"]) // dtype.itemsize), "languages": dict(sorted(per_lang.items())),
        "roundtrip_mismatch_ids": mismatched,
    }
    storage.write_bytes_atomic(join(directory, stem + ".meta.json"), json.dumps(meta, sort_keys=True).encode("utf-8"))
    return meta


_OUR_NAMES = re.compile(r"^(tokens-\d{5}-of-\d{5}\..+|manifest\.json|tokenizer\.model|_SUCCESS|_work|\..*\.tmp-[0-9a-f]+)$")


def run_tokenize(run_dir: str, tokenizer_dir: str, out_dir: str, num_shards: int | None = None,
                 append_eos: bool = True, seed: int = 0, verify_roundtrip: bool = True,
                 runner: RunnerConfig | None = None, overwrite: bool = False, encode_threads: int = 1) -> dict:
    """Encode RUN_DIR/kept into token shards under OUT; returns the manifest."""
    import sentencepiece as spm

    from corpusforge.pipelines.options import make_runner, pipeline_options

    runner = runner or RunnerConfig()
    files = kept_files(run_dir)
    model_path = join(tokenizer_dir, MODEL_FILE)
    if not storage.exists(model_path):
        raise ConfigError(f"{model_path} not found (is --tokenizer the --out of `corpusforge train-tokenizer`?)")
    model_proto = storage.read_bytes(model_path)
    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    vocab_size = sp.get_piece_size()
    eos_id = sp.eos_id() if append_eos else None
    if append_eos and eos_id < 0:
        raise ConfigError(f"{model_path} has no end-of-text piece; pass --no-eos")
    n = num_shards or len(files)
    if n < 1:
        raise ConfigError("--num-shards must be at least 1")
    dtype = token_dtype(vocab_size)
    work = storage.claim_output_dir(out_dir, _OUR_NAMES.match, SUCCESS, overwrite, "token shards")

    def describe(counts: dict[str, int], total: int | None):
        if counts.get("shards"):
            return f"tokenize: {counts['shards']} / {n} shards written"
        return "tokenize: encoding", counts.get("encoded", 0), total, "documents"

    t0 = time.time()
    with _kept_pass_progress(work, files, describe) as progress:
        with beam.Pipeline(runner=make_runner(runner), options=pipeline_options(runner, "corpusforge-tokenize")) as p:
            (
                p
                | "KeptFiles" >> beam.Create(files)
                | "KeptSpread" >> beam.Reshuffle()
                | "KeptBatches" >> beam.FlatMap(read_kept_batches)
                | "Encode" >> beam.ParDo(EncodeDocuments(model_proto, n, seed, vocab_size, verify_roundtrip,
                                                         encode_threads, progress))
                | "ByShard" >> beam.GroupByKey()
                | "WriteShard" >> beam.ParDo(WriteTokenShard(work, n, vocab_size, eos_id))
                | "ShardProgress" >> beam.ParDo(Tick(progress, "shards"))
            )
    seconds = time.time() - t0
    metas = {}
    for path in storage.match(join(work, "*.meta.json")):
        meta = json.loads(storage.read_bytes(path))
        metas[meta["shard"]] = meta
    for shard in range(n):
        if shard not in metas:  # no document hashed here: an empty shard keeps the names "i of n" complete
            metas[shard] = write_shard(work, shard, n, [], dtype, eos_id, [])
    storage.write_bytes_atomic(join(work, MODEL_FILE), model_proto)
    shards = [metas[i] for i in range(n)]
    manifest = _manifest(shards, run_dir, tokenizer_dir, model_proto, vocab_size, dtype, append_eos, eos_id, seed,
                         files, verify_roundtrip)
    for i in range(n):
        storage.remove(join(work, shard_stem(i, n) + ".meta.json"))
    storage.write_bytes_atomic(join(work, MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    storage.publish_work_dir(work, out_dir, _OUR_NAMES.match, marker=SUCCESS)
    total_bytes = sum(v["bytes"] for v in manifest["languages"].values())
    log.info("tokenized %d documents into %d tokens (%d shards) in %.1fs, %.2f MB/s", manifest["total_documents"],
             manifest["total_tokens"], n, seconds, total_bytes / 1e6 / max(seconds, 1e-9))
    return manifest


def _manifest(shards, run_dir, tokenizer_dir, model_proto, vocab_size, dtype, append_eos, eos_id, seed, files,
              verify_roundtrip) -> dict:
    languages: dict[str, dict[str, int]] = {}
    mismatched: list[str] = []
    for s in shards:
        for lang, v in s["languages"].items():
            agg = languages.setdefault(lang, {"documents": 0, "tokens": 0, "bytes": 0})
            for k in agg:
                agg[k] += v[k]
        mismatched.extend(s["roundtrip_mismatch_ids"])
    for v in languages.values():
        v["bytes_per_token"] = v["bytes"] / v["tokens"] if v["tokens"] else None
    return {
        "format": FORMAT,
        "source_run": run_dir,
        "kept_files": [f.rsplit("/", 1)[-1] for f in files],
        "tokenizer": {"dir": tokenizer_dir, "file": MODEL_FILE, "sha256": storage.sha256_bytes(model_proto),
                      "vocab_size": vocab_size},
        "dtype": dtype.str,
        "append_eos": append_eos,
        "eos_id": eos_id,
        "seed": seed,
        "num_shards": len(shards),
        "shards": [{k: s[k] for k in ("files", "sha256", "num_docs", "num_tokens")} for s in shards],
        "total_documents": sum(s["num_docs"] for s in shards),
        # Tokens of the documents themselves; the .bin files also hold one end-of-text id per document.
        "total_tokens": sum(v["tokens"] for v in languages.values()),
        "languages": dict(sorted(languages.items())),
        "roundtrip_checked": verify_roundtrip,
        "roundtrip_mismatch_count": len(mismatched),
        "roundtrip_mismatch_ids": sorted(mismatched)[:1000],
    }
