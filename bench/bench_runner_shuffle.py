"""How much memory one shuffle costs a worker of the local FnApiRunner (issue 13, item 5).

    .venv/bin/python bench/bench_runner_shuffle.py --docs 20000 80000 --payload 2000

A pipeline of `docs` elements of `payload` bytes each, keyed by a unique id, run by Beam's FnApiRunner in
multi_processing mode with 2 workers and corpusforge's process settings (`pipelines.options.bound_native_heap`),
three ways: `map` (the elements pass one Map, no shuffle: the baseline), `gbk` (one GroupByKey) and `cogbk`
(a CoGroupByKey with a small second input, the shape of a join of documents with their decisions). Prints the
driver's and the largest worker's peak RSS (bench_memory.measure) and, per mode, the worker's growth per MB
that went through the shuffle.

Why: the runner groups a shuffle in the driver and hands each worker its share of the grouped data as one
byte string (apache_beam/runners/portability/fn_api_runner/execution.py, `_GroupingBuffer.partition`), so a
worker holds its whole share of the largest shuffle of a stage at once, several times over while it is
decoded. On this runner the worker peak of a pipeline follows the bytes of its largest shuffle, whatever the
pipeline does per key; the fix inside corpusforge is to keep the bytes that cross each shuffle small.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_memory import measure  # noqa: E402

MODES = ("map", "gbk", "cogbk")


def child(docs: int, payload: int, mode: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from corpusforge.pipelines.options import bound_native_heap

    bound_native_heap()
    per_file = 1000

    def elements(i):
        for j in range(i * per_file, min(docs, (i + 1) * per_file)):
            yield f"id{j:09d}", "x" * payload

    opts = PipelineOptions(["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                            "--direct_num_workers=2"])
    with beam.Pipeline(options=opts) as p:
        kv = (p | beam.Create(list(range((docs + per_file - 1) // per_file))) | beam.Reshuffle()
              | beam.FlatMap(elements))
        if mode == "gbk":
            sizes = kv | beam.GroupByKey() | beam.Map(lambda g: sum(len(v) for v in g[1]))
        elif mode == "cogbk":
            marks = kv | "Marks" >> beam.Map(lambda e: (e[0], 1))
            sizes = {"doc": kv, "mark": marks} | beam.CoGroupByKey() | beam.Map(lambda g: len(g[1]["doc"][0]))
        else:
            sizes = kv | beam.Map(lambda e: len(e[1]))
        total = sizes | beam.CombineGlobally(sum)
        total | beam.Map(lambda t: print(f"bytes {t}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[20000, 80000])
    ap.add_argument("--payload", type=int, default=2000, help="bytes of each element's value")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--child", nargs=3, metavar=("DOCS", "PAYLOAD", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), int(args.child[1]), args.child[2])
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    print("| mode | docs | MB through the shuffle | s | driver peak MB | worker peak MB |")
    print("|---|---:|---:|---:|---:|---:|")
    peaks: dict[str, list[tuple[float, int]]] = {}
    for mode in args.modes:
        for n in args.docs:
            r = measure([sys.executable, __file__, "--child", str(n), str(args.payload), mode], env)
            mb = 0.0 if mode == "map" else n * args.payload / 2**20
            peaks.setdefault(mode, []).append((n * args.payload / 2**20, r["worker_peak_mb"]))
            print(f"| {mode} | {n:,} | {mb:,.0f} | {r['seconds']} | {r['driver_peak_mb']:,} | "
                  f"{r['worker_peak_mb']:,} |", flush=True)
    base = peaks.get("map")
    for mode, rows in peaks.items():
        if len(rows) > 1:
            (mb0, w0), (mb1, w1) = rows[0], rows[-1]
            extra = f"; map baseline grew {base[-1][1] - base[0][1]:+d} MB" if base and mode != "map" else ""
            print(f"{mode}: worker peak {w0} -> {w1} MB for {mb1 - mb0:,.0f} MB more data: "
                  f"{(w1 - w0) / (mb1 - mb0):.2f} MB per MB{extra}")


if __name__ == "__main__":
    main()
