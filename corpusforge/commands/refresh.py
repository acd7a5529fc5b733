"""`corpusforge refresh`: process only new input, dedup it against earlier runs (corpusforge.pipelines.refresh)."""
from __future__ import annotations

import argparse

from corpusforge.commands.common import add_config_arguments
from corpusforge.config import RefreshConfig, load_config
from corpusforge.pipelines.refresh import run_refresh


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "configs/refresh.yaml", "state_dir=gs://bucket/state")


def run(args) -> int:
    cfg = load_config(args.config, args.overrides, model=RefreshConfig)
    res = run_refresh(cfg)
    if not res["refreshed"]:
        print(f"refresh: no new input (state version {res['version']} is current); nothing to do")
        return 0
    c = res["stats"]["conservation"]
    print(f"refresh v{res['version']:05d}: {len(res['new_inputs'])} new file(s), {c['input']} records in -> "
          f"{c['kept']} kept, {c['dropped']} dropped, {c['quarantined']} quarantined")
    print(f"results: {res['run_dir']}/   state: {cfg.state_dir.rstrip('/')}/versions/v{res['version']:05d}/")
    return 0
