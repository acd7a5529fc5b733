"""Partial-protection experiment (issue 18, item 2): an attacker CLIP trained on 1,000 clean benchmark pairs
plus an owner's 20 pairs (2%), the owner's photos protected with the frozen project surrogate vs unprotected.
Retrieval of the owner's clean images with their plain captions (gallery: the owner's 20 images).

    OUT=runs/photos OWNER_SEED=2 .venv/bin/python bench/bench_photos_partial.py [STEPS=500] [none,mid,high]
"""
import csv, json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from corpusforge.unlearnable import frozen, photos
from corpusforge.unlearnable.attack import verify_protection
from corpusforge.unlearnable.data import make_benchmark

import os
OWNER_SEED = int(os.environ.get("OWNER_SEED", "2"))
R = Path(os.environ.get("OUT", "runs/photos")) / ("partial" + ("" if OWNER_SEED == 2 else f"-owner{OWNER_SEED}")); R.mkdir(parents=True, exist_ok=True)
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
variants = sys.argv[2].split(",") if len(sys.argv) > 2 else ["none", "mid", "high"]
attacker = Path(os.environ.get("OUT", "runs/photos")) / "partial" / "attacker_bench"; owner = R / "owner_bench"
if not (attacker / "train.jsonl").exists():
    make_benchmark(attacker, n=1100, size=64, seed=1, test_size=100)   # 1000 clean train pairs
if not (owner / "captions.jsonl").exists():
    make_benchmark(owner, n=24, size=64, seed=OWNER_SEED, test_size=4)
own = [json.loads(l) for l in open(owner / "captions.jsonl")][:20]
clean = [json.loads(l) for l in open(attacker / "train.jsonl")]
src = R / "owner_photos"; src.mkdir(exist_ok=True)
with open(src / "captions.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["file_name", "caption"])
    for r in own:
        (src / f"{r['id']}.png").write_bytes((owner / r["image"]).read_bytes()); w.writerow([f"{r['id']}.png", r["caption"][0]])
test = R / "owner_test.jsonl"
with open(test, "w") as f:  # the owner's clean images with their 5 plain captions
    for r in own:
        f.write(json.dumps({"id": "owner-" + r["id"], "image": str(owner / r["image"]), "caption": r["caption"]}) + "\n")
s = frozen.load_frozen()
results = {}
for v in variants:
    t0 = time.time()
    rows = [{"id": "clean-" + r["id"], "image": str(attacker / r["image"]), "caption": r["caption"]} for r in clean]
    if v.split("_")[0] == "none":
        rows += [{"id": "owner-" + r["id"], "image": str(owner / r["image"]), "caption": [r["caption"][0]]} for r in own]
        prot = {}
    else:
        preset = v.split("_")[0]
        out = R / f"owner_{preset}"
        summ = photos.protect_folder(src, out, s, preset=preset)
        prot = {"psnr_mean": sum(p["psnr"] for p in summ["photos"]) / len(summ["photos"]),
                "loss_before": sum(p["loss_before"] for p in summ["photos"]) / 20, "loss_after": sum(p["loss_after"] for p in summ["photos"]) / 20,
                "trigger": summ["trigger"], "protect_seconds": round(time.time() - t0, 1)}
        posted = {p["file"]: p["caption_to_post"] for p in summ["photos"]}
        rows += [{"id": "owner-" + r["id"], "image": str(out / f"{r['id']}.png"), "caption": [r["caption"][0] if v.endswith("_strip") else posted[f"{r['id']}.png"]]} for r in own]
    tr = R / f"train_{v}.jsonl"
    with open(tr, "w") as f:
        for r in rows: f.write(json.dumps(r) + "\n")
    rep = verify_protection(str(tr), str(test), out=str(R / f"attack_{v}"), steps=STEPS, seed=0, threads=1, allow_overlap=True, progress=False,
                             jpeg_quality=75 if v.endswith("_jpeg") else None, grayscale=v.endswith("_gray"))
    results[v] = {**prot, **{k: rep["test"][k] for k in ("i2t_R@1", "t2i_R@1", "i2t_R@5", "t2i_R@5")}, "train_pairs": rep["train"]["pairs"], "seconds": round(time.time() - t0, 1)}
    print(v, json.dumps(results[v]), flush=True)
prev = json.loads((R / "results.json").read_text()) if (R / "results.json").exists() else {}
prev.update({f"{k}@{STEPS}": v for k, v in results.items()})
(R / "results.json").write_text(json.dumps(prev, indent=2))
