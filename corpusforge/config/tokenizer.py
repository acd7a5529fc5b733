"""The `train-tokenizer` config (also its command-line flags: corpusforge.commands.train_tokenizer)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from corpusforge.config.base import StrictModel
from corpusforge.config.curate import PIIConfig


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
