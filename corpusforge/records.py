"""The record that flows through every text stage, and the three places a record can end.

Every input record ends in exactly one of:
  * kept        -- a `Document` that passed every stage (written to `kept/`),
  * `Dropped`   -- a stage decided against it, with a stable snake_case reason (written to `dropped/`),
  * `Quarantined` -- it could not be read or a stage raised on it (written to `quarantine/`).
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Union

# Bounded copy of raw bytes kept in quarantine records; enough to find and fix the line.
QUARANTINE_RAW_LIMIT = 4096


@dataclass
class Document:
    """One text document.

    `meta` holds annotations added by stages (JSON-serialisable values only): `language`,
    `language_score`, `perplexity`, per-filter signals, `pii_counts`, ... `original_text` keeps the
    text as read, before normalization, for stages that need it. `read_text` keeps the normalized text once a
    stage has removed part of it (`with_cleaned_text`: C4's line rules), for dedup to compare documents as
    they were read (`dedup.compare_text`); None while no stage has removed anything.
    """

    id: str
    text: str
    url: str | None = None
    source: str = ""
    line: int = -1
    meta: dict[str, Any] = field(default_factory=dict)
    original_text: str | None = None
    read_text: str | None = None

    def with_text(self, text: str) -> "Document":
        return Document(self.id, text, self.url, self.source, self.line, dict(self.meta), self.original_text,
                        self.read_text)

    def with_cleaned_text(self, text: str) -> "Document":
        """A copy whose text is `text`, a cleaned form of this one (lines removed), that remembers the text
        before the first such cleaning in `read_text`."""
        out = self.with_text(text)
        if text != self.text and out.read_text is None:
            out.read_text = self.text
        return out

    def without_read_text(self) -> "Document":
        if self.read_text is None:
            return self
        out = self.with_text(self.text)
        out.read_text = None
        return out


@dataclass
class Dropped:
    """A stage dropped `doc` for `reason` (prefixed by the rule family, e.g. `gopher_short_doc`)."""

    doc: Document
    stage: str
    reason: str
    signals: dict[str, Any] = field(default_factory=dict)
    duplicate_of: str | None = None


@dataclass
class Quarantined:
    """A record that could not be read or processed. `raw` is a bounded copy of the bytes."""

    source: str
    line: int
    error: str
    raw: bytes = b""
    stage: str = "read"
    doc_id: str | None = None

    def to_json(self) -> str:
        raw = self.raw[:QUARANTINE_RAW_LIMIT]
        return json.dumps(
            {
                "source": self.source,
                "line": self.line,
                "stage": self.stage,
                "doc_id": self.doc_id,
                "error": self.error,
                "raw_base64": base64.b64encode(raw).decode("ascii"),
                "raw_truncated": len(self.raw) > QUARANTINE_RAW_LIMIT,
                "raw_size": len(self.raw),
            },
            sort_keys=True,
            ensure_ascii=False,
        )


@dataclass
class Drop:
    """What a transform returns to say 'drop this document'. The wrapper turns it into `Dropped`."""

    reason: str
    signals: dict[str, Any] = field(default_factory=dict)
    duplicate_of: str | None = None
    # Values the stage measured that belong on the document whatever the verdict (language, perplexity):
    # merged into the dropped document's meta, or the kept one's in annotate-only mode.
    annotations: dict[str, Any] = field(default_factory=dict)
    # The text the dropped row shows instead of the input's (PII: the anonymized text, so that dropped/ never
    # holds the values the stage found); None: the document's own text.
    text: str | None = None

    def annotate(self, doc: "Document") -> "Document":
        """`doc` with these annotations and text (a copy when there are any; never modified in place)."""
        if not self.annotations and self.text is None:
            return doc
        out = doc.with_text(doc.text if self.text is None else self.text)
        if self.text is not None:
            out.original_text = None  # the text as read is what the replacement hides
        out.meta.update(self.annotations)
        return out


Outcome = Union[Document, Dropped, Quarantined]
TransformResult = Union[Document, Drop]


def derived_id(text: str, source: str, line: int) -> str:
    """Id for a record that has none: content hash plus source position, so reruns give the same id."""
    h = hashlib.sha1()
    h.update(source.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(str(line).encode())
    h.update(b"\0")
    h.update(text.encode("utf-8", "surrogatepass"))
    return "doc-" + h.hexdigest()[:20]
