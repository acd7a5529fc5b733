"""The baselines MEM is compared with, under the same interface (`method` in ProtectConfig).

All of them run through `mem.MinMinProtector`, so the harness compares methods that differ only in what the
noise optimizes:

* `em`  -- error-minimizing noise (Huang et al., ICLR 2021, "Unlearnable Examples"), image side only: the
  min-min loop of MEM with no trigger and each image with its own caption. MEM's paper shows EM alone is weak
  against CLIP because the caption, not the noise, is the easy shortcut.
* `tap` -- targeted error-maximizing noise (Fowl et al., NeurIPS 2021, "Adversarial Examples Make Strong
  Poisons"): a surrogate trained on clean pairs; each image is pushed toward the caption of another image
  (a fixed derangement of the set), so the learned alignment is wrong.
* `uap` -- one universal adversarial perturbation (Moosavi-Dezfooli et al., CVPR 2017) for the whole set,
  maximizing the clean-trained surrogate's loss; stored as a single delta and added to every image.
"""
from __future__ import annotations

import torch

METHODS: dict[str, str] = {
    "mem": "Multi-step Error Minimization: error-minimizing image noise + HotFlip text trigger (Liu et al. 2024)",
    "em": "Error-minimizing image noise only, own captions, no trigger (Huang et al. 2021)",
    "tap": "Targeted error-maximizing noise toward another image's caption (Fowl et al. 2021)",
    "uap": "One universal error-maximizing perturbation for all images (Moosavi-Dezfooli et al. 2017)",
}


def uses_trigger(method: str) -> bool:
    return method == "mem"


def tap_targets(n: int, generator: torch.Generator) -> torch.Tensor:
    """A derangement of range(n) (no image keeps its own caption): a random cycle through a permutation."""
    perm = torch.randperm(n, generator=generator)
    targets = torch.empty(n, dtype=torch.long)
    targets[perm] = torch.roll(perm, -1)
    return targets
