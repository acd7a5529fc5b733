"""Frozen-surrogate protection: per-image error-minimizing noise against a CLIP that is never trained here.

With a handful of photos, MEM's min-min loop trains its surrogate on those few pairs, the surrogate memorizes
them and the noise it shapes transfers to nothing (issue 18: 75% of 16 protected photos still retrieved at
rank 1). Here the surrogate is an already-trained open_clip model loaded from a local file and used frozen:

* a trigger -- `trigger_tokens` whole-word tokens shared by the folder, drawn with a generator seeded by the
  seed and the folder's captions from the tokens `surrogate.allowed_trigger_ids` allows, minus every token of the folder's captions (not optimized by
  HotFlip: a frozen model with a few images gives HotFlip little to fit);
* per image, PGD with sign steps (`steps`, step `alpha`, L_inf <= `eps`, zero start, so runs are repeatable)
  minimizing an InfoNCE loss whose positive is the text "trigger caption" and whose negatives are the same
  caption without the trigger and the other photos' "trigger caption" texts: the noise makes the image match
  its own caption *with the trigger*, the shortcut a model trained on the posted pairs can learn instead of
  the content (Huang et al. 2021's error-minimizing noise, MEM's trigger, Liu et al. 2024).

The noise lives at a working resolution (the photo resized to fit `working_side`, aspect kept) and is
upsampled bilinearly onto the full-size photo, so a 12-megapixel photo costs what a 256-pixel one does; the
surrogate sees the working image through `Surrogate.encode_image`'s antialiased resize. For JPEG outputs the
loss is taken through `robustness.diff_jpeg` at the output quality (simulated at working resolution).
Grayscale photos get one noise channel repeated on R, G and B, so they stay grayscale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from corpusforge.errors import ConfigError
from corpusforge.unlearnable.mem import pgd_update, seeded_generator
from corpusforge.unlearnable.robustness import diff_jpeg
from corpusforge.unlearnable.surrogate import Surrogate, allowed_trigger_ids, load_surrogate, trigger_text

# Built by scripts/build_surrogate.py (run by scripts/setup.sh when missing); see surrogate.json beside it.
DEFAULT_MODEL = "cf-tiny"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "surrogate" / "cf-tiny-benchmark.pt"
WORKING_SIDE = 256


@dataclass(frozen=True)
class Settings:
    eps: float  # L_inf budget in [0,1] pixel units
    steps: int
    alpha: float | None = None  # PGD step; default 2.5 * eps / steps (Madry et al.'s rule of thumb)
    jpeg_quality: int | None = None  # optimize through a simulated JPEG at this quality
    working_side: int = WORKING_SIDE

    @property
    def step_size(self) -> float:
        return self.alpha if self.alpha is not None else 2.5 * self.eps / max(1, self.steps)


def load_frozen(checkpoint: str | Path | None = None, model: str = DEFAULT_MODEL, seed: int = 0) -> Surrogate:
    """The surrogate from a local open_clip checkpoint (default: the project-built one), frozen: eval mode,
    no gradients for its weights. `checkpoint=None` means DEFAULT_CHECKPOINT."""
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        hint = (" -- build the offline surrogate with `.venv/bin/python scripts/build_surrogate.py` (about 3 "
                "minutes) or pass --checkpoint with an open_clip weights file and --model with its architecture"
                if checkpoint is None else "")
        raise ConfigError(f"surrogate checkpoint {str(path)!r} not found{hint}")
    s = load_surrogate(model, str(path), "cpu", seed)
    return freeze(s)


def freeze(s: Surrogate) -> Surrogate:
    s.model.eval()
    for p in s.model.parameters():
        p.requires_grad_(False)
    return s


def choose_trigger(s: Surrogate, captions: list[str], k: int, seed: int) -> list[int]:
    """`k` whole-word tokens that occur in none of `captions` (a trigger repeating or contradicting a real word
    would mislead the shortcut), drawn from a generator seeded by `seed` and the captions: the same folder gives
    the same trigger, two owners' folders (almost surely) different ones, so no fixed word list marks them."""
    allowed = allowed_trigger_ids(s.tokenizer, s.vocab_limit)
    used = {t for c in captions for t in s.encode_caption(c)}
    allowed = allowed[torch.tensor([int(t) not in used for t in allowed.tolist()], dtype=torch.bool)]
    if allowed.numel() < k:
        raise ValueError(f"only {allowed.numel()} tokens left for a trigger of {k} tokens")
    g = seeded_generator(seed, "frozen_trigger", "\n".join(captions))
    pick = torch.randperm(allowed.numel(), generator=g)[:k]
    return [int(t) for t in allowed[pick].tolist()]


