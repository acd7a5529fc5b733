"""Word, line, paragraph and sentence splitting shared by the heuristic quality filters. Offline, no models.

Words. datatrove (the reference for our Gopher/C4/FineWeb defaults) splits text with spaCy's rule-based
tokenizer, so punctuation becomes "symbol words" of its own ("dog." -> "dog", "."). `split_words`
re-implements that tokenizer's base rules without loading spaCy (about 10x faster, no model, stable across
spaCy releases): split on whitespace, peel prefix punctuation (brackets, quotes, "#", "$" ...) and suffix
punctuation (",", ")", "'s", "." after a lowercase letter or digit ...) off each chunk, then split the rest at
infixes (a hyphen or "/" between letters, "..." inside a chunk, ...). Left out: tokenizer exceptions
("don't" stays one word where spaCy gives "do", "n't"), URL matching and per-language overrides (French
elision "l'"). On the English documents of the demo corpus the Gopher, C4 and FineWeb verdicts equal
datatrove's (spaCy tokenizer) on every document; see bench/results/quality_filters.md.

Languages written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese, Tibetan) cannot be split on
whitespace: there each character of those scripts (with its combining marks) is one word, and runs of other
letters or digits (embedded Latin words, numbers) are words as above. That is a character-level
segmentation, not a dictionary one: good enough for repetition n-grams and ratios, and the filters skip
the rules that need real word lengths for these languages.

Sentences. datatrove counts C4 sentences with spaCy's sentencizer (older releases: NLTK punkt). We never
download NLTK data, so `split_sentences` is a regular-expression splitter modelled on that sentencizer: a
sentence ends at a run of ".", "!", "?" (plus closing quotes/brackets) followed by whitespace or the end of
the text, right after a CJK full stop / exclamation / question mark, or at a danda / Arabic question mark /
Urdu full stop. As in the sentencizer, an ellipsis ("...", "\u2026") does not end a sentence, and a piece
made only of punctuation is not a sentence of its own (it joins the sentence before it). A period after
a known abbreviation ("Dr.", "e.g.", "z.B.", "M.") or a single-letter initial does not end a sentence.

Punctuation tables are copied from datatrove (`datatrove/utils/text.py`, Apache-2.0) so that the "symbol
word" and "terminal punctuation" definitions match the reference implementation character for character.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

import regex

from corpusforge.languages import DEFAULT_LANGUAGE, EXTRA_SENTENCE_ENDS, word_segmenter

# datatrove PUNCTUATION: ASCII and CJK punctuation plus every C0/C1 control character except \t and \n.
PUNCTUATION = (
    '!/\u2014\u201d:\uff05\uff11\u3008&(\u3001\u2501\\\u3010#%\u300c\u300d\uff0c\u3011\uff1b+^]~\u201c\u300a'
    "\u201e';\u2019{|\u2236\xb4[=-`*\uff0e\uff08\u2013\uff1f\uff01\uff1a$\uff5e\xab\u3009,><\u300b)?\uff09"
    '\u3002\u2026@_."}\u25ba\xbb'
    + "".join(map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))))
)
# datatrove TERMINAL_PUNCTUATION: sentence-final marks across scripts (FineWeb's line-end rule).
TERMINAL_PUNCTUATION = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104a"
    "\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944\u1945\u1aa8"
    "\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048"
    "\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8"
    "\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56\U00010a57"
    "\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011047"
    "\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6"
    "\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c"
    "\U000115c2\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0"
    "\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c"
    "\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42"
    "\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44"
    "\U00016e98\U0001bc9f\U0001da88"
)
PUNCTUATION_SET = frozenset(PUNCTUATION) | TERMINAL_PUNCTUATION

# spaCy's rule-based tokenizer (the one datatrove uses), reduced to its base rules: split on whitespace, peel
# prefix and suffix punctuation off each chunk, then split the rest at infixes. Character lists are spaCy's
# `lang/char_classes.py` and `lang/punctuation.py` (MIT); tokenizer exceptions ("don't" -> "do", "n't"),
# URL matching, units and per-language overrides are left out.
_SPACY_PUNCT = ",:;!?\xbf\u061f\xa1()[]{}<>_#*&\u3002\uff1f\uff01\uff0c\u3001\uff1b\uff1a\uff5e\xb7\u0964\u060c\u06d4\u061b\u066a\u2026"
_SPACY_QUOTES = "'\"\u201d\u201c`\u2018\xb4\u2019\u201a,\u201e\xbb\xab\u300c\u300d\u300e\u300f\uff08\uff09\u3014\u3015\u3010\u3011\u300a\u300b\u3008\u3009\u2329\u232a\u27e6\u27e7"
_SPACY_CURRENCY = "$\xa3\u20ac\xa5\u0e3f\u20bd\ufdfc\u20b4\u20a0\u20a1\u20a2\u20a3\u20a4\u20a5\u20a6\u20a7\u20a8\u20a9\u20aa\u20ab\u20ad\u20ae\u20af\u20b0\u20b1\u20b2\u20b3\u20b5\u20b6\u20b7\u20b8\u20b9\u20ba\u20bb\u20bc\u20be\u20bf"
_UNITS = "km\u00b2|km|kg|mg|cm|mm|ha|ft|lb|oz|mph|kmh|MB|KB|GB|TB|kb|gb|m\u00b2|m|g|t|%"
_P = regex.escape(_SPACY_PUNCT)
_Q = regex.escape(_SPACY_QUOTES)
_C = regex.escape(_SPACY_CURRENCY)
_PREFIX_RE = regex.compile(rf"\G(?:\.\.+|[{_P}{_Q}{_C}\u00a7%=\u2014\u2013]|\+(?![0-9]))")
_SUFFIX_RE = regex.compile(
    rf"(?:\.\.+|'s|'S|\u2019s|\u2019S|[{_P}{_Q}\u2014\u2013]|(?<=[0-9])\+|(?<=[0-9])[{_C}]|(?<=[0-9])(?:{_UNITS})"
    rf"|(?<=[0-9\p{{Ll}}%\u00b2\-+{_P}{_Q}])\.|(?<=\p{{Lu}}\p{{Lu}})\.)$",
    flags=regex.REVERSE,
)
_INFIX_RE = regex.compile(
    rf"\.\.+|\u2026|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=[\p{{Ll}}{_Q}])\.(?=[\p{{Lu}}{_Q}])|(?<=\p{{L}}),(?=\p{{L}})"
    rf"|(?<=\p{{L}})(?:---|--|\u2014\u2014|[-\u2013\u2014~])(?=\p{{L}})|(?<=[\p{{L}}0-9])[:<>=/](?=\p{{L}})"
)
_CHUNK_RE = regex.compile(r"\S+")


def _split_chunk(chunk: str, out: list[str]) -> None:
    # Indices instead of slices, a \\G-anchored prefix match and a reverse (end-first) suffix search: every
    # step costs the length of what it peels, so a chunk of a million brackets is linear, not quadratic.
    prefixes: list[str] = []
    suffixes: list[str] = []
    start, end = 0, len(chunk)
    while start < end:
        pre = _PREFIX_RE.match(chunk, start, end)
        pre_end = pre.end() if pre else start
        suf = _SUFFIX_RE.search(chunk, pre_end, end)
        suf_start = suf.start() if suf and suf.end() == end and suf.start() < end else end
        if pre_end == start and suf_start == end:
            break
        if pre_end > start:
            prefixes.append(chunk[start:pre_end])
        if suf_start < end and suf_start >= pre_end:
            suffixes.append(chunk[suf_start:end])
            end = suf_start
        start = pre_end
    out.extend(prefixes)
    if start < end:
        rest = chunk[start:end]
        pos = 0
        for m in _INFIX_RE.finditer(rest):
            if m.start() == 0 and m.end() == len(rest):
                break
            if m.start() > pos:
                out.append(rest[pos:m.start()])
            out.append(m.group())
            pos = m.end()
        if pos < len(rest):
            out.append(rest[pos:])
    out.extend(reversed(suffixes))


_PLAIN_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")


@lru_cache(maxsize=1 << 16)
def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    out: list[str] = []
    _split_chunk(chunk, out)
    return tuple(out)


def _spacy_like_words(text: str) -> list[str]:
    out: list[str] = []
    for chunk in _CHUNK_RE.findall(text):
        if _PLAIN_WORD.fullmatch(chunk):  # most chunks: nothing to split
            out.append(chunk)
        else:
            out.extend(_chunk_tokens(chunk))
    return out


# Languages without spaces: every character of these scripts (with its combining marks) is a word; runs of
# other letters/digits are words, joined across an inner apostrophe/period or a comma between digits.
_NO_SPACE_SCRIPT = (
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}\u30fc\u3005]\p{M}*"
)
_W_OTHER = r"(?:(?![\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}\u30fc\u3005])" \
           r"[\p{L}\p{M}\p{N}_])"
_WORD_OTHER = rf"{_W_OTHER}+(?:(?:['\u2019.]|(?<=\p{{N}}),(?=\p{{N}})){_W_OTHER}+)*"
_UNSEGMENTED_RE = regex.compile(
    rf"\.{{2,}}|\u2026|{_NO_SPACE_SCRIPT}|{_WORD_OTHER}|[^\s\p{{L}}\p{{M}}\p{{N}}_]"
)


# Dictionary segmenters are loaded once per process (per thread for MeCab, whose tagger is not thread-safe).
_SEGMENTERS = threading.local()
_JIEBA_LOCK = threading.Lock()


def _jieba_words(text: str) -> list[str]:
    import jieba

    if not getattr(jieba.dt, "initialized", False):
        with _JIEBA_LOCK:
            jieba.setLogLevel(60)
            jieba.initialize()
    out: list[str] = []
    pos = 0
    # jieba is quadratic in the length of one run of Han characters (2.8 s for 20,000, 11 s for 40,000):
    # runs longer than any sentence are cut into bounded pieces first.
    for m in _LONG_HAN_RUN.finditer(text):
        out.extend(jieba.lcut(text[pos:m.start()], HMM=True))
        run = m.group()
        for i in range(0, len(run), _JIEBA_PIECE):
            out.extend(jieba.lcut(run[i:i + _JIEBA_PIECE], HMM=True))
        pos = m.end()
    out.extend(jieba.lcut(text[pos:], HMM=True))
    return [w for w in out if not w.isspace()]


_JIEBA_PIECE = 500
_LONG_HAN_RUN = regex.compile(r"\p{Han}{%d,}" % (_JIEBA_PIECE + 1))


def _mecab_words(text: str) -> list[str]:
    tagger = getattr(_SEGMENTERS, "mecab", None)
    if tagger is None:
        import fugashi  # MeCab with the UniDic-lite dictionary shipped in the unidic-lite package

        tagger = _SEGMENTERS.mecab = fugashi.Tagger("-Owakati")
    out: list[str] = []
    for line in text.split("\n"):
        pos = 0
        # MeCab costs ~25 us per character on long runs of symbols (and crashes the process on a line of a
        # million): such runs are split here, one word per character, and MeCab gets the text between them,
        # in bounded pieces.
        for m in _SYMBOL_RUN.finditer(line):
            _mecab_pieces(tagger, line[pos:m.start()], out)
            out.extend(m.group())
            pos = m.end()
        _mecab_pieces(tagger, line[pos:], out)
    return out


_SYMBOL_RUN = regex.compile(r"[\p{P}\p{S}]{8,}")
_MECAB_PIECE = 20_000


def _mecab_pieces(tagger, span: str, out: list[str]) -> None:
    for i in range(0, len(span), _MECAB_PIECE):
        piece = span[i:i + _MECAB_PIECE]
        if piece.strip():
            out.extend(tagger.parse(piece).split())


def split_words(text: str, language: str | None = None) -> list[str]:
    """Words and symbol words of `text` in `language` (None: the default language), segmented as
    `corpusforge.languages.word_segmenter` says: spaCy-like rules for space-separated scripts, jieba for
    Chinese, MeCab for Japanese, one word per character for the other scripts written without spaces.

    Cached for the last few documents: the Gopher, FineWeb and C4 stages split the same text one after the
    other (the text object is passed on unchanged, so the cache lookup is an identity check)."""
    return list(_split_words(text, language))


# Beam fuses the filter stages, so one document passes through all of them before the next: a few entries
# suffice, and the bound keeps memory flat even for documents of a megabyte.
@lru_cache(maxsize=4)
def _split_words(text: str, language: str | None) -> tuple[str, ...]:
    return tuple(_segment(text, language))


def _segment(text: str, language: str | None) -> list[str]:
    segmenter = word_segmenter(language)
    if segmenter == "rules":
        return _spacy_like_words(text)
    if segmenter == "jieba":
        return _jieba_words(text)
    if segmenter == "mecab":
        return _mecab_words(text)
    return _UNSEGMENTED_RE.findall(text)


def is_symbol_word(word: str) -> bool:
    """True when every character is punctuation (datatrove's PUNCTUATION_SET)."""
    return all(ch in PUNCTUATION_SET for ch in word)


def split_line_words(line: str, language: str | None = None) -> list[str]:
    """Words of one line as C4 counts them: whitespace-separated tokens (TFDS `line.split()`); for languages
    written without spaces, the non-symbol words of their segmenter instead."""
    if word_segmenter(language) != "rules":
        return [w for w in split_words(line, language) if not is_symbol_word(w)]
    return line.split()


_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: text separated by blank lines (Gopher repetition: `\\n{2,}` on the stripped text)."""
    return _PARAGRAPH_BREAK.split(text.strip())


def split_lines(text: str) -> list[str]:
    """Lines separated by one or more newlines (Gopher repetition's line definition)."""
    return _LINE_BREAKS.split(text)


# ------------------------------------------------------------------------------------------ sentences
_CLOSERS = "\"'\u201d\u2019\u00bb)]\u300d\u300f\uff09"
_CLOSER_CLASS = "[" + regex.escape(_CLOSERS) + "]*"
_ENDS = ".!?\u203c\u2047\u2048\u2049"


@lru_cache(maxsize=64)
def _sentence_end_re(extra: str = "") -> regex.Pattern:
    # Each alternative starts only at the first mark of a run (lookbehind) and takes the run possessively,
    # so a megabyte of "!!!" costs one pass, not one pass per position.
    ends = regex.escape(_ENDS + extra)
    return regex.compile(
        rf"(?:(?<![{ends}])(?!\.{{2,}}(?![!?]))[{ends}]++{_CLOSER_CLASS}(?=\s|$))"
        rf"|(?:[\u3002\uff01\uff1f\uff61]++{_CLOSER_CLASS})"
        rf"|(?:(?<![\u0964\u0965\u061f\u06d4])[\u0964\u0965\u061f\u06d4]++{_CLOSER_CLASS}(?=\s|$))"
    )


# Abbreviations whose period does not end a sentence (lowercased, with their final period).
ABBREVIATIONS = {
    "en": {"mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "e.g.", "i.e.", "etc.", "no.",
           "fig.", "approx.", "inc.", "ltd.", "co.", "u.s.", "jan.", "feb.", "aug.", "sept.", "oct.", "nov.",
           "dec."},
    "de": {"z.b.", "bzw.", "usw.", "d.h.", "ca.", "nr.", "dr.", "prof.", "hr.", "fr.", "vgl.", "s.", "u.a.",
           "evtl.", "ggf.", "inkl.", "bzgl.", "str."},
    "fr": {"m.", "mm.", "mme.", "mlle.", "dr.", "p.", "ex.", "etc.", "cf.", "av.", "env."},
    "es": {"sr.", "sra.", "srta.", "dr.", "dra.", "ud.", "uds.", "p.", "pág.", "etc.", "ej.", "núm."},
    "it": {"sig.", "sig.ra", "dott.", "prof.", "ecc.", "es.", "pag.", "n."},
    "pt": {"sr.", "sra.", "dr.", "dra.", "prof.", "etc.", "ex.", "pág.", "n."},
    "nl": {"dhr.", "mevr.", "dr.", "prof.", "bijv.", "enz.", "o.a.", "nr.", "blz.", "ca."},
}


def _is_abbreviation(piece: str, language: str | None) -> bool:
    parts = piece.rsplit(None, 1)  # from the right: costs the last token, not the piece
    if not parts:
        return False
    token = parts[-1].lower().lstrip("(\"'\u201c\u201e\u00ab[")
    if len(token) == 2 and token[1] == "." and token[0].isalpha():
        return True  # a single-letter initial: "J. R. R. Tolkien"
    return token in ABBREVIATIONS.get(language or DEFAULT_LANGUAGE, ABBREVIATIONS["en"])


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Sentences of `text` (stripped, non-empty). Text without a sentence end is one sentence."""
    sentences: list[str] = []
    start = 0  # where the sentence being built starts (it may span abbreviation periods)
    for m in _sentence_end_re(EXTRA_SENTENCE_ENDS.get(language or DEFAULT_LANGUAGE, "")).finditer(text):
        if m.group(0).startswith(".") and m.group(0).rstrip(_CLOSERS) == "." and _is_abbreviation(
                text[max(start, m.start() - 64):m.end()], language):
            continue
        _append_sentence(sentences, text[start:m.end()])
        start = m.end()
    _append_sentence(sentences, text[start:])
    return sentences


# spaCy's sentencizer starts a new sentence only at a token that is not punctuation (letters, digits and
# symbols such as "$" or "+" qualify).
_NON_PUNCT = regex.compile(r"[^\p{P}\s]")


def _append_sentence(sentences: list[str], piece: str) -> None:
    piece = piece.strip()
    if not piece:
        return
    if sentences and not _NON_PUNCT.search(piece):
        sentences[-1] = sentences[-1] + " " + piece
    else:
        sentences.append(piece)
