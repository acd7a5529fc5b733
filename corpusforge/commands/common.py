"""Argument helpers shared by several subcommands."""
from __future__ import annotations

import argparse

from corpusforge.config import ConfigError, RunnerConfig, load_config


def add_config_arguments(parser: argparse.ArgumentParser, example_config: str, example_set: str,
                         required: bool = True) -> None:
    """--config YAML and repeatable --set key=value, as every config-driven command takes them."""
    parser.add_argument("--config", required=required, default=None if required else example_config,
                        help=f"YAML config (e.g. {example_config})" if required else
                        f"YAML config (default: {example_config})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a config key, e.g. --set {example_set} (repeatable)")


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("Beam runner")
    g.add_argument("--runner-config", metavar="YAML",
                   help="a YAML file with a `runner:` section (as in configs/*.yaml); default: FnApiRunner, 1 worker")
    g.add_argument("--direct-num-workers", type=int, help="FnApiRunner workers (overrides the runner config)")
    g.add_argument("--direct-running-mode", choices=["in_memory", "multi_processing"],
                   help="FnApiRunner mode (overrides the runner config)")


def runner_config(args) -> RunnerConfig:
    data: dict = {}
    if getattr(args, "runner_config", None):
        from pathlib import Path

        from corpusforge.config.base import read_config_file

        if not Path(args.runner_config).is_file():
            raise ConfigError(f"--runner-config {args.runner_config}: file not found")
        loaded = read_config_file(Path(args.runner_config))  # the one YAML loader (includes too)
        data = dict(loaded.get("runner", loaded) if isinstance(loaded, dict) else {})
    if getattr(args, "direct_num_workers", None):
        data["direct_num_workers"] = args.direct_num_workers
    if getattr(args, "direct_running_mode", None):
        data["direct_running_mode"] = args.direct_running_mode

    return load_config(None, None, model=RunnerConfig, data=data) if data else RunnerConfig()


# ------------------------------------------------------------------ flags generated from a config model
def symbol_list(value: str) -> list[str]:
    # "\n" written as the two characters backslash-n on a command line means a line break.
    return [s.replace("\\n", "\n").replace("\\t", "\t") for s in value.split(",") if s != ""]


def add_model_arguments(parser: argparse.ArgumentParser, model, flags: dict[str, str] | None = None,
                        skip: tuple[str, ...] = ()) -> None:
    """One flag per field of a pydantic config model, its help and default taken from the model, so both
    are declared once (and `corpusforge config --defaults` prints the same text). `--some-field` by default;
    `flags` renames one; a boolean that defaults to true gets `--no-<name>` (or its renamed flag), one that
    defaults to false a plain switch. Flags not given leave the model's default."""
    from typing import Literal, get_args, get_origin

    for name, field in model.model_fields.items():
        if name in skip:
            continue
        default = field.get_default(call_default_factory=True)
        ann = field.annotation
        args = [a for a in get_args(ann) if a is not type(None)]
        base = args[0] if get_origin(ann) not in (Literal, list) and args else ann
        flag = (flags or {}).get(name) or ("--no-" if default is True else "--") + name.replace("_", "-")
        shown = ",".join(x.replace("\n", "\\n") for x in default) if isinstance(default, list) else default
        help_text = (field.description or "").rstrip(".") + f" (config key {name}, default {shown})"
        kw: dict = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        if ann is bool:
            kw["action"] = "store_false" if default is True else "store_true"
        elif get_origin(ann) is Literal:
            kw["choices"] = list(get_args(ann))
        elif get_origin(base) is list:
            kw.update(type=symbol_list, metavar="A,B,...")
        else:
            kw["type"] = base
        parser.add_argument(flag, **kw)


def model_from_args(args: argparse.Namespace, model):
    """The model built from the flags `add_model_arguments` added and the user gave; a ConfigError naming
    the flag's key when a value is out of range."""
    from pydantic import ValidationError

    from corpusforge.config import format_validation_error

    given = {k: v for k, v in vars(args).items() if k in model.model_fields}
    try:
        return model(**given)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, "(command line)", model)) from None
