"""Image-caption reading (quarantine of bad records, mode conversion), the benchmark generator, and metrics."""
from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from corpusforge.config import ConfigError
from corpusforge.unlearnable.data import (
    COLORS, REGIONS, decode_image, load_pairs, make_benchmark, scene_captions, write_quarantine,
)
from corpusforge.unlearnable.metrics import chance_levels, fidelity, psnr, retrieval_metrics, ssim

torch.set_num_threads(1)


def _png(arr: np.ndarray, mode: str | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(buf, format="PNG", **kw)
    return buf.getvalue()


@pytest.fixture()
def mixed_folder(tmp_path: Path) -> Path:
    """A folder of real and broken images with a JSONL captions file covering every quarantine case."""
    coffee = skdata.coffee()[::8, ::8].copy()  # a real photo, 50x75
    (tmp_path / "good.png").write_bytes(_png(coffee))
    good_jpeg = io.BytesIO()
    Image.fromarray(skdata.chelsea()[::6, ::6].copy()).save(good_jpeg, format="JPEG", quality=90)
    (tmp_path / "cat.jpg").write_bytes(good_jpeg.getvalue())
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 200  # red, but fully transparent on the left half -> white after compositing
    rgba[:, 10:, 3] = 255
    (tmp_path / "rgba.png").write_bytes(_png(rgba, "RGBA"))
    gray = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))
    (tmp_path / "gray.png").write_bytes(_png(gray, "L"))
    pal = Image.fromarray(coffee).convert("P", palette=Image.ADAPTIVE, colors=16)
    buf = io.BytesIO()
    pal.save(buf, format="PNG")
    (tmp_path / "palette.png").write_bytes(buf.getvalue())
    cmyk = io.BytesIO()
    Image.fromarray(coffee).convert("CMYK").save(cmyk, format="JPEG")
    (tmp_path / "cmyk.jpg").write_bytes(cmyk.getvalue())
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    full = _png(coffee)
    (tmp_path / "truncated.png").write_bytes(full[: len(full) // 2])
    (tmp_path / "big.png").write_bytes(_png(np.zeros((300, 400, 3), np.uint8)))
    rows = [
        {"id": "good", "image": "good.png", "caption": ["a cup of coffee", "coffee on a saucer"]},
        {"id": "cat", "image": "cat.jpg", "caption": "a tabby cat"},
        {"id": "rgba", "image": "rgba.png", "caption": "half red square"},
        {"id": "gray", "image": "gray.png", "caption": "a gray ramp"},
        {"id": "palette", "image": "palette.png", "caption": "coffee, 16 colours"},
        {"id": "cmyk", "image": "cmyk.jpg", "caption": "coffee in cmyk"},
        {"id": "corrupt", "image": "corrupt.png", "caption": "broken"},
        {"id": "truncated", "image": "truncated.png", "caption": "cut in half"},
        {"id": "big", "image": "big.png", "caption": "too many pixels"},
        {"id": "missing", "image": "nope.png", "caption": "no file"},
        {"id": "empty", "image": "good.png", "caption": ["", "   "]},
        {"id": "noimage", "caption": "no image field"},
        {"id": "good", "image": "good.png", "caption": "a third caption for the coffee"},
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(5, "{not json")
    (tmp_path / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_quarantine_reasons_and_conversions(mixed_folder: Path, tmp_path_factory):
    loaded = load_pairs(mixed_folder, max_pixels=100_000, size=16)
    good = {p.image_id: p for p in loaded.pairs}
    assert sorted(good) == ["cat", "cmyk", "good", "gray", "palette", "rgba"]
    reasons = {q.doc_id: q.error.split(":")[0] for q in loaded.quarantined}
    assert reasons == {
        "corrupt": "image_corrupt", "truncated": "image_truncated", "big": "image_too_large",
        "missing": "image_missing_file", "empty": "empty_caption", "noimage": "missing_image",
        None: "unparseable_row",
    }
    # every row read is accounted for: 14 rows = 6 kept (one merged from 2 rows) + 7 quarantined
    assert loaded.rows_read == 14
    assert len(loaded.pairs) + len(loaded.quarantined) + 1 == loaded.rows_read
    # several captions per image, merged across rows, in order, no duplicates
    assert good["good"].captions == ["a cup of coffee", "coffee on a saucer", "a third caption for the coffee"]
    for p in loaded.pairs:
        assert p.pixels.shape == (16, 16, 3) and p.pixels.dtype == np.uint8


def test_mode_conversions_at_full_resolution(mixed_folder: Path):
    loaded = load_pairs(mixed_folder, max_pixels=100_000, size=None)
    by_id = {p.image_id: p for p in loaded.pairs}
    rgba = np.asarray(decode_image(by_id["rgba"].read_bytes()))
    assert rgba.shape == (20, 20, 3)
    assert (rgba[:, :10] == 255).all()  # transparent -> composited on white
    assert (rgba[:, 10:] == (200, 0, 0)).all()  # opaque red kept
    gray = np.asarray(decode_image(by_id["gray"].read_bytes()))
    assert gray.shape == (5, 25, 3) and (gray[..., 0] == gray[..., 2]).all()
    assert gray[0, 3, 0] == 30
    cmyk = np.asarray(decode_image(by_id["cmyk"].read_bytes()))
    coffee = skdata.coffee()[::8, ::8].astype(float)
    assert cmyk.shape == coffee.shape and np.abs(cmyk - coffee).mean() < 20  # colours survive CMYK -> RGB
    pal = np.asarray(decode_image(by_id["palette"].read_bytes()))
    assert pal.shape == coffee.shape and np.abs(pal - coffee).mean() < 25


def test_sixteen_bit_gray_is_rescaled():
    arr = np.array([[0, 1000, 65535]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    out = np.asarray(decode_image(buf.getvalue()))
    assert out.shape == (1, 3, 3)
    assert out[0, 0, 0] == 0 and out[0, 2, 0] == 255 and 0 < out[0, 1, 0] < 10


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height; its pixel data is a stub (never needed: refused first)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    # 60000 x 60000 = 3.6 GP claimed by a ~100-byte file: refused from the header, nothing decoded.
    with pytest.raises(ValueError, match="image_too_large"):
        decode_image(_png_header_only(60000, 60000), max_pixels=50_000_000)
    # Pillow's own bomb guard (2x its MAX_IMAGE_PIXELS) is also turned into a quarantine reason, not a crash
    with pytest.raises(ValueError, match="image_too_large"):
        decode_image(_png_header_only(60000, 60000), max_pixels=10**12)


def test_quarantine_jsonl_is_bounded_and_sorted(mixed_folder: Path, tmp_path_factory):
    loaded = load_pairs(mixed_folder, max_pixels=100_000)
    out = tmp_path_factory.mktemp("q") / "quarantine.jsonl"
    write_quarantine(out, loaded.quarantined)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in recs] == sorted(r["line"] for r in recs)
    bad_row = next(r for r in recs if r["error"].startswith("unparseable_row"))
    assert base64.b64decode(bad_row["raw_base64"]).strip() == b"{not json"
    assert all(r["stage"] == "read" for r in recs)


def test_csv_and_parquet_inputs(tmp_path: Path):
    img = skdata.astronaut()[::16, ::16].copy()
    (tmp_path / "a.png").write_bytes(_png(img))
    (tmp_path / "pairs.csv").write_text(
        "id,image,caption\nastro,a.png,an astronaut\nastro,a.png,a woman in a space suit\nx,a.png,\n")
    loaded = load_pairs(tmp_path / "pairs.csv")
    assert [(p.image_id, p.captions) for p in loaded.pairs] == [("astro", ["an astronaut", "a woman in a space suit"])]
    assert [q.error.split(":")[0] for q in loaded.quarantined] == ["empty_caption"]

    table = pa.table({
        # Hugging Face datasets layout (struct of bytes + path) next to a corrupt blob
        "image": [{"bytes": _png(img), "path": "a.png"}, {"bytes": b"not an image", "path": "b.png"}],
        "caption": [["an astronaut", "nasa portrait"], ["junk"]],
    })
    pq.write_table(table, tmp_path / "pairs.parquet")
    loaded = load_pairs(tmp_path / "pairs.parquet", size=8)
    assert len(loaded.pairs) == 1 and loaded.pairs[0].captions == ["an astronaut", "nasa portrait"]
    assert loaded.pairs[0].pixels.shape == (8, 8, 3)
    assert loaded.quarantined[0].error.startswith("image_corrupt") and loaded.quarantined[0].raw


def test_missing_source_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_pairs(tmp_path / "nothing.jsonl")
    with pytest.raises(ConfigError, match="no captions file"):
        load_pairs(tmp_path)


# ------------------------------------------------------------------------------------------ benchmark
@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    # scikit-image photos only: the test must not depend on what fetch_wallpapers.sh left in the cache
    make_benchmark(out, n=24, size=48, seed=3, test_size=6, wallpaper_dir=None)
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_benchmark_is_deterministic(bench: Path, tmp_path: Path):
    make_benchmark(tmp_path / "again", n=24, size=48, seed=3, test_size=6, wallpaper_dir=None)
    assert _digest(tmp_path / "again") == _digest(bench)
    make_benchmark(tmp_path / "other", n=24, size=48, seed=4, test_size=6, wallpaper_dir=None)
    assert (tmp_path / "other/images/000000.png").read_bytes() != (bench / "images/000000.png").read_bytes()


def test_benchmark_splits_and_readable(bench: Path):
    rows = [json.loads(line) for line in (bench / "captions.jsonl").read_text().splitlines()]
    train = [json.loads(line)["id"] for line in (bench / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line)["id"] for line in (bench / "test.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and len(test) == 6 and len(train) == 18
    assert set(train).isdisjoint(test) and set(train) | set(test) == {r["id"] for r in rows}
    loaded = load_pairs(bench / "train.jsonl", size=48)
    assert len(loaded.pairs) == 18 and not loaded.quarantined
    assert all(len(p.captions) == 5 for p in loaded.pairs)


def test_captions_match_rendered_pixels(bench: Path):
    """Every object named in a caption is drawn in its colour, inside the grid cell the caption names."""
    rows = [json.loads(line) for line in (bench / "captions.jsonl").read_text().splitlines()]
    checked = 0
    for r in rows:
        pixels = np.asarray(Image.open(bench / r["image"]).convert("RGB")).astype(int)
        size = pixels.shape[0]
        for g in r["objects"]:
            word_count = {1: ("a ", "one "), 2: ("two ",), 3: ("three ",)}[g["count"]]
            assert g["color"] in r["caption"][0] and g["shape"] in r["caption"][0]
            assert any(w + g["color"] in r["caption"][0] for w in word_count)
            assert REGIONS[tuple(g["region"])] in " ".join(r["caption"])
            assert len(g["objects"]) == g["count"]
            for o in g["objects"]:
                # the object's centre lies in its grid cell, and its pixel has the named colour
                assert int(o["cy"] // (size / 3)) == g["region"][0] and int(o["cx"] // (size / 3)) == g["region"][1]
                centre = pixels[int(o["cy"]), int(o["cx"])]  # pixel j covers [j, j+1)
                dists = {name: np.abs(centre - np.array(rgb)).sum() for name, rgb in COLORS.items()}
                assert min(dists, key=dists.get) == g["color"], (r["id"], g, centre.tolist())
                checked += 1
    assert checked >= 24


def test_scene_captions_templates():
    groups = [{"shape": "circle", "color": "red", "count": 2, "region": [1, 0]},
              {"shape": "square", "color": "blue", "count": 1, "region": [0, 2]}]
    caps = scene_captions(groups)
    assert caps[0] == "two red circles on the left and a blue square at the top right"
    assert len(set(caps)) == 5 and all("red" in c and "blue" in c for c in caps)


# ------------------------------------------------------------------------------------------ metrics
def test_retrieval_metrics_hand_made():
    # 3 images, captions: img0 has 2, img1 has 1, img2 has 2. Embeddings are one-hot so similarities are exact.
    img = np.eye(4)[:3]
    owner = [0, 0, 1, 2, 2]
    txt = np.stack([np.eye(4)[1],  # img0 caption 0 points at img1 (wrong)
                    np.eye(4)[0],  # img0 caption 1 right
                    np.eye(4)[3],  # img1's caption points nowhere: ties with every image
                    np.eye(4)[2], np.eye(4)[2]])
    m = retrieval_metrics(img, txt, owner)
    # t2i ranks: cap0 -> img1 beats img0, ties img2 (pessimistic): rank 3; cap1 rank 1; cap2 all tie: rank 3;
    # cap3, cap4 rank 1.
    assert m["t2i_R@1"] == pytest.approx(3 / 5)
    assert m["t2i_median_rank"] == 1.0 and m["t2i_mean_rank"] == pytest.approx((3 + 1 + 3 + 1 + 1) / 5)
    # i2t: img0's best caption (cap1) is first; img1: its caption scores 0, and cap0 (1.0) plus 3 others scoring
    # 0 tie -> pessimistic rank 5; img2: rank 1.
    assert m["i2t_R@1"] == pytest.approx(2 / 3)
    assert m["i2t_median_rank"] == 1.0 and m["i2t_mean_rank"] == pytest.approx((1 + 5 + 1) / 3)
    assert m["i2t_R@5"] == 1.0


def test_collapsed_features_score_nothing():
    img = np.ones((10, 4)) / 2
    txt = np.ones((20, 4)) / 2
    m = retrieval_metrics(img, txt, np.repeat(np.arange(10), 2))
    assert m["t2i_R@1"] == 0.0 and m["i2t_R@1"] == 0.0


def test_chance_levels_match_random_embeddings():
    n, c = 200, 5
    ch = chance_levels(n, [c] * n)
    assert ch["t2i_R@1"] == pytest.approx(1 / n)
    assert ch["i2t_R@1"] == pytest.approx(c / (n * c))
    assert ch["i2t_R@10"] == pytest.approx(1 - np.prod([(n * c - c - j) / (n * c - j) for j in range(10)]))
    rng = np.random.default_rng(0)
    r10 = []
    for _ in range(20):
        m = retrieval_metrics(rng.normal(size=(n, 16)), rng.normal(size=(n * c, 16)), np.repeat(np.arange(n), c))
        r10.append(m["i2t_R@10"])
    assert np.mean(r10) == pytest.approx(ch["i2t_R@10"], abs=0.02)


def test_psnr_ssim():
    a = skdata.astronaut()[::8, ::8].copy()
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).choice([-8, 8], size=a.shape), 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - noisy) ** 2)
    assert psnr(a, noisy) == pytest.approx(10 * np.log10(255 ** 2 / mse))
    assert 0.5 < ssim(a, noisy) < 1.0
    f = fidelity([a, a], [a, noisy])
    assert f["psnr_mean"] == pytest.approx(psnr(a, noisy)) and len(f["ssim"]) == 2
