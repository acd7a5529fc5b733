"""Benchmark: does protection make the generated photo-caption set unlearnable for a CLIP trained from scratch?

On the offline benchmark set (`corpusforge make-image-benchmark`), protects the training split with each
method (`corpusforge protect`: EM = error-minimizing image noise only, MEM-3 / MEM-5 = MEM with 3 / 5 trigger
tokens), then trains an attacker CLIP from scratch on the clean and on each protected training set, read back
from the files on disk, and measures retrieval on the clean held-out test split. The same again after the
scraper JPEG re-encodes the training images at quality 75. Prints and writes R@1/5/10 both ways, median rank,
chance level, recall over chance, PSNR/SSIM of the protected images against the clean ones, and protection
time per image. The clean attacker is the baseline measured in the same run.

  .venv/bin/python bench/bench_protection.py --out /tmp/bench_protection --results bench/results/protection.md
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpusforge.unlearnable.attack import verify_protection  # noqa: E402
from corpusforge.unlearnable.data import load_pairs, make_benchmark  # noqa: E402
from corpusforge.unlearnable.metrics import fidelity  # noqa: E402

METHODS = {  # name -> `corpusforge protect` arguments
    "em": ["--method", "em"],
    "mem3": ["--method", "mem", "--set", "trigger_tokens=3"],
    "mem5": ["--method", "mem", "--set", "trigger_tokens=5"],
}


def protect(method: str, train: Path, out: Path, threads: int, extra: list[str], log) -> dict:
    cmd = [sys.executable, "-m", "corpusforge.cli", "protect", "--config", str(ROOT / "configs" / "protect.yaml"),
           "--input", str(train), "--output", str(out), *METHODS[method], "--set", f"num_threads={threads}",
           "--set", "device=cpu"]
    for kv in extra:
        cmd += ["--set", kv]
    log(f"$ {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    if not (out / "_SUCCESS").exists():
        subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - t0
    stats = json.loads((out / "stats.json").read_text())
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    # the protect run's own wall time (a reused run took ~0 s here)
    reported = stats.get("seconds") or report.get("seconds")
    return {"seconds_this_run": seconds, "seconds_reported": reported, "protected": stats.get("protected"),
            "command": " ".join(["corpusforge", *cmd[3:]])}


def image_fidelity(clean_train: Path, protected_dir: Path) -> dict:
    clean = {p.image_id: p for p in load_pairs(clean_train, size=None, decode=False).pairs}
    prot = load_pairs(protected_dir, size=None, decode=False).pairs
    from PIL import Image

    refs, others = [], []
    for p in prot:
        if p.image_id in clean:
            refs.append(np.asarray(Image.open(clean[p.image_id].path).convert("RGB")))
            others.append(np.asarray(Image.open(p.path).convert("RGB")))
    f = fidelity(refs, others)
    linf = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(refs, others)) if refs else 0
    return {"images": len(refs), "psnr_mean": f["psnr_mean"], "psnr_min": f["psnr_min"], "ssim_mean": f["ssim_mean"],
            "linf_255": linf}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/bench_protection")
    ap.add_argument("--results", default=None, help="write the markdown table here (bench/results/protection.md)")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="clean,mem3,em,mem5")
    ap.add_argument("--steps", type=int, default=None, help="attacker steps (default: verify-protection's)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--model", default="cf-tiny", help="attacker architecture")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jpeg", type=int, default=75, help="also attack after JPEG re-encoding at this quality; 0: no")
    ap.add_argument("--protect-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra `corpusforge protect --set` overrides for every method (e.g. rounds=4)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse finished protect runs and attacker metrics found in --out (resume a cut-short run)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    data = out / "data"
    if not (data / "benchmark.json").exists() or json.loads((data / "benchmark.json").read_text())["n"] != args.n:
        t0 = time.perf_counter()
        make_benchmark(data, n=args.n, size=args.size, seed=args.seed)
        log(f"benchmark: {args.n} images in {time.perf_counter() - t0:.1f}s")
    bench_meta = json.loads((data / "benchmark.json").read_text())
    train_file = data / "train.jsonl"

    methods = [m for m in args.methods.split(",") if m]
    results: dict = {"benchmark": bench_meta, "methods": {}}
    if args.reuse and (out / "results.json").exists():  # keep methods measured by an earlier, cut-short run
        results["methods"] = json.loads((out / "results.json").read_text()).get("methods", {})
    attack_kw = {"model": args.model, "threads": args.threads, "seed": args.seed}
    if args.steps is not None:
        attack_kw["steps"] = args.steps
    if args.batch_size is not None:
        attack_kw["batch_size"] = args.batch_size
    for m in methods:
        entry: dict = {}
        if m == "clean":
            train_src = train_file
        else:
            pdir = out / f"protect_{m}"
            try:
                entry["protect"] = protect(m, train_file, pdir, args.threads, args.protect_set, log)
            except subprocess.CalledProcessError as exc:
                entry["error"] = f"protect failed: {exc}"
                log(entry["error"])
                results["methods"][m] = entry
                continue
            n_prot = entry["protect"]["protected"] or bench_meta["train"]
            secs = entry["protect"]["seconds_reported"] or entry["protect"]["seconds_this_run"]
            entry["protect"]["seconds_per_image"] = secs / max(1, n_prot)
            entry["fidelity"] = image_fidelity(train_file, pdir)
            train_src = pdir
        for jpeg in ([None, args.jpeg] if args.jpeg else [None]):
            tag = "png" if jpeg is None else f"jpeg{jpeg}"
            done = out / f"attack_{m}_{tag}" / "metrics.json"
            if args.reuse and done.exists():
                rep = json.loads(done.read_text())
            else:
                log(f"attacker on {m} ({tag}) ...")
                rep = verify_protection(str(train_src), str(data), str(out / f"attack_{m}_{tag}"),
                                        jpeg_quality=jpeg, progress=True, **attack_kw)
            entry[tag] = {"test": rep["test"], "train_seconds": rep["train"]["seconds"],
                          "config": rep["config"]}
            t = rep["test"]
            log(f"  {m} {tag}: i2t R@1 {t['i2t_R@1']:.4f} (chance {t['chance']['i2t_R@1']:.4f}), "
                f"t2i R@1 {t['t2i_R@1']:.4f} (chance {t['chance']['t2i_R@1']:.4f}), "
                f"mean recall/chance {t['mean_recall_over_chance']:.2f}")
        results["methods"][m] = entry
        (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
        md = render(results, args)  # after every method, so a cut-short run still leaves its numbers
        if args.results:
            Path(args.results).parent.mkdir(parents=True, exist_ok=True)
            Path(args.results).write_text(md)
    print(render(results, args))
    return 0


def render(results: dict, args) -> str:
    b = results["benchmark"]
    out = [f"## Protection benchmark (attacker CLIP `{args.model}` trained from scratch, clean held-out test)", "",
           f"Data: `make-image-benchmark --n {b['n']} --size {b['size']} --seed {b['seed']}`: {b['train']} train / "
           f"{b['test']} test images, 5 captions each, {len(b['backgrounds'])} background photos.", "",
           "| train set | training images | i2t R@1 | R@5 | R@10 | med | t2i R@1 | R@5 | R@10 | med | "
           "R@1 / chance (i2t, t2i) | mean R@K / chance |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    chance = None
    for m, e in results["methods"].items():
        for tag in ("png", f"jpeg{args.jpeg}"):
            if tag not in e:
                continue
            t = e[tag]["test"]
            chance = t["chance"]
            cells = [f"{100 * t[f'i2t_R@{k}']:.2f}" for k in (1, 5, 10)] + [f"{t['i2t_median_rank']:.0f}"]
            cells += [f"{100 * t[f't2i_R@{k}']:.2f}" for k in (1, 5, 10)] + [f"{t['t2i_median_rank']:.0f}"]
            r1 = t["R@1_over_chance"]
            out.append(f"| {m} | {tag} | " + " | ".join(cells)
                       + f" | {r1['i2t']:.1f}x, {r1['t2i']:.1f}x | {t['mean_recall_over_chance']:.2f}x |")
        if "error" in e:
            out.append(f"| {m} | - | {e['error']} |" + " |" * 10)
    if chance:
        out.append("| chance | | " + " | ".join(
            [f"{100 * chance[f'i2t_R@{k}']:.2f}" for k in (1, 5, 10)] + [f"{chance['i2t_median_rank']:.0f}"]
            + [f"{100 * chance[f't2i_R@{k}']:.2f}" for k in (1, 5, 10)] + [f"{chance['t2i_median_rank']:.0f}"])
            + " | 1x | 1x |")
    out += ["", "Recalls in percent; med = median rank.", ""]
    prot = [(m, e) for m, e in results["methods"].items() if "protect" in e]
    if prot:
        out += ["| method | PSNR mean (dB) | PSNR min | SSIM mean | max abs diff (/255) | protect s/image | "
                "protect command |", "|---|---|---|---|---|---|---|"]
        for m, e in prot:
            f = e["fidelity"]
            out.append(f"| {m} | {f['psnr_mean']:.2f} | {f['psnr_min']:.2f} | {f['ssim_mean']:.4f} | {f['linf_255']} | "
                       f"{e['protect']['seconds_per_image']:.3f} | `{e['protect']['command']}` |")
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
