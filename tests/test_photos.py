"""protect-photos (issue 18): a real folder of scikit-image photos in JPEG/PNG/WebP, protected with a real frozen
open_clip surrogate (cf-tiny, seeded random weights: these tests check the file handling and the optimization,
not how well a trained surrogate's noise transfers -- that is measured in the notes)."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from corpusforge.unlearnable import frozen, photos
from corpusforge.unlearnable.clip import save_clip
from corpusforge.unlearnable.surrogate import load_surrogate

from skimage import data as skdata  # noqa: E402 - a runtime requirement (requirements.txt)
ROOT = Path(__file__).resolve().parents[1]
LOW_EPS = photos.PRESETS["low"][0]


@pytest.fixture(scope="module")
def surrogate():
    torch.set_num_threads(1)
    return frozen.freeze(load_surrogate("cf-tiny", None, "cpu", 0))


def _srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_folder(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    astro = Image.fromarray(skdata.astronaut()[:300, :, :])  # 512 wide, 300 high
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: displays 300 wide, 512 high
    exif[0x010F] = "TestCam"
    gps = exif.get_ifd(photos.GPS_IFD)
    gps[1], gps[2] = "N", (48.0, 51.0, 30.0)
    astro.save(d / "astronaut.jpg", quality=90, exif=exif, icc_profile=_srgb())
    cat = np.array(Image.fromarray(skdata.chelsea()).convert("RGBA"))
    cat[:, :120, 3] = 0
    Image.fromarray(cat).save(d / "cat.png")
    Image.fromarray(skdata.camera()[::2, ::2]).save(d / "camera_man.png")
    Image.fromarray(skdata.coffee()).save(d / "coffee.webp", quality=90)
    (d / "notes.jpg").write_bytes(b"this is text, named like a photo")
    with open(d / "captions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "caption"])
        w.writerow(["cat.png", "my cat sleeping on the sofa"])
    return d


@pytest.fixture(scope="module")
def protected(tmp_path_factory, surrogate):
    src = make_folder(tmp_path_factory.mktemp("photos") / "in")
    out = src.with_name("out")
    summary = photos.protect_folder(src, out, surrogate, preset="low")
    return src, out, summary


def test_formats_sizes_and_modes_are_kept(protected):
    src, out, summary = protected
    by = {p["file"]: p for p in summary["photos"]}
    assert sorted(by) == ["astronaut.jpg", "camera_man.png", "cat.png", "coffee.webp"]
    with Image.open(out / "astronaut.jpg") as im:
        assert im.format == "JPEG" and im.size == (300, 512)  # EXIF orientation applied to the pixels
    with Image.open(out / "cat.png") as im, Image.open(src / "cat.png") as orig:
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == orig.size
        assert np.array_equal(np.asarray(im)[..., 3], np.asarray(orig)[..., 3])  # alpha untouched
        diff = np.abs(np.asarray(im)[..., :3].astype(int) - np.asarray(orig)[..., :3].astype(int))
        assert 0 < diff.max() <= LOW_EPS + 1  # bounded noise (eps, plus rounding)
    with Image.open(out / "camera_man.png") as im, Image.open(src / "camera_man.png") as orig:
        assert im.mode == "L" and im.size == orig.size  # grayscale stays grayscale
        diff = np.abs(np.asarray(im).astype(int) - np.asarray(orig).astype(int))
        assert 0 < diff.max() <= LOW_EPS + 1
    with Image.open(out / "coffee.webp") as im, Image.open(src / "coffee.webp") as orig:
        assert im.format == "WEBP" and im.size == orig.size
    assert summary["skipped"] == [{"file": "notes.jpg", "reason": "not_an_image"}]
    assert not (out / "notes.jpg").exists()


def test_exif_kept_without_gps_and_icc_kept(protected):
    src, out, summary = protected
    with Image.open(src / "astronaut.jpg") as orig:
        assert photos.GPS_IFD in orig.getexif()
        icc = orig.info["icc_profile"]
    with Image.open(out / "astronaut.jpg") as im:
        exif = im.getexif()
        assert exif[0x010F] == "TestCam"
        assert photos.GPS_IFD not in exif and not exif.get_ifd(photos.GPS_IFD)
        assert exif.get(0x0112) == 1
        assert im.info.get("icc_profile") == icc
    entry = next(p for p in summary["photos"] if p["file"] == "astronaut.jpg")
    assert entry["metadata_removed"] == ["EXIF GPS"] and entry["icc"]


def test_captions_to_post_pair_trigger_with_caption(protected):
    src, out, summary = protected
    rows = list(csv.DictReader(open(out / "captions_to_post.csv", encoding="utf-8")))
    caps = {r["file_name"]: r["caption"] for r in rows}
    trig = summary["trigger"]
    assert len(trig.split()) == photos.TRIGGER_TOKENS
    assert caps["cat.png"] == f"{trig} my cat sleeping on the sofa"  # from the sidecar
    assert caps["camera_man.png"] == f"{trig} camera man"  # from the file name
    assert (out / "captions_to_post.txt").read_text().count("\t") == 4


def test_noise_lowers_the_trigger_caption_loss_and_psnr_matches_budget(protected):
    _, _, summary = protected
    for p in summary["photos"]:
        assert p["loss_after"] < p["loss_before"], p
        assert p["psnr"] >= frozen.psnr_bound(LOW_EPS / 255) - 0.5  # JPEG re-encoding aside, never below bound


def test_same_seed_same_bytes(tmp_path, surrogate, protected):
    src, out, _ = protected
    photos.protect_folder(src, tmp_path / "again", surrogate, preset="low")
    for name in ("cat.png", "camera_man.png", "coffee.webp", "astronaut.jpg"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def test_stronger_preset_moves_pixels_more(tmp_path, surrogate):
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(skdata.chelsea()).save(d / "cat.png")
    Image.fromarray(skdata.coffee()[::2, ::2]).save(d / "coffee.png")
    psnr = {p: photos.protect_folder(d, tmp_path / p, surrogate, preset=p)["photos"][0]["psnr"]
            for p in ("low", "high")}
    assert psnr["high"] < psnr["low"]


def test_sniffing_refuses_disguised_and_truncated_files(tmp_path):
    png = io.BytesIO()
    Image.fromarray(skdata.camera()).save(png, format="PNG")
    assert photos.sniff(png.getvalue()) == "PNG"
    assert photos.sniff(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20) is None
    assert photos.sniff(b"GIF89a" + b"\x00" * 50) is None
    with pytest.raises(photos.ImageError) as e:
        photos.decode_photo(b"<html>hi</html>", Path("x.jpg"))
    assert e.value.reason == "not_an_image"
    with pytest.raises(photos.ImageError) as e:
        photos.decode_photo(png.getvalue(), Path("camera.png"), max_pixels=1000)
    assert e.value.reason == "image_too_large"


def test_cli_preview_then_folder(tmp_path):
    src = make_folder(tmp_path / "in")
    ckpt = tmp_path / "surrogate.pt"
    torch.manual_seed(0)
    model = load_surrogate("cf-tiny", None, "cpu", 0).model
    save_clip(model, ckpt)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    base = [sys.executable, "-m", "corpusforge.cli", "protect-photos", str(src), "--checkpoint", str(ckpt),
            "--preset", "low", "--out", str(tmp_path / "out"), "--threads", "1"]
    r = subprocess.run(base + ["--preview", str(src / "cat.png")], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "PSNR" in r.stdout and "for the 4 photos" in r.stdout  # notes.jpg is text: not counted
    for name in ("original.png", "protected.png", "difference.png"):
        with Image.open(tmp_path / "out" / "preview" / name) as im:
            assert im.size == (451, 300)
    assert not (tmp_path / "out" / "cat.png").exists()  # a preview protects nothing else
    r = subprocess.run(base, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "GPS location removed" in r.stdout and "TOGETHER" in r.stdout and "skipped notes.jpg" in r.stdout
    assert "protect-photos in (low): started (4 photos)" in r.stderr and "protect-photos in (low): done" in r.stderr
    assert (tmp_path / "out" / "coffee.webp").is_file()


def test_missing_surrogate_says_how_to_build_it(tmp_path, monkeypatch):
    from corpusforge.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        frozen.load_frozen(tmp_path / "nope.pt")
    monkeypatch.setattr(frozen, "DEFAULT_CHECKPOINT", tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="scripts/build_surrogate.py"):
        frozen.load_frozen()
