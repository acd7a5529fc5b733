"""What the image channel does to a protected image, real and differentiable.

* `diff_jpeg` -- a differentiable JPEG approximation (Shin & Song 2017, "JPEG-resistant adversarial images"):
  RGB -> YCbCr, 4:2:0 chroma subsampling, 8x8 block DCT, quantization with the IJG tables scaled by quality,
  rounding replaced by the cubic approximation round(x) + (x - round(x))^3 (its gradient is never zero),
  then the inverse path. Used inside PGD so the noise survives re-encoding.
* `random_resized_crop`, `random_rescale` -- differentiable resize/crop for expectation over transformations.
* `eot_transform` -- draws one of those per call from a seeded generator.
* `jpeg_reencode`, `png_roundtrip` -- the real codecs (Pillow), for evaluating what survives.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# ITU-T T.81 Annex K tables (the ones libjpeg scales by quality).
_LUMA_TABLE = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)
_CHROMA_TABLE = torch.full((8, 8), 99.0)
_CHROMA_TABLE[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]],
                                     dtype=torch.float32)


def quality_scaled_table(table: torch.Tensor, quality: float) -> torch.Tensor:
    """IJG quality scaling (jcparam.c: jpeg_quality_scaling), clamped to 1..255 like baseline JPEG."""
    quality = float(min(max(quality, 1), 100))
    scale = 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality
    return torch.clamp(torch.floor((table * scale + 50.0) / 100.0), 1.0, 255.0)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    m = torch.zeros(n, n)
    for k in range(n):
        for i in range(n):
            m[k, i] = math.cos(math.pi * (2 * i + 1) * k / (2 * n)) * (math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n))
    return m


_DCT = _dct_matrix()


def diff_round(x: torch.Tensor) -> torch.Tensor:
    """Shin & Song's cubic rounding: equal to round() at integers, gradient 3(x-round(x))^2 elsewhere."""
    r = torch.round(x)
    return r + (x - r) ** 3


def _rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    return torch.stack([y, cb, cr], 1)


def _ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    y, cb, cr = x[:, 0], x[:, 1] - 128.0, x[:, 2] - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return torch.stack([r, g, b], 1)


def _blockwise(channel: torch.Tensor, table: torch.Tensor, rounding) -> torch.Tensor:
    """(B,H,W) with H,W multiples of 8 -> quantize/dequantize every 8x8 block's DCT coefficients."""
    b, h, w = channel.shape
    blocks = channel.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)  # B,hb,wb,8,8
    d = _DCT.to(channel)
    coef = d @ (blocks - 128.0) @ d.T
    t = table.to(channel)
    coef = rounding(coef / t) * t
    out = d.T @ coef @ d + 128.0
    return out.permute(0, 1, 3, 2, 4).reshape(b, h, w)


def diff_jpeg(x: torch.Tensor, quality: float, rounding=diff_round) -> torch.Tensor:
    """Approximate JPEG(x) for x in [0,1], shape (B,3,H,W); differentiable in x. Returns (B,3,H,W) in [0,1]."""
    b, c, h, w = x.shape
    ph, pw = (-h) % 16, (-w) % 16
    xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x
    ycc = _rgb_to_ycbcr(xp * 255.0)
    y = _blockwise(ycc[:, 0], quality_scaled_table(_LUMA_TABLE, quality), rounding)
    chroma = F.avg_pool2d(ycc[:, 1:], 2)  # 4:2:0 subsampling, as libjpeg's default
    ctab = quality_scaled_table(_CHROMA_TABLE, quality)
    cb = _blockwise(chroma[:, 0], ctab, rounding)
    cr = _blockwise(chroma[:, 1], ctab, rounding)
    chroma = F.interpolate(torch.stack([cb, cr], 1), scale_factor=2, mode="nearest")
    rgb = _ycbcr_to_rgb(torch.cat([y[:, None], chroma], 1)) / 255.0
    return rgb[:, :, :h, :w].clamp(0.0, 1.0)


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def random_resized_crop(x: torch.Tensor, gen: torch.Generator, scale=(0.6, 1.0)) -> torch.Tensor:
    """Crop a random square-ish region holding `scale` of the area, resize back to x's size (bilinear)."""
    _, _, h, w = x.shape
    s = _uniform(gen, *scale)
    ch, cw = max(1, int(round(h * math.sqrt(s)))), max(1, int(round(w * math.sqrt(s))))
    top = int(torch.randint(0, h - ch + 1, (), generator=gen))
    left = int(torch.randint(0, w - cw + 1, (), generator=gen))
    crop = x[:, :, top:top + ch, left:left + cw]
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)


def random_rescale(x: torch.Tensor, gen: torch.Generator, factor=(0.5, 1.0)) -> torch.Tensor:
    """Downscale by a random factor and back up: what a thumbnailing pipeline does to fine noise."""
    _, _, h, w = x.shape
    f = _uniform(gen, *factor)
    small = F.interpolate(x, size=(max(1, int(h * f)), max(1, int(w * f))), mode="bilinear", align_corners=False,
                          antialias=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def eot_transform(x: torch.Tensor, gen: torch.Generator, eot) -> torch.Tensor:
    """Apply a random chain (resize, crop, JPEG; each with its probability) drawn from `gen`.

    `eot` is a ProtectEOTConfig (or anything with the same attributes).
    """
    if float(torch.rand((), generator=gen)) < eot.resize_prob:
        x = random_rescale(x, gen, eot.resize_factor)
    if float(torch.rand((), generator=gen)) < eot.crop_prob:
        x = random_resized_crop(x, gen, eot.crop_scale)
    if float(torch.rand((), generator=gen)) < eot.jpeg_prob:
        q = int(torch.randint(int(eot.jpeg_quality[0]), int(eot.jpeg_quality[1]) + 1, (), generator=gen))
        x = diff_jpeg(x, q)
    return x


# ------------------------------------------------------------------------------------- real codecs
def jpeg_reencode(img: np.ndarray, quality: int) -> np.ndarray:
    """uint8 HxWx3 -> JPEG bytes (Pillow, 4:2:0) -> uint8 HxWx3."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def png_roundtrip(img: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))
