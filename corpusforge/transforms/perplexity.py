"""CCNet perplexity filtering: score each document with its language's KenLM model, bucket, and (optionally) drop.

Scoring follows CCNet (Wenzek et al. 2020, "CCNet: Extracting High Quality Monolingual Datasets from Web
Crawl Data"; facebookresearch/cc_net `perplexity.py`): text is normalized with CCNet's text_normalizer,
tokenized into SentencePiece pieces, and scored by a KenLM n-gram model with sentence boundaries:

    perplexity = 10 ** (-sum(log10 P(line)) / sum(pieces(line) + 1)), rounded to 0.1

(the +1 counts the end-of-sentence token). In the default "lines" mode each line of the document is
normalized, tokenized and scored separately and empty lines are skipped; "document" mode reproduces CCNet's
mine.py, where the whole document is normalized at once (the normalizer deletes newlines) and scored as one
sequence.

Buckets as CCNet's PerplexityBucket: head below the 30th percentile, middle below the 60th, tail from there
up. With `cutoffs: corpus` (the default, as CCNet) the percentiles are those of the corpus being processed,
per language: this transform only annotates `perplexity`, and the pipeline (pipelines/perplexity.py) counts a
per-language histogram of every document's perplexity on a fixed log grid (`perplexity_bin`), reads the
percentiles off it (`cutoffs_from_histogram`) and assigns buckets. With `cutoffs: reference` the cutoffs are
the percentiles of the model's held-out reference text, stored beside the model, and this transform buckets
directly. Nothing is dropped unless `drop_rule` is set. Documents in a language without a model pass
through with `perplexity: null`.

Model layout in `models_dir` (local or gs://): `<lang>.sp.model` plus the first of `<lang>.arpa.bin` (CCNet's
published models), `<lang>.bin`, `<lang>.arpa`; cutoffs from `<lang>.cutoffs.json` (written by
`corpusforge train-lm`) or CCNet's `cutoff.csv` (percentile rows 0..100, one column per language). A CCNet
data dir that holds `lm_sp/` works as is.
"""
from __future__ import annotations

import csv
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from corpusforge import storage
from corpusforge.config import ConfigError, PerplexityConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform
from corpusforge.transforms.text_normalizer import normalize

LM_SUFFIXES = (".arpa.bin", ".bin", ".arpa")
SP_SUFFIX = ".sp.model"
CUTOFFS_SUFFIX = ".cutoffs.json"
CCNET_CUTOFF_CSV = "cutoff.csv"
BUCKETS = ("head", "middle", "tail")

# Loaded models are shared by every transform instance in a worker process: Beam may create several DoFn
# instances per process, and a KenLM model can be hundreds of MB. Both libraries are safe for concurrent reads.
_LOADED: dict[tuple[str, str], object] = {}
_LOAD_LOCK = threading.Lock()


def perplexity_from_scores(log10_prob: float, length: int) -> float:
    """CCNet's `pp`: 10 ** (-log10 P / tokens), rounded to 0.1 as CCNet stores it."""
    return round(10.0 ** (-log10_prob / length), 1)


# Corpus percentiles are read off a histogram on this log grid: bins of 1/1000 decade (0.23% wide), so the
# histogram of any corpus has at most a few thousand bins per language and the cutoffs are exact to that
# width, deterministic whatever the worker count.
BINS_PER_DECADE = 1000


def perplexity_bin(perplexity: float) -> int:
    import math

    return int(math.floor(math.log10(max(perplexity, 1.0)) * BINS_PER_DECADE))


def bin_upper_value(b: int) -> float:
    """The smallest perplexity of the next bin: documents below it are in bin `b` or lower."""
    return round(10.0 ** ((b + 1) / BINS_PER_DECADE), 1)


