"""`corpusforge protect`: make photo-caption pairs unlearnable (corpusforge.unlearnable.protect)."""
from __future__ import annotations

import argparse
import json

from corpusforge.config import ProtectConfig, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/protect.yaml", help="YAML config (default: configs/protect.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set method=em --set rounds=5 (repeatable)")
    parser.add_argument("--input", nargs="+",
                        help="caption files (JSONL/CSV) or folders holding one; overrides input.paths")
    parser.add_argument("--output", help="run directory; overrides output.dir")
    parser.add_argument("--method", choices=["mem", "em", "uap", "tap"], help="overrides method")
    parser.add_argument("--overwrite", action="store_true", help="discard an existing run in the output dir")


def run(args: argparse.Namespace) -> int:
    from corpusforge.unlearnable.protect import protect

    overrides = list(args.overrides or [])
    if args.input:
        overrides.append("input.paths=" + json.dumps(args.input))
    if args.output:
        overrides.append(f"output.dir={json.dumps(args.output)}")
    if args.method:
        overrides.append(f"method={args.method}")
    if args.overwrite:
        overrides.append("output.overwrite=true")
    cfg = load_config(args.config, overrides, model=ProtectConfig)
    summary = protect(cfg)
    print(f"protected {summary['protected']} of {summary['in']} pairs ({summary['quarantined']} quarantined)"
          f" -> {cfg.output.dir}  report: {cfg.output.dir}/report.html")
    return 0
