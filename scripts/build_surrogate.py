#!/usr/bin/env python
"""Build the offline surrogate CLIP that `corpusforge protect-photos` uses by default (issue 18).

No pretrained CLIP can be downloaded at run time, so setup trains a small one: `make-image-benchmark`'s
rendered scenes (coloured shapes over crops of scikit-image's bundled photos, plus the Debian wallpapers when
scripts/fetch_wallpapers.sh fetched them), then `verify_protection`'s training loop on its train split, saved to
models/surrogate/cf-tiny-benchmark.pt with surrogate.json describing what it was trained on and its held-out
retrieval. About 3 minutes on 2 cores. It knows shapes, colours and positions on those backgrounds, nothing
about people, pets or places: a user with internet should pass a real CLIP instead (see the notes).

    .venv/bin/python scripts/build_surrogate.py [--out models/surrogate] [--n 2000] [--steps 400]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "models" / "surrogate"))
    p.add_argument("--n", type=int, default=2000, help="benchmark images rendered (default 2000)")
    p.add_argument("--steps", type=int, default=400, help="training steps at batch 64 (default 400)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: available cores)")
    p.add_argument("--keep-benchmark", action="store_true", help="keep the rendered set in OUT/benchmark")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from corpusforge import storage
    from corpusforge.unlearnable.attack import verify_protection
    from corpusforge.unlearnable.data import DEFAULT_WALLPAPERS, make_benchmark
    from corpusforge.unlearnable.frozen import DEFAULT_CHECKPOINT, DEFAULT_MODEL

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="surrogate-bench-", dir=out))
    try:
        wall = DEFAULT_WALLPAPERS if Path(DEFAULT_WALLPAPERS).is_dir() else None
        bench = make_benchmark(work, n=args.n, size=64, seed=args.seed, wallpaper_dir=wall)
        t_bench = time.perf_counter() - t0
        report = verify_protection(str(work / "train.jsonl"), str(work / "test.jsonl"), out=str(work / "train"),
                                   model=DEFAULT_MODEL, steps=args.steps, seed=args.seed, threads=args.threads,
                                   save_model=True)
        target = out / DEFAULT_CHECKPOINT.name
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(work / "train" / "attacker.pt", tmp)
        storage.replace(str(tmp), str(target))
        info = {
            "model": DEFAULT_MODEL, "checkpoint": target.name,
            "trained_on": (f"make-image-benchmark (version {bench['version']}, seed {args.seed}): {bench['train']} "
                           f"rendered 64x64 scenes of coloured shapes with 5 template captions each, backgrounds: "
                           + ", ".join(b["name"] for b in bench["backgrounds"])),
            "steps": args.steps, "batch_size": report["config"]["batch_size"], "lr": report["config"]["lr"],
            "held_out_test": {"pairs": bench["test"], **{k: v for k, v in report["test"].items()
                                                         if k in ("i2t_R@1", "t2i_R@1", "i2t_R@5", "t2i_R@5")}},
            "loss_first": report["train"]["loss_first"], "loss_last_50": report["train"]["loss_last_50"],
            "seconds": {"benchmark": round(t_bench, 1), "total": round(time.perf_counter() - t0, 1)},
            "limits": "knows coloured shapes, colours and positions over a few photo backgrounds; it was never "
                      "trained on people, pets or places, so its noise is aimed at models that learn those "
                      "scenes. Pass a real open_clip checkpoint with --checkpoint/--model for real photos.",
        }
        storage.write_text_atomic(str(out / "surrogate.json"), json.dumps(info, indent=2, sort_keys=True) + "\n")
        if args.keep_benchmark:
            dst = out / "benchmark"
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(work, dst, ignore=shutil.ignore_patterns("train"))
        print(f"surrogate -> {target} ({info['seconds']['total']}s; held-out i2t R@1 "
              f"{info['held_out_test'].get('i2t_R@1')})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
