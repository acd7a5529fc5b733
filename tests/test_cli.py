"""The operator's view of the CLI (issue 16): loud failures, one-line Ctrl-C, --version, unknown commands,
logging options after the subcommand, `config --defaults`, "did you mean", input.limit / sample_rate, and the
offline Dataflow dry run of configs/dataflow.yaml. Real pipelines on the FnApiRunner, no mocks."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from corpusforge import __version__
from corpusforge.cli import main
from corpusforge.config import CurateConfig, ProtectConfig, TokenizerTrainConfig
from corpusforge.config.help import defaults_text

ROOT = Path(__file__).resolve().parents[1]
PROSE = ("The quick brown fox jumps over the lazy dog near the river bank. "
         "Every morning the baker opens the shop and sells fresh bread to the people of the town. ")


def _jsonl(path: Path, n: int, text_field: str = "text", start: int = 0) -> Path:
    with path.open("w") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"id": f"d{i}", text_field: f"Document number {i}. " + PROSE * 4}) + "\n")
    return path


def _config(tmp_path: Path, paths: list[str], **extra) -> Path:
    cfg = {"input": {"paths": paths}, "output": {"dir": str(tmp_path / "run"), "num_shards": 1},
           # The cheap stages only: these tests are about the CLI, not about the filters.
           "langid": {"enabled": False}, "gopher_repetition": {"enabled": False},
           "gopher_quality": {"enabled": False}, "c4": {"enabled": False}, "fineweb": {"enabled": False}}
    for k, v in extra.items():
        cfg.setdefault(k, {}).update(v)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _stats(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run" / "stats.json").read_text())


# ------------------------------------------------------------------------------------- fail loudly
def test_wrong_text_field_fails_loudly_with_the_fix(tmp_path, capsys):
    data = _jsonl(tmp_path / "in.jsonl", 50, text_field="content")
    cfg = _config(tmp_path, [str(data)])
    assert main(["curate", "-q", "--config", str(cfg)]) == 3
    err = capsys.readouterr().err
    assert "50 of 50 records (100%) could not be read" in err
    assert "has the fields: id, content" in err
    assert "set input.text_field: content" in err
    # The run itself is complete (its quarantine explains every record) ...
    assert (tmp_path / "run" / "_SUCCESS").exists()
    # ... and a user who means it can accept it.
    assert main(["curate", "-q", "--config", str(cfg), "--allow-bad-input"]) == 0
    # The suggested fix works.
    assert main(["curate", "-q", "--config", str(cfg), "--set", "input.text_field=content",
                 "--set", "output.overwrite=true"]) == 0
    assert _stats(tmp_path)["conservation"]["kept"] == 50


def test_quarantine_share_threshold_is_configurable(tmp_path, capsys):
    good = _jsonl(tmp_path / "a.jsonl", 6)
    bad = _jsonl(tmp_path / "b.jsonl", 4, text_field="body")  # 40% unreadable: under the 50% default
    cfg = _config(tmp_path, [str(good), str(bad)])
    assert main(["curate", "-q", "--config", str(cfg)]) == 0
    assert main(["curate", "-q", "--config", str(cfg), "--set", "input.max_quarantined_share=0.3",
                 "--set", "output.overwrite=true"]) == 3
    assert "4 of 10 records (40%) could not be read" in capsys.readouterr().err


def test_nothing_kept_names_the_stage_that_dropped_everything(tmp_path, capsys):
    data = _jsonl(tmp_path / "in.jsonl", 12)
    cfg = _config(tmp_path, [str(data)], langid={"enabled": True, "languages": ["fi"]})
    assert main(["curate", "-q", "--config", str(cfg)]) == 3
    err = capsys.readouterr().err
    assert "no document was kept (12 dropped, 0 quarantined)" in err
    assert "langid: langid_unwanted_language 12" in err
    assert "--set langid.annotate_only=true" in err


# ---------------------------------------------------------------------------------- tuning loop
def test_input_limit_and_sample_rate(tmp_path, capsys):
    a, b = _jsonl(tmp_path / "a.jsonl", 40), _jsonl(tmp_path / "b.jsonl", 40, start=40)
    cfg = _config(tmp_path, [str(a), str(b)], input={"limit": 7})
    assert main(["curate", "-q", "--config", str(cfg)]) == 0
    kept = _stats(tmp_path)["conservation"]
    assert kept["input"] == 7 and kept["kept"] == 7
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "run" / "kept").to_pylist()
    # Split over the files, first records of each: 4 from the first file, 3 from the second.
    assert sorted((Path(r["source"]).name, r["line"]) for r in rows) == [
        ("a.jsonl", 1), ("a.jsonl", 2), ("a.jsonl", 3), ("a.jsonl", 4), ("b.jsonl", 1), ("b.jsonl", 2), ("b.jsonl", 3)]

    def sampled(out: str) -> list:
        assert main(["curate", "-q", "--config", str(cfg), "--set", "input.limit=null", "--set",
                     "input.sample_rate=0.25", "--set", f"output.dir={tmp_path / out}"]) == 0
        return sorted(r["id"] for r in pq.read_table(tmp_path / out / "kept").to_pylist())

    first, second = sampled("s1"), sampled("s2")
    assert first == second  # deterministic
    assert 8 <= len(first) <= 32  # 25% of 80, loosely


# ------------------------------------------------------------------------------------- config help
def _walk(model, prefix=""):
    from corpusforge.config.help import _nested_model

    for name, field in model.model_fields.items():
        sub = _nested_model(field.annotation)
        yield prefix + name, field, sub
        if sub is not None:
            yield from _walk(sub, prefix + name + ".")


@pytest.mark.parametrize("command,model", [("curate", CurateConfig), ("protect", ProtectConfig),
                                           ("train-tokenizer", TokenizerTrainConfig)])
def test_config_defaults_lists_every_key_with_its_default(command, model, capsys):
    assert main(["config", "--defaults", command]) == 0
    text = capsys.readouterr().out
    assert text == defaults_text(command)
    doc = yaml.safe_load(text.replace("<required>", "null"))
    for dotted, field, sub in _walk(model):
        node = doc
        for part in dotted.split("."):
            assert part in node, f"{dotted} missing from config --defaults {command}"
            node = node[part]
        if sub is None and not field.is_required():
            default = field.get_default(call_default_factory=True)
            want = json.loads(json.dumps(default))  # tuples -> lists
            assert node == want, dotted
    # Help comes from the Field descriptions, once.
    assert "# Time budget per document in each stage" in defaults_text("curate")


def test_did_you_mean_for_yaml_and_set(tmp_path, capsys):
    data = _jsonl(tmp_path / "in.jsonl", 2)
    cfg = _config(tmp_path, [str(data)])
    cfg.write_text(cfg.read_text() + "dedupe:\n  enabled: true\n")
    assert main(["curate", "--config", str(cfg), "--set", "gopher_quality.min_doc_word=10"]) == 2
    err = capsys.readouterr().err
    assert "dedupe: unknown key (did you mean dedup?)" in err
    assert "gopher_quality.min_doc_word: unknown key (did you mean gopher_quality.min_doc_words?)" in err
    assert "corpusforge config --defaults curate" in err


# --------------------------------------------------------------------------------------- CLI basics
def test_version_unknown_command_and_options_after_subcommand(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"corpusforge {__version__}"
    assert main(["curat"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'curat' (did you mean 'curate'?)" in err
    data = _jsonl(tmp_path / "in.jsonl", 3)
    cfg = _config(tmp_path, [str(data)])
    for flags in (["-v"], ["--quiet"], ["--log-level", "warning"]):
        assert main(["curate", "--config", str(cfg), *flags]) == 0, flags
    assert main(["--log-level", "ERROR", "curate", "--config", str(cfg)]) == 0


def _interruptible():
    # As in a terminal: a test run started in the background of a non-interactive shell (`cmd &`) inherits
    # SIGINT ignored, and the command would then never see the interrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_prints_one_line(tmp_path):
    """A terminal's Ctrl-C reaches the foreground process only; the supervised child (and its Beam worker
    processes) are stopped quietly. Multi-process workers are what printed ~80 lines of tracebacks."""
    data = [str(_jsonl(tmp_path / f"in{i}.jsonl", 3000, start=i * 3000)) for i in range(2)]
    cfg = _config(tmp_path, data, runner={"direct_num_workers": 2, "direct_running_mode": "multi_processing"},
                  gopher_repetition={"enabled": True}, gopher_quality={"enabled": True})
    env = {**os.environ, "CORPUSFORGE_SUPERVISE": "1"}
    env.pop("CORPUSFORGE_SUPERVISED", None)
    p = subprocess.Popen([sys.executable, "-m", "corpusforge.cli", "curate", "-q", "--config", str(cfg)],
                         env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=_interruptible)
    time.sleep(8)
    assert p.poll() is None, "run finished before the interrupt; make the input larger"
    os.kill(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130
    assert err.splitlines() == ["corpusforge curate: interrupted; re-run the same command to finish the job"]


def test_dataflow_dry_run_works_offline_as_documented(tmp_path, capsys):
    """configs/dataflow.yaml's first comment block gives the command; with the shipped placeholders it must
    finish without touching a bucket (there is no network here: any GCS call would fail or hang)."""
    text = (ROOT / "configs" / "dataflow.yaml").read_text()
    line = next(ln for ln in text.splitlines() if "corpusforge curate --config configs/dataflow.yaml" in ln)
    argv = line.split("corpusforge", 1)[1].split()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        t = time.time()
        assert main(argv) == 0
        assert time.time() - t < 90
    finally:
        os.chdir(cwd)
    assert "Dataflow dry run finished: the pipeline graph is valid." in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- progress
def test_progress_lines_count_documents_live(tmp_path, caplog):
    """Workers' counters reach the driver while the phase runs; the lines carry done / total and a rate."""
    import logging

    from corpusforge.pipelines import progress as P

    data = [str(_jsonl(tmp_path / f"in{i}.jsonl", 300, start=i * 300)) for i in range(2)]
    # Copies of one text: dedup drops all but one, which is fine here (hence --allow-bad-input below).
    cfg = _config(tmp_path, data, gopher_quality={"enabled": True}, dedup={"enabled": True})
    seen: list[dict] = []
    orig = P.read_counts

    def spy(directory):
        counts = orig(directory)
        seen.append(counts)
        return counts

    P.read_counts = spy
    interval = P.ProgressReporter.__init__.__defaults__
    P.ProgressReporter.__init__.__defaults__ = (0.2, 60.0)  # sample often: the run is short
    try:
        with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
            assert main(["curate", "--config", str(cfg), "--allow-bad-input"]) == 0
    finally:
        P.read_counts = orig
        P.ProgressReporter.__init__.__defaults__ = interval
    lines = [r.getMessage() for r in caplog.records if r.name == "corpusforge.progress"]
    assert any(line.startswith("phase A:") for line in lines), lines
    assert any(line.startswith("phase B") for line in lines), lines
    # Some sample saw phase A part-way (live counts, not only the final tally), and the last saw all 600 read.
    assert any(0 < c.get("staged", 0) < 600 or 0 < c.get("read", 0) < 600 for c in seen) or any(
        "documents (" in line and "(100%)" not in line for line in lines), lines
    assert max(c.get("read", 0) for c in seen) == 600
    assert P.progress_line("x", 50, 200, 30.0, "documents", 5.0) == \
        "x: 50 / 200 documents (25%), 5.0 documents/s, ETA 30s, 30s elapsed"


def test_quiet_hides_progress(tmp_path, caplog):
    import logging

    data = _jsonl(tmp_path / "in.jsonl", 5)
    cfg = _config(tmp_path, [str(data)])
    with caplog.at_level(logging.DEBUG):
        assert main(["curate", "--config", str(cfg), "--quiet"]) == 0
    assert logging.getLogger().level == logging.WARNING or not [
        r for r in caplog.records if r.name.startswith("corpusforge") and r.levelno < logging.WARNING]
