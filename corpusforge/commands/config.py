"""`corpusforge config --defaults [COMMAND]`: every config key with its default and help (corpusforge.config.help).
`corpusforge config --show CONFIG [--set key=value ...] [--for COMMAND]`: the config a run would use, with its
`include:` files merged, `--set` applied and every default filled in, validated as COMMAND validates it."""
from __future__ import annotations

import argparse

from corpusforge.config.help import MODELS, defaults_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--defaults", nargs="?", const="curate", choices=sorted(MODELS), metavar="COMMAND",
                        help=f"print every config key of COMMAND ({', '.join(MODELS)}; default curate) with its "
                             "default and help")
    parser.add_argument("--show", metavar="CONFIG",
                        help="print the resolved config of this YAML file: includes merged, --set applied, "
                             "defaults filled in (what the run uses)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="with --show: override a key, as for the command itself")
    parser.add_argument("--for", dest="for_command", default=None, choices=sorted(MODELS), metavar="COMMAND",
                        help="with --show: validate as this command's config (default: refresh if the file sets "
                             "state_dir, protect if it sets method, else curate)")


def guess_command(path) -> str:
    """The command whose config `path` is: refresh if it sets state_dir, protect if it sets method, else curate."""
    from corpusforge.config.base import read_config_file

    data = read_config_file(path)
    if "state_dir" in data:
        return "refresh"
    return "protect" if "method" in data else "curate"


def run(args) -> int:
    if args.show:
        import yaml

        from corpusforge.config import load_config

        command = args.for_command or guess_command(args.show)
        cfg = load_config(args.show, args.overrides, model=MODELS[command])
        print(f"# {args.show} as `corpusforge {command}` reads it (includes merged, --set applied, defaults filled)")
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")
        return 0
    if args.defaults is None:
        print("usage: corpusforge config --defaults [" + "|".join(MODELS) + "]  |  corpusforge config --show CONFIG")
        return 2
    print(defaults_text(args.defaults), end="")
    return 0
