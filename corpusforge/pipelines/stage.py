"""One generic DoFn that runs any document transform and routes every result to a tagged output.

kept (main output) -> the next stage; `dropped` -> Dropped(stage, reason); `quarantined` -> the transform
raised on this document. Every outcome is counted with Beam Metrics under the stage's namespace.
"""
from __future__ import annotations

import time
import traceback

import apache_beam as beam
from apache_beam.metrics import Metrics

from corpusforge.records import Document, Drop, Dropped, Quarantined
from corpusforge.transforms.base import DocumentTransform, apply_annotate_only

DROPPED = "dropped"
QUARANTINED = "quarantined"


def _error_message(stage: str, exc: BaseException, sensitive: bool = False) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    # The exception text may quote the document: a sensitive stage keeps only the type and location.
    msg = "(message withheld: stage handles personal data)" if sensitive else str(exc)
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return f"stage {stage!r} raised {type(exc).__name__}{where}: {msg}"


class TransformDoFn(beam.DoFn):
    """Wraps a DocumentTransform. Elements are Documents, or lists of Documents when `batched`."""

    def __init__(self, transform: DocumentTransform, batched: bool = False):
        self.transform = transform
        self.batched = batched
        ns = f"corpusforge.{transform.name}"
        self._in = Metrics.counter(ns, "in")
        self._kept = Metrics.counter(ns, "kept")
        self._dropped = Metrics.counter(ns, "dropped")
        self._quarantined = Metrics.counter(ns, "quarantined")
        self._ms = Metrics.distribution(ns, "batch_ms")

    def setup(self):
        self.transform.setup()

    def _route(self, doc: Document, result):
        result = apply_annotate_only(self.transform, doc, result)
        if isinstance(result, Document):
            self._kept.inc()
            return result
        if isinstance(result, Drop):
            self._dropped.inc()
            Metrics.counter(f"corpusforge.{self.transform.name}", f"reason.{result.reason}").inc()
            return beam.pvalue.TaggedOutput(
                DROPPED, Dropped(doc, self.transform.name, result.reason, result.signals, result.duplicate_of)
            )
        raise TypeError(f"stage {self.transform.name!r} returned {type(result).__name__}, expected Document or Drop")

    def _quarantine(self, doc: Document, exc: BaseException):
        self._quarantined.inc()
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
        try:
            results = self.transform.process_batch(docs) if self.batched else [self.transform(docs[0])]
        except Exception:
            # One bad document must not sink its batch: retry one by one to find it.
            results = None
        if results is None or len(results) != len(docs):
            for doc in docs:
                try:
                    yield self._route(doc, self.transform(doc))
                except Exception as e:  # quarantined with the error, the run goes on
                    yield self._quarantine(doc, e)
        else:
            for doc, result in zip(docs, results):
                try:
                    yield self._route(doc, result)
                except Exception as e:
                    yield self._quarantine(doc, e)
        self._ms.update(int((time.perf_counter() - start) * 1000))


class ApplyStage(beam.PTransform):
    """docs -> {"kept", "dropped", "quarantined"} through one transform (batched when it has a batch path)."""

    def __init__(self, transform: DocumentTransform, batch_size: int | None = None):
        super().__init__(label=None)
        self.transform = transform
        self.batch_size = batch_size

    def expand(self, docs):
        batched = bool(self.batch_size)
        if batched:
            docs = docs | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
        results = docs | "Run" >> beam.ParDo(TransformDoFn(self.transform, batched=batched)).with_outputs(
            DROPPED, QUARANTINED, main="kept"
        )
        return {"kept": results.kept, "dropped": results[DROPPED], "quarantined": results[QUARANTINED]}
