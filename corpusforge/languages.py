"""What the text rules need to know about each language: how its words are split, how its sentences end, its
stop words, and the per-language thresholds of the heuristic filters. One table, one home; pure data, no
imports from the rest of the package.

Sources
  * Thresholds (Gopher repetition: dup_line_frac, top/dup n-grams; Gopher quality: word-length range;
    FineWeb: line_punct_thr, new_line_ratio) and stop words for de, el, es, fr, it, ja, nl, pl, pt, ru, zh are
    FineWeb-2's published per-language filter configs (huggingface/fineweb-2 `configs/{iso3}_{script}.yml`,
    Penedo et al. 2025, "FineWeb2: One Pipeline to Scale Them All"), which were computed with the same word
    units we use here (spaCy rule tokenizer for alphabetic scripts, jieba for Chinese, a morphological
    analyser for Japanese). English keeps the published Gopher/FineWeb defaults of the stage configs.
    FineWeb-2's `max_non_alpha_words_ratio` values are NOT taken: they compensate for datatrove counting
    punctuation tokens as words, and our alphabetic-word rule counts words as Gopher defines them (see
    quality/gopher.py). FineWeb-2's language-score thresholds are GlotLID scores and do not transfer to
    fastText lid.176.
  * Word segmentation: `rules` = whitespace plus spaCy's prefix/suffix/infix rules (text_utils); `jieba` for
    Chinese (what datatrove/FineWeb-2 use); `mecab` = MeCab via fugashi with the UniDic-lite dictionary for
    Japanese (both ship their dictionaries in the pip package); `chars` = one word per character of the script,
    for Thai, Lao, Khmer, Burmese and Tibetan, where we ship no segmenter: rules that need real words are
    skipped there (see SKIPPED_WITHOUT_WORDS), and the skip is counted in stats.
  * Short lines (FineWeb `short_line_length`, 30 characters for alphabetic scripts): 30 characters are ~5
    English words (~6 characters per word with its space); Chinese and Japanese words average 1.7-2.3
    characters (jieba / MeCab on real text), so 5 words are ~10 characters.
  * Sentence ends: Greek writes its question mark as U+037E, which NFC normalizes to ";", so ";" ends a Greek
    sentence; Chinese and Japanese end sentences with full-width marks, often followed by a closing quote
    or bracket.
"""
from __future__ import annotations

DEFAULT_LANGUAGE = "en"

# ------------------------------------------------------------------------------------ segmentation
# Languages written without spaces between words, and the segmenter each one uses.
WORD_SEGMENTER: dict[str, str] = {
    "zh": "jieba", "yue": "jieba", "wuu": "jieba",
    "ja": "mecab",
    "th": "chars", "lo": "chars", "km": "chars", "my": "chars", "bo": "chars", "dz": "chars",
}
UNSEGMENTED_LANGUAGES = frozenset(WORD_SEGMENTER)


def word_segmenter(language: str | None) -> str:
    """`rules`, `jieba`, `mecab` or `chars` for `language` (None: the default language)."""
    return WORD_SEGMENTER.get(language or DEFAULT_LANGUAGE, "rules")


# Rules that compare word lengths or word n-grams mean nothing when a "word" is one character.
SKIPPED_WITHOUT_WORDS = {
    "gopher_quality": ("min_avg_word_length", "max_avg_word_length"),
    "gopher_repetition": ("top_n_grams", "dup_n_grams"),
}

# ------------------------------------------------------------------------------- language ID
# Written standards of one language (or of mutually intelligible languages) between which fastText lid.176
# splits its probability, so that ordinary prose gets a low top-1 score: measured on the Debian handbook's
# translations (BENCHMARKS.md, "Real handbook prose in 20 languages"), Norwegian Bokmal
# text scores no 0.43-0.65 with the rest on da / nn, Indonesian id 0.58-0.65 with the rest on ms; spaCy's
# Croatian example sentences score hr 0.35, sh 0.26, sr 0.19, bs 0.10. The langid stage compares the
# summed probability of the top language's group with its threshold; the label stays the top language.
#   no / nn / da: Norwegian Bokmal (lid.176 "no"), Nynorsk, and Danish, from which Bokmal's spelling descends
#   id / ms: Indonesian and Malay, standard registers of one language
#   sh / hr / sr / bs: Serbo-Croatian and its Croatian, Serbian and Bosnian standards
#   zh / wuu / yue: Chinese in Han script (Mandarin, Wu and Cantonese labels of lid.176)
#   ar / arz: Modern Standard and Egyptian Arabic
LID_CONFUSABLE_GROUPS: list[list[str]] = [
    ["no", "nn", "da"], ["id", "ms"], ["sh", "hr", "sr", "bs"], ["zh", "wuu", "yue"], ["ar", "arz"],
]

