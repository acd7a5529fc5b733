"""Peak memory of `corpusforge curate` as the corpus grows (issue 13, item 5).

    .venv/bin/python bench/bench_memory.py --base-docs 1250 --scales 1 4 16

For each scale s, builds a corpus of s * base-docs documents (scripts/make_bench_corpus.py: real demo
paragraphs plus junk, PII letters and duplicates), runs `corpusforge curate` on it in a subprocess with the
FnApi runner in multi_processing mode, and samples the RSS of every process of the run's process tree from
/proc every 0.2 s. Prints, per scale: the driver's peak, the largest peak of any single worker process, and
the peak of the whole tree summed at one instant. Goal (issue 13): per-worker peak within +10% from 1x to 16x.

`--stages N` also prints, per scale, the N Beam stages that raised the worker peak most: the bench then starts
curate through a bootstrap that logs the FnApiRunner's "Running bundle for stage" lines with their times, and
each RSS sample (every 0.1 s) is charged to the stage whose bundle started last (the runner runs one stage at a
time). Stage names are the labels of Beam's fused steps.

The config is configs/local.yaml's stages with perplexity and PII off by default (--pii/--perplexity turn them
on): they add fixed model memory per worker, not memory that grows with the corpus, and make 16x slow on 2
cores.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, rss bytes) for every process on the machine we may read."""
    out = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                rss_pages = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(entry)] = (ppid, rss_pages * page)
    return out


