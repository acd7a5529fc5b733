"""The contract every per-document stage follows. No Beam and no I/O here.

A transform is a small picklable object:
  * `name`: the stage name used in stats and `dropped/` (e.g. "gopher_quality").
  * `setup()`: loads heavy resources once per worker (models). Called before the first document.
  * `__call__(doc)`: returns the (possibly annotated) `Document`, or `Drop(reason, signals)`.
  * `process_batch(docs)`: optional faster path over a list; the default maps `__call__`.

Transforms never swallow errors: an exception on one document is caught by the pipeline wrapper and the
document is quarantined with the stage name and the error, while the run goes on.
"""
from __future__ import annotations

import abc
from typing import Any, Sequence

from corpusforge.records import Document, Drop, TransformResult


class DocumentTransform(abc.ABC):
    name: str = "transform"
    # When True, a Drop is recorded as annotations (`<name>_verdict`, signals) and the doc is kept.
    annotate_only: bool = False

    def setup(self) -> None:  # pragma: no cover - default does nothing
        return None

    @abc.abstractmethod
    def __call__(self, doc: Document) -> TransformResult:
        """Decide on one document."""

    def process_batch(self, docs: Sequence[Document]) -> list[TransformResult]:
        return [self(d) for d in docs]

    def __getstate__(self):
        # Loaded resources are never pickled; each worker calls setup() again.
        state = dict(self.__dict__)
        for key in getattr(self, "_unpicklable", ()):
            state[key] = None
        return state


# The signals a stage measured on a document it keeps travel on the returned Document as this attribute, not in
# `meta`: meta is written to kept/, while these only feed the report's signal histograms. The pipeline wrapper
# takes them off (`take_measured`) before the document moves on, so they are never pickled downstream.
_MEASURED = "_measured_signals"


def with_measured(doc: Document, signals: dict[str, Any]) -> Document:
    """`doc` (already a copy made by the stage) carrying `signals` for the wrapper's histograms."""
    setattr(doc, _MEASURED, signals)
    return doc


def take_measured(doc: Document) -> dict[str, Any]:
    """The signals `with_measured` put on `doc`, removed from it ({} when there are none)."""
    return doc.__dict__.pop(_MEASURED, None) or {}


def apply_annotate_only(transform: DocumentTransform, doc: Document, result: TransformResult) -> TransformResult:
    """Turn a Drop into annotations when the stage runs in annotate-only mode."""
    if isinstance(result, Drop) and transform.annotate_only:
        kept = doc.with_text(doc.text)  # a copy: Beam elements are never modified in place
        kept.meta.update(result.annotations)
        kept.meta[f"{transform.name}_verdict"] = result.reason
        for k, v in result.signals.items():
            kept.meta.setdefault(f"{transform.name}_{k}", v)
        return kept
    if isinstance(result, Document) and transform.annotate_only and f"{transform.name}_verdict" not in result.meta:
        if result is doc:  # the stage returned its input: annotate a copy, never the Beam element
            result = doc.with_text(doc.text)
        result.meta[f"{transform.name}_verdict"] = "keep"
    return result
