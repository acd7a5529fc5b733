"""`corpusforge curate`: run the curation pipeline on a corpus (corpusforge.pipelines.curate)."""
from __future__ import annotations

import argparse
import sys

from corpusforge.commands.common import add_config_arguments
from corpusforge.config import load_config
from corpusforge.pipelines.curate import input_problems, run_curate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "configs/local.yaml", "output.dir=runs/x --set langid.threshold=0.5")
    parser.add_argument("--allow-bad-input", action="store_true",
                        help="exit 0 even when most records could not be read or nothing was kept "
                             "(see input.max_quarantined_share)")


def run(args) -> int:
    cfg = load_config(args.config, args.overrides)
    stats = run_curate(cfg)
    if stats.get("dry_run"):
        print("Dataflow dry run finished: the pipeline graph is valid.")
        return 0
    c = stats["conservation"]
    print(f"curate finished: {c['input']} records in -> {c['kept']} kept, {c['dropped']} dropped, "
          f"{c['quarantined']} quarantined")
    out = cfg.output.dir.rstrip("/")
    print(f"results: {out}/kept/  dropped: {out}/dropped/  quarantine: {out}/quarantine/")
    print(f"report:  {out}/report.html   stats: {out}/stats.json   manifest: {out}/manifest.json")
    problems = input_problems(cfg, stats)
    if problems:
        print("\n".join(["", "PROBLEM: " + problems[0], *problems[1:]]), file=sys.stderr)
        if getattr(args, "allow_bad_input", False):
            print("(--allow-bad-input: exiting 0 anyway)", file=sys.stderr)
            return 0
        print(f"exiting with status 3; the run's outputs are in {out}. Pass --allow-bad-input to accept such a "
              f"run.", file=sys.stderr)
        return 3
    return 0
