"""CCNet's text normalization, applied to text before SentencePiece + KenLM perplexity scoring.

Behaviour matches `cc_net/text_normalizer.py` (Wenzek et al. 2020, facebookresearch/cc_net, MIT licence):
the per-language LMs CCNet published were trained on text normalized this way, so scoring with them must
normalize identically. Steps of `normalize`, in CCNet's order: strip, lowercase, strip accents (NFD, drop
combining marks), every Unicode decimal digit to "0", map CJK/typographic punctuation to ASCII, and delete
C0/C1 control characters (which include "\\n": a whole document normalizes to one line).

One CCNet quirk is kept on purpose: its `strip_accents` always returns the NFD form without marks, even
when nothing was stripped (it compares a list length with the string itself), so e.g. Hangul syllables come
back decomposed into jamo. Changing that would change the tokens the published models see.
"""
from __future__ import annotations

import re
import unicodedata

# CCNet's UNICODE_PUNCT table: full-width / typographic punctuation -> ASCII.
UNICODE_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...",
    "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}
_PUNCT_TABLE = str.maketrans(UNICODE_PUNCT)
UNICODE_PUNCT_RE = re.compile("[" + "".join(UNICODE_PUNCT) + "]")
# C0 controls (0-31, including \t and \n) and DEL + C1 controls (127-159).
NON_PRINTING_CHARS_RE = re.compile("[" + "".join(map(chr, [*range(0, 32), *range(127, 160)])) + "]")
DIGIT_RE = re.compile(r"\d")


def replace_unicode_punct(text: str) -> str:
    return text.translate(_PUNCT_TABLE)


def remove_unicode_punct(text: str) -> str:
    return UNICODE_PUNCT_RE.sub("", text)


def _strip_accents_exact(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


# char -> its NFD form without Mn marks, or None when that form keeps a combining character (nonzero
# canonical class): NFD may reorder such characters across character boundaries, so those texts take the
# exact path. Otherwise NFD(text) minus marks == the concatenation of each character's, which is ~3x faster.
_STRIPPED: dict[str, str | None] = {}


def _strip_char(c: str) -> str | None:
    kept = _strip_accents_exact(c)
    return None if any(unicodedata.combining(k) for k in kept) else kept


def strip_accents(text: str) -> str:
    """NFD-decompose and drop nonspacing marks (category Mn); always returns the decomposed form (see above)."""
    if text.isascii():
        return text
    out = []
    for c in text:
        r = _STRIPPED.get(c, "")
        if r == "" and c not in _STRIPPED:
            r = _STRIPPED.setdefault(c, _strip_char(c))
        if r is None:
            return _strip_accents_exact(text)
        out.append(r)
    return "".join(out)


def remove_non_printing_char(text: str) -> str:
    return NON_PRINTING_CHARS_RE.sub("", text)


def normalize(line: str, accent: bool = True, case: bool = True, numbers: bool = True, punct: int = 1) -> str:
    """CCNet's `normalize`: punct=1 replaces Unicode punctuation with ASCII, punct=2 removes it, 0 keeps it."""
    line = line.strip()
    if not line:
        return line
    if case:
        line = line.lower()
    if accent:
        line = strip_accents(line)
    if numbers:
        line = DIGIT_RE.sub("0", line)
    if punct == 1:
        line = replace_unicode_punct(line)
    elif punct == 2:
        line = remove_unicode_punct(line)
    return remove_non_printing_char(line)
