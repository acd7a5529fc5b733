"""Progress lines outside curate (issue 16, item 1): `Step` for in-process work (train-lm's phases), the
`context` prefix that refresh puts on curate's lines, and --quiet turning all of it off. Tokenize and the
tokenizer sample pass are checked in test_tokenizer.py, train-lm's phases in test_perplexity.py."""
from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest

from corpusforge.config import RefreshConfig
from corpusforge.pipelines import progress as P
from corpusforge.pipelines.refresh import run_refresh


@pytest.fixture
def fast(monkeypatch):
    """A line every 20 ms instead of every 10 s, so a short test sees several."""
    monkeypatch.setattr(P, "INTERVAL_S", 0.02)


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "corpusforge.progress"]


def test_step_logs_start_done_total_rate_eta_and_finish(fast, caplog):
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        with P.Step("train-lm xx: scoring held-out documents", total=30) as step:
            for _ in step.each(range(30)):
                time.sleep(0.01)
    lines = _lines(caplog)
    assert lines[0] == "train-lm xx: scoring held-out documents: started (30 documents)"
    assert re.fullmatch(r"train-lm xx: scoring held-out documents: done, 30 documents, in \d+s", lines[-1])
    live = lines[1:-1]
    assert live, lines
    # The counter starts at 0 with the step, so even the first live line has a rate and an ETA.
    assert re.fullmatch(r"train-lm xx: scoring held-out documents: \d+ / 30 documents \(\d+%\), [\d.]+ documents/s, "
                        r"ETA \d+s, \d+s elapsed", live[0]), live[0]
    done = [int(re.search(r": (\d+) / 30", x).group(1)) for x in live if " / 30 " in x]
    assert done == sorted(done) and 0 < done[0] < 30


def test_step_without_a_count_says_it_is_running_and_a_failure_says_so(fast, caplog):
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        with P.Step("train-lm xx: lmplz (order 5)"):
            time.sleep(0.1)
        with pytest.raises(ValueError):
            with P.Step("train-lm xx: build_binary"):
                raise ValueError("broken")
    lines = _lines(caplog)
    assert lines[0] == "train-lm xx: lmplz (order 5): started"
    assert "train-lm xx: lmplz (order 5): running, 0s elapsed" in lines
    assert re.fullmatch(r"train-lm xx: lmplz \(order 5\): done in \d+s", lines[lines.index(
        "train-lm xx: build_binary: started") - 1])
    assert re.fullmatch(r"train-lm xx: build_binary: failed \(ValueError\) in \d+s", lines[-1])


def test_context_prefixes_every_line_started_inside_and_only_those(fast, caplog):
    counts = {"n": 0}
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        with P.context("refresh v00003"):
            reporter = P.ProgressReporter(None, lambda c: ("phase A", c["n"], 10, "documents"), source=lambda: counts)
        with reporter:  # the prefix is taken when the reporter is made, in the driver thread
            time.sleep(0.1)
        with P.Step("after"):
            pass
    lines = _lines(caplog)
    assert lines[0].startswith("refresh v00003 phase A: 0 / 10 documents (0%)"), lines
    assert lines[-2:] == ["after: started", "after: done in 0s"]


def test_quiet_counts_nothing_starts_no_thread_and_logs_nothing(fast, caplog, tmp_path):
    with caplog.at_level(logging.WARNING, logger="corpusforge.progress"):
        assert P.progress_dir(str(tmp_path)) is None  # workers then write no counter file
        before = {t.name for t in threading.enumerate()}
        with P.Step("quiet step", total=3) as step:
            step.add(3)
            during = {t.name for t in threading.enumerate()}
            time.sleep(0.05)
    assert "corpusforge-progress" not in during - before
    assert _lines(caplog) == []
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        assert P.progress_dir(str(tmp_path)) == str(tmp_path / "_progress")


def test_refresh_progress_lines_name_the_version(fast, caplog, tmp_path):
    """refresh runs curate's two phases: their live lines carry "refresh v00001" (run_refresh's context)."""
    inp = tmp_path / "in"
    inp.mkdir()
    with open(inp / "a.jsonl", "w", encoding="utf-8") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"d{i}", "text": f"Document {i} says something different about item {i}. "
                                "It has a few sentences of ordinary prose so that it is kept. " * 3}) + "\n")
    cfg = RefreshConfig.model_validate({
        "input": {"paths": [str(inp / "*.jsonl")]},
        "output": {"dir": str(tmp_path / "runs"), "num_shards": 1},
        "state_dir": str(tmp_path / "state"),
        "runner": {"runner": "FnApiRunner"},
        "langid": {"enabled": False}, "gopher_repetition": {"enabled": False}, "gopher_quality": {"enabled": False},
        "c4": {"enabled": False}, "fineweb": {"enabled": False}, "perplexity": {"enabled": False},
        "pii": {"enabled": False}, "dedup": {"enabled": True, "max_rounds": 2}, "report": False,
    })
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        result = run_refresh(cfg)
    assert result["refreshed"] and result["stats"]["conservation"]["input"] == 40
    lines = _lines(caplog)
    assert any(x.startswith("refresh v00001 phase A") for x in lines), lines
    assert any(x.startswith("refresh v00001 phase B") for x in lines), lines
    assert all(x.startswith("refresh v00001 ") for x in lines), lines
