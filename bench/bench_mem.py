"""Benchmark `corpusforge protect` (MEM and baselines) on the small CPU surrogate.

Builds N image-caption pairs from scikit-image's bundled photos (crops and flips of 8 photos, captions naming
the subject and the crop), runs each variant with the same schedule, and prints wall time, the final
surrogate's loss on clean pairs vs protected pairs after 8-bit PNG and after JPEG q75, and ratios against
the `clean` numbers measured in the same run. Also prints the noise storage of this implementation (int8,
one per image) against the official code's layout (float32, one per caption row, 5 captions per image).

  .venv/bin/python bench/bench_mem.py --n 32 --rounds 4 --steps 30 --out /tmp/bench_mem
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

SUBJECTS = [
    ("an astronaut", skdata.astronaut), ("a cup of coffee", skdata.coffee), ("a tabby cat", skdata.chelsea),
    ("a rocket", skdata.rocket), ("stained cells", skdata.immunohistochemistry),
    ("a photographer", lambda: np.stack([skdata.camera()] * 3, -1)),
    ("coins", lambda: np.stack([skdata.coins()] * 3, -1)), ("a brick wall", lambda: np.stack([skdata.brick()] * 3, -1)),
]
PARTS = ["the whole scene", "the left side", "the right side", "the top", "the bottom", "a mirrored view"]


def build_pairs(d: Path, n: int) -> Path:
    (d / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        subject, f = SUBJECTS[i % len(SUBJECTS)]
        part = PARTS[(i // len(SUBJECTS)) % len(PARTS)]
        img = np.asarray(Image.fromarray(f()).convert("RGB"))
        h, w = img.shape[:2]
        img = {"the whole scene": img, "the left side": img[:, : w * 2 // 3], "the right side": img[:, w // 3:],
               "the top": img[: h * 2 // 3], "the bottom": img[h // 3:], "a mirrored view": img[:, ::-1]}[part]
        Image.fromarray(np.ascontiguousarray(img)).resize((96, 72), Image.BICUBIC).save(d / "img" / f"{i}.png")
        rows.append(json.dumps({"id": f"p{i:04d}", "image": f"img/{i}.png",
                                "caption": [f"{subject}, {part}", f"a photo of {subject} showing {part}"]}))
    (d / "train.jsonl").write_text("\n".join(rows) + "\n")
    return d / "train.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp/bench_mem")
    ap.add_argument("--variants", default="mem,mem_eot,em,uap")
    args = ap.parse_args()
    from corpusforge.config import ProtectConfig, load_config
    from corpusforge.unlearnable.protect import protect

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    captions = build_pairs(out / "pairs", args.n)
    variants = {"mem": ["method=mem"], "mem_eot": ["method=mem", "eot.enabled=true"], "em": ["method=em"],
                "uap": ["method=uap"], "tap": ["method=tap"]}
    results = {}
    for name in args.variants.split(","):
        cfg = load_config("configs/protect.yaml", [f"input.paths=[{captions}]", f"output.dir={out / name}",
                                                   f"rounds={args.rounds}", f"surrogate_steps={args.steps}",
                                                   f"num_threads={args.threads}", *variants[name]], model=ProtectConfig)
        t0 = time.perf_counter()
        protect(cfg)
        secs = time.perf_counter() - t0
        rep = json.loads((out / name / "report.json").read_text())
        ev = rep["surrogate_eval"]
        results[name] = {"seconds": round(secs, 1), **{k: round(v["loss"], 4) for k, v in ev.items()},
                         "psnr_mean": round(rep["summary"]["psnr_mean"], 2)}
        r = results[name]
        print(f"{name:8s} {secs:6.1f}s  loss clean {r['clean']:.3f}  png {r['protected_png']:.3f} "
              f"(x{r['protected_png'] / r['clean']:.3f})  jpeg75 {r['protected_jpeg75']:.3f} "
              f"(x{r['protected_jpeg75'] / r['clean']:.3f})  PSNR {r['psnr_mean']} dB", flush=True)
    size = rep["surrogate_image_size"]
    ours = args.n * 3 * size * size
    official = args.n * 5 * 3 * size * size * 4
    print(f"noise storage: int8 per image {ours} B vs float32 per caption row (x5) {official} B: x{official / ours:.0f}")
    coco = 118_287 * 3 * 224 * 224
    print(f"COCO train at 224px: {coco / 1e9:.1f} GB int8 (x2 buffers on disk, memory-mapped) vs "
          f"{coco * 5 * 4 / 1e9:.0f} GB float32 in RAM")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
