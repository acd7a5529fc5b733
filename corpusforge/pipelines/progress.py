"""Live progress of a Beam phase on the local runners: documents done / total, rate, ETA (issue 16, item 1).

The FnApiRunner reports Beam metrics only when a pipeline has finished, so workers use a side channel: each
`Tick` DoFn instance keeps its own counters and, at most once a second and at the end of each bundle, rewrites
one small JSON file under the phase's progress directory (atomically: write, then rename). A `ProgressReporter`
thread in the driver sums those files every `interval` seconds and logs one line. Works across worker
processes (multi_processing) because it only needs a shared local directory; on object stores (Dataflow) it is
off and the Dataflow console shows progress instead. Counts are advisory: the run's own tallies (counts.json,
stats.json) are what the conservation check uses, and no output depends on them.

Work outside Beam (train-lm's phases) uses `Step`: the same reporter and line format over an in-process
counter, plus a start and a finish line. `context("refresh v00002")` prefixes every line started inside it, so
a command that runs another command's phases says whose they are. With the log level above INFO (--quiet)
nothing is counted or written and no thread starts.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

import apache_beam as beam

from corpusforge import storage

log = logging.getLogger("corpusforge.progress")

WRITE_EVERY_S = 1.0
INTERVAL_S = 10.0  # between two lines of one reporter (issue 16: "at least every 10 s")
# Counts are sampled this often between lines, so the first line of a step (and of a phase shorter than two
# intervals) already has a measured rate and ETA.
SAMPLE_S = 1.0
# Read by each reporter when it is made (in the driver thread), not by its own thread, which does not inherit it.
_CONTEXT: ContextVar[str] = ContextVar("corpusforge_progress_context", default="")


def enabled() -> bool:
    """Whether progress lines would be seen (log level INFO or lower); --quiet turns all of this off."""
    return log.isEnabledFor(logging.INFO)


def progress_dir(phase_dir: str) -> str | None:
    """Where a phase's workers report, or None where the side channel cannot work (object stores) or nobody
    would see its lines (--quiet): then workers count nothing and write no file."""
    return None if storage.is_remote(phase_dir) or not enabled() else os.path.join(phase_dir, "_progress")


@contextmanager
def context(label: str):
    """Prefix every progress line of the reporters and steps started inside with `label`."""
    token = _CONTEXT.set(f"{_CONTEXT.get()} {label}".strip())
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _prefixed(prefix: str, line: str) -> str:
    return f"{prefix} {line}" if prefix else line


class Counters:
    """One worker-side set of counters, flushed to its own file under `directory` (None: counting is off)."""

    def __init__(self, directory: str | None):
        self.directory = directory
        self.counts: dict[str, int] = {}
        self._path = os.path.join(directory, f"{uuid.uuid4().hex}.json") if directory else None
        self._last = 0.0
        if directory:
            os.makedirs(directory, exist_ok=True)

    def add(self, key: str, n: int = 1) -> None:
        if self._path is None:
            return
        self.counts[key] = self.counts.get(key, 0) + n
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._path is None or not self.counts or (not force and now - self._last < WRITE_EVERY_S):
            return
        self._last = now
        storage.write_text_atomic(self._path, json.dumps(self.counts))


class Tick(beam.DoFn):
    """Pass-through that counts each element under every one of `keys`."""

    def __init__(self, directory: str | None, *keys: str):
        self.directory, self.keys = directory, keys
        self._counters: Counters | None = None

    def setup(self):
        self._counters = Counters(self.directory)

    def process(self, element):
        for key in self.keys:
            self._counters.add(key)
        yield element

    def finish_bundle(self):
        self._counters.flush(force=True)

    def teardown(self):
        if self._counters is not None:
            self._counters.flush(force=True)


def read_counts(directory: str | None) -> dict[str, int]:
    """The sum of every worker's counters under `directory` (a file being replaced is skipped this time)."""
    total: dict[str, int] = {}
    if not directory or not os.path.isdir(directory):
        return total
    for name in os.listdir(directory):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                counts = json.load(f)
        except (OSError, ValueError):
            continue
        for k, v in counts.items():
            total[k] = total.get(k, 0) + int(v)
    return total


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def progress_line(label: str, done: int, total: int | None, elapsed: float, unit: str = "documents",
                  rate: float | None = None, finishing: str = "writing outputs") -> str:
    """'phase A: 4,210 / 10,512 documents (40%), 95 documents/s, ETA 1m06s, 45s elapsed' (total unknown: no
    share, no ETA). `rate` None: not measured yet (a first sample). All counted: `finishing` says what is left."""
    line = f"{label}: {done:,}"
    line += f" / {total:,} {unit} ({min(done / total, 1.0):.0%})" if total else f" {unit}"
    if total and done >= total:
        return line + f", {finishing}, {_duration(elapsed)} elapsed"
    if rate is None:
        line += ", measuring the rate"
    else:
        line += f", {rate:,.0f} {unit}/s" if rate >= 10 else f", {rate:,.1f} {unit}/s"
        if total and rate > 0:
            line += f", ETA {_duration((total - done) / rate)}"
    return line + f", {_duration(elapsed)} elapsed"


