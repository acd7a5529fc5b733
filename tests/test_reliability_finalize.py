"""Issue 13, items 1-2: a run killed at any step of its finalization (or of a refresh's commit) is finished by
the next attempt with the same bytes as an uninterrupted run; the run directory is locked against a second
run, a lock left by a killed run is taken over; the conservation check fails when its tallies are missing."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import corpusforge.pipelines.curate as curate
import corpusforge.pipelines.refresh as refresh
from corpusforge.config import ConfigError, CurateConfig, RefreshConfig
from corpusforge.io.runlock import RunLock, RunLocked
from corpusforge.pipelines.curate import FINALIZATION_STEPS, run_curate
from corpusforge.pipelines.refresh import run_refresh
from dedup_planted import real_documents

ROOT = Path(__file__).resolve().parents[1]


class Killed(BaseException):
    """Stands for kill -9 at a step: nothing after it runs (a BaseException escapes every `except Exception`)."""


def _write_inputs(inp: Path) -> None:
    inp.mkdir(parents=True, exist_ok=True)
    docs = [d for d in real_documents(min_words=80) if d["lang"] in ("en", "de")][:30]
    with open(inp / "a.jsonl", "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "text": d["text"], "url": d["url"]}, ensure_ascii=False) + "\n")
        f.write(json.dumps({"id": docs[0]["id"] + "-copy", "text": docs[0]["text"]}) + "\n")
        f.write("{not json\n")


def _cfg_dict(inp: Path, out: Path) -> dict:
    return {"input": {"paths": [str(inp / "*.jsonl")]}, "output": {"dir": str(out), "num_shards": 2},
            "runner": {"runner": "FnApiRunner"}, "perplexity": {"enabled": False}, "pii": {"enabled": False},
            "dedup": {"enabled": True, "max_rounds": 8}, "report": True}


def _snapshot(run: Path) -> dict[str, bytes]:
    """Every file of a finished run, with the run's own path and the timings (which differ by nature) removed."""
    out = {}
    for p in sorted(run.rglob("*")):
        if p.is_file():
            rel = str(p.relative_to(run))
            data = p.read_bytes()
            if rel == "stats.json":
                stats = json.loads(data)
                stats.pop("timings")
                for m in stats["beam_metrics"].values():
                    m.pop("seconds", None)
                data = json.dumps(stats, sort_keys=True).encode()
            elif rel == "report.html":
                continue  # renders the timings
            out[rel] = data.replace(str(run).encode(), b"<RUN>")
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("ref")
    _write_inputs(base / "in")
    run_curate(CurateConfig.model_validate(_cfg_dict(base / "in", base / "run")))
    return base


def _crash_at(monkeypatch, module, step: str):
    def hook(name):
        if name == step:
            raise Killed(step)
    monkeypatch.setattr(module, "_crash_point", hook)


def test_kill_at_every_finalization_step_then_rerun_gives_identical_bytes(reference, tmp_path, monkeypatch):
    inp = reference / "in"
    want = _snapshot(reference / "run")
    assert {"kept/part-00000-of-00002.parquet", "quarantine/part-00001-of-00002.jsonl", "_SUCCESS",
            "manifest.json"} <= set(want)
    # One attempt killed just before the journal: both phases done, nothing finalized. Each step starts there.
    base = tmp_path / "base"
    _crash_at(monkeypatch, curate, "journal")
    with pytest.raises(Killed):
        run_curate(CurateConfig.model_validate(_cfg_dict(inp, base)))
    assert (base / "_work" / "b" / "_DONE").exists()
    steps = [s for s in FINALIZATION_STEPS if s != "journal"]
    for step in steps:
        run = tmp_path / step.replace(" ", "_").replace(".", "_")
        shutil.copytree(base, run)
        for p in run.rglob("*"):  # the copy's scratch files name the copy's directory
            if p.is_file() and p.suffix == ".json":
                p.write_bytes(p.read_bytes().replace(str(base).encode(), str(run).encode()))
        _crash_at(monkeypatch, curate, step)
        with pytest.raises(Killed):
            run_curate(CurateConfig.model_validate(_cfg_dict(inp, run)))
        # a write killed between its temporary file and its rename leaves a stray temp file
        (run / ".stats.json.tmp-deadbeef").write_text("{half")
        monkeypatch.setattr(curate, "_crash_point", lambda name: None)
        stats = run_curate(CurateConfig.model_validate(_cfg_dict(inp, run)))
        assert stats["conservation"]["ok"], step
        assert _snapshot(run) == want, f"killed before {step!r}: rerun differs from an uninterrupted run"


