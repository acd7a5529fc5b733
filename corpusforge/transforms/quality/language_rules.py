"""The per-language bookkeeping every quality filter shares: which language a document is in, the stage
config resolved for it, and which rules are skipped for it (recorded on the document, counted in stats)."""
from __future__ import annotations

from corpusforge.languages import DEFAULT_LANGUAGE, SKIPPED_WITHOUT_WORDS, word_segmenter
from corpusforge.records import Document
from corpusforge.transforms.base import with_measured

STAGE_SKIPPED = "(stage)"  # the rule name recorded when a stage is off for a language


def document_language(doc: Document) -> str:
    return doc.meta.get("language") or DEFAULT_LANGUAGE


def rules_for(cfg, stage: str, language: str):
    """(config of `stage` resolved for `language`, names of the rules skipped for it: set in the stage config
    but null for this language, the whole stage when it is disabled for the language, or rules needing
    words in a script we only split into characters)."""
    resolved = cfg.for_language(language)
    if not resolved.enabled:
        return resolved, [STAGE_SKIPPED]
    if word_segmenter(language) == "chars":
        resolved = resolved.model_copy(update={k: None for k in SKIPPED_WITHOUT_WORDS.get(stage, ())})
    skipped = [k for k in type(cfg).model_fields
               if getattr(cfg, k) is not None and getattr(resolved, k) is None]
    return resolved, skipped


def mark_skipped(doc: Document, stage: str, skipped: list[str]) -> Document:
    """`doc`, or a copy carrying `meta["<stage>_skipped"]` when rules were skipped (never modified in place)."""
    if not skipped:
        return doc
    out = doc.with_text(doc.text)
    out.meta[f"{stage}_skipped"] = sorted(set(skipped))
    return out


def kept(doc: Document, stage: str, skipped: list[str], signals: dict, annotate_only: bool) -> Document:
    """The document a filter keeps: skips recorded and, in annotate-only mode, every signal the stage measured
    (as `<stage>_<signal>`, the names a would-be drop records), so a tuning run shows how close kept documents
    are to each threshold. In every mode the signals also ride on the copy for the pipeline's signal
    histograms (`base.with_measured`; not written to kept/)."""
    out = mark_skipped(doc, stage, skipped)
    if not signals:
        return out
    out = out if out is not doc else doc.with_text(doc.text)  # never modify the input element in place
    if annotate_only:
        out.meta.update({f"{stage}_{k}": v for k, v in signals.items()})
    return with_measured(out, signals)
