"""`corpusforge refresh`: process only new input, dedup it against the state of earlier runs.

State directory layout (local path or gs://):

    <state_dir>/LATEST                         {"version": N, "version_dir": "versions/v0000N"}  (commit point)
    <state_dir>/versions/v0000N/state.json     files of this state version, inputs processed so far, params
    <state_dir>/versions/v0000N/delta/*.parquet state rows of the documents kept by refresh N

A state version is the union of its own delta and every earlier delta (state.json lists them), so a refresh
writes only its new rows and never touches an earlier version. LATEST is written last: a refresh that fails
before it leaves the previous version as the current one, and its half-written version directory is
replaced by the next attempt. Outputs go to `<output.dir>/v0000N/` (a normal curate run directory whose
manifest says which state it was deduplicated against).

An input file counts as processed when the same path with the same content hash was processed by an earlier
version; a file whose content changed is processed again. With no new file a refresh does nothing.
"""
from __future__ import annotations

import json
import logging

from corpusforge import storage
from corpusforge.config import ConfigError, RefreshConfig

log = logging.getLogger("corpusforge.refresh")

LATEST = "LATEST"


def _read_json(path: str):
    return json.loads(storage.read_text(path))


def latest_version(state_dir: str) -> dict | None:
    """The current state version's manifest (with its `version_dir`), or None before the first refresh."""
    root = state_dir.rstrip("/")
    if not storage.exists(f"{root}/{LATEST}"):
        return None
    pointer = _read_json(f"{root}/{LATEST}")
    manifest = _read_json(f"{root}/{pointer['version_dir']}/state.json")
    manifest["version_dir"] = pointer["version_dir"]
    return manifest


def _copy_delta(src_dir: str, dst_dir: str) -> list[str]:
    srcs = storage.match(f"{src_dir}/*.parquet")
    storage.makedirs(dst_dir)
    names = [s.rsplit("/", 1)[-1] for s in srcs]
    storage.copy_files(srcs, [f"{dst_dir}/{n}" for n in names])
    return names


def _crash_point(step: str) -> None:
    """Called before every commit step. Does nothing; the kill-at-every-step test replaces it."""


def run_refresh(cfg: RefreshConfig) -> dict:
    """Run one refresh. Returns {"refreshed": bool, "version": N, "run_dir": ..., "stats": ..., "new_inputs": [...]}.

    Holds an exclusive lock on the state directory for the whole refresh (corpusforge.io.runlock): two
    refreshes of one state would both build version N+1 from version N.
    """
    from corpusforge.io.runlock import RunLock

    if not cfg.dedup.enabled:
        raise ConfigError("refresh needs dedup.enabled: true (it deduplicates new input against earlier runs)")
    with RunLock(cfg.state_dir, what="state_dir"):
        return _refresh_locked(cfg)


def _refresh_locked(cfg: RefreshConfig) -> dict:
    from corpusforge.io.readers import resolve_inputs
    from corpusforge.io.writers import write_json_atomic
    from corpusforge.pipelines.curate import run_curate
    from corpusforge.pipelines.dedup import minhash_params
    from corpusforge.pipelines.progress import context

    root = cfg.state_dir.rstrip("/")
    params = {"minhash": minhash_params(cfg.dedup) if cfg.dedup.minhash else None, "exact": cfg.dedup.exact,
              "url": cfg.dedup.url, "line_dedup": cfg.dedup.line_dedup, "compare_text": cfg.dedup.compare_text}
    prev = latest_version(root)
    if prev is not None and prev["dedup_params"]["minhash"] != params["minhash"] and params["minhash"]:
        raise ConfigError(
            f"state {root} holds MinHash band keys made with {prev['dedup_params']['minhash']!r}; this config "
            f"gives {params['minhash']!r}. Use the same dedup settings (ngram, shingle, num_perm, seed, scheme, "
            "threshold/bands/rows, compare_text: a state written before compare_text existed needs "
            "compare_text: kept) or start a new state_dir.")
    # Exact keys are made of the same text as the band keys; a state from before compare_text compared kept text.
    prev_text = prev["dedup_params"].get("compare_text", "kept") if prev is not None else None
    if prev_text is not None and prev_text != params["compare_text"] and cfg.dedup.exact:
        raise ConfigError(
            f"state {root} holds exact keys of the {prev_text} text; this config sets dedup.compare_text: "
            f"{params['compare_text']}. Set dedup.compare_text: {prev_text} or start a new state_dir.")
    files = resolve_inputs(cfg.input)
    done = {(i["path"], i["checksum"]) for i in (prev or {}).get("inputs", [])}
    new = [f for f in files if (f.path, f.checksum) not in done]
    version = (prev["version"] if prev else 0) + 1
    if not new:
        log.info("refresh: all %d input file(s) were processed before; nothing to do", len(files))
        return {"refreshed": False, "version": version - 1, "run_dir": None, "stats": None, "new_inputs": []}

    vname = f"v{version:05d}"
    run_dir = f"{cfg.output.dir.rstrip('/')}/{vname}"
    state_in = f"{root}/{prev['version_dir']}" if prev else None
    log.info("refresh %s: %d new input file(s) of %d; dedup against %s", vname, len(new), len(files),
             state_in or "no earlier state")
    # The version's run directory belongs to this refresh until LATEST names it: a leftover from a failed
    # attempt is resumed (same inputs) or replaced (changed inputs).
    run_cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"overwrite": True})})
    # Ids kept by earlier versions: a new file reusing one (or an edited file re-read) must not keep a second
    # document under it (issue 13, item 6).
    known = [f"{root}/{f}" for f in prev["files"]] if prev else None
    # Curate's progress lines (both phases, every 10 s) then read "refresh v00002 phase A: ...".
    with context(f"refresh {vname}"):
        stats = run_curate(run_cfg, files=new, dedup_state_dir=state_in, run_dir=run_dir, known_id_files=known,
                           extra_manifest={
            "command": "refresh",
            "refresh_version": version,
            "state_in": state_in,
            "skipped_inputs": [f.path for f in files if (f.path, f.checksum) in done],
        })

    # Commit: every step below is redone from scratch by a rerun until LATEST names the new version (the
    # run directory above is complete by then: run_curate returns only after its _SUCCESS).
    vdir_rel = f"versions/{vname}"
    vdir = f"{root}/{vdir_rel}"
    _crash_point("remove version dir")
    storage.remove(vdir)
    _crash_point("copy delta")
    names = _copy_delta(f"{run_dir}/state", f"{vdir}/delta")
    manifest = {
        "version": version,
        "parent": prev["version_dir"] if prev else None,
        "files": (prev["files"] if prev else []) + [f"{vdir_rel}/delta/{n}" for n in names],
        "inputs": (prev["inputs"] if prev else []) + [{"path": f.path, "size": f.size, "checksum": f.checksum}
                                                       for f in new],
        "runs": (prev["runs"] if prev else []) + [run_dir],
        "dedup_params": params,
    }
    _crash_point("state.json")
    write_json_atomic(manifest, f"{vdir}/state.json")
    _crash_point(LATEST)
    write_json_atomic({"version": version, "version_dir": vdir_rel}, f"{root}/{LATEST}")
    return {"refreshed": True, "version": version, "run_dir": run_dir, "stats": stats,
            "new_inputs": [f.path for f in new]}
