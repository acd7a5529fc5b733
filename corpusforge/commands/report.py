"""`corpusforge report --run RUN`: rebuild report.html from a run directory's stats.json (corpusforge.report.html)."""
from __future__ import annotations

import argparse

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.report.html import write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory holding stats.json")


def run(args) -> int:
    if not storage.exists(storage.join(args.run, "stats.json")):
        raise ConfigError(f"{args.run} has no stats.json: pass the directory of a finished curate run")
    print(write_report(args.run.rstrip("/")))
    return 0
