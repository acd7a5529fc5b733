"""The `protect` config: unlearnable image-caption pairs (corpusforge.unlearnable)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from corpusforge.config.base import StrictModel


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

    enabled: bool = Field(True, description="On by default: without it the noise is fitted to one exact pixel grid "
                                            "and a resize or JPEG re-encode removes much of it.")
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

    Defaults follow the official MEM schedule (eps 8/255, 3 trigger tokens, 20 rounds of 200 surrogate steps
    at lr 1e-4, 8 PGD steps, HotFlip top-16); trigger_rounds and beam_width are our defaults. On a CPU, keep
    the schedule and scale the model down (model: cf-tiny), rather than cutting rounds or steps.
    """

    input: ProtectInputConfig
    output: ProtectOutputConfig
    method: Literal["mem", "em", "uap", "tap"] = "mem"
    eps: float = Field(8 / 255, gt=0.0, le=64 / 255, description="L_inf bound of the image noise, in [0,1] pixels.")
    alpha: float = Field(1 / 255, gt=0.0, description="PGD step (sign steps).")
    pgd_steps: int = Field(8, ge=1, le=1000, description="PGD steps per batch in each noise pass.")
    rounds: int = Field(20, ge=1, le=10_000, description="Min-min rounds (train surrogate, then noise/trigger).")
    surrogate_steps: int = Field(200, ge=0, description="Surrogate training steps per round.")
    surrogate_lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.1, ge=0.0)
    trigger_tokens: int = Field(3, ge=1, le=8, description="Trigger length k (MEM: 3; 5 also studied).")
    trigger_rounds: int = Field(5, ge=0, description="Rounds (from the first) that also update triggers.")
    trigger_groups: int | None = Field(
        None, ge=1, description="Share triggers within k-means clusters of surrogate image features; null: one per image.")
    noise_groups: int | None = Field(
        None, ge=1, description="null: one noise per image. N: class-wise noise, one pattern shared by each of N "
        "k-means clusters of the captions (TF-IDF of their tokens); with mem each cluster also shares one trigger "
        "(trigger_groups must then be null).")
    hotflip_topk: int = Field(16, ge=1, le=1000)
    own_caption_weight: float = Field(
        0.0, ge=0.0, le=1.0, description="MEM only: share of the noise objective (and of surrogate training rows) "
        "that pairs each image with its OWN caption and no trigger (the EM term), so the noise is a shortcut even "
        "where a scraper drops the trigger words. 0: the paper's MEM.")
    exclude_caption_vocab: bool = Field(
        True, description="Triggers use no word that occurs in the set's own captions (no 'blue' or 'left').")
    beam_width: int = Field(2, ge=1, le=64)
    batch_size: int = Field(32, ge=2, le=65_536)
    model: str = Field("RN50", description="open_clip model name (or the small CPU config, see clip.py).")
    checkpoint: str | None = Field(None, description="Local weights file; null: random init, trained in the loop.")
    ensemble: list[str] = Field(
        default_factory=list, description="More surrogate models (randomly initialized, trained in the loop beside "
        "`model`); noise and triggers minimize their mean loss, so the protection holds against more than one "
        "architecture. Measured: noise made against one architecture alone does not carry to another.")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    num_threads: int | None = Field(
        None, ge=1, description="torch CPU threads, capped at the available cores (null: all available cores).")
    noise_size: int = Field(
        256, ge=16, le=4096, description="Side of the square working resolution the noise is optimized at (never "
        "below the surrogate's input, never above the smallest image's larger side); the surrogate sees it "
        "downsampled. Above the model's 64 px this avoids the 8x8 blocks a 64 px noise leaves on a 512 px photo.")
    eot: ProtectEOTConfig = Field(default_factory=ProtectEOTConfig)
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "ProtectConfig":
        if self.alpha > self.eps:
            raise ValueError(f"alpha ({self.alpha:.5f}) must not exceed eps ({self.eps:.5f})")
        if self.method == "mem" and self.trigger_rounds > self.rounds:
            raise ValueError(f"trigger_rounds ({self.trigger_rounds}) exceeds rounds ({self.rounds})")
        if self.noise_groups is not None and self.trigger_groups is not None:
            raise ValueError("noise_groups and trigger_groups are both set: with noise_groups each noise group "
                             "shares one trigger; set trigger_groups: null")
        return self
