"""A data owner's folder of photos in, the same photos protected out (`corpusforge protect-photos`, issue 18).

* Input: every file of the folder (not sub-folders, not hidden files) whose *content* is JPEG, PNG or WebP
  (HEIC/HEIF too when the optional `pillow-heif` package is installed); other files are listed as skipped. A
  header larger than `max_pixels` is refused before decoding. EXIF orientation is applied to the pixels.
* Captions: a sidecar `captions.csv` / `captions.jsonl` in the folder (or `--captions FILE`) with a file-name
  column (`file_name`, `image`, `filename`, ...) and a `caption` column; a photo without one gets its file name
  ("dog_on-beach.jpg" -> "dog on beach").
* Output: same file name, same format (JPEG re-encoded at quality 95, WebP lossless when the input was
  lossless else quality 95, PNG lossless), same size, same mode family: grayscale stays grayscale, alpha is
  kept unchanged (noise goes on colour channels only), the ICC profile is kept, EXIF is kept minus the GPS
  block (and Orientation reset to 1, since the pixels are now upright); XMP and IPTC blocks are dropped
  because they can hold locations too. Each photo's removed blocks are reported.
* `captions_to_post.csv` / `.txt`: each file with the caption to post beside it (trigger + caption). The
  protection only works if the photo is posted together with that caption.

Presets map to the L_inf budget and PGD steps of `frozen.Settings` (measured PSNR beside PRESETS).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from corpusforge import storage
from corpusforge.unlearnable import frozen
from corpusforge.unlearnable.data import CAPTION_FIELDS, IMAGE_FIELDS, ImageError

log = logging.getLogger("corpusforge.photos")

# name -> (eps in 1/255 units, PGD steps). PSNR measured with the project surrogate on five scikit-image photos
# (astronaut/coffee JPEG, chelsea/camera PNG, rocket WebP): low 36.9-38.8 dB, mid 31.0-35.2, high 25.2-31.3.
PRESETS: dict[str, tuple[float, int]] = {"low": (4.0, 20), "mid": (8.0, 30), "high": (16.0, 40)}
DEFAULT_PRESET = "mid"
DEFAULT_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 95
TRIGGER_TOKENS = 3
CAPTION_FILES = ("captions.csv", "captions.jsonl")
POST_FILES = ("captions_to_post.csv", "captions_to_post.txt")
GPS_IFD = 0x8825
ORIENTATION = 0x0112
_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}
_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}


def heif_available() -> bool:
    """Whether HEIC/HEIF can be read and written: only with the optional pillow-heif package."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def settings_for(preset: str, output_format: str | None = None) -> frozen.Settings:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    eps255, steps = PRESETS[preset]
    return frozen.Settings(eps=frozen.eps_from_255(eps255), steps=steps,
                           jpeg_quality=JPEG_QUALITY if output_format == "JPEG" else None)


# ------------------------------------------------------------------------------------------ reading
@dataclass
class Photo:
    path: Path
    format: str  # JPEG, PNG, WEBP, HEIF
    pixels: np.ndarray  # uint8 (H,W) grayscale or (H,W,3) colour, upright
    alpha: np.ndarray | None = None  # uint8 (H,W), kept as is
    icc: bytes | None = None
    exif: bytes | None = None  # cleaned
    removed: list[str] = field(default_factory=list)  # metadata blocks dropped (GPS, XMP, IPTC)
    lossless: bool = True  # WebP only: the input was VP8L
    notes: list[str] = field(default_factory=list)

    @property
    def gray(self) -> bool:
        return self.pixels.ndim == 2


def sniff(data: bytes) -> str | None:
    """The format of encoded bytes from their content (JPEG, PNG, WEBP, HEIF) or None: extensions are never
    trusted. HEIF only counts when pillow-heif is installed."""
    from PIL import Image

    if data[:2] == b"\xff\xd8":
        fmt = "JPEG"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        fmt = "PNG"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt = "WEBP"
    elif data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        fmt = "HEIF" if heif_available() else None
    else:
        fmt = None
    if fmt is None:
        return None
    try:  # the magic bytes must also parse as that format
        with Image.open(io.BytesIO(data)) as im:
            return _FORMATS.get(im.format) if _FORMATS.get(im.format) == fmt else None
    except Exception:
        return None


def clean_exif(exif) -> tuple[bytes | None, list[str]]:
    """Drop the GPS block and reset Orientation (pixels are upright now). Returns (bytes or None, removed)."""
    removed = []
    if GPS_IFD in exif:
        del exif[GPS_IFD]
        removed.append("EXIF GPS")
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    return (exif.tobytes() if len(exif) else None), removed


