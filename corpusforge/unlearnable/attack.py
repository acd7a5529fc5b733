"""Does protection stop a CLIP from learning the pairs? The library behind `corpusforge verify-protection`.

Plays the scraper: reads image-caption pairs from files on disk (PNG/JPEG + captions file, exactly what a
crawler would download), optionally JPEG re-encodes or grayscales the images first (cheap counter-measures),
trains an attacker CLIP on them from scratch (or fine-tunes a local checkpoint; the architecture may differ from
the protector's surrogate), then measures image<->text retrieval on a clean held-out test set next to chance.
Protection works when the attacker trained on protected pairs retrieves near chance while one trained on the
clean pairs does not.

Outputs in --out: metrics.json (config, training summary, retrieval R@1/5/10 both ways, median ranks,
chance levels), quarantine/train.jsonl and quarantine/test.jsonl, and attacker.pt with --save-model.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.progress_api import Silent
from corpusforge.unlearnable.data import DEFAULT_MAX_PIXELS, ImagePair, load_pairs, resolve_source, write_quarantine

log = logging.getLogger("corpusforge.verify_protection")

# Tuned on the generated benchmark (3000 images, 64 px) so that a clean attacker is far above chance in a few
# CPU minutes; see bench/results/protection.md.
DEFAULT_STEPS = 1000
DEFAULT_BATCH = 64
DEFAULT_LR = 1e-3


def _split_file(source: str, role: str) -> str:
    """A benchmark folder holds captions.jsonl (all images) plus train.jsonl/test.jsonl: use the split file so
    the test images never leak into training."""
    p = Path(source)
    if p.is_dir() and (p / f"{role}.jsonl").is_file() and (p / "benchmark.json").is_file():
        return str(p / f"{role}.jsonl")
    return str(resolve_source(p))


def scraper_transform(jpeg_quality: int | None, grayscale: bool, downscale: float | None = None):
    """The counter-measure a scraper may apply to each downloaded image, or None: grayscale, then a
    downscale-then-upscale by `downscale` (bicubic, antialiased: a thumbnailing pass that blurs fine noise),
    then a JPEG re-encode."""
    if not jpeg_quality and not grayscale and not downscale:
        return None

    from PIL import Image

    from corpusforge.unlearnable.robustness import jpeg_reencode

    def transform(img):
        if grayscale:
            img = img.convert("L").convert("RGB")
        if downscale:
            w, h = img.size
            small = img.resize((max(1, round(w * downscale)), max(1, round(h * downscale))), Image.BICUBIC,
                               reducing_gap=None)
            img = small.resize((w, h), Image.BICUBIC)
        if jpeg_quality:
            img = Image.fromarray(jpeg_reencode(np.asarray(img.convert("RGB")), jpeg_quality))
        return img

    return transform


def load_split(source: str, role: str, size: int, max_pixels: int, jpeg_quality: int | None = None,
               grayscale: bool = False, downscale: float | None = None):
    """Read pairs for training or testing, images decoded and resized to `size`; a counter-measure is applied
    at the image's stored resolution (what the scraper re-encodes), before the resize."""
    path = _split_file(source, role)
    loaded = load_pairs(path, max_pixels=max_pixels, decode=True, size=size,
                        transform=scraper_transform(jpeg_quality, grayscale, downscale))
    return path, loaded


def pairs_to_tensors(pairs: list[ImagePair], tokenizer):
    """-> images (N,3,S,S) float [0,1], tokens (M,L) of every caption, image_index (M,) caption -> image."""
    import torch

    images = torch.from_numpy(np.stack([p.pixels for p in pairs])).permute(0, 3, 1, 2).float().div_(255.0)
    captions, owner = [], []
    for i, p in enumerate(pairs):
        for c in p.captions:
            captions.append(c)
            owner.append(i)
    tokens = tokenizer(captions)
    return images, tokens, torch.tensor(owner, dtype=torch.long)


def shift_augment(max_shift: int = 4):
    """Random translation by up to `max_shift` pixels with edge padding: position words stay true (no flips)."""
    import torch
    import torch.nn.functional as F

    def aug(images, generator):
        b, _, h, w = images.shape
        padded = F.pad(images, (max_shift,) * 4, mode="replicate")
        dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
        dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
        return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])

    return aug


def evaluate(model, tokenizer, pairs: list[ImagePair]) -> dict:
    from corpusforge.unlearnable.clip import embed_images, embed_texts
    from corpusforge.unlearnable.metrics import retrieval_metrics

    images, tokens, owner = pairs_to_tensors(pairs, tokenizer)
    return retrieval_metrics(embed_images(model, images), embed_texts(model, tokens), owner.numpy())