# --------------------------------------------------------------------------------------- sentences
_CJK_ENDS = ["\u3002", "\uff01", "\uff1f", "\u3002\u300d", "\u3002\u300f", "\uff01\u300d", "\uff1f\u300d",
             "\u3002\uff09", "\u300d", "\u300f"]
# Line endings accepted as terminal punctuation by the C4 line rule, in addition to C4's own.
EXTRA_TERMINAL_PUNCTUATION: dict[str, list[str]] = {
    "zh": _CJK_ENDS, "ja": _CJK_ENDS, "yue": _CJK_ENDS, "wuu": _CJK_ENDS,
    "el": [";"],
}
# Characters that end a sentence in a language on top of the universal ones (text_utils.split_sentences).
EXTRA_SENTENCE_ENDS: dict[str, str] = {"el": ";"}

# -------------------------------------------------------------------------------------- stop words
STOP_WORDS: dict[str, list[str]] = {
    # Gopher (Rae et al. 2021, appendix A): "the, be, to, of, and, that, have, with".
    "en": ["the", "be", "to", "of", "and", "that", "have", "with"],
    # FineWeb-2 configs (see module docstring).
    "de": ["der", "und", "die", "in", "von", "im", "den", "des", "mit", "das", "er", "dem", "als", "wurde", "für"],
    "el": ["του", "και", "το", "της", "η", "την", "από", "ο", "με", "τον", "να", "που", "των", "στην", "για",
           "στο", "σε", "είναι", "τη", "τα", "οι"],
    "es": ["de", "la", "en", "el", "y", "a", "que", "del", "los", "se", "por", "un", "con", "una", "las", "su"],
    "fr": ["de", "la", "le", "et", "à", "en", "l'", "des", "du", "les", "est", "d'", "un", "une", "il", "dans",
           "par", "au"],
    "it": ["di", "e", "il", "la", "in", "a", "del", "che", "è", "della", "un", "per", "nel", "l'", "con", "da",
           "i", "una"],
    "ja": ["の", "に", "を", "は", "た", "て", "が", "と", "で", "年", "し", "・", "月", "れ", "さ"],
    "nl": ["de", "van", "in", "het", "een", "en", "is", "op", "voor", "met", "door", "zijn", "werd", "hij", "uit"],
    "pl": ["w", "i", "na", "z", "do", "się", "roku", "od", "a", "jest", "przez", "po", "jako", "oraz", "o",
           "został", "był", "nie"],
    "pt": ["de", "a", "e", "o", "em", "do", "da", "que", "um", "no", "uma", "com", "para", "na", "é", "foi"],
    "ru": ["в", "и", "на", "с", "года", "по", "году", "из", "был", "к", "не", "от", "что", "за", "для", "его",
           "как", "а", "он", "также", "до", "после"],
    "zh": ["的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被", "人", "中", "为", "他", "與",
           "後", "也", "而", "由"],
}


# The published defaults of the stage configs (Gopher, FineWeb English); per-language values are bounded by
# them (see _fineweb2).
_EN_TOP = {2: 0.2, 3: 0.18, 4: 0.16}
_EN_DUP = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _fineweb2(dup_line_frac, top, dup, min_len, max_len, line_punct, new_line) -> dict[str, dict]:
    """One FineWeb-2 language: its config file's values plus the settings its pipeline
    (fineweb-2-pipeline.py) applies to every language, split into our stages' keys.

    A config value stricter than the published English default is replaced by the English one: measured on
    real prose of a few hundred words, FineWeb-2's stricter values (fitted to long web pages) removed far
    more than the English rules do (BENCHMARKS.md: Spanish top-2-gram 0.077 dropped 15.6% of real Spanish
    prose; line punctuation 0.3 another 4.2%)."""
    return {
        "gopher_repetition": {
            "dup_line_frac": max(dup_line_frac, 0.3),
            "top_n_grams": [(n, max(v, _EN_TOP[n])) for n, v in zip((2, 3, 4), top)],
            "dup_n_grams": [(n, max(v, _EN_DUP[n])) for n, v in zip(range(5, 11), dup)],
            # fineweb-2-pipeline.py: "we disable these" (paragraph and line-character repetition).
            "dup_para_frac": None, "dup_para_char_frac": None, "dup_line_char_frac": None,
        },
        "gopher_quality": {"min_avg_word_length": min(min_len, 3), "max_avg_word_length": max(max_len, 10)},
        "fineweb": {
            "line_punct_thr": min(line_punct, 0.12), "new_line_ratio": max(new_line, 0.3),
            # fineweb-2-pipeline.py: short-line rule disabled, duplicated-line characters 0.1 ("we changed
            # this from 0.01 in fineweb english").
            "short_line_thr": None, "char_duplicates_ratio": 0.1,
        },
        # fineweb-2-pipeline.py: "we do not apply the C4 filters" (C4's rules were written for English).
        "c4": {"enabled": False},
    }