def _descendants(root: int, procs: dict[int, tuple[int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(children.get(pid, []))
    return seen


# Runs the CLI with the FnApiRunner's bundle log (one line per bundle: its stage) going to $BENCH_STAGE_LOG with
# wall-clock times; nothing else about the run changes.
_STAGE_BOOTSTRAP = """
import logging, os, sys, time
h = logging.FileHandler(os.environ["BENCH_STAGE_LOG"])
h.setFormatter(logging.Formatter("%(created).3f %(message)s"))
log = logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle")
log.setLevel(logging.DEBUG); log.propagate = False; log.addHandler(h)
from corpusforge.cli import main
sys.exit(main(sys.argv[1:]))
"""
_STAGE_RE = re.compile(r"^(\d+\.\d+) Running bundle for stage (.*)$")


def _short_stage(name: str) -> str:
    """Beam's fused stage name -> its steps' labels, `+` between them."""
    parts = re.sub(r"ref_AppliedPTransform_|[()]", "", name).split("+")
    return " + ".join(dict.fromkeys(p.strip() for p in parts if p.strip()))[:110]


def _stage_peaks(log_path: Path, samples: list[tuple[float, int]], top: int) -> list[tuple[str, int, int]]:
    """(time, worst worker RSS) samples, each charged to the stage whose bundle started last -> the `top` stages
    that raised the run's worker peak most, as (stage, MB it added to the peak, worker MB reached in it). A
    process keeps most of what it once held, so a stage's own level says little: what counts is which stages
    pushed the peak up."""
    starts = []
    for line in log_path.read_text(errors="replace").splitlines():
        m = _STAGE_RE.match(line)
        if m:
            starts.append((float(m.group(1)), _short_stage(m.group(2))))
    raised: dict[str, int] = {}
    reached: dict[str, int] = {}
    i, peak = -1, 0
    for t, rss in samples:
        while i + 1 < len(starts) and starts[i + 1][0] <= t:
            i += 1
        name = starts[i][1] if i >= 0 else "(before the first bundle)"
        reached[name] = max(reached.get(name, 0), rss)
        if rss > peak:
            raised[name] = raised.get(name, 0) + rss - peak
            peak = rss
    ranked = sorted(raised.items(), key=lambda kv: -kv[1])[:top]
    return [(name, round(up / 2**20), round(reached[name] / 2**20)) for name, up in ranked]


def measure(cmd: list[str], env: dict, stages: int = 0) -> dict:
    stage_log = None
    if stages:
        stage_log = Path(tempfile.mkstemp(prefix="bench-memory-stages-", suffix=".log")[1])
        env = {**env, "BENCH_STAGE_LOG": str(stage_log)}
        cmd = [cmd[0], "-c", _STAGE_BOOTSTRAP] + cmd[cmd.index("corpusforge.cli") + 1:]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The output is drained by a thread: a run that prints more than a pipe holds must not block on it.
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    driver_peak = worker_peak = tree_peak = 0
    samples: list[tuple[float, int]] = []
    t0 = time.time()
    while proc.poll() is None:
        procs = _tree_rss()
        pids = [p for p in _descendants(proc.pid, procs) if p in procs]
        rss = {p: procs[p][1] for p in pids}
        driver_peak = max(driver_peak, rss.get(proc.pid, 0))
        worst = max([0] + [v for p, v in rss.items() if p != proc.pid])
        worker_peak = max(worker_peak, worst)
        tree_peak = max(tree_peak, sum(rss.values()))
        samples.append((time.time(), worst))
        time.sleep(0.1 if stages else 0.2)
    reader.join()
    text = "".join(output)
    if proc.returncode != 0:
        raise SystemExit(f"curate failed ({proc.returncode}):\n{text[-3000:]}")
    out = {"seconds": round(time.time() - t0, 1), "driver_peak_mb": round(driver_peak / 2**20),
           "worker_peak_mb": round(worker_peak / 2**20), "tree_peak_mb": round(tree_peak / 2**20),
           "summary": [l for l in text.splitlines() if l.startswith("curate finished")]}
    if stage_log is not None:
        out["stage_worker_peaks_mb"] = _stage_peaks(stage_log, samples, stages)
        stage_log.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-docs", type=int, default=1250)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pii", action="store_true")
    ap.add_argument("--perplexity", action="store_true")
    ap.add_argument("--work", type=Path, default=None, help="where corpora and runs go (default: a temp dir)")
    ap.add_argument("--stages", type=int, default=0, metavar="N",
                    help="also print the N Beam stages that raised the worker peak most at each scale")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="more curate --set overrides, e.g. output.num_shards=32")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    results = []
    for scale in args.scales:
        n = scale * args.base_docs
        corpus = work / f"corpus-{n}"
        if not corpus.exists():
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bench_corpus.py"), "--docs", str(n),
                            "--out", str(corpus)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        size = sum(p.stat().st_size for p in corpus.glob("*.jsonl*"))
        run = work / f"run-{n}"
        # A finished run with the same inputs and config is "already complete" to curate (even with overwrite),
        # so a rerun of the bench in the same --work would measure nothing: start from an empty run dir.
        shutil.rmtree(run, ignore_errors=True)
        cmd = [sys.executable, "-m", "corpusforge.cli", "curate", "--config", str(ROOT / "configs" / "local.yaml"),
               "--set", f"input.paths=['{corpus}/*.jsonl.gz']", "--set", f"output.dir={run}",
               "--set", "output.overwrite=true", "--set", f"runner.direct_num_workers={args.workers}",
               "--set", "runner.direct_running_mode=multi_processing",
               "--set", f"perplexity.enabled={str(args.perplexity).lower()}",
               "--set", f"perplexity.models_dir={ROOT}/models/demo_lm",
               "--set", f"pii.enabled={str(args.pii).lower()}", "--set", "report=false"]
        cmd += [arg for kv in args.set for arg in ("--set", kv)]
        r = {"scale": scale, "docs": n, "input_mb": round(size / 2**20, 1), **measure(cmd, env, args.stages)}
        results.append(r)
        print(json.dumps(r), flush=True)
    base = results[0]
    print(f"\n{'scale':>5} {'docs':>7} {'input MB':>9} {'driver MB':>10} {'worker MB':>10} {'tree MB':>8} {'s':>7}")
    for r in results:
        print(f"{r['scale']:>4}x {r['docs']:>7} {r['input_mb']:>9} {r['driver_peak_mb']:>10} {r['worker_peak_mb']:>10} "
              f"{r['tree_peak_mb']:>8} {r['seconds']:>7}")
    last = results[-1]
    print(f"worker peak {last['scale']}x vs {base['scale']}x: "
          f"{(last['worker_peak_mb'] / max(base['worker_peak_mb'], 1) - 1) * 100:+.0f}% (goal: within +10%)")
    for r in results:
        for name, up, mb in r.get("stage_worker_peaks_mb", []):
            print(f"{r['scale']:>4}x  +{up:>3} MB to the peak, {mb:>4} MB reached: {name}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