def verify_protection(train: str, test: str, out: str | None = None, model: str = "cf-tiny",
                      steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH, lr: float = DEFAULT_LR,
                      init_checkpoint: str | None = None, jpeg_quality: int | None = None, grayscale: bool = False,
                      downscale: float | None = None,
                      seed: int = 0, augment: str = "none", max_pixels: int = DEFAULT_MAX_PIXELS,
                      threads: int | None = None, save_model: bool = False, progress: bool = True,
                      allow_overlap: bool = False, steps_progress=Silent) -> dict:
    """Train an attacker CLIP on `train` pairs and report clean retrieval on `test`. Returns the metrics dict
    (also written to out/metrics.json when `out` is given). Image ids in both splits are a ConfigError unless
    `allow_overlap`. `steps_progress`: training steps done / total with ETA (corpusforge.progress_api)."""
    import torch

    from corpusforge.unlearnable.clip import TensorPairs, build_clip, save_clip, set_determinism, train_clip

    if steps < 0:
        raise ConfigError(f"--steps must be >= 0, got {steps}")
    if jpeg_quality is not None and not 1 <= jpeg_quality <= 100:
        raise ConfigError(f"--jpeg-quality must be in 1..100, got {jpeg_quality}")
    if downscale is not None and not 0.0 < downscale < 1.0:
        raise ConfigError(f"--downscale must be in (0, 1), got {downscale}")
    t0 = time.perf_counter()
    set_determinism(seed, threads)
    clip, tokenizer, size = build_clip(model, init_checkpoint, "cpu", seed)
    train_path, tr = load_split(train, "train", size, max_pixels, jpeg_quality, grayscale, downscale)
    test_path, te = load_split(test, "test", size, max_pixels)
    if not tr.pairs:
        raise ConfigError(f"no usable training pair in {train_path} ({len(tr.quarantined)} quarantined)")
    if not te.pairs:
        raise ConfigError(f"no usable test pair in {test_path} ({len(te.quarantined)} quarantined)")
    overlap = sorted({p.image_id for p in tr.pairs} & {p.image_id for p in te.pairs})
    if overlap and not allow_overlap:
        # Retrieval on images the attacker trained on measures memorization, not what it learned: a number
        # that looks like "protection failed" (or worked) for the wrong reason.
        raise ConfigError(f"{len(overlap)} image ids appear in both the training pairs ({train_path}) and the test "
                          f"pairs ({test_path}), e.g. {overlap[:3]}: the test is then not held-out. Use a disjoint "
                          f"test split, or --allow-overlap to measure anyway")
    if overlap:
        log.warning("%d image ids appear in both train and test (allowed by --allow-overlap): retrieval is not "
                    "held-out", len(overlap))
    log.info("attacker %s: %d train pairs (%d quarantined), %d test pairs; loading took %.1fs", model,
             len(tr.pairs), len(tr.quarantined), len(te.pairs), time.perf_counter() - t0)
    images, tokens, owner = pairs_to_tensors(tr.pairs, tokenizer)
    aug = shift_augment() if augment == "shift" else None
    t_train = time.perf_counter()
    with steps_progress(f"verify-protection: training the {model} attacker", total=steps, unit="steps") as step:
        result = train_clip(clip, TensorPairs(images, tokens, owner), steps=steps, batch_size=batch_size, lr=lr,
                            seed=seed, augment=aug, progress=progress, on_step=step.add) if steps else \
            {"losses": [], "seconds": 0.0}
    train_seconds = time.perf_counter() - t_train
    with torch.no_grad():
        metrics = evaluate(clip, tokenizer, te.pairs)
    losses = result["losses"]
    report = {
        "config": {"train": str(train_path), "test": str(test_path), "model": model, "steps": steps,
                   "batch_size": batch_size, "lr": lr, "init_checkpoint": init_checkpoint,
                   "jpeg_quality": jpeg_quality, "grayscale": grayscale, "downscale": downscale, "seed": seed, "augment": augment,
                   "image_size": size, "threads": torch.get_num_threads()},
        "train": {"pairs": len(tr.pairs), "captions": int(len(tokens)), "quarantined": len(tr.quarantined),
                  "rows_read": tr.rows_read, "seconds": round(train_seconds, 2),
                  "loss_first": losses[0] if losses else None,
                  "loss_last_50": float(np.mean(losses[-50:])) if losses else None,
                  "id_overlap_with_test": len(overlap)},
        "test": {**metrics, "quarantined": len(te.quarantined)},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if out:
        outp = Path(out)
        outp.mkdir(parents=True, exist_ok=True)
        write_quarantine(outp / "quarantine" / "train.jsonl", tr.quarantined)
        write_quarantine(outp / "quarantine" / "test.jsonl", te.quarantined)
        if save_model:
            save_clip(clip, outp / "attacker.pt")
        storage.write_text_atomic(outp / "metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def format_table(report: dict) -> str:
    m = report["test"]
    c = m["chance"]
    lines = [f"{'direction':<14}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'median rank':>13}",
             "-" * 51]
    for d, name in (("i2t", "image->text"), ("t2i", "text->image")):
        lines.append(f"{name:<14}" + "".join(f"{100 * m[f'{d}_R@{k}']:>7.2f}%" for k in (1, 5, 10))
                     + f"{m[f'{d}_median_rank']:>13.1f}")
        lines.append(f"{'  chance':<14}" + "".join(f"{100 * c[f'{d}_R@{k}']:>7.2f}%" for k in (1, 5, 10))
                     + f"{c[f'{d}_median_rank']:>13.1f}")
    lines.append(f"R@1 / chance: image->text {m['R@1_over_chance']['i2t']:.1f}x, "
                 f"text->image {m['R@1_over_chance']['t2i']:.1f}x  "
                 f"({m['n_images']} test images, {m['n_texts']} captions)")
    return "\n".join(lines)
