"""The CLIP models shared by protection (surrogate) and verification (attacker): build, encode, loss, train.

Models are open_clip definitions. Besides every built-in open_clip architecture (RN50, ViT-B-32, ...), two small
configs ship in `model_configs/` so a CPU can train a CLIP in minutes:

  * `cf-tiny`      ViT, 64x64 input, patch 8, 2 layers of width 96; text transformer 2 layers of width 96
                   (3 heads), context 32; embedding 128 (model_configs/cf-tiny.json).
  * `cf-small-rn`  a small ModifiedResNet (CLIP's ResNet with attention pooling; layers [1,1,1,1], width 16),
                   64x64 input; text transformer 3 layers of width 128, context 32; embedding 128
                   (model_configs/cf-small-rn.json): a different image architecture for transfer tests
                   (protect with one, attack with the other). 0.80 s per training step at batch 64 on one CPU
                   thread (cf-tiny: 0.23 s).
  * `cf-tiny-rn`   the same ResNet at width 8 with cf-tiny's text tower: 0.30 s per step, so a ResNet attacker
                   fits the CPU benchmark beside the ViT one.

Weights are random (MEM's main setting trains the surrogate from scratch) or come from a local file given by
`checkpoint`. Nothing is ever downloaded: open_clip's `pretrained=` tags are never passed.
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from corpusforge import storage
from corpusforge.config import ConfigError

log = logging.getLogger(__name__)

MODEL_CONFIG_DIR = Path(__file__).with_name("model_configs")
CUSTOM_MODELS = tuple(sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json")))

# CLIP's normalization (open_clip.constants.OPENAI_DATASET_MEAN/STD); used when a model carries none.
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# open_clip's training loop clamps the learnable temperature at 100 (log 100 = 4.6052).
MAX_LOGIT_SCALE = 100.0

_registered = False


class _QuietOpenClip(logging.Filter):
    """open_clip logs every config look-up at INFO, and a warning for the random init we asked for, on the
    root logger; keep those out of our progress output while a model is built."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "open_clip" not in record.pathname.replace("\\", "/")


def _register_configs() -> None:
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(MODEL_CONFIG_DIR)
        _registered = True


def build_clip(model: str = "cf-tiny", checkpoint: str | None = None, device: str | torch.device = "cpu",
               seed: int = 0):
    """Return `(model, tokenizer, image_size)` for an open_clip architecture name.

    `checkpoint` is a local weights file: a state_dict saved with torch (`.pt`, `.pth`, `.bin`; a dict holding
    `state_dict` works too, as open_clip's training checkpoints do) or `.safetensors`. Without it the weights
    are randomly initialized from `seed`.
    """
    import open_clip

    _register_configs()
    if model not in open_clip.list_models():
        raise ConfigError(
            f"unknown CLIP model {model!r}: use one of the shipped configs {', '.join(CUSTOM_MODELS)} "
            f"or a built-in open_clip architecture such as RN50 or ViT-B-32")
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise ConfigError(
            f"CLIP checkpoint {checkpoint!r} does not exist: pass the path of a local weights file "
            f"(.pt/.pth/.bin state_dict or .safetensors); weights are never downloaded")
    torch.manual_seed(seed)
    quiet = _QuietOpenClip()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        # pretrained=None and pretrained_text=False: random init, never a hub look-up.
        clip = open_clip.create_model(model, pretrained=None, pretrained_text=False, pretrained_image=False,
                                      device="cpu")
        context_length = int(getattr(clip, "context_length", 77) or 77)
        tokenizer = open_clip.get_tokenizer(model, context_length=context_length)
    finally:
        root.removeFilter(quiet)
    if checkpoint is not None:
        try:
            open_clip.load_checkpoint(clip, str(checkpoint), strict=True)
        except Exception as exc:  # wrong architecture, truncated file, not a state dict ...
            raise ConfigError(
                f"could not load CLIP checkpoint {checkpoint!r} into model {model!r}: {type(exc).__name__}: "
                f"{str(exc)[:500]} -- check that the checkpoint was saved from the same architecture") from exc
    clip = clip.to(device)
    size = clip.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    return clip, tokenizer, int(size)


