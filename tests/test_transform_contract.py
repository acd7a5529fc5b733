"""The contract every per-document stage keeps (transforms/base.py): it never modifies the Document it was
given (Beam may hand the same element to several consumers or retry it), in normal and annotate-only mode,
whether it keeps, rewrites or drops the document. Run with the real models on real prose and on junk."""
from __future__ import annotations

import copy

import pytest

from corpusforge.config import CurateConfig
from corpusforge.pipelines.curate import build_stages
from corpusforge.records import Document
from corpusforge.transforms.base import apply_annotate_only
from corpusforge.transforms.pii import PIIRedactor
from lang_samples import LANGUAGES, document

JUNK = ["buy cheap " * 60, "Home | About | Contact | Login\n" * 30, "{ } ; ; ; " * 80, "short", "Lorem ipsum dolor sit amet, " * 20]


def _docs() -> list[Document]:
    docs = [Document(f"{lang}-{i}", document(lang, repeat=r), meta={"language": lang} if i else {})
            for lang in LANGUAGES for i, r in enumerate((1, 3))]
    docs += [Document(f"junk-{i}", t) for i, t in enumerate(JUNK)]
    docs.append(Document("pii", "Write to margaret.thompson@example.com or call +44 20 7946 0018, Margaret Thompson.",
                         meta={"language": "en"}))
    return docs


def _stages(annotate_only: bool):
    cfg = CurateConfig(input={"paths": ["x.jsonl"]}, output={"dir": "x"}, perplexity={"enabled": False})
    stages = [t for t, _ in build_stages(cfg)]
    stages.append(PIIRedactor(cfg.pii.model_copy(update={"enabled": True, "max_entities": 1})))
    for t in stages:
        if annotate_only and hasattr(t, "cfg") and "annotate_only" in type(t.cfg).model_fields:
            t.annotate_only = True
        t.setup()
    return stages


@pytest.mark.parametrize("annotate_only", [False, True], ids=["decide", "annotate_only"])
def test_no_stage_modifies_its_input(annotate_only):
    for stage in _stages(annotate_only):
        for doc in _docs():
            before = copy.deepcopy(doc)
            result = apply_annotate_only(stage, doc, stage(doc))
            assert doc == before, f"{stage.name} modified its input document {doc.id}"
            if result is not doc and isinstance(result, Document):
                assert result.meta is not doc.meta, f"{stage.name} shares its input's meta dict"
