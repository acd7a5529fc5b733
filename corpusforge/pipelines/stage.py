"""One generic DoFn that runs any document transform and routes every result to a tagged output.

kept (main output) -> the next stage; `dropped` -> Dropped(stage, reason); `quarantined` -> the transform
raised on this document, or ran past its time budget. Every outcome is counted with Beam Metrics under the
stage's namespace. What a quality stage measured on each document (kept or dropped) and, in annotate-only
mode, what it would have dropped are tallied per bundle (`signals.SignalTally`) and leave as (key, count)
pairs on the `counts` output, summed with CombinePerKey: bounded by bins, never per-document values.

Time budget (issue 13, item 4). Beam's FnApiRunner runs bundles in worker *threads*, where SIGALRM cannot be
used (signals go to the main thread only). A single daemon thread per process (`_Watchdog`) watches the
deadlines of the documents being processed and, when one passes, raises `StageTimeout` in the worker thread
with CPython's `PyThreadState_SetAsyncExc`. Cost per document: two lock round-trips. The exception lands at
the next Python bytecode boundary, so it stops pure-Python loops (the stages' text rules) but not a single
long C call (one regex search, one model call); those return first. `StageTimeout` is a BaseException so
a stage's own `except Exception` cannot swallow it.
"""
from __future__ import annotations

import ctypes
import threading
import time
import traceback

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from corpusforge.transforms.signals import SignalTally
from corpusforge.records import Document, Drop, Dropped, Quarantined
from corpusforge.transforms.base import DocumentTransform, apply_annotate_only

DROPPED = "dropped"
QUARANTINED = "quarantined"
COUNTS = "counts"


def _error_message(stage: str, exc: BaseException, sensitive: bool = False) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    # The exception text may quote the document: a sensitive stage keeps only the type and location.
    msg = "(message withheld: stage handles personal data)" if sensitive else str(exc)
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return f"stage {stage!r} raised {type(exc).__name__}{where}: {msg}"


class StageTimeout(BaseException):
    """Raised inside a worker thread whose document ran past the stage's time budget."""


class _Watchdog:
    """One daemon thread per process that interrupts worker threads past their deadline."""

    _instance: "_Watchdog | None" = None
    _instance_lock = threading.Lock()

    def __init__(self):
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._deadlines: dict[int, float] = {}  # thread id -> monotonic deadline
        self._fired: set[int] = set()
        threading.Thread(target=self._loop, name="corpusforge-stage-watchdog", daemon=True).start()

    @classmethod
    def get(cls) -> "_Watchdog":
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _loop(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for tid, deadline in list(self._deadlines.items()):
                    if deadline <= now and tid not in self._fired:
                        self._fired.add(tid)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(StageTimeout))
                pending = [d for t, d in self._deadlines.items() if t not in self._fired]
                self._wake.wait(timeout=max(0.01, min(pending) - now) if pending else None)

    def arm(self, seconds: float) -> None:
        with self._lock:
            self._deadlines[threading.get_ident()] = time.monotonic() + seconds
            self._wake.notify()

    def disarm(self) -> bool:
        """Stop watching this thread; True if its deadline had fired. A fired exception that has not landed
        yet is cancelled here, under the lock, so it can never hit the code after the guarded call."""
        tid = threading.get_ident()
        with self._lock:
            self._deadlines.pop(tid, None)
            fired = tid in self._fired
            if fired:
                self._fired.discard(tid)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)
        return fired


def run_with_budget(fn, seconds: float | None, *args):
    """fn(*args), raising StageTimeout if it runs past `seconds` (None or 0: no budget).

    The outcome is captured first and the deadline disarmed after, in a retry loop: an exception injected
    just as `fn` returned may land inside `disarm`; either way it is counted once and never escapes late.
    """
    if not seconds:
        return fn(*args)
    dog = _Watchdog.get()
    dog.arm(seconds)
    outcome: tuple[bool, object] = (False, None)
    fired = False
    try:
        outcome = (True, fn(*args))
    except StageTimeout:
        fired = True
    except BaseException as e:  # re-raised below, after the deadline is disarmed
        outcome = (False, e)
    while True:
        try:
            fired = dog.disarm() or fired
            break
        except StageTimeout:
            fired = True
    if fired:
        raise StageTimeout()
    ok, value = outcome
    if ok:
        return value
    raise value