def save_clip(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Save a state_dict that `build_clip(..., checkpoint=path)` loads back (atomic rename)."""
    with storage.atomic_writer(path, durable=True) as f:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, f)


def _norm_stats(model, device) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = getattr(getattr(model, "visual", None), "preprocess_cfg", None) or {}
    mean = cfg.get("mean") or OPENAI_MEAN
    std = cfg.get("std") or OPENAI_STD
    return (torch.tensor(mean, device=device).view(1, 3, 1, 1), torch.tensor(std, device=device).view(1, 3, 1, 1))


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def encode_images(model, images01: torch.Tensor) -> torch.Tensor:
    """[0,1] pixels (B,3,S,S) at model resolution -> L2-normalized image features (CLIP normalization inside)."""
    dev = model_device(model)
    mean, std = _norm_stats(model, dev)
    x = (images01.to(dev, torch.float32) - mean) / std
    return F.normalize(model.encode_image(x), dim=-1)


def encode_texts(model, token_ids: torch.Tensor) -> torch.Tensor:
    return F.normalize(model.encode_text(token_ids.to(model_device(model))), dim=-1)


def logit_scale(model) -> torch.Tensor:
    return model.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)


def encode_batch(model, images01: torch.Tensor, token_ids: torch.Tensor):
    """Return `(image_features, text_features, logit_scale)`; features L2-normalized.

    Images are float [0,1] (B,3,S,S) at the model's resolution: the CLIP mean/std normalization happens here so
    pixel-space attacks (PGD) and training share one path.
    """
    return encode_images(model, images01), encode_texts(model, token_ids), logit_scale(model)


def clip_loss(img_f: torch.Tensor, txt_f: torch.Tensor, scale: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Symmetric InfoNCE (Radford et al. 2021) on normalized features: row i of the batch pairs image i with
    text i. The one contrastive loss of the package: the attacker trains with it and protection minimizes it.
    `reduction="none"` gives the per-pair loss."""
    logits = scale * img_f @ txt_f.T
    labels = torch.arange(img_f.shape[0], device=img_f.device)
    per = (F.cross_entropy(logits, labels, reduction="none") + F.cross_entropy(logits.T, labels, reduction="none")) / 2
    return per.mean() if reduction == "mean" else per


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count: containers and taskset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def limit_threads(requested: int | None = None) -> int:
    """Set torch's CPU threads to `requested`, never more than the available cores, and one inter-op thread:
    intra-op threads beyond the cores (or a second pool of inter-op threads) oversubscribe them, which made a
    2-core protect run take 9 minutes instead of 44 s. Returns the thread count set."""
    cores = available_cores()
    n = min(int(requested), cores) if requested else cores
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set before the first parallel op of the process; then it is already set
        pass
    return n


def set_determinism(seed: int, threads: int | None = None) -> None:
    """Seed torch and ask for deterministic kernels (warn-only: a few CPU ops have no deterministic variant)."""
    torch.manual_seed(seed)
    if threads:
        limit_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def cosine_lr(step: int, steps: int, base_lr: float, warmup: int) -> float:
    """Linear warmup then cosine decay to zero (open_clip's `cosine_lr` schedule)."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress)) * base_lr


class TensorPairs:
    """All training pairs held as tensors: images (N,3,S,S) float [0,1] and tokens (N,L).

    `captions_per_image` > 1 is expressed by repeating an image index in `image_index`: tokens row j pairs with
    image `image_index[j]`. Batches sample images without replacement each epoch (seeded) and pick one of each
    image's captions at random, as open_clip does for COCO-style data.
    """

    def __init__(self, images: torch.Tensor, tokens: torch.Tensor, image_index: torch.Tensor | None = None):
        if image_index is None:
            if len(images) != len(tokens):
                raise ValueError("images and tokens differ in length; pass image_index for several captions")
            image_index = torch.arange(len(images))
        self.images = images
        self.tokens = tokens
        self.image_index = image_index.long()
        self.captions_of: list[list[int]] = [[] for _ in range(len(images))]
        for j, i in enumerate(self.image_index.tolist()):
            self.captions_of[i].append(j)
        self.with_caption = [i for i, c in enumerate(self.captions_of) if c]

    def __len__(self) -> int:
        return len(self.with_caption)

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ids = torch.tensor(self.with_caption)
        bs = min(batch_size, len(ids))
        while True:
            order = ids[torch.randperm(len(ids), generator=generator)]
            for start in range(0, len(order) - bs + 1, bs):  # drop the ragged tail: InfoNCE wants full batches
                img_ids = order[start:start + bs].tolist()
                cap_rows = []
                for i in img_ids:
                    caps = self.captions_of[i]
                    cap_rows.append(caps[int(torch.randint(len(caps), (1,), generator=generator))])
                yield self.images[img_ids], self.tokens[cap_rows]


BatchSource = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


def _batch_iterator(data, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, TensorPairs):
        return data.batches(batch_size, generator)
    if isinstance(data, tuple) and len(data) in (2, 3) and all(isinstance(t, torch.Tensor) for t in data):
        return TensorPairs(*data).batches(batch_size, generator)
    if callable(data):  # batch_fn(step) -> (images, tokens): the min-min loop hands its current protected batch
        def from_fn():
            step = 0
            while True:
                yield data(step)
                step += 1
        return from_fn()
    if isinstance(data, Iterable):
        def cycle():
            while True:
                n = 0
                for batch in data:
                    n += 1
                    yield batch
                if n == 0:
                    raise ValueError("training data yielded no batch")
        return cycle()
    raise TypeError(f"cannot train on {type(data).__name__}: pass TensorPairs, (images, tokens[, image_index]), "
                    f"a callable step -> (images, tokens), or an iterable of (images, tokens) batches")


def train_clip(model, data, steps: int, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
               augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
               progress: bool = True, weight_decay: float = 0.1, warmup: int | None = None,
               optimizer: torch.optim.Optimizer | None = None, log_every: int = 50,
               on_step: Callable[[], None] | None = None) -> dict:
    """Train `model` contrastively for `steps` AdamW steps (cosine schedule with linear warmup).

    `data` is one of: `TensorPairs`; a tuple `(images, tokens)` or `(images, tokens, image_index)`; a callable
    `step -> (images[B,3,S,S] float 0..1, token_ids[B,L])`; or an iterable of such batches (cycled).
    `augment(images, generator)` is applied to each batch of images before encoding.
    Pass `optimizer` to continue training across calls (the min-min loop alternates noise and model steps);
    the learning rate it holds is then overwritten by the schedule for this call's `steps`.
    `on_step()` is called after every step (a progress counter).
    Returns `{"losses": [...], "seconds": float, "optimizer": optimizer}`.
    """
    set_determinism(seed)
    gen = torch.Generator().manual_seed(seed)
    batches = _batch_iterator(data, batch_size, gen)
    if optimizer is None:
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and "embedding" not in n]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and not (p.ndim >= 2 and "embedding" not in n)]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, steps // 10) if warmup is None else warmup
    model.train()
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(steps):
        images, tokens = next(batches)
        if augment is not None:
            images = augment(images, gen)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, lr, warmup)
        img_f, txt_f, scale = encode_batch(model, images, tokens)
        loss = clip_loss(img_f, txt_f, scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # as open_clip: keep the temperature within [0, log 100]
            model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step()
        if progress and (step % log_every == 0 or step == steps - 1):
            window = losses[-log_every:]
            log.info("train_clip step %d/%d loss %.4f (%.1fs)", step + 1, steps, sum(window) / len(window),
                     time.perf_counter() - t0)
    model.eval()
    return {"losses": losses, "seconds": time.perf_counter() - t0, "optimizer": optimizer}


@torch.no_grad()
def embed_images(model, images01: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([encode_images(model, images01[i:i + batch_size]).cpu()
                      for i in range(0, len(images01), batch_size)]) if len(images01) else torch.zeros(0)


@torch.no_grad()
def embed_texts(model, token_ids: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([encode_texts(model, token_ids[i:i + batch_size]).cpu()
                      for i in range(0, len(token_ids), batch_size)]) if len(token_ids) else torch.zeros(0)


def tokenize(tokenizer, captions: list[str]) -> torch.Tensor:
    """Token ids (N, context_length) with open_clip's tokenizer (truncates, keeps the end-of-text token)."""
    return tokenizer(list(captions))
