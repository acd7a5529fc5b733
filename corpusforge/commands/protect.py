"""`corpusforge protect`: make photo-caption pairs unlearnable (corpusforge.unlearnable.protect)."""
from __future__ import annotations

import argparse
import json

from corpusforge.commands.common import add_config_arguments
from corpusforge.config import ProtectConfig, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "configs/protect.yaml", "method=em --set rounds=5", required=False)
    parser.add_argument("--input", nargs="+",
                        help="caption files (JSONL/CSV) or folders holding one; overrides input.paths")
    parser.add_argument("--output", help="run directory; overrides output.dir")
    parser.add_argument("--method", choices=["mem", "em", "uap", "tap"], help="overrides method")
    parser.add_argument("--overwrite", action="store_true", help="discard an existing run in the output dir")


def run(args: argparse.Namespace) -> int:
    from corpusforge.pipelines.progress import Step
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
    summary = protect(cfg, progress=Step)
    print(f"protected {summary['protected']} of {summary['in']} pairs ({summary['quarantined']} quarantined)"
          f" -> {cfg.output.dir}  report: {cfg.output.dir}/report.html")
    return 0