class TransformDoFn(beam.DoFn):
    """Wraps a DocumentTransform. Elements are Documents, or lists of Documents when `batched`."""

    def __init__(self, transform: DocumentTransform, batched: bool = False, seconds_per_doc: float | None = None):
        self.transform = transform
        self.batched = batched
        self.seconds_per_doc = seconds_per_doc
        ns = f"corpusforge.{transform.name}"
        self._in = Metrics.counter(ns, "in")
        self._kept = Metrics.counter(ns, "kept")
        self._dropped = Metrics.counter(ns, "dropped")
        self._quarantined = Metrics.counter(ns, "quarantined")
        self._ms = Metrics.distribution(ns, "batch_ms")

    def setup(self):
        self.transform.setup()

    def start_bundle(self):
        self._tally = SignalTally(self.transform)

    def finish_bundle(self):
        # Emitted once per bundle: a retried bundle's counts are discarded with its other outputs.
        for pair in self._tally.drain():
            yield beam.pvalue.TaggedOutput(COUNTS, GlobalWindows.windowed_value(pair))

    def _route(self, doc: Document, result):
        if not isinstance(result, (Document, Drop)):
            raise TypeError(f"stage {self.transform.name!r} returned {type(result).__name__}, expected Document or Drop")
        self._tally.add(doc, result)
        result = apply_annotate_only(self.transform, doc, result)
        if isinstance(result, Document):
            self._kept.inc()
            return result
        self._dropped.inc()
        Metrics.counter(f"corpusforge.{self.transform.name}", f"reason.{result.reason}").inc()
        return beam.pvalue.TaggedOutput(
            DROPPED, Dropped(result.annotate(doc), self.transform.name, result.reason, result.signals,
                             result.duplicate_of)
        )

    def _quarantine(self, doc: Document, exc: BaseException):
        self._quarantined.inc()
        if isinstance(exc, StageTimeout):
            exc = TimeoutError(f"over the time budget of {self.seconds_per_doc:g} s per document "
                               "(input.max_seconds_per_stage)")
        # A stage that handles sensitive values (PII) never copies the document into quarantine.
        raw = b"" if getattr(self.transform, "sensitive", False) else (doc.original_text or doc.text).encode("utf-8", "replace")
        return beam.pvalue.TaggedOutput(
            QUARANTINED,
            Quarantined(doc.source, doc.line,
                        _error_message(self.transform.name, exc, getattr(self.transform, "sensitive", False)), raw,
                        stage=self.transform.name, doc_id=doc.id),
        )

    def process(self, element):
        docs = element if self.batched else [element]
        self._in.inc(len(docs))
        start = time.perf_counter()
        budget = self.seconds_per_doc
        try:
            if self.batched:
                results = run_with_budget(self.transform.process_batch, budget and budget * len(docs), docs)
            else:
                results = [run_with_budget(self.transform, budget, docs[0])]
        except (Exception, StageTimeout):
            # One bad (or slow) document must not sink its batch: retry one by one to find it.
            results = None
        if results is None or len(results) != len(docs):
            for doc in docs:
                try:
                    yield self._route(doc, run_with_budget(self.transform, budget, doc))
                except (Exception, StageTimeout) as e:  # quarantined with the error, the run goes on
                    yield self._quarantine(doc, e)
        else:
            for doc, result in zip(docs, results):
                try:
                    yield self._route(doc, result)
                except Exception as e:
                    yield self._quarantine(doc, e)
        self._ms.update(int((time.perf_counter() - start) * 1000))


class ApplyStage(beam.PTransform):
    """docs -> {"kept", "dropped", "quarantined", "counts"} through one transform (batched when it has a batch
    path). `counts`: (key, documents) pairs of the stage's signal histograms and would-drop verdicts
    (`signals.SignalTally`), summed per key, for stats.json."""

    def __init__(self, transform: DocumentTransform, batch_size: int | None = None,
                 seconds_per_doc: float | None = None):
        super().__init__(label=None)
        self.transform = transform
        self.batch_size = batch_size
        self.seconds_per_doc = seconds_per_doc

    def expand(self, docs):
        batched = bool(self.batch_size)
        if batched:
            docs = docs | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
        results = docs | "Run" >> beam.ParDo(
            TransformDoFn(self.transform, batched=batched, seconds_per_doc=self.seconds_per_doc)).with_outputs(
            DROPPED, QUARANTINED, COUNTS, main="kept"
        )
        counts = results[COUNTS] | "SumCounts" >> beam.CombinePerKey(sum)
        return {"kept": results.kept, "dropped": results[DROPPED], "quarantined": results[QUARANTINED],
                "counts": counts}