def decode_photo(data: bytes, path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Encoded bytes -> Photo, or ImageError(reason) (not an image, too large, unsupported mode)."""
    from PIL import Image, ImageOps

    fmt = sniff(data)
    if fmt is None:
        raise ImageError("not_an_image", f"{path.name}: content is not JPEG, PNG, WebP"
                         f"{', HEIC' if heif_available() else ''}")
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError("image_too_large", f"{path.name}: {w}x{h} = {w * h:,} pixels, over {max_pixels:,}")
    try:
        im.load()
    except Exception as exc:
        raise ImageError("image_corrupt", f"{path.name}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    info = dict(im.info)
    upright = ImageOps.exif_transpose(im)  # before cleaning: it reads the Orientation tag
    exif, removed = clean_exif(im.getexif())
    for key, name in (("xmp", "XMP"), ("XML:com.adobe.xmp", "XMP")):
        if info.get(key) and name not in removed:
            removed.append(name)
    if getattr(im, "applist", None) and any(m == "APP13" for m, _ in im.applist):
        removed.append("IPTC")
    notes = []
    im = upright
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in info else "RGB")
        notes.append("palette image written as full colour")
    elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = float(arr.max()) or 1.0
        im = Image.fromarray(np.round(arr / (65535.0 if hi > 255 else 255.0) * 255).astype(np.uint8), "L")
        notes.append(f"{mode} written as 8-bit grayscale")
    elif mode == "1":
        im = im.convert("L")
        notes.append("1-bit image written as 8-bit grayscale")
    elif mode in ("CMYK", "YCbCr"):
        im = im.convert("RGB")
        notes.append(f"{mode} written as RGB")
    alpha = None
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = np.asarray(im.getchannel("A"), dtype=np.uint8).copy()
        im = im.convert("L" if im.mode in ("LA", "La") else "RGB")
    if im.mode not in ("L", "RGB"):
        raise ImageError("image_unsupported_mode", f"{path.name}: mode {mode}")
    lossless = fmt != "WEBP" or b"VP8L" in data[:64]
    return Photo(path=path, format=fmt, pixels=np.asarray(im, dtype=np.uint8).copy(), alpha=alpha,
                 icc=info.get("icc_profile"), exif=exif, removed=removed, lossless=lossless, notes=notes)


def encode_photo(photo: Photo, pixels: np.ndarray) -> bytes:
    """Protected pixels -> bytes in the photo's own format, with its alpha, ICC profile and cleaned EXIF."""
    from PIL import Image

    gray = pixels.ndim == 2
    im = Image.fromarray(pixels, "L" if gray else "RGB")
    if photo.alpha is not None:
        im.putalpha(Image.fromarray(photo.alpha, "L"))
    opts: dict = {}
    if photo.icc:
        opts["icc_profile"] = photo.icc
    if photo.exif:
        opts["exif"] = photo.exif
    if photo.format == "JPEG":
        opts.update(quality=JPEG_QUALITY)
    elif photo.format == "WEBP":
        opts.update(lossless=True, exact=True) if photo.lossless else opts.update(quality=JPEG_QUALITY)
    elif photo.format == "HEIF":
        opts.update(quality=JPEG_QUALITY)
    elif photo.format == "PNG":
        opts.update(optimize=False)
    buf = io.BytesIO()
    im.save(buf, format=photo.format, **opts)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ captions
def caption_from_name(name: str) -> str:
    stem = Path(name).stem
    text = re.sub(r"[_\-.]+", " ", stem)
    text = re.sub(r"\s+", " ", text).strip()
    return text or "a photo"


def read_captions(path: str | Path) -> dict[str, str]:
    """A sidecar CSV or JSONL -> {file name: caption} (first caption when a row holds a list)."""
    path = Path(path)
    rows: list[dict] = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        if path.suffix.lower() == ".jsonl":
            rows = [json.loads(line) for line in f if line.strip()]
        else:
            rows = list(csv.DictReader(f))
    out: dict[str, str] = {}
    for row in rows:
        name = next((row[k] for k in IMAGE_FIELDS if row.get(k)), None)
        cap = next((row[k] for k in CAPTION_FIELDS if row.get(k)), None)
        if isinstance(cap, list):
            cap = next((c for c in cap if isinstance(c, str) and c.strip()), None)
        if name and isinstance(cap, str) and cap.strip():
            out.setdefault(Path(str(name)).name, " ".join(cap.split()))
    return out


def find_captions(folder: Path, captions: str | Path | None) -> dict[str, str]:
    if captions:
        return read_captions(captions)
    for name in CAPTION_FILES:
        if (folder / name).is_file():
            return read_captions(folder / name)
    return {}


# ------------------------------------------------------------------------------------------ the folder
def list_photos(folder: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list[Path], list[dict]]:
    """Files of `folder` (sorted, not recursive, hidden files and the caption sidecars ignored) whose content
    is a supported image, and the skipped ones with a reason."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    keep, skipped = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.name in CAPTION_FILES + POST_FILES:
            continue
        with open(p, "rb") as f:
            head = f.read(64)
        if head[:2] == b"\xff\xd8" or head[:8] == b"\x89PNG\r\n\x1a\n" or head[8:12] == b"WEBP" or head[4:8] == b"ftyp":
            keep.append(p)
        else:
            skipped.append({"file": p.name, "reason": "not_an_image"})
    return keep, skipped


@dataclass
class Job:
    """One protection run: the frozen surrogate, the folder's captions and trigger, the text targets."""

    surrogate: object
    names: list[str]
    captions: list[str]
    trigger: list[int]
    preset: str
    positives: object = None
    plain: object = None

    @classmethod
    def make(cls, surrogate, names: list[str], captions: dict[str, str], preset: str, seed: int = 0) -> "Job":
        caps = [captions.get(n) or caption_from_name(n) for n in names]
        # One photo is fine: its caption without the trigger is always a negative of the InfoNCE loss.
        trigger = frozen.choose_trigger(surrogate, caps, TRIGGER_TOKENS, seed)
        pos, plain = frozen.text_targets(surrogate, trigger, caps)
        return cls(surrogate, list(names), caps, trigger, preset, pos, plain)

    @property
    def trigger_text(self) -> str:
        return frozen.describe_trigger(self.surrogate, self.trigger)

    def caption_to_post(self, i: int) -> str:
        return f"{self.trigger_text} {self.captions[i]}"

    def protect(self, i: int, photo: Photo) -> tuple[bytes, np.ndarray, dict]:
        """Protect photo i of the job -> (encoded bytes, protected pixels, stats)."""
        from corpusforge.unlearnable.metrics import psnr

        t0 = time.perf_counter()
        settings = settings_for(self.preset, photo.format)
        out, stats = frozen.protect_pixels(self.surrogate, photo.pixels, i, self.positives, self.plain, settings)
        data = encode_photo(photo, out)
        stats.update(psnr=round(psnr(photo.pixels, out), 2), seconds=round(time.perf_counter() - t0, 3))
        return data, out, stats


def amplified_difference(original: np.ndarray, protected: np.ndarray, gain: float = 10.0) -> np.ndarray:
    """|protected - original| x gain, as uint8 (what the noise looks like; 128-centred would hide its sign less
    but read worse on a phone)."""
    diff = np.abs(protected.astype(np.int16) - original.astype(np.int16)).astype(np.float32) * gain
    return np.clip(diff, 0, 255).astype(np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def preview(job: Job, i: int, photo: Photo) -> dict:
    """Protect one photo and return PNG bytes of the original, the protected photo and the amplified
    difference, with its PSNR and seconds."""
    _, out, stats = job.protect(i, photo)
    return {"original.png": _png(photo.pixels), "protected.png": _png(out),
            "difference.png": _png(amplified_difference(photo.pixels, out)), **stats}


def read_photo(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    with open(path, "rb") as f:
        return decode_photo(f.read(), path, max_pixels)


def post_rows(job: Job, names: list[str] | None = None) -> list[tuple[str, str]]:
    names = job.names if names is None else names
    return [(n, job.caption_to_post(job.names.index(n))) for n in names]


def captions_files(rows: list[tuple[str, str]]) -> dict[str, bytes]:
    """captions_to_post.csv and .txt for the photos protected."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file_name", "caption"])
    w.writerows(rows)
    txt = "".join(f"{n}\t{c}\n" for n, c in rows)
    return {POST_FILES[0]: buf.getvalue().encode(), POST_FILES[1]: txt.encode()}


def protect_folder(folder: str | Path, out: str | Path, surrogate, preset: str = DEFAULT_PRESET,
                   captions: str | Path | None = None, seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
                   on_photo: Callable[[str, dict], None] | None = None) -> dict:
    """Protect every photo of `folder` into `out` (written atomically, one by one); `on_photo(name, stats)`
    after each. Returns a summary with per-photo stats, skipped files and the captions to post."""
    folder, out = Path(folder), Path(out)
    if out.resolve() == folder.resolve():
        raise ValueError("--out must differ from the input folder: originals are never overwritten")
    paths, skipped = list_photos(folder, max_pixels)
    job = Job.make(surrogate, [p.name for p in paths], find_captions(folder, captions), preset, seed)
    out.mkdir(parents=True, exist_ok=True)
    done, rows = [], []
    for i, p in enumerate(paths):
        try:
            photo = read_photo(p, max_pixels)
        except ImageError as exc:
            skipped.append({"file": p.name, "reason": exc.reason, "detail": str(exc)})
            if on_photo:
                on_photo(p.name, {"skipped": exc.reason})
            continue
        data, _, stats = job.protect(i, photo)
        storage.write_bytes_atomic(str(out / p.name), data)
        entry = {"file": p.name, "format": photo.format, "size": list(photo.pixels.shape[1::-1]),
                 "gray": photo.gray, "alpha": photo.alpha is not None, "icc": bool(photo.icc),
                 "metadata_removed": photo.removed, "notes": photo.notes, "bytes_in": p.stat().st_size,
                 "bytes_out": len(data), "caption_to_post": job.caption_to_post(i), **stats}
        done.append(entry)
        rows.append((p.name, job.caption_to_post(i)))
        if on_photo:
            on_photo(p.name, entry)
    for name, data in captions_files(rows).items():
        storage.write_bytes_atomic(str(out / name), data)
    summary = {"preset": preset, "eps_255": PRESETS[preset][0], "steps": PRESETS[preset][1],
               "trigger": job.trigger_text, "photos": done, "skipped": skipped}
    storage.write_bytes_atomic(str(out / "protect_photos.json"),
                               (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
    return summary


def output_ext(fmt: str) -> str:
    return _EXT[fmt]

