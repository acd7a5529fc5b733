"""`corpusforge protect` end to end: real photos, the tiny open_clip surrogate, PNG/caption outputs, quarantine,
conservation, report, no-redo of a finished run, resume after an interruption."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from corpusforge.cli import main
from corpusforge.config import ConfigError, ProtectConfig, load_config
from corpusforge.unlearnable.protect import protect

torch.set_num_threads(1)

PHOTOS = [
    ("astronaut", ["an astronaut in an orange suit", "a woman in a space suit"], skdata.astronaut, (64, 64)),
    ("coffee", ["a cup of coffee on a saucer"], skdata.coffee, (80, 53)),
    ("cat", ["a tabby cat looking at the camera"], skdata.chelsea, (60, 40)),
    ("rocket", ["a rocket standing on the launch pad"], skdata.rocket, (48, 72)),
    ("cells", ["stained cells under a microscope"], skdata.immunohistochemistry, (50, 50)),
    ("camera", ["a man with a camera on a tripod"], lambda: np.stack([skdata.camera()] * 3, -1), (40, 40)),
]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    (d / "img").mkdir()
    rows = []
    for name, caps, f, size in PHOTOS:
        Image.fromarray(f()).convert("RGB").resize(size, Image.BICUBIC).save(d / "img" / f"{name}.jpg", quality=95)
        rows.append(json.dumps({"id": name, "image": f"img/{name}.jpg", "caption": caps}))
    (d / "img" / "broken.jpg").write_bytes(b"not a jpeg at all")
    rows.append(json.dumps({"id": "broken", "image": "img/broken.jpg", "caption": "a picture that is not there"}))
    rows.append(json.dumps({"id": "nocap", "image": "img/cat.jpg", "caption": "   "}))
    rows.append("{this is not json")
    (d / "train.jsonl").write_text("\n".join(rows) + "\n")
    return d


def config(pairs, out, **kw):
    overrides = [f"input.paths=[{pairs / 'train.jsonl'}]", f"output.dir={out}", "rounds=2", "surrogate_steps=4",
                 "pgd_steps=2", "trigger_rounds=1", "hotflip_topk=4", "batch_size=8", "num_threads=1"]
    overrides += [f"{k}={v}" for k, v in kw.items()]
    return load_config("configs/protect.yaml", overrides, model=ProtectConfig)


def test_protect_end_to_end(pairs, tmp_path, caplog):
    caplog.set_level("INFO", logger="corpusforge.progress")
    out = tmp_path / "run"
    # --input may name the folder holding the captions file (this crashed hashing the folder for the manifest).
    rc = main(["protect", "--config", "configs/protect.yaml", "--input", str(pairs),
               "--output", str(out), "--set", "rounds=2", "--set", "surrogate_steps=4", "--set", "pgd_steps=2",
               "--set", "trigger_rounds=1", "--set", "hotflip_topk=4", "--set", "num_threads=1"])
    assert rc == 0
    # Progress (issue 16): image decoding and the rounds, each with a start and a finish line.
    lines = [r.getMessage() for r in caplog.records if r.name == "corpusforge.progress"]
    assert any(m.startswith("protect: decoding images: started (7 images)") for m in lines), lines
    assert any(m.startswith("protect (mem, 6 images): done, 2 rounds,") for m in lines), lines
    stats = json.loads((out / "stats.json").read_text())
    assert stats["conservation"]["ok"] and stats["in"] == 9
    assert stats["protected"] == 6 and stats["quarantined"] == 3
    reasons = {json.loads(line)["error"].split(":")[0] for line in (out / "quarantine/quarantine.jsonl").open()}
    assert len(reasons) == 3 and {"empty_caption", "unparseable_row"} < reasons
    assert any(r.startswith("image_") for r in reasons)  # the broken JPEG, from data.decode_image

    rows = [json.loads(line) for line in (out / "captions.jsonl").open()]
    assert [r["id"] for r in rows] == [p[0] for p in PHOTOS]
    triggers = set()
    for (name, caps, _, size), row in zip(PHOTOS, rows):
        orig = np.asarray(Image.open(pairs / "img" / f"{name}.jpg").convert("RGB")).astype(int)
        prot = np.asarray(Image.open(out / row["image"])).astype(int)  # reloaded after 8-bit PNG
        assert prot.shape == orig.shape  # same size as the input
        assert np.abs(prot - orig).max() <= 8 and np.abs(prot - orig).max() > 0
        assert len(row["trigger"].split()) == 3
        assert row["caption"] == [f"{row['trigger']} {c}" for c in caps]  # plain text, trigger first
        triggers.add(row["trigger"])
    assert len(triggers) == len(PHOTOS)  # one trigger per image
    with open(out / "captions.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == sum(len(p[1]) for p in PHOTOS)

    report = json.loads((out / "report.json").read_text())
    assert report["eps_255"] == 8 and report["summary"]["max_abs_diff_255"] <= 8
    assert all(p["psnr"] > 30 and p["ssim"] > 0.5 for p in report["per_image"])
    assert {"clean", "protected_png", "protected_jpeg75"} <= set(report["surrogate_eval"])
    assert len(report["curves"]["surrogate_loss"]) == 2
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "protect" and manifest["inputs"][0]["sha256"]
    assert manifest["inputs"][0]["path"].endswith("train.jsonl")
    assert (out / "_SUCCESS").exists()
    # Checkpoints (image cache, int8 noise) are removed once the run is complete; the outputs stay.
    assert not (out / "_work").exists()

    # A finished run is not redone: outputs untouched.
    before = (out / "images" / "cat.png").stat().st_mtime_ns
    assert main(["protect", "--config", "configs/protect.yaml", "--input", str(pairs / "train.jsonl"),
                 "--output", str(out), "--set", "rounds=2", "--set", "surrogate_steps=4", "--set", "pgd_steps=2",
                 "--set", "trigger_rounds=1", "--set", "hotflip_topk=4", "--set", "num_threads=1"]) == 0
    assert (out / "images" / "cat.png").stat().st_mtime_ns == before
    # A different config on the same dir is refused.
    with pytest.raises(ConfigError, match="different config"):
        protect(config(pairs, out, eps=0.01))


@pytest.mark.parametrize("kw", [{"method": "em"}, {"noise_groups": 2}])
def test_interrupted_run_resumes_to_the_same_bytes(pairs, tmp_path, kw):
    full, cut = tmp_path / "full", tmp_path / "cut"
    protect(config(pairs, full, **kw))
    partial = protect(config(pairs, cut, **kw), stop_after_round=0)
    assert partial["round_done"] == 0 and not (cut / "_SUCCESS").exists()
    protect(config(pairs, cut, **kw))
    for name, *_ in PHOTOS:
        assert (full / "images" / f"{name}.png").read_bytes() == (cut / "images" / f"{name}.png").read_bytes()
    assert (full / "captions.jsonl").read_bytes() == (cut / "captions.jsonl").read_bytes()
    if "noise_groups" in kw:  # class-wise: two noises, two triggers, shared by the images of each caption cluster
        rows = [json.loads(line) for line in (full / "captions.jsonl").open()]
        assert len({r["trigger"] for r in rows}) == 2


def test_too_few_usable_pairs_names_the_file_with_the_errors(pairs, tmp_path):
    rows = [json.dumps({"id": "cat", "image": str(pairs / "img" / "cat.jpg"), "caption": "a cat"}),
            json.dumps({"id": "broken", "image": str(pairs / "img" / "broken.jpg"), "caption": "nothing"}),
            json.dumps({"id": "gone", "image": str(pairs / "img" / "missing.jpg"), "caption": "not there"})]
    (tmp_path / "few.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    c = load_config("configs/protect.yaml", [f"input.paths=[{tmp_path / 'few.jsonl'}]", f"output.dir={out}",
                                             "num_threads=1"], model=ProtectConfig)
    with pytest.raises(ConfigError, match="quarantine.jsonl") as err:
        protect(c)
    qfile = out / "quarantine" / "quarantine.jsonl"
    assert str(qfile) in str(err.value)
    errors = {json.loads(line)["doc_id"]: json.loads(line)["error"] for line in qfile.open()}
    assert set(errors) == {"broken", "gone"} and all(e.startswith("image_") for e in errors.values())


def test_noise_at_higher_resolution_leaves_no_block_grid(tmp_path):
    """A 512 px photo protected by a 64 px noise (the model's input) shows the upsampling grid: the
    difference map's curvature piles up at one phase of the 8 px period. Optimized at 256 px (noise_size)
    and seen by the surrogate through an antialiased downsample, it does not."""
    d = tmp_path / "big"
    d.mkdir()
    rows = []
    for name, f in (("astronaut", skdata.astronaut), ("coffee", skdata.coffee), ("cat", skdata.chelsea)):
        Image.fromarray(f()).convert("RGB").resize((512, 512), Image.BICUBIC).save(d / f"{name}.png")
        rows.append(json.dumps({"id": name, "image": f"{name}.png", "caption": f"a photo of a {name}"}))
    (d / "captions.jsonl").write_text("\n".join(rows) + "\n")
    scores = {}
    for noise_size in (64, 256):
        c = load_config("configs/protect.yaml", [
            f"input.paths=[{d / 'captions.jsonl'}]", f"output.dir={tmp_path / str(noise_size)}", "rounds=1",
            "surrogate_steps=1", "pgd_steps=8", "trigger_rounds=0", "num_threads=1", "eot.enabled=false",
            f"noise_size={noise_size}"], model=ProtectConfig)
        protect(c)
        report = json.loads((tmp_path / str(noise_size) / "report.json").read_text())
        assert report["noise_size"] == noise_size and report["surrogate_image_size"] == 64
        assert report["summary"]["max_abs_diff_255"] <= 8
        scores[noise_size] = report["summary"]["block_score_max"]
    assert scores[64] > 1.4  # measured 1.69: the 8 px grid of a bilinearly upsampled 64 px noise
    assert scores[256] < 1.15  # measured 1.00: no structure at the 2 px period of the 256 px noise
