"""Live progress of a Beam phase on the local runners: documents done / total, rate, ETA (issue 16, item 1).

The FnApiRunner reports Beam metrics only when a pipeline has finished, so workers use a side channel: each
`Tick` DoFn instance keeps its own counters and, at most once a second and at the end of each bundle, rewrites
one small JSON file under the phase's progress directory (atomically: write, then rename). A `ProgressReporter`
thread in the driver sums those files every `interval` seconds and logs one line. Works across worker
processes (multi_processing) because it only needs a shared local directory; on object stores (Dataflow) it is
off and the Dataflow console shows progress instead. Counts are advisory: the run's own tallies (counts.json,
stats.json) are what the conservation check uses.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid

import apache_beam as beam

log = logging.getLogger("corpusforge.progress")

WRITE_EVERY_S = 1.0


def progress_dir(phase_dir: str) -> str | None:
    """Where a phase's workers report, or None where the side channel cannot work (object stores)."""
    return None if "://" in phase_dir else os.path.join(phase_dir, "_progress")


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
        tmp = f"{self._path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.counts, f)
        os.replace(tmp, self._path)


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
                  rate: float | None = None) -> str:
    """'phase A: 4,210 / 10,512 documents (40%), 95 documents/s, ETA 1m06s, 45s elapsed' (total unknown: no
    share, no ETA). `rate` None: not measured yet (a first sample)."""
    line = f"{label}: {done:,}"
    line += f" / {total:,} {unit} ({min(done / total, 1.0):.0%})" if total else f" {unit}"
    if total and done >= total:
        return line + f", writing outputs, {_duration(elapsed)} elapsed"
    if rate is None:
        line += ", measuring the rate"
    else:
        line += f", {rate:,.0f} {unit}/s" if rate >= 10 else f", {rate:,.1f} {unit}/s"
        if total and rate > 0:
            line += f", ETA {_duration((total - done) / rate)}"
    return line + f", {_duration(elapsed)} elapsed"


class ProgressReporter:
    """A daemon thread logging a progress line every `interval` seconds while a phase runs.

    `describe(counts)` turns the summed counters into a line (str), into (label, done, total, unit) for a
    done/total line with rate and ETA, or None to stay silent. The rate is measured over the last `window`
    seconds, so a phase that started with a slow read still gets a fair ETA. Used as a context manager around
    the blocking pipeline run.
    """

    def __init__(self, directory: str | None, describe, interval: float = 10.0, window: float = 60.0):
        self.directory, self.describe, self.interval, self.window = directory, describe, interval, window
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
            self._label, self._history = label, []
        self._history = [(t, d) for t, d in self._history if now - t <= self.window] + [(now, done)]
        t_first, d_first = self._history[0]
        span = now - t_first
        rate = (done - d_first) / span if span > 0 else None
        return progress_line(label, done, total, now - self._t0, unit, rate)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                line = self.line(read_counts(self.directory), time.monotonic())
            except Exception as e:  # progress must never break a run
                log.debug("progress: %s", e)
                continue
            if line:
                log.info("%s", line)

    def __enter__(self):
        if self.directory:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        return False