# FineWeb-2 configs/{iso3}_{script}.yml, value for value (dup_n_grams 5..10, top_n_grams 2..4).
_FINEWEB2 = {
    "de": _fineweb2(0.263, [0.169, 0.153, 0.137], [0.141, 0.134, 0.126, 0.117, 0.108, 0.098], 0, 15, 0.0, 0.152),
    "el": _fineweb2(0.31, [0.194, 0.175, 0.156], [0.174, 0.163, 0.153, 0.142, 0.13, 0.119], 3, 11, 0.167, 0.116),
    "es": _fineweb2(0.265, [0.077, 0.097, 0.112], [0.152, 0.137, 0.123, 0.114, 0.107, 0.099], 4, 14, 0.3, 0.171),
    "fr": _fineweb2(0.264, [0.161, 0.149, 0.134], [0.15, 0.141, 0.131, 0.121, 0.111, 0.1], 2, 11, 0.1, 0.185),
    "it": _fineweb2(0.246, [0.198, 0.156, 0.133], [0.144, 0.136, 0.127, 0.118, 0.109, 0.1], 3, 21, 0.025, 0.2),
    "ja": _fineweb2(0.375, [0.121, 0.129, 0.145], [0.307, 0.283, 0.264, 0.248, 0.234, 0.223], 1, 5, 0.167, 0.162),
    "nl": _fineweb2(0.333, [0.093, 0.117, 0.14], [0.177, 0.16, 0.145, 0.133, 0.123, 0.112], 3, 16, 0.238, 0.194),
    "pl": _fineweb2(0.353, [0.096, 0.12, 0.144], [0.203, 0.182, 0.163, 0.15, 0.137, 0.126], 3, 11, 0.2, 0.209),
    "pt": _fineweb2(0.325, [0.093, 0.117, 0.139], [0.19, 0.172, 0.154, 0.142, 0.131, 0.12], 3, 13, 0.154, 0.23),
    "ru": _fineweb2(0.322, [0.184, 0.164, 0.146], [0.168, 0.156, 0.145, 0.133, 0.121, 0.109], 3, 11, 0.231, 0.139),
    "zh": _fineweb2(0.287, [0.256, 0.201, 0.171], [0.198, 0.182, 0.167, 0.154, 0.14, 0.127], 1, 5, 0.106, 0.178),
}


def _script_values() -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for lang in ("zh", "ja", "yue", "wuu"):  # used where the short-line rule is on (not for FineWeb-2's zh, ja)
        out.setdefault("fineweb", {})[lang] = {"short_line_length": 10}
    return out


def _merge(*tables: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for table in tables:
        for stage, langs in table.items():
            for lang, values in langs.items():
                out.setdefault(stage, {}).setdefault(lang, {}).update(values)
    return out


def _by_stage(per_lang: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for lang, stages in per_lang.items():
        for stage, values in stages.items():
            out.setdefault(stage, {})[lang] = dict(values)
    return out


# stage name -> language -> {config key: value}; a value of None skips that rule for the language.
LANGUAGE_DEFAULTS: dict[str, dict[str, dict]] = _merge(
    _by_stage(_FINEWEB2),
    _script_values(),
    {"gopher_quality": {lang: {"stop_words": words} for lang, words in STOP_WORDS.items()}},
    {"c4": {lang: {"extra_terminal_punctuation": ends} for lang, ends in EXTRA_TERMINAL_PUNCTUATION.items()}},
)


def language_defaults(stage: str, language: str) -> dict:
    """The shipped per-language values of `stage` for `language` (empty when the table has none)."""
    return LANGUAGE_DEFAULTS.get(stage, {}).get(language, {})
