"""Benchmark: does protection make the generated photo-caption set unlearnable, and which part does it?

On the offline benchmark set (`make-image-benchmark`), for each seed: protect the training split
(`corpusforge protect`: MEM-3, MEM-5, EM = image noise only), then train attacker CLIPs from scratch on the
pairs read back from disk and measure retrieval on the clean held-out test split. Training sets:

  clean     the original pairs
  mem3/mem5 MEM with 3/5 trigger tokens: protected images + trigger captions
  em        error-minimizing image noise, original captions
  noise     control: the MEM-3 images with the ORIGINAL captions (what the image noise alone does)
  trigger   control: the CLEAN images with the MEM-3 trigger captions (what the words alone do)
  prefix    control: clean images, every caption prefixed by one constant 3-word string (the MEM-3 trigger
            of the first training image): a trigger that carries no per-image information
  synthetic control without any optimization: each caption word found in under half of the images gets a
            fixed random +-1 pattern of 4x4-pixel blocks; an image's noise is eps times the sign of the sum of
            its words' patterns, original captions (is a shortcut keyed on what the captions say enough?)

Each attacker architecture (default: cf-tiny = the surrogate's, and cf-tiny-rn, a ResNet) is trained on each
set after each scraper view: png (as published), jpeg75 (JPEG re-encode at quality 75), gray (grayscale),
downup (downscale to half and back up, bicubic). Reported: mean R@K over chance (R@1/5/10, both directions),
mean +- sd over the seeds; PSNR/SSIM, block score and protect seconds per image of each protected set.
The seed changes the protection run (surrogate init, noise, triggers) and the attacker init and batches; the
data set is fixed (`--data-seed`).

  .venv/bin/python bench/bench_protection.py --out runs/protect/bench --results bench/results/protection.md
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROTECT_METHODS = {  # protected set -> `corpusforge protect` arguments
    "mem3": ["--method", "mem", "--set", "trigger_tokens=3"],
    "mem5": ["--method", "mem", "--set", "trigger_tokens=5"],
    "em": ["--method", "em"],
}
CONTROLS = {"noise": "mem3", "trigger": "mem3", "prefix": "mem3"}  # control set -> protect run it is built from
VIEWS = {"png": {}, "jpeg75": {"jpeg_quality": 75}, "gray": {"grayscale": True}, "downup": {"downscale": 0.5}}


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ------------------------------------------------------------------------------------------ protect
def protect_run(method: str, seed: int, train: Path, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "corpusforge.cli", "-q", "protect", "--config", str(ROOT / "configs" / "protect.yaml"),
           "--input", str(train), "--output", str(out), *PROTECT_METHODS[method], "--set", f"seed={seed}",
           "--set", "num_threads=1", "--set", "device=cpu"]
    for kv in extra:
        cmd += ["--set", kv]
    if not (out / "_SUCCESS").exists():
        log(f"$ {' '.join(cmd[1:])}")
        subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    report = json.loads((out / "report.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    return {"seconds": report["seconds"], "seconds_per_image": report["seconds"] / max(1, stats["protected"]),
            "psnr_mean": report["summary"]["psnr_mean"], "psnr_min": report["summary"]["psnr_min"],
            "ssim_mean": report["summary"]["ssim_mean"], "max_abs_diff_255": report["summary"]["max_abs_diff_255"],
            "block_score_max": report["summary"].get("block_score_max"),
            "command": " ".join(["corpusforge", *cmd[4:]])}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return path


def control_set(name: str, clean_train: Path, prot_dir: Path, out: Path) -> Path:
    """Build a control training set (a captions JSONL with absolute image paths) from a MEM-3 run."""
    clean = {r["id"]: r for r in _rows(clean_train)}
    prot = _rows(prot_dir / "captions.jsonl")
    rows = []
    first_trigger = prot[0]["trigger"]
    for p in prot:
        c = clean[p["id"]]
        caps = c["caption"] if isinstance(c["caption"], list) else [c["caption"]]
        if name == "noise":  # protected pixels, original words
            rows.append({"id": p["id"], "image": str(prot_dir / p["image"]), "caption": caps})
        elif name == "trigger":  # original pixels, protected words
            rows.append({"id": p["id"], "image": str(clean_train.parent / c["image"]), "caption": p["caption"]})
        elif name == "prefix":  # original pixels, one constant prefix for all
            rows.append({"id": p["id"], "image": str(clean_train.parent / c["image"]),
                         "caption": [f"{first_trigger} {x}" for x in caps]})
    return _write_rows(out / f"{name}.jsonl", rows)


def synthetic_set(clean_train: Path, out: Path, seed: int, eps255: int = 8, block: int = 4) -> Path:
    """The `synthetic` control (see the module docstring), written as PNGs with the original captions."""
    import re

    from PIL import Image

    rows = _rows(clean_train)
    words = [sorted({w for c in (r["caption"] if isinstance(r["caption"], list) else [r["caption"]])
                     for w in re.findall(r"[^\W\d_]+", c.lower())}) for r in rows]
    df: dict[str, int] = {}
    for ws in words:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    rng = np.random.default_rng(seed)
    patterns: dict[tuple[str, int], np.ndarray] = {}
    out_rows = []
    (out / "images").mkdir(parents=True, exist_ok=True)
    for r, ws in zip(rows, words):
        img = np.asarray(Image.open(clean_train.parent / r["image"]).convert("RGB")).astype(np.int16)
        size = img.shape[0]
        total = np.zeros(img.shape)
        for w in ws:
            if df[w] < len(rows) / 2:
                if (w, size) not in patterns:
                    small = rng.choice([-1.0, 1.0], size=(-(-size // block), -(-img.shape[1] // block), 3))
                    patterns[(w, size)] = np.kron(small, np.ones((block, block, 1)))[:size, :img.shape[1]]
                total += patterns[(w, size)]
        prot = np.clip(img + eps255 * np.sign(total).astype(np.int16), 0, 255).astype(np.uint8)
        path = out / "images" / f"{r['id']}.png"
        Image.fromarray(prot).save(path)
        out_rows.append({"id": r["id"], "image": str(path), "caption": r["caption"]})
    return _write_rows(out / "synthetic.jsonl", out_rows)


# ------------------------------------------------------------------------------------------ attack
def attack(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    from corpusforge.unlearnable.attack import verify_protection

    done = Path(job["out"]) / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.perf_counter()
    rep = verify_protection(job["train"], job["test"], job["out"], model=job["model"], steps=job["steps"],
                            seed=job["seed"], threads=1, progress=False, **VIEWS[job["view"]])
    log(f"  attack {job['set']} {job['view']} {job['model']} seed {job['seed']}: mean R@K/chance "
        f"{rep['test']['mean_recall_over_chance']:.2f}x ({time.perf_counter() - t0:.0f}s)")
    return rep


# ------------------------------------------------------------------------------------------ partial protection
def concept_recall(attack_dir: Path, model: str, test: Path, concept: str) -> dict:
    """Text->image retrieval on the clean test split of the captions that name `concept`, next to the captions
    that do not: mean over K in 1/5/10 of R@K over chance (K / test images)."""
    import torch

    from corpusforge.unlearnable.attack import pairs_to_tensors
    from corpusforge.unlearnable.clip import build_clip, embed_images, embed_texts
    from corpusforge.unlearnable.data import load_pairs
    from corpusforge.unlearnable.metrics import retrieval_ranks

    clip, tok, size = build_clip(model, str(attack_dir / "attacker.pt"))
    pairs = load_pairs(test / "test.jsonl", size=size).pairs
    images, tokens, owner = pairs_to_tensors(pairs, tok)
    with torch.no_grad():
        _, t2i = retrieval_ranks(embed_images(clip, images), embed_texts(clip, tokens), owner.numpy())
    names = np.array([concept in c.split() for p in pairs for c in p.captions])
    n = len(pairs)

    def score(ranks):
        return float(np.mean([np.mean(ranks <= k) / (k / n) for k in (1, 5, 10)]))

    return {"concept_captions": int(names.sum()), "concept": score(t2i[names]), "other": score(t2i[~names]),
            **concept_zero_shot(clip, tok, images, pairs, test, concept)}


def concept_zero_shot(clip, tok, images, pairs, test: Path, concept: str) -> dict:
    """Zero-shot retrieval of the concept itself (a shape or a colour the generator draws): the clean test
    images ranked by similarity to the mean embedding of the prompts "a photo with a <colour> <shape>" over
    every value of the other attribute (CLIP's prompt ensembling, in the generator's own phrasing); which images
    truly show the concept comes from the generator's object list. Average precision and precision at 10 over
    the base rate (1.0 = chance; the ceiling is 1 / base rate)."""
    import torch

    from corpusforge.unlearnable.clip import embed_images, embed_texts
    from corpusforge.unlearnable.data import COLORS, SHAPES

    attr = "shape" if concept in SHAPES else "color"
    prompts = ([f"a photo with a {c} {concept}" for c in COLORS] if attr == "shape"
               else [f"a photo with a {concept} {s}" for s in SHAPES])
    shows = {r["id"]: any(o[attr] == concept for o in r["objects"]) for r in _rows(test / "test.jsonl")}
    truth = np.array([shows[p.image_id] for p in pairs])
    query = torch.nn.functional.normalize(embed_texts(clip, tok(prompts)).mean(0, keepdim=True), dim=-1)
    sims = (embed_images(clip, images) @ query.T).numpy()[:, 0]
    order = np.argsort(-sims, kind="stable")
    hits = truth[order]
    base = float(truth.mean())
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    ap = float((precision_at * hits).sum() / max(1, hits.sum()))
    return {"zero_shot_ap": ap / base, "zero_shot_p10": float(hits[:10].mean()) / base, "base_rate": base}


def partial_protection(args, out: Path, data: Path, seeds: list[int], attackers: list[str]) -> dict:
    """Owner subset: the first training images showing `concept` (a shape or colour the generator draws), sized to
    `owner_share` of the attacker's training set; the rest of the training set holds no image of it. Only the
    owner subset is protected (MEM-3, its own surrogate); the attacker trains on the mix."""
    rows = _rows(data / "train.jsonl")
    for r in rows:
        r["image"] = str(data / r["image"])
    has = [r for r in rows if any(args.partial in (o["shape"], o["color"]) for o in r["objects"])]
    rest = [r for r in rows if r not in has]
    n_owner = round(args.owner_share * len(rest) / (1 - args.owner_share))
    owner = has[:n_owner]
    pdir = out / "partial"
    _write_rows(pdir / "owner.jsonl", owner)
    _write_rows(pdir / "mix_clean.jsonl", owner + rest)
    res = {"concept": args.partial, "owner": len(owner), "rest": len(rest),
           "owner_share": len(owner) / (len(owner) + len(rest)), "runs": []}
    for s in seeds:
        prot = protect_run("mem3", s, pdir / "owner.jsonl", pdir / f"protect_owner_s{s}", args.protect_set)
        prows = _rows(pdir / f"protect_owner_s{s}" / "captions.jsonl")
        for r in prows:
            r["image"] = str(pdir / f"protect_owner_s{s}" / r["image"])
        _write_rows(pdir / f"mix_protected_s{s}.jsonl", prows + rest)
        for a in attackers:
            for cond, src in (("unprotected", pdir / "mix_clean.jsonl"), ("protected", pdir / f"mix_protected_s{s}.jsonl")):
                adir = pdir / f"attack_{cond}_{a}_s{s}"
                if not (adir / "attacker.pt").exists():
                    from corpusforge.unlearnable.attack import verify_protection

                    verify_protection(str(src), str(data), str(adir), model=a, steps=args.steps, seed=s, threads=1,
                                      progress=False, save_model=True)
                cr = concept_recall(adir, a, data, args.partial)
                log(f"  partial {cond} {a} seed {s}: {args.partial} captions {cr['concept']:.2f}x, "
                    f"other captions {cr['other']:.2f}x, zero-shot AP {cr['zero_shot_ap']:.2f}x")
                res["runs"].append({"seed": s, "model": a, "condition": cond, **cr,
                                    "protect_psnr_mean": prot["psnr_mean"]})
        (out / "partial.json").write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    return res


def render_partial(res: dict, steps: int) -> str:
    out = [f"Partial protection: concept `{res['concept']}` only in an owner subset of {res['owner']} images "
           f"({100 * res['owner_share']:.1f}% of {res['owner'] + res['rest']} training images); attackers trained "
           f"{steps} steps on the mix. Cells: text->image mean R@K over chance on the clean test split, for test "
           f"captions naming the concept / the other test captions; zero-shot: the clean test images ranked by "
           f"the mean embedding of the prompts \"a photo with a <colour> <shape>\" that name {res['concept']}, "
           f"average precision and precision at 10 over the base rate (ceiling 1 / base rate); mean ± sd over "
           f"seeds.", "",
           "| attacker | owner subset | concept captions | other captions | zero-shot AP | zero-shot P@10 |",
           "|---|---|---|---|---|---|"]
    for model in sorted({r["model"] for r in res["runs"]}):
        for cond in ("unprotected", "protected"):
            rs = [r for r in res["runs"] if r["model"] == model and r["condition"] == cond]
            out.append(f"| {model} | {cond} | {_mean_sd([r['concept'] for r in rs])} | "
                       f"{_mean_sd([r['other'] for r in rs])} | {_mean_sd([r['zero_shot_ap'] for r in rs])} | "
                       f"{_mean_sd([r['zero_shot_p10'] for r in rs])} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/protect/bench")
    ap.add_argument("--results", default=None, help="write the markdown tables here (bench/results/protection.md)")
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--data-seed", type=int, default=7)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default="clean,mem3,noise,trigger,prefix,mem5,em")
    ap.add_argument("--attackers", default="cf-tiny,cf-tiny-rn")
    ap.add_argument("--views", default="png,jpeg75,gray,downup")
    ap.add_argument("--only", default=None,
                    help="restrict the attacks to these set:view pairs, e.g. clean:png,mem3:jpeg75 (a subset grid)")
    ap.add_argument("--steps", type=int, default=400, help="attacker training steps (batch 64, lr 1e-3)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel processes, one torch thread each")
    ap.add_argument("--partial", default=None, metavar="CONCEPT",
                    help="run the partial-protection experiment for this shape or colour instead (e.g. purple: "
                         "colours are what the small attackers learn zero-shot; shapes they do not, even unprotected)")
    ap.add_argument("--owner-share", type=float, default=0.07, help="owner subset share of the training set")
    ap.add_argument("--protect-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra `corpusforge protect --set` overrides for every protect run (e.g. rounds=10)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from corpusforge.unlearnable.data import make_benchmark

    out = Path(args.out).resolve()
    data = out / "data"
    if not (data / "benchmark.json").exists():
        make_benchmark(data, n=args.n, size=args.size, seed=args.data_seed)
    bench_meta = json.loads((data / "benchmark.json").read_text())
    train = data / "train.jsonl"
    seeds = [int(s) for s in args.seeds.split(",")]
    sets = [s for s in args.sets.split(",") if s]
    attackers = [a for a in args.attackers.split(",") if a]
    views = [v for v in args.views.split(",") if v]
    only = set(args.only.split(",")) if args.only else None
    if args.partial:
        md = render_partial(partial_protection(args, out, data, seeds, attackers), args.steps)
        (out / "partial.md").write_text(md)
        print(md)
        return 0

    # One pool: the protect runs are queued first; attacks on the clean set fill idle workers meanwhile, and the
    # attacks on a protected or control set are queued as soon as the protect run they read is finished.
    methods = sorted({CONTROLS.get(s, s) for s in sets if s not in ("clean", "synthetic")})
    runs = [(m, s) for s in seeds for m in methods]
    results = {"benchmark": bench_meta, "args": vars(args), "protect": {}, "attacks": []}

    def jobs_for(name: str, seed: int, source: str) -> list[dict]:
        return [{"set": name, "view": v, "model": a, "seed": seed, "train": source, "test": str(data),
                 "steps": args.steps, "out": str(out / f"attack_{name}_{v}_{a}_s{seed}")}
                for a in attackers for v in views if only is None or f"{name}:{v}" in only]

    # Tasks run in seed order so a cut-short run leaves whole seeds: (seed, 0) protect, (seed, 1) attacks on the
    # clean set, (seed, 2) attacks on that seed's protected and control sets once its protect run is done.
    # Only `jobs` tasks are in flight at a time; the next is always the most urgent one that is ready.
    ready: list[tuple] = [((s, 0, m), ("protect", m, s)) for m, s in runs]
    if "clean" in sets:
        ready += [((s, 1, i), ("attack", job)) for s in seeds for i, job in enumerate(jobs_for("clean", s, str(train)))]
    if "synthetic" in sets:
        ready += [((s, 1, f"synthetic{i}"), ("attack", job)) for s in seeds for i, job in
                  enumerate(jobs_for("synthetic", s, str(synthetic_set(train, out / f"synthetic_s{s}", s))))]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        pending: dict = {}
        while pending or ready:
            ready.sort(key=lambda t: t[0])
            while ready and len(pending) < args.jobs:
                _, tag = ready.pop(0)
                if tag[0] == "protect":
                    _, m, s = tag
                    fut = pool.submit(protect_run, m, s, train, out / f"protect_{m}_s{s}", args.protect_set)
                else:
                    fut = pool.submit(attack, tag[1])
                pending[fut] = tag
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in done:
                tag = pending.pop(f)
                if tag[0] == "protect":
                    _, m, s = tag
                    results["protect"][f"{m}_s{s}"] = f.result()
                    for name in sets:
                        if name == m:
                            source = str(out / f"protect_{m}_s{s}")
                        elif CONTROLS.get(name) == m:
                            source = str(control_set(name, train, out / f"protect_{m}_s{s}", out / f"controls_s{s}"))
                        else:
                            continue
                        ready += [((s, 2, f"{name}{i}"), ("attack", job))
                                  for i, job in enumerate(jobs_for(name, s, source))]
                else:
                    job, rep = tag[1], f.result()
                    results["attacks"].append({**{k: job[k] for k in ("set", "view", "model", "seed")},
                                               "test": rep["test"], "train_seconds": rep["train"]["seconds"]})
                (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
                (out / "results.md").write_text(render(results))  # a cut-short run still leaves its numbers
    md = render(results)
    if args.results:
        Path(args.results).write_text(md)
    print(md)
    return 0


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def render(results: dict) -> str:
    a = results["args"]
    b = results["benchmark"]
    seeds = sorted({r["seed"] for r in results["attacks"]})
    out = [f"Data: `make-image-benchmark --n {b['n']} --size {b['size']} --seed {b['seed']}` ({b['train']} train / "
           f"{b['test']} clean held-out test images, 5 captions each, {len(b['backgrounds'])} background photos). "
           f"Seeds {', '.join(map(str, seeds))}; attackers trained from scratch for {a['steps']} steps (batch 64, "
           f"lr 1e-3). Cells: mean R@K over chance (R@1/5/10, image->text and text->image), mean ± sd over seeds "
           f"(n = seeds that ran); 1.00 = chance.", ""]
    attackers = sorted({r["model"] for r in results["attacks"]})
    views = [v for v in VIEWS if any(r["view"] == v for r in results["attacks"])]
    sets = [s for s in ["clean", "mem3", "mem5", "em", "noise", "trigger", "prefix", "synthetic"]
            if any(r["set"] == s for r in results["attacks"])]
    for model in attackers:
        out += [f"Attacker `{model}`:", "", "| training set | " + " | ".join(views) + " |",
                "|---|" + "---|" * len(views)]
        for s in sets:
            cells = []
            for v in views:
                vals = [r["test"]["mean_recall_over_chance"] for r in results["attacks"]
                        if r["model"] == model and r["set"] == s and r["view"] == v]
                cells.append(_mean_sd(vals) + (f" (n={len(vals)})" if vals and len(vals) != len(seeds) else ""))
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        out.append("")
    if results["protect"]:
        out += ["| protect run | PSNR mean (dB) | PSNR min | SSIM mean | max abs diff (/255) | s/image |",
                "|---|---|---|---|---|---|"]
        for k, p in sorted(results["protect"].items()):
            out.append(f"| {k} | {p['psnr_mean']:.2f} | {p['psnr_min']:.2f} | {p['ssim_mean']:.4f} | "
                       f"{p['max_abs_diff_255']} | {p['seconds_per_image']:.3f} |")
        first, run = sorted(results["protect"].items())[0]
        out += ["", f"Protect command ({first} shown): `{run['command']}`", ""]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