class ProgressReporter:
    """A daemon thread logging a progress line every `interval` seconds (default INTERVAL_S) while a phase runs.

    `describe(counts)` turns the summed counters into a line (str), into (label, done, total, unit) for a
    done/total line with rate and ETA, or None to stay silent. The rate is measured over the last `window`
    seconds, so a phase that started with a slow read still gets a fair ETA. Used as a context manager around
    the blocking pipeline run. `source` (keyword only) replaces the worker files by an in-process counter:
    a callable returning the counts; `from_zero` says that counter started at 0 when the reporter did, so the
    first line already has a rate (worker files appear only once workers have started).
    """

    def __init__(self, directory: str | None, describe, interval: float | None = None, window: float = 60.0, *,
                 source=None, finishing: str = "writing outputs", from_zero: bool = False):
        self.directory, self.describe, self.window = directory, describe, window
        self.interval = INTERVAL_S if interval is None else interval
        if source is None and directory:
            source = lambda: read_counts(self.directory)  # noqa: E731 - looked up per call (tests wrap it)
        self.source, self.finishing, self.from_zero = source, finishing, from_zero
        self.prefix = _CONTEXT.get()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="corpusforge-progress", daemon=True)
        self._t0 = time.monotonic()
        self._history: list[tuple[float, int]] = []
        self._label = None

    def line(self, counts: dict[str, int], now: float) -> str | None:
        what = self.describe(counts)
        if what is None or isinstance(what, str):
            return what
        label, done, total, unit = what
        if label != self._label:  # a new step counts something else: its rate starts afresh
            self._label, self._history = label, [(self._t0, 0)] if self.from_zero else []
        self._history = [(t, d) for t, d in self._history if now - t <= self.window] + [(now, done)]
        t_first, d_first = self._history[0]
        span = now - t_first
        rate = (done - d_first) / span if span > 0 else None
        return progress_line(label, done, total, now - self._t0, unit, rate, self.finishing)

    def _loop(self) -> None:
        due = self._t0 + self.interval
        while not self._stop.wait(min(self.interval, SAMPLE_S)):
            now = time.monotonic()
            try:
                line = self.line(self.source(), now)
            except Exception as e:  # progress must never break a run
                log.debug("progress: %s", e)
                continue
            if line and now >= due - 0.01:  # (a wait may wake a hair early)
                log.info("%s", _prefixed(self.prefix, line))
                due = max(due + self.interval, now)

    def __enter__(self):
        if self.source is not None and enabled():
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        return False


class Step:
    """One stretch of work in this process (no Beam): a start line, a line every `interval` seconds while it
    runs (done / total with rate and ETA when it counts items, else how long it has been running), and a
    finish line with its duration. Count with `add(n)` or by iterating `each(items)`.

        with Step("train-lm de: scoring held-out documents", total=len(docs)) as step:
            for doc in step.each(docs): ...
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "documents", interval: float | None = None,
                 window: float = 60.0):
        self.label, self.total, self.unit, self.interval, self.window = label, total, unit, interval, window
        self.done = 0
        self._reporter: ProgressReporter | None = None
        self._t0 = 0.0

    def add(self, n: int = 1) -> None:
        self.done += n

    def each(self, items):
        for item in items:
            yield item
            self.done += 1

    def _describe(self, counts: dict[str, int]):
        if self.total is None and not counts["done"]:  # an external program, or nothing counted yet
            return f"{self.label}: running, {_duration(time.monotonic() - self._t0)} elapsed"
        return self.label, counts["done"], self.total, self.unit

    def __enter__(self):
        self._t0 = time.monotonic()
        self._reporter = ProgressReporter(None, self._describe, self.interval, self.window,
                                          source=lambda: {"done": self.done}, finishing="finishing", from_zero=True)
        what = f" ({self.total:,} {self.unit})" if self.total is not None else ""
        log.info("%s", _prefixed(self._reporter.prefix, f"{self.label}: started{what}"))
        self._reporter.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._reporter.__exit__(exc_type, exc, tb)
        counted = f", {self.done:,} {self.unit}," if self.done or self.total is not None else ""
        outcome = "done" if exc_type is None else f"failed ({exc_type.__name__})"
        log.info("%s", _prefixed(self._reporter.prefix, f"{self.label}: {outcome}{counted} in "
                                 f"{_duration(time.monotonic() - self._t0)}"))
        return False