def cutoffs_from_histogram(counts: dict[int, int], percentiles: tuple[int, ...]) -> dict[int, float]:
    """Percentile -> perplexity cutoff from a {bin: documents} histogram: the cutoff for p is the upper edge
    of the bin holding the document at rank ceil(p% of n) (nearest-rank percentile on the grid)."""
    import math

    n = sum(counts.values())
    out: dict[int, float] = {}
    if not n:
        return out
    ordered = sorted(counts.items())
    for p in percentiles:
        rank = max(1, math.ceil(p / 100 * n))
        seen = 0
        for b, c in ordered:
            seen += c
            if seen >= rank:
                out[p] = bin_upper_value(b)
                break
    return out


def perplexity_bucket(perplexity: float | None, head_cutoff: float, tail_cutoff: float) -> str | None:
    """CCNet's PerplexityBucket rule: head < head_cutoff <= middle < tail_cutoff <= tail."""
    if perplexity is None:
        return None
    if perplexity < head_cutoff:
        return "head"
    if perplexity < tail_cutoff:
        return "middle"
    return "tail"


def scoring_units(text: str, scoring: str) -> list[str]:
    """The normalized sequences a document is scored as (see the module docstring)."""
    if scoring == "document":
        units = [normalize(text)]
    else:
        units = [normalize(line) for line in text.split("\n")]
    return [u for u in units if u]


def doc_log_score(lm, sp, text: str, scoring: str = "lines") -> tuple[float, int]:
    """Sum of log10 P over the document's sequences, and the token count (pieces + 1 per sequence)."""
    total, length = 0.0, 0
    for unit in scoring_units(text, scoring):
        tokenized = " ".join(sp.encode_as_pieces(unit))
        total += lm.score(tokenized)  # bos=True, eos=True, as CCNet
        length += len(tokenized.split()) + 1
    return total, length


def doc_perplexity(lm, sp, text: str, scoring: str = "lines") -> float | None:
    total, length = doc_log_score(lm, sp, text, scoring)
    return perplexity_from_scores(total, length) if length else None


# ------------------------------------------------------------------------------------------- files
def _list_names(directory: str) -> set[str] | None:
    """File names directly in `directory`, or None when it does not exist (or, remote, holds nothing)."""
    return set(storage.list_names(directory)) or None if storage.is_dir(directory) else None


@dataclass(frozen=True)
class LanguageModelFiles:
    language: str
    lm: str
    sp: str
    cutoffs: str | None  # <lang>.cutoffs.json or CCNet's cutoff.csv


def find_model_files(models_dir: str, languages: list[str] | None = None) -> dict[str, LanguageModelFiles]:
    """Resolve each language's model files in `models_dir`; ConfigError when a required file is missing."""
    names = _list_names(models_dir)
    if names is None:
        raise ConfigError(
            f"perplexity.models_dir {models_dir!r} does not exist. Train models with `corpusforge train-lm "
            f"--lang xx --input REFERENCE.jsonl --out DIR` (or scripts/train_demo_lms.sh for the demo) and point "
            f"perplexity.models_dir at DIR."
        )
    if not any(n.endswith(SP_SUFFIX) for n in names):
        nested = _list_names(storage.join(models_dir, "lm_sp"))  # CCNet's data dir: data/lm_sp/<lang>.arpa.bin
        if nested:
            models_dir, names = storage.join(models_dir, "lm_sp"), nested
    sp_langs = sorted(n[: -len(SP_SUFFIX)] for n in names if n.endswith(SP_SUFFIX))
    wanted = list(languages) if languages is not None else sp_langs
    if not wanted:
        raise ConfigError(
            f"perplexity.models_dir {models_dir!r} holds no <lang>{SP_SUFFIX} SentencePiece model; expected "
            f"<lang>{SP_SUFFIX} with <lang>.arpa.bin, <lang>.bin or <lang>.arpa beside it."
        )
    csv_cutoffs = None
    if CCNET_CUTOFF_CSV in names:
        csv_cutoffs = storage.join(models_dir, CCNET_CUTOFF_CSV)
    found, problems = {}, []
    for lang in wanted:
        lm = next((storage.join(models_dir, lang + s) for s in LM_SUFFIXES if lang + s in names), None)
        if lang + SP_SUFFIX not in names:
            problems.append(f"{lang}: missing {storage.join(models_dir, lang + SP_SUFFIX)}")
        if lm is None:
            problems.append(f"{lang}: missing KenLM model {storage.join(models_dir, lang + '.arpa.bin')} "
                            f"(or {lang}.bin / {lang}.arpa)")
        if lm is None or lang + SP_SUFFIX not in names:
            continue
        cutoffs = storage.join(models_dir, lang + CUTOFFS_SUFFIX) if lang + CUTOFFS_SUFFIX in names else csv_cutoffs
        found[lang] = LanguageModelFiles(lang, lm, storage.join(models_dir, lang + SP_SUFFIX), cutoffs)
    if problems:
        raise ConfigError(
            "perplexity model files not found:\n  - " + "\n  - ".join(problems)
            + "\nTrain them with `corpusforge train-lm --lang LANG --input REFERENCE.jsonl --out DIR`, or remove the "
              "language from perplexity.languages."
        )
    return found


