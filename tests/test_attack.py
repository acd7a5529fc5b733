"""The shared CLIP module and `corpusforge verify-protection`, end to end with a real (tiny) open_clip CLIP."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from corpusforge.cli import main
from corpusforge.config import ConfigError
from corpusforge.unlearnable.attack import verify_protection
from corpusforge.unlearnable.clip import (
    TensorPairs, build_clip, clip_loss, encode_batch, save_clip, train_clip,
)
from corpusforge.unlearnable.data import make_benchmark
from corpusforge.unlearnable.robustness import jpeg_reencode

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    make_benchmark(out, n=40, size=64, seed=0, test_size=10, wallpaper_dir=None)
    return out


def test_build_clip_models_and_tokenizer():
    model, tok, size = build_clip("cf-tiny", seed=0)
    assert size == 64 and model.context_length == 32
    ids = tok(["two red circles on the left"])
    assert ids.shape == (1, 32) and int(ids[0, 0]) == tok.sot_token_id
    # same seed -> same weights; another seed -> different
    again, _, _ = build_clip("cf-tiny", seed=0)
    other, _, _ = build_clip("cf-tiny", seed=1)
    w = "visual.conv1.weight"
    assert torch.equal(model.state_dict()[w], again.state_dict()[w])
    assert not torch.equal(model.state_dict()[w], other.state_dict()[w])
    rn, _, rn_size = build_clip("cf-small-rn", seed=0)
    assert rn_size == 64 and type(rn.visual).__name__ == "ModifiedResNet"
    with pytest.raises(ConfigError, match="unknown CLIP model"):
        build_clip("no-such-model")


def test_checkpoint_round_trip_and_errors(tmp_path: Path):
    model, tok, size = build_clip("cf-tiny", seed=3)
    save_clip(model, tmp_path / "w.pt")
    loaded, _, _ = build_clip("cf-tiny", checkpoint=str(tmp_path / "w.pt"), seed=99)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    with pytest.raises(ConfigError, match="does not exist"):
        build_clip("cf-tiny", checkpoint=str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="same architecture"):
        build_clip("cf-small-rn", checkpoint=str(tmp_path / "w.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not load"):
        build_clip("cf-tiny", checkpoint=str(tmp_path / "junk.pt"))


def test_encode_batch_normalizes_and_loss_is_symmetric():
    model, tok, size = build_clip("cf-tiny", seed=0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, size, size, generator=g)
    t = tok(["a red circle", "a blue square", "two stars", "a green cross"])
    with torch.no_grad():
        img_f, txt_f, scale = encode_batch(model, x, t)
    assert torch.allclose(img_f.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert torch.allclose(txt_f.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert float(scale) == pytest.approx(1 / 0.07, rel=1e-4)  # CLIP's initial temperature
    loss = clip_loss(img_f, txt_f, scale)
    assert float(loss) == pytest.approx(float(clip_loss(txt_f, img_f, scale)), rel=1e-6)
    # perfectly aligned features drive the loss towards zero
    assert float(clip_loss(img_f, img_f, torch.tensor(100.0))) < float(loss)


def test_train_clip_is_deterministic_and_learns():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 64, 64)
    results = []
    for _ in range(2):
        model, tok, _ = build_clip("cf-tiny", seed=0)
        t = tok([f"picture number {i}" for i in range(16)])
        r = train_clip(model, (x, t), steps=12, batch_size=16, lr=2e-3, seed=5, progress=False)
        results.append((r["losses"], model.state_dict()["visual.proj"].clone()))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])
    assert np.mean(results[0][0][-3:]) < results[0][0][0]  # 16 fixed pairs are memorized quickly


def test_train_clip_accepts_a_batch_callable_and_several_captions():
    model, tok, _ = build_clip("cf-tiny", seed=0)
    x = torch.rand(8, 3, 64, 64)
    tokens = tok([f"caption {j}" for j in range(16)])
    owner = torch.arange(8).repeat_interleave(2)
    pairs = TensorPairs(x, tokens, owner)
    batch = next(pairs.batches(4, torch.Generator().manual_seed(0)))
    assert batch[0].shape == (4, 3, 64, 64) and batch[1].shape == (4, 32)
    seen = []

    def batch_fn(step):  # how the min-min loop feeds its current protected batch
        seen.append(step)
        return x[:4], tokens[:4]

    r = train_clip(model, batch_fn, steps=3, batch_size=4, progress=False)
    assert seen == [0, 1, 2] and len(r["losses"]) == 3
    # continuing with the returned optimizer keeps AdamW state
    r2 = train_clip(model, pairs, steps=2, batch_size=4, optimizer=r["optimizer"], progress=False)
    assert r2["optimizer"] is r["optimizer"]


def test_jpeg_reencode_changes_pixels_a_little():
    from skimage import data as skdata

    img = skdata.astronaut()[::8, ::8].copy()
    out = jpeg_reencode(img, 75).astype(int)
    diff = np.abs(out - np.asarray(img).astype(int))
    assert out.shape == (64, 64, 3) and 0 < diff.mean() < 20


def test_verify_protection_cli_end_to_end(bench: Path, tmp_path: Path, capsys):
    out = tmp_path / "attack"
    rc = main(["verify-protection", "--train", str(bench), "--test", str(bench), "--out", str(out),
               "--steps", "4", "--batch-size", "8", "--jpeg-quality", "75", "--threads", "1", "--save-model"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "image->text" in printed and "chance" in printed
    report = json.loads((out / "metrics.json").read_text())
    # the benchmark folder's split files are used, never captions.jsonl (which holds the test images too)
    assert report["config"]["train"].endswith("train.jsonl") and report["config"]["test"].endswith("test.jsonl")
    assert report["train"]["pairs"] == 30 and report["train"]["captions"] == 150
    assert report["train"]["id_overlap_with_test"] == 0
    test = report["test"]
    assert test["n_images"] == 10 and test["n_texts"] == 50
    for d in ("i2t", "t2i"):
        rs = [test[f"{d}_R@{k}"] for k in (1, 5, 10)]
        assert all(0.0 <= r <= 1.0 for r in rs) and rs == sorted(rs)
        assert test["chance"][f"{d}_R@1"] > 0
    assert test["chance"]["t2i_R@1"] == pytest.approx(1 / 10)
    assert test["t2i_R@10"] == 1.0  # 10 test images: every caption's image is within the top 10
    assert (out / "attacker.pt").is_file() and (out / "quarantine" / "train.jsonl").is_file()
    reloaded, _, _ = build_clip("cf-tiny", checkpoint=str(out / "attacker.pt"))
    assert reloaded is not None


def test_verify_protection_quarantines_bad_training_images(bench: Path, tmp_path: Path):
    rows = [json.loads(line) for line in (bench / "train.jsonl").read_text().splitlines()][:6]
    for r in rows:
        r["image"] = str(bench / r["image"])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    rows.append({"id": "broken", "image": str(tmp_path / "broken.png"), "caption": "a red circle"})
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = verify_protection(str(tmp_path / "train.jsonl"), str(bench), str(tmp_path / "out"), steps=2,
                               batch_size=4, grayscale=True, progress=False)
    assert report["train"]["pairs"] == 6 and report["train"]["quarantined"] == 1
    q = [json.loads(line) for line in (tmp_path / "out" / "quarantine" / "train.jsonl").read_text().splitlines()]
    assert q[0]["doc_id"] == "broken" and q[0]["error"].startswith("image_corrupt")
    with pytest.raises(ConfigError, match="jpeg-quality"):
        verify_protection(str(tmp_path / "train.jsonl"), str(bench), None, steps=1, jpeg_quality=0)


def test_train_test_overlap_is_an_error_unless_allowed(bench: Path, tmp_path: Path):
    # captions.jsonl holds every image, the test split too: retrieval would then measure memorization.
    with pytest.raises(ConfigError, match="not held-out"):
        verify_protection(str(bench / "captions.jsonl"), str(bench), None, steps=1, batch_size=4, progress=False)
    assert main(["verify-protection", "--train", str(bench / "captions.jsonl"), "--test", str(bench), "--out",
                 str(tmp_path / "o"), "--steps", "1", "--batch-size", "4", "--threads", "1"]) == 2
    report = verify_protection(str(bench / "captions.jsonl"), str(bench), None, steps=1, batch_size=4,
                               progress=False, allow_overlap=True)
    assert report["train"]["id_overlap_with_test"] == 10


def test_downscale_view_blurs_what_the_attacker_trains_on(bench: Path):
    from corpusforge.unlearnable.attack import scraper_transform

    img = Image.fromarray(np.asarray(Image.open(next((bench / "images").glob("*.png"))).convert("RGB")))
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(np.clip(np.asarray(img).astype(int) + rng.integers(-8, 9, (64, 64, 3)), 0, 255)
                            .astype(np.uint8))

    def hf_energy(im):  # energy of the pixel-to-pixel differences: where +-8/255 noise lives
        a = np.asarray(im).astype(float)
        return float((np.diff(a, axis=0) ** 2).mean() + (np.diff(a, axis=1) ** 2).mean())

    out = scraper_transform(None, False, downscale=0.5)(noisy)
    assert out.size == noisy.size and hf_energy(out) < 0.6 * hf_energy(noisy)
    with pytest.raises(ConfigError, match="downscale"):
        verify_protection(str(bench), str(bench), None, steps=1, downscale=1.5)


def test_limit_threads_never_exceeds_the_available_cores():
    from corpusforge.unlearnable.clip import available_cores, limit_threads

    before = torch.get_num_threads()
    try:
        cores = available_cores()
        assert limit_threads(cores + 7) == cores and torch.get_num_threads() == cores
        assert limit_threads(1) == 1 and torch.get_num_threads() == 1
        assert limit_threads(None) == cores
    finally:
        torch.set_num_threads(before)


def test_shipped_model_configs_match_the_documented_shapes():
    """clip.py's docstring states the shipped architectures; build them and compare."""
    import corpusforge.unlearnable.clip as clip_mod

    tiny, _, _ = build_clip("cf-tiny", seed=0)
    assert type(tiny.visual).__name__ == "VisionTransformer" and tiny.visual.patch_size == (8, 8)
    assert len(tiny.visual.transformer.resblocks) == 2 and tiny.visual.transformer.width == 96
    assert len(tiny.transformer.resblocks) == 2 and tiny.transformer.width == 96 and tiny.context_length == 32
    assert "2 layers of width 96" in clip_mod.__doc__
    rn, _, size = build_clip("cf-tiny-rn", seed=0)
    assert type(rn.visual).__name__ == "ModifiedResNet" and size == 64 and rn.transformer.width == 96
