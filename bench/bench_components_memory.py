"""Worker memory through the dedup's connected components alone (issue 13: memory that grows with the corpus).

    .venv/bin/python bench/bench_components_memory.py --nodes 16000 64000

Runs `pipelines.dedup.ConnectedComponents` (all `--rounds` rounds, two GroupByKeys each) on star-shaped edges
(every fifth node a root with four leaves: already converged, so every round passes all edges through, as in
a real run whose duplicate clusters are small) with the FnApiRunner in multi_processing mode, samples the RSS
of every worker process every 0.05 s, and prints the worst worker's level when each round starts and its peak.
A worker that ends the rounds much higher than it started holds something per round that grows with the
edges. To compare with another checkout, run this file from that checkout's directory with PYTHONPATH set to
it (the pipeline's process puts its working directory first on sys.path).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import _descendants, _tree_rss  # noqa: E402

_CHILD = r"""
import logging, os, sys
h = logging.FileHandler(os.environ["BENCH_STAGE_LOG"]); h.setFormatter(logging.Formatter("%(created).3f %(message)s"))
log = logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle")
log.setLevel(logging.DEBUG); log.propagate = False; log.addHandler(h)
import apache_beam as beam
from corpusforge.config import RunnerConfig
from corpusforge.pipelines.dedup import ConnectedComponents
from corpusforge.pipelines.options import make_runner, pipeline_options
n, rounds = int(sys.argv[1]), int(sys.argv[2])
edges = [("n%09d" % j, "n%09d" % (j - j % 5)) for j in range(n) if j % 5]
cfg = RunnerConfig(runner="FnApiRunner", direct_num_workers=2, direct_running_mode="multi_processing")
with beam.Pipeline(runner=make_runner(cfg), options=pipeline_options(cfg)) as p:
    out = p | beam.Create(edges, reshuffle=False) | ConnectedComponents(rounds)
    out["labels"] | beam.combiners.Count.Globally() | beam.Map(print)
"""


def run(nodes: int, rounds: int) -> dict:
    log = Path(tempfile.mkstemp(prefix="bench-components-", suffix=".log")[1])
    env = {**os.environ, "BENCH_STAGE_LOG": str(log)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(nodes), str(rounds)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    samples = []
    while proc.poll() is None:
        procs = _tree_rss()
        workers = [p for p in _descendants(proc.pid, procs) if p in procs and p != proc.pid]
        samples.append((time.time(), max([0] + [procs[p][1] for p in workers])))
        time.sleep(0.05)
    out = proc.stdout.read()
    text = log.read_text(errors="replace")
    log.unlink()
    if proc.returncode != 0:
        raise SystemExit(f"pipeline failed ({proc.returncode}); too few --rounds for these edges?")
    starts = []
    for line in text.splitlines():
        m = re.match(r"^(\d+\.\d+) Running bundle for stage .*R(\d+)LargeStarGroup/Read", line)
        if m:
            starts.append((float(m.group(1)), int(m.group(2))))
    level = {}
    for t, k in starts:
        before = [rss for ts, rss in samples if ts <= t]
        if before:
            level[k] = max(level.get(k, 0), before[-1] >> 20)
    return {"nodes": nodes, "labels": out.strip(), "peak_mb": max(r for _, r in samples) >> 20, "round_start_mb": level}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, nargs="+", default=[16000, 64000], help="4/5 of them are leaves: one edge each")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    for n in args.nodes:
        r = run(n, args.rounds)
        lv = r["round_start_mb"]
        first, last = min(lv), max(lv)
        print(f"{n:>7} nodes ({r['labels']} edges): worst worker at round {first} start {lv[first]} MB, at round {last} "
              f"start {lv[last]} MB ({(lv[last] - lv[first]) / max(1, last - first):+.2f} MB per round), "
              f"peak {r['peak_mb']} MB")


if __name__ == "__main__":
    main()
