"""Image-caption pairs: reading them safely, and the offline benchmark set (`corpusforge make-image-benchmark`).

Reading (`load_pairs`): a folder holding a captions file, a captions file (JSONL or CSV; image paths relative to
its folder), or Parquet with image bytes. One record per image with every caption it has (JSONL: `caption` is a
string or a list; CSV: one row per caption, rows of one image grouped). A record that cannot be used is
quarantined with a reason, never raised: unparseable row, missing or corrupt or truncated image, an image over
`max_pixels` (decompression bombs included), an image mode with no safe RGB conversion, no non-empty caption.
Alpha is composited on white, grayscale / palette / CMYK / 16-bit images are converted to 8-bit RGB.

Benchmark (`make_benchmark`): no captioned photo set exists offline, so scenes are rendered: 1-2 groups of 1-3
coloured shapes, each group in one cell of a 3x3 grid, drawn over crops of real photographs (Debian wallpaper
packages fetched by scripts/fetch_wallpapers.sh, plus scikit-image's bundled photos). Captions say what is
drawn (count, colour, shape, position) with several templates per image, so retrieval is learnable and exactly
checkable. Same seed and backgrounds -> same bytes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.io.writers import row_group_batches
from corpusforge.records import Quarantined

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 50_000_000
IMAGE_FIELDS = ("image", "image_path", "file_name", "filename", "file", "path")
CAPTION_FIELDS = ("caption", "captions", "text")
ID_FIELDS = ("id", "image_id")
CAPTION_FILE_NAMES = ("captions.jsonl", "captions.csv", "captions.parquet")


class ImageError(ValueError):
    """An image that cannot be used; `reason` is the stable quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class ImagePair:
    """One image with all its captions. Exactly one of `path` / `data` (encoded bytes) is set.
    `pixels` holds the decoded RGB uint8 array (H,W,3) once `load_pairs(..., size=...)` decoded it."""

    image_id: str
    captions: list[str]
    path: str | None = None
    data: bytes | None = None
    source: str = ""
    line: int = -1
    pixels: np.ndarray | None = field(default=None, repr=False)

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as f:
            return f.read()


@dataclass
class LoadedPairs:
    pairs: list[ImagePair]
    quarantined: list[Quarantined]
    rows_read: int = 0