def default_cache_dir() -> Path:
    home = os.environ.get("CORPUSFORGE_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "corpusforge")
    return Path(home) / "lm_cache"


def read_cutoffs(path: str, language: str) -> tuple[dict[int, float], str | None]:
    """Percentile -> perplexity for `language`, and the scoring mode they were computed with (None: unknown)."""
    raw = storage.read_text(path)
    if path.endswith(".json"):
        data = json.loads(raw)
        return {int(k): float(v) for k, v in data["percentiles"].items()}, data.get("scoring")
    # CCNet's cutoff.csv: first column is the percentile, then one column per language.
    rows = list(csv.reader(io.StringIO(raw)))
    header = rows[0]
    if language not in header:
        return {}, None
    col = header.index(language)
    return {int(float(r[0])): float(r[col]) for r in rows[1:] if r and r[col] != ""}, None


def _load(kind: str, path: str):
    with _LOAD_LOCK:
        model = _LOADED.get((kind, path))
        if model is not None:
            return model
        try:
            if kind == "kenlm":
                import kenlm

                model = kenlm.Model(path)
            else:
                import sentencepiece

                model = sentencepiece.SentencePieceProcessor()
                model.Load(path)
        except (OSError, RuntimeError, ValueError) as e:
            raise ConfigError(f"cannot load {kind} model {path}: {e}") from None
        _LOADED[(kind, path)] = model
        return model


def apply_drop_rule(cfg: PerplexityConfig, doc: Document, cut: tuple[float, float] | None) -> TransformResult:
    """`cfg.drop_rule` on a document annotated with `perplexity` (and `perplexity_bucket`); `cut` is its
    language's (head, tail) cutoffs. One rule for reference cutoffs here and corpus cutoffs in the pipeline."""
    perplexity, language = doc.meta.get("perplexity"), doc.meta.get("language")
    if perplexity is None:
        return doc
    keep = {k: doc.meta[k] for k in ("perplexity", "perplexity_bucket") if k in doc.meta}
    if cfg.drop_rule == "tail" and cut is not None and doc.meta.get("perplexity_bucket") == "tail":
        return Drop("perplexity_tail", {"perplexity": perplexity, "tail_cutoff": cut[1], "language": language},
                    annotations=keep)
    if cfg.drop_rule == "max_perplexity" and perplexity > cfg.max_perplexity:
        return Drop("perplexity_above_max",
                    {"perplexity": perplexity, "max_perplexity": cfg.max_perplexity, "language": language},
                    annotations=keep)
    return doc


# --------------------------------------------------------------------------------------- transform
class PerplexityFilter(DocumentTransform):
    """CCNet perplexity filter; annotates `perplexity` (and, with reference cutoffs, `perplexity_bucket`) and
    drops by `cfg.drop_rule` when the cutoffs are known here (reference cutoffs, or `max_perplexity`).

    Drop reasons: `perplexity_tail` (bucket tail), `perplexity_above_max` (above cfg.max_perplexity).
    """

    name = "perplexity"
    _unpicklable = ("_models",)

    def __init__(self, cfg: PerplexityConfig):
        if not cfg.models_dir:
            raise ConfigError("perplexity.models_dir is required (a directory of <lang>.sp.model + KenLM models)")
        self.cfg = cfg
        self.annotate_only = cfg.annotate_only
        self.files = find_model_files(cfg.models_dir, cfg.languages)
        self.cutoffs: dict[str, tuple[float, float]] = {}
        reference = cfg.cutoffs == "reference"
        for lang, files in sorted(self.files.items()) if reference else ():
            if files.cutoffs is None:
                if cfg.drop_rule == "tail":
                    raise ConfigError(
                        f"perplexity: no cutoffs for {lang!r} (expected {storage.join(cfg.models_dir, lang + CUTOFFS_SUFFIX)}"
                        f" or {CCNET_CUTOFF_CSV}); drop_rule 'tail' with cutoffs 'reference' needs them. Retrain "
                        f"with `corpusforge train-lm`, or use cutoffs 'corpus'."
                    )
                continue
            pct, scoring = read_cutoffs(files.cutoffs, lang)
            missing = [p for p in (cfg.head_percentile, cfg.tail_percentile) if p not in pct]
            if missing:
                if cfg.drop_rule == "tail":
                    raise ConfigError(f"perplexity: cutoffs {files.cutoffs} lack percentile(s) {missing} for {lang!r}")
                continue
            if scoring is not None and scoring != cfg.scoring:
                raise ConfigError(
                    f"perplexity: cutoffs {files.cutoffs} were computed with scoring {scoring!r} but "
                    f"perplexity.scoring is {cfg.scoring!r}; set perplexity.scoring: {scoring} or retrain."
                )
            self.cutoffs[lang] = (pct[cfg.head_percentile], pct[cfg.tail_percentile])
        self._models: dict[str, tuple[object, object]] | None = None

    def setup(self) -> None:
        if self._models is not None:
            return
        cache = Path(self.cfg.cache_dir) if self.cfg.cache_dir else default_cache_dir()
        self._models = {
            lang: (_load("kenlm", storage.cached_local_copy(f.lm, cache)), _load("sentencepiece", storage.cached_local_copy(f.sp, cache)))
            for lang, f in sorted(self.files.items())
        }

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)

    def score(self, text: str, language: str | None) -> float | None:
        """Document perplexity under `language`'s model; None when there is no model or nothing to score."""
        if self._models is None:
            self.setup()
        models = self._models.get(language) if language else None
        if models is None:
            return None
        lm, sp = models
        return doc_perplexity(lm, sp, text, self.cfg.scoring)

    def __call__(self, doc: Document) -> TransformResult:
        language = doc.meta.get("language")
        perplexity = self.score(doc.text, language)
        out = doc.with_text(doc.text)  # a new Document: Beam elements are never modified in place
        out.meta["perplexity"] = perplexity
        if self.cfg.cutoffs == "corpus":
            # The bucket (and a tail drop) is decided in the pipeline, once the corpus percentiles are known.
            return apply_drop_rule(self.cfg, out, None) if self.cfg.drop_rule == "max_perplexity" else out
        cut = self.cutoffs.get(language)
        out.meta["perplexity_bucket"] = perplexity_bucket(perplexity, *cut) if cut else None
        return apply_drop_rule(self.cfg, out, cut)
        keep = {k: doc.meta[k] for k in ("perplexity", "perplexity_bucket") if k in doc.meta}
        if self.cfg.drop_rule == "tail" and cut is not None and doc.meta.get("perplexity_bucket") == "tail":
            return Drop("perplexity_tail", {"perplexity": perplexity, "tail_cutoff": cut[1], "language": language},
                        annotations=keep)
        if self.cfg.drop_rule == "max_perplexity" and perplexity > self.cfg.max_perplexity:
            return Drop("perplexity_above_max",
                        {"perplexity": perplexity, "max_perplexity": self.cfg.max_perplexity, "language": language},
                        annotations=keep)
        return doc
