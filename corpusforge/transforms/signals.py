"""Per-filter signal histograms and "would drop" counts (issue 16): what each quality stage measured on every
document that reached it, kept or dropped, on fixed bins, per language, with the threshold each language was
held to; and, for a stage in annotate-only mode, how many documents it would have dropped, per reason.

Counting is bounded and distributed. The stage wrapper (pipelines/stage.py) adds each measured document to a
`SignalTally`: one count per (stage, signal, language, bin), one per (stage, signal, language, threshold) and,
in annotate-only mode, one per (stage, would-drop reason, language). The tally is a dict of at most
stages x signals x languages x bins keys, emitted when the bundle ends and summed with CombinePerKey beside
the other counted keys (curate's counts.json); no worker ever holds per-document values. `signal_stats`
turns the summed keys into stats.json's "signals" and "would_drop".

Bins are fixed per signal (`SPECS`), given by their lower edges; the last bin is open-ended (">= last edge"),
so every value lands in a bin and the histogram's size never depends on the data. Fractions use 0.01-wide
bins; counts and perplexity use a roughly logarithmic grid of round numbers (the R10 series), on which the
default thresholds (50 and 100,000 words, 2 stop words, 3 sentences) are bin edges.

Signals are those of documents the signal was measured on: gopher_* and c4 measure every signal before they
decide; fineweb stops at the first rule a document breaks, so a later ratio is counted only for documents that
passed the earlier rules. Thresholds are drawn as the stages compare: "max" drops values above the line,
"min" values below it (gopher_quality's min_stop_words: fewer than the line).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Callable

from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import take_measured
from corpusforge.transforms.quality.language_rules import document_language, rules_for

SIGNAL = "signal"
THRESHOLD = "signal_threshold"
WOULD_DROP = "would_drop"

_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


def _linear(step: float, top: float) -> tuple[float, ...]:
    return tuple(round(i * step, 6) for i in range(round(top / step) + 1))


def _decades(first: int, last: int, integers: bool) -> tuple[float, ...]:
    edges = [m * 10 ** d for d in range(first, last + 1) for m in _R10] + [10.0 ** (last + 1)]
    return tuple(int(round(e)) if integers else round(e, 6) for e in edges)


FRACTION = _linear(0.01, 1.0)                           # 0, 0.01, ..., 1.0 (and above: ratios over 1)
WORD_LENGTH = _linear(0.25, 20.0)
COUNT = tuple(range(10)) + _decades(1, 5, integers=True)   # 0..9, 10, 12, 16, 20, 25, 32, 40, 50, ... 10^6
PERPLEXITY = (0.0,) + _decades(0, 5, integers=False)     # 1, 1.25, 1.6, ... 10^6


def bin_index(edges: tuple[float, ...], value: float) -> int:
    """The bin holding `value`: edges[i] <= value < edges[i+1]; the last bin is open-ended, values below the
    first edge go to the first bin."""
    return max(bisect.bisect_right(edges, value) - 1, 0)


@dataclass(frozen=True)
class Spec:
    """A signal's bins and the config keys that threshold it: (key, "min"|"max") pairs, read from the stage
    config resolved for the document's language."""

    edges: tuple[float, ...]
    thresholds: tuple[tuple[str, str], ...] = ()


