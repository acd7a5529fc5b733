"""Text normalization before every other stage: Unicode form, control characters, whitespace.

Line and paragraph structure is kept on purpose: Gopher, C4 and FineWeb rules count lines, blank-line
separated paragraphs and line endings, so newlines survive and a blank line stays a paragraph break.

Steps, in order:
  1. line breaks: "\\r\\n", "\\r", U+2028, U+0085, VT and FF become "\\n"; U+2029 (paragraph separator)
     becomes a blank line;
  2. control characters (Unicode Cc, except "\\t" and "\\n"), lone surrogates, and invisible format
     characters that carry no text (BOM, zero-width space, word joiner, soft hyphen) are removed; ZWJ/ZWNJ
     stay because emoji sequences and scripts such as Persian need them;
  3. Unicode normalization (NFC by default: composes "e" + U+0301 into "é" so equal text has equal bytes;
     NFKC optional);
  4. whitespace: runs of space characters (Unicode Zs: space, NBSP, ideographic space ...) become one space,
     trailing spaces and tabs are stripped from each line, lines holding only whitespace become empty, at
     most one blank line separates paragraphs, and the text is stripped. Tabs inside a line stay.
"""
from __future__ import annotations

import re
import unicodedata

from corpusforge.config import NormalizeConfig
from corpusforge.records import Document, Drop, TransformResult
from corpusforge.transforms.base import DocumentTransform

_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\x85\x0b\x0c]")
_INVISIBLE = "\ufeff\u200b\u2060\u00ad"
# Cc except \t (9) and \n (10), surrogates, and the invisible format characters above.
_REMOVE = re.compile(
    "["
    + "".join(re.escape(chr(c)) for c in (*range(0, 9), *range(11, 32), *range(127, 160)))
    + "\ud800-\udfff"
    + _INVISIBLE
    + "]"
)
_SPACE_RUN = re.compile(r"[^\S\t\n\r\x0b\x0c\x1c-\x1f\x85\u2028\u2029]+")
_BLANK_RUN = re.compile(r"\n{3,}")


def normalize_text(text: str, unicode_form: str = "NFC", remove_control_chars: bool = True,
                   normalize_whitespace: bool = True) -> str:
    text = _LINE_BREAKS.sub("\n", text).replace("\u2029", "\n\n")
    if remove_control_chars:
        text = _REMOVE.sub("", text)
    if unicode_form != "none":
        text = unicodedata.normalize(unicode_form, text)
    if normalize_whitespace:
        text = _SPACE_RUN.sub(" ", text)
        # Line by line, not a `[ \t]+$` regex: that one retries from every blank of a long run (quadratic:
        # 33 s for 50 kB of tabs); rstrip is linear.
        text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
        text = _BLANK_RUN.sub("\n\n", text)
        text = text.strip()
    return text


class DocumentNormalizer(DocumentTransform):
    """Unicode/whitespace normalization (see module docstring). Drops documents left empty:
    `normalize_empty`."""

    name = "normalize"

    def __init__(self, cfg: NormalizeConfig | None = None):
        self.cfg = cfg or NormalizeConfig()
        self.annotate_only = self.cfg.annotate_only

    def __call__(self, doc: Document) -> TransformResult:
        cfg = self.cfg
        text = normalize_text(doc.text, cfg.unicode_form, cfg.remove_control_chars, cfg.normalize_whitespace)
        if not text.strip():
            return Drop("normalize_empty", {"original_chars": len(doc.text)})
        keep_original = cfg.keep_original and doc.original_text is None
        if text == doc.text and not keep_original:
            return doc
        out = doc.with_text(text)  # a new Document: Beam elements are never modified
        if keep_original:
            out.original_text = doc.text
        return out
