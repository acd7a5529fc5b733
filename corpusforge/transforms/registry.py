"""The per-document curation stages before perplexity, dedup and PII, in pipeline order.

[html_extract, for web crawls] -> normalize -> langid -> gopher_repetition -> gopher_quality -> c4 -> fineweb
(the order of FineWeb's pipeline: LID first so every later rule knows the document's language; C4 rewrites lines before FineWeb
measures them). Disabled stages are left out; each stage's `annotate_only` comes from its config.
"""
from __future__ import annotations

from corpusforge.config import CurateConfig
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.html_extract import HtmlExtractor
from corpusforge.transforms.langid import LanguageIdFilter
from corpusforge.transforms.normalize import DocumentNormalizer
from corpusforge.transforms.quality.c4 import C4QualityFilter
from corpusforge.transforms.quality.fineweb import FineWebQualityFilter
from corpusforge.transforms.quality.gopher import GopherQualityFilter, GopherRepetitionFilter


def build_document_stages(cfg: CurateConfig) -> list[DocumentTransform]:
    stages: list[DocumentTransform] = []
    if cfg.html.enabled:  # first: every later rule must see text, not markup
        stages.append(HtmlExtractor(cfg.html))
    if cfg.normalize.enabled:
        stages.append(DocumentNormalizer(cfg.normalize))
    if cfg.langid.enabled:
        stages.append(LanguageIdFilter(cfg.langid))
    if cfg.gopher_repetition.enabled:
        stages.append(GopherRepetitionFilter(cfg.gopher_repetition))
    if cfg.gopher_quality.enabled:
        stages.append(GopherQualityFilter(cfg.gopher_quality))
    if cfg.c4.enabled:
        stages.append(C4QualityFilter(cfg.c4))
    if cfg.fineweb.enabled:
        stages.append(FineWebQualityFilter(cfg.fineweb))
    return stages
