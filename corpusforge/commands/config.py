"""`corpusforge config --defaults [COMMAND]`: every config key with its default and help (corpusforge.config.help)."""
from __future__ import annotations

import argparse

from corpusforge.config.help import MODELS, defaults_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--defaults", nargs="?", const="curate", choices=sorted(MODELS), metavar="COMMAND",
                        help=f"print every config key of COMMAND ({', '.join(MODELS)}; default curate) with its "
                             "default and help")


def run(args) -> int:
    if args.defaults is None:
        print("usage: corpusforge config --defaults [" + "|".join(MODELS) + "]")
        return 2
    print(defaults_text(args.defaults), end="")
    return 0
