"""Retrieval metrics (COCO protocol, several captions per image), their chance levels, and image fidelity.

Image -> text: an image's rank is the best rank of any of its own captions among all captions.
Text -> image: a caption's rank is the rank of its image among all images.
Ranks are 1-based and pessimistic on ties (a wrong item scoring exactly as high counts as ahead), so a collapsed
model whose features are all equal scores at the bottom, never at the top.
"""
from __future__ import annotations

from math import comb

import numpy as np

KS = (1, 5, 10)


def _as_np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def retrieval_ranks(image_emb, text_emb, text_image: np.ndarray | list[int], chunk: int = 1024):
    """-> (i2t_ranks per image, t2i_ranks per text). `text_image[j]` is the image index of caption j.

    Embeddings are compared by dot product (pass L2-normalized features for cosine similarity).
    Images with no caption get rank 0 in i2t and are excluded by `retrieval_metrics`.
    """
    img = _as_np(image_emb)
    txt = _as_np(text_emb)
    owner = np.asarray(text_image, dtype=np.int64)
    n_img, n_txt = len(img), len(txt)
    if len(owner) != n_txt:
        raise ValueError(f"text_image has {len(owner)} entries for {n_txt} texts")
    if n_txt and (owner.min() < 0 or owner.max() >= n_img):
        raise ValueError("text_image holds an index outside the images")
    # text -> image
    t2i = np.empty(n_txt, dtype=np.int64)
    for s in range(0, n_txt, chunk):
        sims = txt[s:s + chunk] @ img.T  # (c, n_img)
        own = sims[np.arange(len(sims)), owner[s:s + chunk]]
        ahead = (sims >= own[:, None]).sum(axis=1) - 1  # every image at least as close, minus the own one
        t2i[s:s + chunk] = ahead + 1
    # image -> text
    i2t = np.zeros(n_img, dtype=np.int64)
    for s in range(0, n_img, chunk):
        sims = img[s:s + chunk] @ txt.T  # (c, n_txt)
        for r in range(len(sims)):
            i = s + r
            mine = np.flatnonzero(owner == i)
            if len(mine) == 0:
                continue
            row = sims[r]
            wrong = np.delete(row, mine)
            wrong_sorted = np.sort(wrong)
            # wrong captions scoring >= each own caption; the best own caption decides the rank
            ahead = len(wrong_sorted) - np.searchsorted(wrong_sorted, row[mine], side="left")
            i2t[i] = int(ahead.min()) + 1
    return i2t, t2i


def chance_levels(n_images: int, captions_per_image: list[int] | np.ndarray, ks=KS) -> dict:
    """Expected R@K and median rank of a random ranking, for the same image/caption counts."""
    cpi = np.asarray(captions_per_image, dtype=np.int64)
    cpi = cpi[cpi > 0]
    n_txt = int(cpi.sum())
    out: dict = {}
    for k in ks:
        # i2t: at least one of an image's c captions among the top k of n_txt (hypergeometric)
        per = [1.0 - (comb(n_txt - c, k) / comb(n_txt, k) if k <= n_txt - c else 0.0) if k <= n_txt else 1.0
               for c in cpi.tolist()]
        out[f"i2t_R@{k}"] = float(np.mean(per)) if per else 0.0
        out[f"t2i_R@{k}"] = min(1.0, k / n_images) if n_images else 0.0
    out["t2i_median_rank"] = (n_images + 1) / 2
    # i2t median rank of the best of c uniformly placed captions: smallest r with P(best <= r) >= 1/2
    if len(cpi):
        c = int(np.median(cpi))
        r = 1
        while r < n_txt and 1.0 - comb(n_txt - c, r) / comb(n_txt, r) < 0.5:
            r += 1
        out["i2t_median_rank"] = float(r)
    return out


