"""Every config model, one module per command (help declared once in each Field's description: YAML
validation, `--set`, command-line flags and `corpusforge config --defaults` all read it).

  base       StrictModel, load_config, --set overrides, validation messages
  runner     Beam runner options (shared)
  curate     curate / refresh: inputs, outputs, every pipeline stage
  tokenizer  train-tokenizer
  protect    protect (unlearnable data)
  help       `config --defaults` and did-you-mean suggestions

`from corpusforge.config import CurateConfig` keeps working: this package re-exports every model.
"""
from corpusforge.errors import ConfigError
from corpusforge.config.base import (
    StrictModel, format_validation_error, load_config, parse_overrides,
)
from corpusforge.config.runner import (
    DataflowConfig, RunnerConfig,
)
from corpusforge.config.curate import (
    C4QualityConfig, CurateConfig, DedupConfig, FineWebQualityConfig, GopherQualityConfig, GopherRepetitionConfig, HtmlExtractConfig, InputConfig, LangIdConfig, LanguageAwareStageConfig, NormalizeConfig, OutputConfig, PIIConfig, PerplexityConfig, RefreshConfig, StageConfig,
)
from corpusforge.config.tokenizer import (
    TokenizerTrainConfig,
)
from corpusforge.config.protect import (
    ProtectConfig, ProtectEOTConfig, ProtectInputConfig, ProtectOutputConfig,
)

__all__ = [
    "ConfigError",
    "StrictModel",
    "format_validation_error",
    "load_config",
    "parse_overrides",
    "DataflowConfig",
    "RunnerConfig",
    "C4QualityConfig",
    "CurateConfig",
    "DedupConfig",
    "FineWebQualityConfig",
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "HtmlExtractConfig",
    "InputConfig",
    "LangIdConfig",
    "LanguageAwareStageConfig",
    "NormalizeConfig",
    "OutputConfig",
    "PIIConfig",
    "PerplexityConfig",
    "RefreshConfig",
    "StageConfig",
    "TokenizerTrainConfig",
    "ProtectConfig",
    "ProtectEOTConfig",
    "ProtectInputConfig",
    "ProtectOutputConfig",
]
