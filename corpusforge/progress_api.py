"""How library code below pipelines/ reports long work: it takes a `progress` factory and runs

    with progress("train-lm de: scoring held-out documents", total=n, unit="documents") as step:
        for doc in step.each(docs): ...        # or step.add(k)

Commands pass `corpusforge.pipelines.progress.Step` (start line, done / total with rate and ETA every 10 s,
finish line); the default, `Silent`, logs nothing, so library callers and tests stay quiet. One interface, so
libraries never import pipelines/ (layers import downward only)."""
from __future__ import annotations


class Silent:
    """The progress interface of pipelines.progress.Step, with no lines."""

    def __init__(self, label: str, total: int | None = None, unit: str = "documents"):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add(self, n: int = 1) -> None:
        pass

    def each(self, items):
        return items