def retrieval_metrics(image_emb, text_emb, text_image, ks=KS) -> dict:
    """R@K for both directions (percent-free fractions in [0,1]), median and mean rank, and chance levels."""
    i2t, t2i = retrieval_ranks(image_emb, text_emb, text_image)
    owner = np.asarray(text_image, dtype=np.int64)
    n_img = len(_as_np(image_emb))
    cpi = np.bincount(owner, minlength=n_img) if len(owner) else np.zeros(n_img, dtype=np.int64)
    has_caption = cpi > 0
    i2t = i2t[has_caption]
    m: dict = {"n_images": int(has_caption.sum()), "n_texts": int(len(owner))}
    for k in ks:
        m[f"i2t_R@{k}"] = float(np.mean(i2t <= k)) if len(i2t) else 0.0
        m[f"t2i_R@{k}"] = float(np.mean(t2i <= k)) if len(t2i) else 0.0
    m["i2t_median_rank"] = float(np.median(i2t)) if len(i2t) else 0.0
    m["t2i_median_rank"] = float(np.median(t2i)) if len(t2i) else 0.0
    m["i2t_mean_rank"] = float(np.mean(i2t)) if len(i2t) else 0.0
    m["t2i_mean_rank"] = float(np.mean(t2i)) if len(t2i) else 0.0
    m["chance"] = chance_levels(n_img, cpi, ks)
    # one number to compare runs: mean of the six R@K over their chance levels
    ratios = [m[key] / m["chance"][key] for key in m["chance"] if "R@" in key and m["chance"][key] > 0]
    m["mean_recall_over_chance"] = float(np.mean(ratios)) if ratios else 0.0
    m["R@1_over_chance"] = {d: (m[f"{d}_R@1"] / m["chance"][f"{d}_R@1"] if m["chance"][f"{d}_R@1"] else 0.0)
                            for d in ("i2t", "t2i")}
    return m


def psnr(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR in dB of uint8 (H,W,3) images (data range 255); inf for identical images."""
    from skimage.metrics import peak_signal_noise_ratio

    a, b = np.asarray(reference), np.asarray(other)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=255))


def ssim(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, skimage defaults: 7x7 window) over colour channels of uint8 images."""
    from skimage.metrics import structural_similarity

    a, b = np.asarray(reference), np.asarray(other)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    win = min(7, min(a.shape[:2]) - (1 - min(a.shape[:2]) % 2))
    return float(structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=255,
                                       channel_axis=-1 if a.ndim == 3 else None, win_size=max(3, win)))


def fidelity(references: list[np.ndarray], others: list[np.ndarray]) -> dict:
    """Per-image PSNR/SSIM lists and their summaries (PSNR mean over finite values)."""
    ps = [psnr(a, b) for a, b in zip(references, others)]
    ss = [ssim(a, b) for a, b in zip(references, others)]
    finite = [p for p in ps if np.isfinite(p)]
    return {"psnr": ps, "ssim": ss, "psnr_mean": float(np.mean(finite)) if finite else float("inf"),
            "psnr_min": float(np.min(finite)) if finite else float("inf"),
            "ssim_mean": float(np.mean(ss)) if ss else 1.0, "ssim_min": float(np.min(ss)) if ss else 1.0}


def block_score(reference: np.ndarray, other: np.ndarray, period: float) -> float | None:
    """How much of the difference map's structure sits at one phase of the upsampling period (the grid a
    low-resolution noise leaves when scaled up by `period`). The curvature energy of the difference
    (squared second differences along rows and along columns) is binned by each pixel's phase within the
    period; the score is the fullest bin's mean over the mean of all bins, the larger of the two axes.
    1.0: no structure at that period (noise made at full resolution); about period/2: every kink of the
    difference lies on the grid (nearest or bilinear upsampling by an integer factor). None when period < 2."""
    if period < 2:
        return None
    d = np.asarray(other, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if d.ndim == 2:
        d = d[..., None]
    bins = max(2, int(round(period)))
    scores = []
    for axis in (0, 1):
        curv = np.diff(d, n=2, axis=axis) ** 2  # at pixel positions 1 .. n-2 along `axis`
        energy = curv.sum(axis=tuple(a for a in range(curv.ndim) if a != axis))
        pos = np.arange(1, d.shape[axis] - 1)
        phase = np.floor(((pos + 0.5) / period % 1.0) * bins).astype(int) % bins
        per_bin = np.bincount(phase, weights=energy, minlength=bins) / np.maximum(np.bincount(phase, minlength=bins), 1)
        if per_bin.mean() > 0:
            scores.append(float(per_bin.max() / per_bin.mean()))
    return max(scores) if scores else 1.0