# ------------------------------------------------------------------------------------------ decoding
def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Encoded bytes -> PIL RGB image, or ImageError(reason).

    Size is checked from the header before any pixel is decoded, so a decompression bomb costs nothing.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError("image_empty", "zero bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise ImageError("image_corrupt", f"not a readable image ({str(exc)[:200]})") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError("image_too_large", str(exc)[:200]) from exc
        except Exception as exc:
            raise ImageError("image_corrupt", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError("image_corrupt", f"size {w}x{h}")
        if w * h > max_pixels:
            raise ImageError("image_too_large", f"{w}x{h} = {w * h} pixels, over max_pixels={max_pixels}")
        try:
            im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError("image_too_large", str(exc)[:200]) from exc
        except OSError as exc:
            reason = "image_truncated" if "truncated" in str(exc).lower() else "image_corrupt"
            raise ImageError(reason, f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        except Exception as exc:  # broken codec streams raise all sorts (SyntaxError, ValueError, ...)
            raise ImageError("image_corrupt", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    try:
        im = ImageOps.exif_transpose(im)  # photos from cameras: store rotated, display upright
    except Exception:
        pass  # a broken EXIF block does not make the pixels unusable
    return to_rgb(im)


def to_rgb(im):
    """Any PIL mode -> 8-bit RGB: alpha composited on white, 16-bit/float gray rescaled, CMYK/YCbCr converted."""
    from PIL import Image

    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
        if mode == "RGB":
            return im
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if not np.isfinite(lo) or not np.isfinite(hi):
            raise ImageError("image_unsupported_mode", f"mode {mode} with non-finite values")
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        return Image.fromarray(np.round(scaled).astype(np.uint8), "L").convert("RGB")
    if mode in ("L", "1", "CMYK", "YCbCr", "LAB", "HSV"):
        return im.convert("RGB")
    raise ImageError("image_unsupported_mode", f"mode {mode} has no safe RGB conversion")


def resize_square(img, size: int) -> np.ndarray:
    """RGB image -> (size,size,3) uint8: whole image, no crop (the protection covers every pixel), bicubic with
    antialiasing as Pillow does -- the same resize the protect pipeline uses for its working resolution."""
    from PIL import Image

    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


# ------------------------------------------------------------------------------------------ caption rows
def _pick(row: dict, names: tuple[str, ...], preferred: str | None):
    if preferred:
        return row.get(preferred)
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    return None


def _clean_captions(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    out: list[str] = []
    for c in value if isinstance(value, (list, tuple)) else []:
        if isinstance(c, str):
            c = " ".join(c.split())
            if c and c not in out:
                out.append(c)
    return out


def _iter_caption_rows(path: str):
    """(line, row dict or None, raw bytes, error) per row of a JSONL or CSV captions file."""
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                raw = ",".join("" if v is None else str(v) for v in row.values()).encode("utf-8", "replace")
                if None in row:
                    yield i, None, raw, "row has more fields than the header"
                    continue
                yield i, row, raw, None
        return
    with open(path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                if not isinstance(row, dict):
                    raise ValueError("row is not a JSON object")
            except ValueError as exc:
                yield i, None, raw, str(exc)[:200]
                continue
            yield i, row, raw, None


def _iter_parquet_rows(path: str):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    line = 0
    for batch in row_group_batches(pf, 256):
        for row in batch.to_pylist():
            line += 1
            img = _pick(row, IMAGE_FIELDS, None)
            # Hugging Face `datasets` stores images as {"bytes": ..., "path": ...}
            if isinstance(img, dict):
                row = dict(row, _bytes=img.get("bytes"), _path=img.get("path"))
            elif isinstance(img, (bytes, bytearray)):
                row = dict(row, _bytes=bytes(img))
            yield line, row


def resolve_source(source: str | os.PathLike) -> Path:
    """A folder -> its captions file; a file -> itself. ConfigError says what was expected."""
    p = Path(source)
    if p.is_dir():
        for name in CAPTION_FILE_NAMES:
            if (p / name).is_file():
                return p / name
        found = sorted(list(p.glob("*.jsonl")) + list(p.glob("*.csv")) + list(p.glob("*.parquet")))
        if len(found) == 1:
            return found[0]
        raise ConfigError(f"{p} holds no captions file: expected one of {', '.join(CAPTION_FILE_NAMES)}"
                          + (f" (or exactly one .jsonl/.csv/.parquet; found {len(found)})" if found else ""))
    if not p.is_file():
        raise ConfigError(f"pairs source {str(p)!r} does not exist: pass a folder with captions.jsonl/.csv, "
                          f"a captions file, or a Parquet file with image bytes")
    return p


def load_pairs(source: str | os.PathLike, *, image_root: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
               decode: bool = True, size: int | None = None, id_field: str | None = None,
               image_field: str | None = None, caption_field: str | None = None,
               transform=None) -> LoadedPairs:
    """Read image-caption pairs; return the usable ones and the quarantined ones (never raises on bad data).

    `decode=True` opens every image now so broken ones are quarantined here rather than mid-training; with
    `size`, the decoded image is kept in `pair.pixels`, resized to size x size, after `transform` (PIL RGB ->
    PIL RGB, e.g. a JPEG round trip) was applied at the stored resolution. Records keep input order, rows
    naming the same id are merged (their captions added in order, duplicates once).
    """
    path = resolve_source(source)
    root = Path(image_root) if image_root else path.parent
    is_parquet = path.suffix.lower() == ".parquet"
    pairs: dict[str, ImagePair] = {}
    quarantined: list[Quarantined] = []
    rows_read = 0

    def quarantine(line: int, reason: str, raw: bytes, doc_id: str | None = None) -> None:
        quarantined.append(Quarantined(source=str(path), line=line, error=reason, raw=raw, stage="read",
                                       doc_id=doc_id))

    rows = ((ln, row, None, None) for ln, row in _iter_parquet_rows(str(path))) if is_parquet \
        else _iter_caption_rows(str(path))
    for line, row, raw, err in rows:
        rows_read += 1
        if err:
            quarantine(line, f"unparseable_row: {err}", raw or b"")
            continue
        if raw is None:  # parquet: keep the caption part of the row as the raw copy
            raw = json.dumps({k: v for k, v in row.items() if isinstance(v, (str, int, float, list))},
                             default=str).encode()
        captions = _clean_captions(_pick(row, CAPTION_FIELDS, caption_field))
        image_value = row.get("_bytes") if is_parquet else _pick(row, IMAGE_FIELDS, image_field)
        image_path = row.get("_path") if is_parquet else None
        rid = _pick(row, ID_FIELDS, id_field)
        rid = str(rid).strip() if rid is not None else ""
        if not rid:
            key = image_value if isinstance(image_value, str) else (image_path or hashlib.sha256(
                image_value if isinstance(image_value, (bytes, bytearray)) else raw).hexdigest()[:16])
            rid = str(key) if not is_parquet else f"{path.stem}-{line}"
        if image_value is None or (isinstance(image_value, str) and not image_value.strip()):
            quarantine(line, "missing_image: the row names no image", raw, rid)
            continue
        if not captions:
            quarantine(line, "empty_caption: no non-empty caption", raw, rid)
            continue
        if is_parquet:
            pair = ImagePair(rid, captions, data=bytes(image_value), source=str(path), line=line)
        else:
            img = str(image_value).strip()
            full = img if os.path.isabs(img) else str(root / img)
            pair = ImagePair(rid, captions, path=full, source=str(path), line=line)
        if rid in pairs:
            prev = pairs[rid]
            if prev.path != pair.path or (is_parquet and prev.data != pair.data):
                quarantine(line, f"duplicate_id: {rid!r} already names another image", raw, rid)
                continue
            prev.captions.extend(c for c in captions if c not in prev.captions)
            continue
        pairs[rid] = pair
        pair._raw = raw  # for a quarantine record if the image turns out bad

    good: list[ImagePair] = []
    for pair in pairs.values():
        raw = pair.__dict__.pop("_raw", b"")
        if not decode:
            good.append(pair)
            continue
        try:
            try:
                data = pair.read_bytes()
            except OSError as exc:
                raise ImageError("image_missing_file", f"{pair.path}: {exc.strerror or exc}") from exc
            img = decode_image(data, max_pixels)
            if transform is not None:
                img = transform(img)
            if size:
                pair.pixels = resize_square(img, size)
        except ImageError as exc:
            quarantine(pair.line, str(exc), raw, pair.image_id)
            continue
        good.append(pair)
    return LoadedPairs(good, quarantined, rows_read)


def write_quarantine(path: str | os.PathLike, records: list[Quarantined]) -> None:
    """JSONL, one record a line, sorted by (source, line) so reruns give the same bytes."""
    storage.write_text_atomic(path, "".join(q.to_json() + "\n" for q in
                                            sorted(records, key=lambda q: (q.source, q.line, q.error))))


# ------------------------------------------------------------------------------------------ benchmark scenes
SHAPES = ("circle", "square", "triangle", "star", "diamond", "cross")
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars",
          "diamond": "diamonds", "cross": "crosses"}
COLORS = {  # saturated, far apart in RGB, so "the colour named is in the pixels" is checkable
    "red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 230), "yellow": (250, 220, 20),
    "white": (250, 250, 250), "black": (15, 15, 15), "orange": (250, 130, 0), "purple": (150, 40, 200),
}
# 3x3 grid cells: (row, col) -> phrase
REGIONS = {
    (0, 0): "top left", (0, 1): "top", (0, 2): "top right",
    (1, 0): "left", (1, 1): "center", (1, 2): "right",
    (2, 0): "bottom left", (2, 1): "bottom", (2, 2): "bottom right",
}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
# Wallpapers in those packages that are drawings or renders, not photographs (looked at one by one).
NOT_PHOTOS = frozenset({"analogpattern_by_Peter_Nerlich", "umang_by_Abhishek_Mudgal", "Fossa_by_Jasper_Roks",
                        "Infinite-Sea_by_Aury88", "Painting-Colors_by__herobrine7gamer", "Elephants",
                        "Elephants_3840x2160", "Elephants_5640x3172", "GreenTraditional"})
DEFAULT_WALLPAPERS = Path(os.environ.get("CORPUSFORGE_WALLPAPERS",
                                         Path.home() / ".cache" / "corpusforge" / "wallpapers"))
SUPERSAMPLE = 4  # draw at 4x and downsample: antialiased edges like a photo of an object, not aliased pixels
BENCHMARK_VERSION = 1


def _where(region: tuple[int, int]) -> str:
    name = REGIONS[region]
    return {"left": "on the left", "right": "on the right", "center": "in the center"}.get(name, f"at the {name}")


def _group_phrase(g: dict, numeral: bool = False) -> str:
    n = g["count"]
    noun = g["shape"] if n == 1 else PLURAL[g["shape"]]
    det = str(n) if numeral else ("a" if n == 1 else NUMBER_WORDS[n])
    return f"{det} {g['color']} {noun}"


def scene_captions(groups: list[dict]) -> list[str]:
    """Five captions of one scene, from different templates (word order, numerals, with/without positions)."""
    a = groups
    with_pos = [f"{_group_phrase(g)} {_where(tuple(g['region']))}" for g in a]
    caps = [" and ".join(with_pos)]
    caps.append("a photo with " + " and ".join(_group_phrase(g) for g in a))
    caps.append(" and ".join(reversed(with_pos)) if len(a) > 1 else f"{with_pos[0]} of a photo")
    caps.append("; ".join(f"{REGIONS[tuple(g['region'])]}: {_group_phrase(g, numeral=True)}" for g in a))
    caps.append("there " + ("is " if a[0]["count"] == 1 else "are ")
                + " and ".join(f"{_group_phrase(g)} in the {REGIONS[tuple(g['region'])]} part" for g in a))
    return caps


def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if shape == "square":
        s = r * 0.85
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            ang = -np.pi / 2 + k * np.pi / 5
            pts.append((cx + rad * np.cos(ang), cy + rad * np.sin(ang)))
        return pts
    if shape == "cross":
        a, b = r, r * 0.36
        return [(cx - b, cy - a), (cx + b, cy - a), (cx + b, cy - b), (cx + a, cy - b), (cx + a, cy + b),
                (cx + b, cy + b), (cx + b, cy + a), (cx - b, cy + a), (cx - b, cy + b), (cx - a, cy + b),
                (cx - a, cy - b), (cx - b, cy - b)]
    return None  # circle


def _outline_for(color: tuple[int, int, int]) -> tuple[int, int, int]:
    # A thin contrasting rim keeps the shape visible on any photo without changing its fill colour.
    return (0, 0, 0) if sum(color) > 300 else (255, 255, 255)


def render_scene(background: np.ndarray, groups: list[dict], size: int) -> np.ndarray:
    """Draw the groups on a (S*SUPERSAMPLE)^2 background and downsample to (size,size,3) uint8.
    Each object's centre and radius are in `group['objects']` in output pixel units."""
    from PIL import Image, ImageDraw

    big = size * SUPERSAMPLE
    canvas = Image.fromarray(background).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for g in groups:
        fill = COLORS[g["color"]]
        rim = _outline_for(fill)
        width = max(1, SUPERSAMPLE // 2)
        for obj in g["objects"]:
            cx, cy, r = obj["cx"] * SUPERSAMPLE, obj["cy"] * SUPERSAMPLE, obj["r"] * SUPERSAMPLE
            poly = _shape_polygon(g["shape"], cx, cy, r)
            if poly is None:
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=rim, width=width)
            else:
                draw.polygon(poly, fill=fill, outline=rim, width=width)
    assert canvas.size == (big, big)
    return np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.uint8)


def _place_group(rng: np.random.Generator, region: tuple[int, int], count: int, size: int) -> list[dict]:
    """`count` non-overlapping objects of one size inside one grid cell (output pixel units). If random
    placement finds no free spot, the whole group is placed again 15% smaller (deterministic: same rng)."""
    cell = size / 3
    r = cell * (0.27 if count == 1 else 0.21 if count == 2 else 0.18) * rng.uniform(0.9, 1.15)
    x0, y0 = region[1] * cell, region[0] * cell
    gap = 0.08 * cell  # keep rims apart so each object's centre pixel shows its own fill colour
    while True:
        objs: list[dict] = []
        for _ in range(count):
            for _attempt in range(100):
                cx = x0 + rng.uniform(r + 0.5, cell - r - 0.5)
                cy = y0 + rng.uniform(r + 0.5, cell - r - 0.5)
                if all((cx - o["cx"]) ** 2 + (cy - o["cy"]) ** 2 >= (2 * r + gap) ** 2 for o in objs):
                    objs.append({"cx": round(float(cx), 3), "cy": round(float(cy), 3), "r": round(float(r), 3)})
                    break
            else:
                break
        if len(objs) == count:
            return objs
        r *= 0.85


def sample_scene(rng: np.random.Generator, size: int) -> list[dict]:
    n_groups = 1 if rng.random() < 0.4 else 2
    cells = list(REGIONS)
    picks = rng.choice(len(cells), size=n_groups, replace=False)
    groups = []
    used: set[tuple[str, str]] = set()
    for k in picks:
        while True:  # two groups never share shape and colour, so each caption names distinct things
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
            color = list(COLORS)[int(rng.integers(len(COLORS)))]
            if (shape, color) not in used:
                used.add((shape, color))
                break
        count = int(rng.integers(1, 4))
        region = cells[int(k)]
        groups.append({"shape": shape, "color": color, "count": count, "region": list(region),
                       "objects": _place_group(rng, region, count, size)})
    # Caption order: reading order (top-left first), as a person would describe the scene.
    groups.sort(key=lambda g: (g["region"][0], g["region"][1]))
    return groups


def list_backgrounds(wallpaper_dir: str | os.PathLike | None = DEFAULT_WALLPAPERS,
                     use_skimage: bool = True) -> list[str]:
    """Background sources, sorted: wallpaper JPEG photos (PNG wallpapers there are mostly abstract art) and
    scikit-image's bundled photos as `skimage:<name>`."""
    out: list[str] = []
    if wallpaper_dir and Path(wallpaper_dir).is_dir():
        out += sorted(str(p) for p in Path(wallpaper_dir).rglob("*")
                      if p.suffix.lower() in (".jpg", ".jpeg") and p.stem not in NOT_PHOTOS)
    if use_skimage:
        out += [f"skimage:{n}" for n in SKIMAGE_PHOTOS]
    return out


def _load_background(name: str, max_side: int) -> np.ndarray:
    from PIL import Image

    if name.startswith("skimage:"):
        import skimage.data

        # Read the bundled file directly: some skimage.data loaders would fetch from the network.
        name = os.path.join(skimage.data.data_dir, name.split(":", 1)[1])
    with open(name, "rb") as f:
        img = decode_image(f.read())
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def _background_crop(rng: np.random.Generator, photo: np.ndarray, big: int) -> np.ndarray:
    from PIL import Image

    h, w = photo.shape[:2]
    side = int(min(h, w) * rng.uniform(0.35, 1.0))
    side = max(8, side)
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(photo[y:y + side, x:x + side])
    return np.asarray(crop.resize((big, big), Image.BICUBIC), dtype=np.uint8)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    storage.write_text_atomic(path, "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows))


def make_benchmark(out: str | os.PathLike, n: int = 3000, size: int = 64, seed: int = 0, test_size: int | None = None,
                   wallpaper_dir: str | os.PathLike | None = DEFAULT_WALLPAPERS, use_skimage: bool = True) -> dict:
    """Write the benchmark set into `out`: images/<id>.png, captions.jsonl (all), train.jsonl, test.jsonl
    (rows `{"id", "image", "caption": [5 captions], "objects": [...], "background"}`), benchmark.json.

    Image i depends only on (seed, i) and the background list, so the set is reproducible and a prefix of a
    larger set equals a smaller one. Returns the benchmark.json summary.
    """
    from PIL import Image

    if n < 2:
        raise ConfigError(f"--n must be at least 2 (one train and one test image), got {n}")
    if size < 16:
        raise ConfigError(f"--size must be at least 16 pixels, got {size}")
    test_size = min(500, max(1, n // 6)) if test_size is None else int(test_size)
    if not 1 <= test_size < n:
        raise ConfigError(f"--test-size must be between 1 and n-1={n - 1}, got {test_size}")
    names = list_backgrounds(wallpaper_dir, use_skimage)
    if not names:
        raise ConfigError("no background photos: run scripts/fetch_wallpapers.sh or allow scikit-image photos")
    big = size * SUPERSAMPLE
    photos = [_load_background(nm, max_side=max(4 * big, 512)) for nm in names]
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        b = int(rng.integers(len(photos)))
        bg = _background_crop(rng, photos[b], big)
        groups = sample_scene(rng, size)
        pixels = render_scene(bg, groups, size)
        image_id = f"{i:06d}"
        rel = f"images/{image_id}.png"
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG", optimize=False)
        storage.write_bytes_atomic(out / rel, buf.getvalue())
        rows.append({"id": image_id, "image": rel, "caption": scene_captions(groups), "objects": groups,
                     "background": names[b] if names[b].startswith("skimage:") else Path(names[b]).name})
        if (i + 1) % 500 == 0:
            log.info("make-image-benchmark: %d/%d images", i + 1, n)
    # Held-out test split: a seeded random subset, so no region of id space is special.
    perm = np.random.default_rng([seed, 2**31 - 1]).permutation(n)
    test_ids = set(int(k) for k in perm[:test_size])
    train_rows = [r for i, r in enumerate(rows) if i not in test_ids]
    test_rows = [r for i, r in enumerate(rows) if i in test_ids]
    _write_jsonl(out / "captions.jsonl", rows)
    _write_jsonl(out / "train.jsonl", train_rows)
    _write_jsonl(out / "test.jsonl", test_rows)
    summary = {
        "version": BENCHMARK_VERSION, "n": n, "size": size, "seed": seed,
        "train": len(train_rows), "test": len(test_rows), "captions_per_image": 5,
        "backgrounds": [{"name": nm if nm.startswith("skimage:") else Path(nm).name,
                         "sha256": None if nm.startswith("skimage:") else storage.sha256_file(nm)} for nm in names],
        "shapes": list(SHAPES), "colors": list(COLORS), "regions": [REGIONS[k] for k in REGIONS],
    }
    (out / "benchmark.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
