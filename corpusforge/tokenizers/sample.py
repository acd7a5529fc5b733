"""What goes into a tokenizer's training sample: held-out split, line splitting, language budgets.

Pure functions, no Beam and no I/O; `corpusforge.pipelines.tokenizer` runs them over a corpus.

* Every choice is a keyed hash of the document id, never random state, so the same kept corpus and seed
  give the same sample on any runner, with any number of workers, in any order.
* Language balance is temperature sampling as in mT5 (Xue et al. 2021, section 3): with n_l units of
  text in language l, the sample gives l the share n_l**alpha / sum_k n_k**alpha. alpha=1 keeps the
  corpus proportions, alpha=0 gives every language the same budget. A language with less text than its
  share is taken whole and its unused budget goes to the others, in the same proportions.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

UNKNOWN_LANGUAGE = "und"
_HASH_SPACE = float(2**64)
# A candidate filter that passes slightly more than the target, so the exact trim rarely runs short.
OVERSAMPLE = 1.2
OVERSAMPLE_DOCS = 8


def keyed_hash(purpose: str, seed: int, doc_id: str) -> int:
    """64-bit BLAKE2b of `doc_id`, keyed by purpose and seed: independent orders for independent uses."""
    key = f"corpusforge/{purpose}/{seed}".encode("utf-8")[:64]
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, key=key).digest(), "big")


def unit_hash(purpose: str, seed: int, doc_id: str) -> float:
    """The keyed hash as a number in [0, 1): a document is taken when it falls under a keep probability."""
    return keyed_hash(purpose, seed, doc_id) / _HASH_SPACE


def is_heldout(doc_id: str, holdout_percent: float, seed: int) -> bool:
    """Held-out documents never enter the training sample; eval-tokenizer measures on them."""
    if holdout_percent <= 0:
        return False
    return keyed_hash("holdout", seed, doc_id) % 10_000 < round(holdout_percent * 100)


def language_of(value: str | None) -> str:
    return value if value else UNKNOWN_LANGUAGE


def _split_long_line(line: str, max_bytes: int) -> list[str]:
    """Split one line into pieces of at most `max_bytes` UTF-8 bytes, with ''.join(pieces) == line.

    Cuts before the last space in the second half of the window, so the next piece starts with a
    space-prefixed word as words inside a line do; with no space there (a long URL, a CJK paragraph) it
    cuts at the last whole character that fits.
    """
    data = line.encode("utf-8")
    out: list[str] = []
    pos = 0
    while len(data) - pos > max_bytes:
        end = pos + max_bytes
        while data[end] & 0xC0 == 0x80:  # data[end] starts the next piece: never a continuation byte
            end -= 1
        space = data.rfind(b" ", pos + (end - pos) // 2, end)
        cut = space if space > pos else end
        out.append(data[pos:cut].decode("utf-8"))
        pos = cut
    out.append(data[pos:].decode("utf-8"))
    return out


def sample_lines(text: str, max_bytes: int) -> list[str]:
    """The document as SentencePiece training lines: split at line breaks, long lines split further.

    SentencePiece skips any input line longer than `max_sentence_length` bytes; splitting keeps all of
    the text. Blank lines carry nothing to learn and are left out.
    """
    out: list[str] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        out.extend(_split_long_line(line, max_bytes))
    return out


def line_units(lines: Iterable[str], unit: str) -> int:
    if unit == "sentences":
        return sum(1 for _ in lines)
    return sum(len(line.encode("utf-8")) for line in lines)


def temperature_shares(available: dict[str, int], alpha: float) -> dict[str, float]:
    """p_l = n_l**alpha / sum_k n_k**alpha over languages with any text."""
    weights = {lang: float(n) ** alpha for lang, n in available.items() if n > 0}
    total = sum(weights.values())
    return {lang: w / total for lang, w in sorted(weights.items())} if total else {}


def language_targets(available: dict[str, int], alpha: float, budget: int) -> dict[str, int]:
    """Units to sample per language: the budget split by temperature shares, capped at what exists.

    Water-filling: a language whose share exceeds its text is taken whole and the rest of the budget is
    split again among the others with the same formula, until no share exceeds its language's text.
    Targets are whole units that add up to the budget (largest remainders get the rounding).
    """
    active = {lang: n for lang, n in available.items() if n > 0}
    exact: dict[str, float] = {}
    remaining = float(min(budget, sum(active.values())))
    total = int(remaining)
    while active:
        shares = temperature_shares(active, alpha)
        capped = {lang for lang, p in shares.items() if remaining * p >= active[lang]}
        if not capped:
            exact.update({lang: remaining * p for lang, p in shares.items()})
            break
        for lang in sorted(capped):
            exact[lang] = float(active.pop(lang))
            remaining -= exact[lang]
    targets = {lang: int(v) for lang, v in exact.items()}
    short = total - sum(targets.values())
    by_remainder = sorted(exact, key=lambda lang: (-(exact[lang] - targets[lang]), lang))
    for lang in by_remainder:
        if short <= 0:
            break
        if targets[lang] < available[lang]:
            targets[lang] += 1
            short -= 1
    return dict(sorted(targets.items()))


@dataclass(frozen=True)
class LanguagePlan:
    """Per language: text available (units), its temperature share, its target, the candidate threshold."""

    available: int
    documents: int
    share: float
    target: int
    threshold: float


def sample_plan(totals: dict[str, tuple[int, int]], alpha: float, budget: int) -> dict[str, LanguagePlan]:
    """From per-language (units, documents) totals, the plan that the sampling filter and trim follow.

    `threshold` is the candidate keep probability: a document whose unit hash is below it goes on to the
    exact trim. It passes OVERSAMPLE times the target plus a few documents, so the trim seldom runs short.
    """
    available = {lang: units for lang, (units, _) in totals.items()}
    targets = language_targets(available, alpha, budget)
    shares = temperature_shares(available, alpha)
    plan = {}
    for lang, (units, docs) in sorted(totals.items()):
        target = targets.get(lang, 0)
        if units <= 0:
            threshold = 0.0
        elif target >= units:
            threshold = 1.0
        else:
            mean_doc = units / max(docs, 1)
            threshold = min(1.0, (OVERSAMPLE * target + OVERSAMPLE_DOCS * mean_doc) / units)
        plan[lang] = LanguagePlan(units, docs, shares.get(lang, 0.0), target, threshold)
    return plan


def trim_to_target(candidates: Iterable[tuple[float, str, list[str]]], target: float, unit: str) -> list[tuple[str, list[str]]]:
    """Take candidates (hash, id, lines) in hash order until the target is met; the last may be cut short.

    Returns (id, lines) for each document taken. Lines are the unit of the sample, so a document that
    would overshoot the budget contributes the lines that still fit.
    """
    taken: list[tuple[str, list[str]]] = []
    used = 0
    for _, doc_id, lines in sorted(candidates, key=lambda c: (c[0], c[1])):
        if used >= target:
            break
        keep: list[str] = []
        for line in lines:
            size = 1 if unit == "sentences" else len(line.encode("utf-8"))
            if used + size > target:
                break
            keep.append(line)
            used += size
        if keep:
            taken.append((doc_id, keep))
        if len(keep) < len(lines):
            break
    return taken