def test_every_finalization_step_is_reached(reference, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(curate, "_crash_point", seen.append)
    run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", tmp_path / "run")))
    assert seen == list(FINALIZATION_STEPS)


def test_real_kill_during_finalization_then_rerun(reference, tmp_path):
    """kill -9 (not an exception) between two moves: the lock is left behind and taken over by the rerun."""
    out = tmp_path / "run"
    cfg = json.dumps(_cfg_dict(reference / "in", out))
    script = textwrap.dedent(f"""
        import json, os, signal
        import corpusforge.pipelines.curate as c
        from corpusforge.config import CurateConfig
        def hook(step):
            if step == "move dropped":
                os.kill(os.getpid(), signal.SIGKILL)
        c._crash_point = hook
        c.run_curate(CurateConfig.model_validate(json.loads({cfg!r})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "tests", capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (out / "kept").exists() and not (out / "_SUCCESS").exists() and (out / "_LOCK").exists()
    run_curate(CurateConfig.model_validate(json.loads(cfg)))
    assert _snapshot(out) == _snapshot(reference / "run")
    assert not (out / "_LOCK").exists()


def test_second_run_into_same_dir_is_refused_naming_the_holder(tmp_path):
    d = tmp_path / "run"
    with RunLock(str(d)):
        with pytest.raises(RunLocked, match=rf"pid {os.getpid()} on .*started"):
            with RunLock(str(d)):
                pass
        # a run in another process is refused too
        probe = subprocess.run([sys.executable, "-c", f"from corpusforge.io.runlock import RunLock\n"
                                f"with RunLock({str(d)!r}): pass"], capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0 and "output.dir is in use" in probe.stderr and f"pid {os.getpid()}" in probe.stderr
    with RunLock(str(d)):  # released: free again
        pass
    assert not (d / "_LOCK").exists()


def test_curate_while_locked_fails_with_one_line(reference, tmp_path):
    out = tmp_path / "run"
    with RunLock(str(out)):
        with pytest.raises(ConfigError, match="output.dir is in use"):
            run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", out)))


def test_conservation_fails_when_a_tally_is_missing(reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    _crash_at(monkeypatch, curate, "journal")
    with pytest.raises(Killed):
        run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", out)))
    os.remove(out / "_work" / "a" / "counts.json")  # what a second run deleting the scratch dir leads to
    monkeypatch.setattr(curate, "_crash_point", lambda name: None)
    with pytest.raises(RuntimeError, match="counts.json is missing"):
        run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", out)))
    assert not (out / "_SUCCESS").exists()


def test_conservation_fails_when_a_shard_lost_rows(reference, tmp_path, monkeypatch):
    from corpusforge.io.writers import KEPT_SCHEMA, write_parquet_atomic

    out = tmp_path / "run"
    _crash_at(monkeypatch, curate, "journal")
    with pytest.raises(Killed):
        run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", out)))
    write_parquet_atomic([], KEPT_SCHEMA, str(out / "_work" / "b" / "kept" / "part-00000-of-00002.parquet"))
    monkeypatch.setattr(curate, "_crash_point", lambda name: None)
    with pytest.raises(RuntimeError, match="conservation check failed"):
        run_curate(CurateConfig.model_validate(_cfg_dict(reference / "in", out)))


def _refresh_cfg(inp: Path, base: Path) -> RefreshConfig:
    d = _cfg_dict(inp, base / "runs")
    d["report"] = False
    return RefreshConfig.model_validate({**d, "state_dir": str(base / "state")})


def _tree(root: Path, base: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        # stats: timings; manifest and _SUCCESS: the fingerprint covers state_dir, which differs here by design
        if p.is_file() and p.name not in ("stats.json", "manifest.json", "_SUCCESS"):
            out[str(p.relative_to(root))] = p.read_bytes().replace(str(base).encode(), b"<BASE>")
    return out


def test_refresh_killed_at_every_step_then_rerun_gives_identical_state(tmp_path, monkeypatch):
    inp = tmp_path / "in"
    _write_inputs(inp)
    ref = tmp_path / "ref"
    assert run_refresh(_refresh_cfg(inp, ref))["version"] == 1
    want = _tree(ref, ref)
    assert "state/LATEST" in want and "state/versions/v00001/state.json" in want

    base = tmp_path / "killed"
    # Attempt k dies at step k (each attempt redoes the steps before it): one pipeline run covers every step.
    steps = [("curate", s) for s in FINALIZATION_STEPS if s != "report.html"] + [
        ("refresh", s) for s in ("remove version dir", "copy delta", "state.json", "LATEST")]
    for module_name, step in steps:
        monkeypatch.setattr(curate, "_crash_point", lambda name: None)
        monkeypatch.setattr(refresh, "_crash_point", lambda name: None)
        _crash_at(monkeypatch, curate if module_name == "curate" else refresh, step)
        with pytest.raises(Killed):
            run_refresh(_refresh_cfg(inp, base))
        assert not (base / "state" / "LATEST").exists(), step
    monkeypatch.setattr(curate, "_crash_point", lambda name: None)
    monkeypatch.setattr(refresh, "_crash_point", lambda name: None)
    res = run_refresh(_refresh_cfg(inp, base))
    assert res["refreshed"] and res["version"] == 1
    assert _tree(base, base) == want
    assert not run_refresh(_refresh_cfg(inp, base))["refreshed"]  # and the state is current, not stuck


def test_refresh_state_dir_is_locked(tmp_path):
    inp = tmp_path / "in"
    _write_inputs(inp)
    with RunLock(str(tmp_path / "b" / "state"), what="state_dir"):
        with pytest.raises(RunLocked, match="state_dir is in use"):
            run_refresh(_refresh_cfg(inp, tmp_path / "b"))


def test_unwritable_state_dir_is_one_line_naming_the_key(tmp_path):
    inp = tmp_path / "in"
    _write_inputs(inp)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "state").write_text("a file, not a directory")
    with pytest.raises(ConfigError, match=r"state_dir '.*state' is not a writable directory"):
        run_refresh(_refresh_cfg(inp, tmp_path / "b"))