def _gopher_repetition_specs() -> dict[str, Spec]:
    specs = {k: Spec(FRACTION, ((k, "max"),))
             for k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")}
    for n in (2, 3, 4):
        specs[f"top_{n}_gram_char_frac"] = Spec(FRACTION, ((f"top_n_grams[{n}]", "max"),))
    for n in range(5, 11):
        specs[f"duplicated_{n}_n_grams_char_frac"] = Spec(FRACTION, ((f"dup_n_grams[{n}]", "max"),))
    return specs


SPECS: dict[str, dict[str, Spec]] = {
    "gopher_quality": {
        "n_words": Spec(COUNT, (("min_doc_words", "min"), ("max_doc_words", "max"))),
        "avg_word_length": Spec(WORD_LENGTH, (("min_avg_word_length", "min"), ("max_avg_word_length", "max"))),
        "hash_ratio": Spec(FRACTION, (("max_symbol_word_ratio", "max"),)),
        "ellipsis_ratio": Spec(FRACTION, (("max_symbol_word_ratio", "max"),)),
        "bullet_lines_ratio": Spec(FRACTION, (("max_bullet_lines_ratio", "max"),)),
        "end_ellipsis_lines_ratio": Spec(FRACTION, (("max_ellipsis_lines_ratio", "max"),)),
        # datatrove's historical name: documents with fewer alphabetic words than this share drop
        "alpha_words_ratio": Spec(FRACTION, (("max_non_alpha_words_ratio", "min"),)),
        "stop_words": Spec(COUNT, (("min_stop_words", "min"),)),
    },
    "gopher_repetition": _gopher_repetition_specs(),
    "c4": {
        "num_sentences": Spec(COUNT, (("min_num_sentences", "min"),)),
        "kept_lines_frac": Spec(FRACTION),
    },
    "fineweb": {
        "line_punct_ratio": Spec(FRACTION, (("line_punct_thr", "min"),)),
        "short_line_ratio": Spec(FRACTION, (("short_line_thr", "max"),)),
        "char_dup_ratio": Spec(FRACTION, (("char_duplicates_ratio", "max"),)),
        "list_ratio": Spec(FRACTION, (("new_line_ratio", "max"),)),
    },
    "perplexity": {
        "perplexity": Spec(PERPLEXITY, (("max_perplexity", "max"),)),
    },
}


# ------------------------------------------------------------------------------ what a stage measured
def _c4_measured(result: TransformResult) -> dict:
    """c4 keeps its measurements in meta (`c4_lines`, `c4_num_sentences`); its drops carry them as signals.
    The line share is counted only where the line rules ran to the end (kept, or dropped on sentences/no
    lines), not for a page dropped at its first "lorem ipsum" or "{"."""
    if isinstance(result, Drop):
        s = result.signals
        lines = s if result.reason in ("c4_too_few_sentences", "c4_no_lines_left") else {}
        out = {"num_sentences": s["num_sentences"]} if "num_sentences" in s else {}
    else:
        lines = result.meta.get("c4_lines") or {}
        out = {"num_sentences": result.meta["c4_num_sentences"]} if "c4_num_sentences" in result.meta else {}
    if lines.get("total"):
        out["kept_lines_frac"] = lines["kept"] / lines["total"]
    return out


def _perplexity_measured(result: TransformResult) -> dict:
    ppl = result.signals.get("perplexity") if isinstance(result, Drop) else result.meta.get("perplexity")
    return {} if ppl is None else {"perplexity": ppl}


# Stages that leave their measurements in meta rather than through language_rules.kept().
_FROM_RESULT: dict[str, Callable[[TransformResult], dict]] = {"c4": _c4_measured, "perplexity": _perplexity_measured}


def measured(stage: str, result: TransformResult) -> dict:
    """The signal values `stage` measured, from its result (a Drop's signals, or what a kept document carries)."""
    if stage in _FROM_RESULT:
        return _FROM_RESULT[stage](result)
    if isinstance(result, Drop):
        return result.signals
    return take_measured(result)


# --------------------------------------------------------------------------------------- thresholds
def _config_value(cfg, key: str):
    """A threshold key's value in a resolved stage config; `name[n]` is the fraction for n in a list of
    (n, fraction) pairs (gopher_repetition's n-gram rules)."""
    if "[" in key:
        name, n = key[:-1].split("[")
        return next((frac for m, frac in getattr(cfg, name) or () if m == int(n)), None)
    if key == "min_num_sentences":
        return cfg.resolved_min_num_sentences()
    return getattr(cfg, key, None)


def thresholds_for(transform, language: str) -> dict[str, list[tuple[str, str, float]]]:
    """signal -> [(config key, "min"|"max", value)] that `transform` applies to documents in `language`
    (rules off, skipped or null for the language give no line)."""
    stage, cfg = transform.name, getattr(transform, "cfg", None)
    specs = SPECS.get(stage, {})
    if cfg is None or not specs:
        return {}
    if stage == "perplexity":
        resolved = cfg if cfg.drop_rule == "max_perplexity" else None
    else:
        resolved, _ = rules_for(cfg, stage, language)
        if not resolved.enabled:
            resolved = None
    if stage == "gopher_quality" and resolved is not None and not resolved.stop_words:
        resolved = resolved.model_copy(update={"min_stop_words": None})  # no stop-word list: the rule is off
    if stage == "c4" and resolved is not None and cfg.languages is not None and language not in cfg.languages:
        resolved = resolved.model_copy(update={"min_num_sentences": 0})  # sentence rules only for `languages`
    out: dict[str, list[tuple[str, str, float]]] = {}
    for signal, spec in specs.items():
        lines = []
        for key, kind in spec.thresholds:
            value = _config_value(resolved, key) if resolved is not None else None
            if value:  # 0 / None: the rule is off, as in the stages
                lines.append((key, kind, float(value)))
        out[signal] = lines
    return out


# --------------------------------------------------------------------------------------- counting
class SignalTally:
    """Per-bundle counts of one stage's signals and would-drop verdicts, as (key, count) pairs for
    CombinePerKey. Keys are tab-separated like curate's other counted keys."""

    def __init__(self, transform):
        self.transform = transform
        self.stage = transform.name
        self.specs = SPECS.get(self.stage, {})
        self.active = bool(self.specs) or transform.annotate_only
        self._thresholds: dict[str, dict] = {}
        self.counts: dict[str, int] = {}

    def _inc(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def add(self, doc: Document, result: TransformResult) -> None:
        """Count what the stage measured on `doc` (its input) and, in annotate-only mode, a would-be drop."""
        values = measured(self.stage, result)  # first: it also takes the measured signals off a kept document
        if not self.active:
            return
        label = doc.meta.get("language") or "und"
        if isinstance(result, Drop) and self.transform.annotate_only:
            self._inc(f"{WOULD_DROP}\t{self.stage}\t{result.reason}\t{label}")
        if not values or not self.specs:
            return
        language = document_language(doc)  # the language the stage resolved its rules for
        limits = self._thresholds.get(language)
        if limits is None:
            limits = self._thresholds[language] = thresholds_for(self.transform, language)
        for signal, spec in self.specs.items():
            value = values.get(signal)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            self._inc(f"{SIGNAL}\t{self.stage}\t{signal}\t{label}\t{bin_index(spec.edges, value)}")
            for key, kind, limit in limits.get(signal, ()):
                self._inc(f"{THRESHOLD}\t{self.stage}\t{signal}\t{label}\t{key}\t{kind}\t{limit!r}")

    def drain(self) -> list[tuple[str, int]]:
        out, self.counts = sorted(self.counts.items()), {}
        return out


# --------------------------------------------------------------------------------------- stats.json
def signal_stats(counts: dict[tuple[str, ...], int], stage_order: list[str]) -> tuple[dict, dict]:
    """(stats "signals", stats "would_drop") from the summed keys (split on tabs).

    signals[stage][signal] = {"bins": lower edges (the last bin open-ended), "counts": documents per bin over
    all languages, "documents", "thresholds": [{"key", "kind", "value", "languages", "documents"}] (one per
    distinct value), "languages": {lang: {"documents", "counts": {bin index: documents} (non-empty bins),
    "thresholds": {key: value}}}}.
    would_drop[stage][reason] = {"documents", "languages": {lang: documents}}.
    """
    hist: dict[str, dict[str, dict[str, dict[int, int]]]] = {}
    limits: dict[tuple[str, str], dict[tuple[str, str, float], dict[str, int]]] = {}
    would: dict[str, dict[str, dict[str, int]]] = {}
    for key, n in counts.items():
        if key[0] == SIGNAL and len(key) == 5:
            _, stage, signal, lang, b = key
            bins = hist.setdefault(stage, {}).setdefault(signal, {}).setdefault(lang, {})
            bins[int(b)] = bins.get(int(b), 0) + n
        elif key[0] == THRESHOLD and len(key) == 7:
            _, stage, signal, lang, name, kind, value = key
            per = limits.setdefault((stage, signal), {}).setdefault((name, kind, float(value)), {})
            per[lang] = per.get(lang, 0) + n
        elif key[0] == WOULD_DROP and len(key) == 4:
            _, stage, reason, lang = key
            per = would.setdefault(stage, {}).setdefault(reason, {})
            per[lang] = per.get(lang, 0) + n
    order = {st: i for i, st in enumerate(stage_order)}
    by_stage = lambda d: sorted(d.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))  # noqa: E731
    signals: dict[str, Any] = {}
    for stage, per_signal in by_stage(hist):
        specs = SPECS.get(stage, {})
        out = {}
        for signal in [s for s in specs if s in per_signal] + sorted(set(per_signal) - set(specs)):
            out[signal] = _signal_entry(specs.get(signal), per_signal[signal], limits.get((stage, signal), {}))
        signals[stage] = out
    would_drop = {stage: {reason: {"documents": sum(langs.values()), "languages": dict(sorted(langs.items()))}
                          for reason, langs in sorted(reasons.items())} for stage, reasons in by_stage(would)}
    return signals, would_drop


def _signal_entry(spec: Spec | None, per_lang: dict[str, dict[int, int]],
                  limits: dict[tuple[str, str, float], dict[str, int]]) -> dict:
    n_bins = len(spec.edges) if spec else max(b for bins in per_lang.values() for b in bins) + 1
    total = [0] * n_bins
    languages = {}
    for lang, bins in sorted(per_lang.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        for b, n in bins.items():
            total[min(b, n_bins - 1)] += n
        languages[lang] = {"documents": sum(bins.values()), "counts": {str(b): n for b, n in sorted(bins.items())},
                           "thresholds": {}}
    lines = []
    for (name, kind, value), langs in sorted(limits.items()):
        lines.append({"key": name, "kind": kind, "value": value, "languages": sorted(langs),
                      "documents": sum(langs.values())})
        for lang in langs:
            if lang in languages:
                languages[lang]["thresholds"][name] = value
    return {"bins": list(spec.edges) if spec else list(range(n_bins)), "counts": total, "documents": sum(total),
            "thresholds": lines, "languages": languages}