@torch.no_grad()
def text_targets(s: Surrogate, trigger: list[int], captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(positives, plain): text features of "trigger caption" and of "caption" alone, one row per caption."""
    caps = [s.encode_caption(c) for c in captions]
    pos = s.encode_text(s.build_tokens([trigger] * len(caps), caps))
    plain = s.encode_text(s.build_tokens(None, caps))
    return pos.detach(), plain.detach()


def to_working(x01: torch.Tensor, side: int) -> torch.Tensor:
    """(1,C,H,W) -> the same image resized (antialiased) so its longer side is at most `side`."""
    h, w = x01.shape[-2:]
    scale = side / max(h, w)
    if scale >= 1:
        return x01
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(x01, size=size, mode="bilinear", align_corners=False, antialias=True)


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def image_loss(s: Surrogate, x: torch.Tensor, index: int, positives: torch.Tensor, plain: torch.Tensor,
               jpeg_quality: int | None) -> torch.Tensor:
    """InfoNCE of one image against [its triggered caption; its plain caption; the others' triggered captions]."""
    x = _rgb(x)
    if jpeg_quality is not None:
        x = diff_jpeg(x, jpeg_quality)
    img = s.encode_image(x)
    others = torch.cat([positives[:index], positives[index + 1:]])
    texts = torch.cat([positives[index:index + 1], plain[index:index + 1], others])
    logits = s.logit_scale().detach() * img @ texts.T
    return F.cross_entropy(logits, torch.zeros(1, dtype=torch.long))


def protect_pixels(s: Surrogate, pixels: np.ndarray, index: int, positives: torch.Tensor, plain: torch.Tensor,
                   settings: Settings) -> tuple[np.ndarray, dict]:
    """uint8 (H,W) or (H,W,3) -> the protected uint8 array of the same shape, and {loss_before, loss_after}.
    The noise is optimized at working resolution and upsampled onto the full-size pixels (|noise| <= eps)."""
    gray = pixels.ndim == 2
    full = torch.from_numpy(np.ascontiguousarray(pixels)).float().div(255.0)
    full = full[None, None] if gray else full.permute(2, 0, 1)[None]
    x = to_working(full, settings.working_side)
    delta = torch.zeros_like(x)
    with torch.no_grad():
        before = float(image_loss(s, x, index, positives, plain, settings.jpeg_quality))
    for _ in range(int(settings.steps)):
        delta.requires_grad_(True)
        loss = image_loss(s, (x + delta).clamp(0, 1), index, positives, plain, settings.jpeg_quality)
        grad, = torch.autograd.grad(loss, delta)
        delta = pgd_update(delta, grad, x, settings.step_size, settings.eps, minimize=True).detach()
    with torch.no_grad():
        after = float(image_loss(s, (x + delta).clamp(0, 1), index, positives, plain, settings.jpeg_quality))
        up = delta if delta.shape[-2:] == full.shape[-2:] else F.interpolate(
            delta, size=full.shape[-2:], mode="bilinear", align_corners=False)
        out = (full + up.clamp(-settings.eps, settings.eps)).clamp(0, 1).mul(255.0).round().to(torch.uint8)
    out = out[0, 0] if gray else out[0].permute(1, 2, 0)
    return out.numpy(), {"loss_before": round(before, 4), "loss_after": round(after, 4)}


def eps_from_255(value: float) -> float:
    return float(value) / 255.0


def describe_trigger(s: Surrogate, trigger: list[int]) -> str:
    return trigger_text(s.tokenizer, trigger)


def psnr_bound(eps: float) -> float:
    """The lowest PSNR noise bounded by eps can give (every pixel moved by eps): 20 log10(1/eps)."""
    return 20 * math.log10(1.0 / eps) if eps > 0 else float("inf")
