"""`corpusforge train-tokenizer`: train a SentencePiece tokenizer on a run's kept documents
(corpusforge.pipelines.train_tokenizer)."""
from __future__ import annotations

import argparse

from corpusforge.commands.common import add_model_arguments, add_runner_arguments, model_from_args, runner_config, symbol_list
from corpusforge.config import TokenizerTrainConfig
from corpusforge.pipelines.train_tokenizer import train_tokenizer
from corpusforge.tokenizers.train import CARD_FILE, MODEL_FILE


# Flags whose names differ from their config key (kept from earlier versions of the command).
FLAGS = {"normalization_rule_name": "--normalization", "hard_vocab_limit": "--soft-vocab-limit",
         "baseline_model_type": "--baseline"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="curate run directory (its kept/ documents are the corpus)")
    parser.add_argument("--out", required=True, help="tokenizer directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a tokenizer already in --out")
    # Every TokenizerTrainConfig field, help and default declared once in the model (corpusforge.config).
    add_model_arguments(parser.add_argument_group("tokenizer (corpusforge config --defaults train-tokenizer)"),
                        TokenizerTrainConfig, FLAGS)
    parser.add_argument("--add-user-defined-symbols", type=symbol_list, default=[], metavar="A,B,...",
                        help="more pieces kept whole, added to the default list")
    # --quiet (also no SentencePiece training log) is one of the options every subcommand has (corpusforge.cli).
    add_runner_arguments(parser)


def config_from_args(args) -> TokenizerTrainConfig:
    cfg = model_from_args(args, TokenizerTrainConfig)
    extra = [s for s in args.add_user_defined_symbols if s not in cfg.user_defined_symbols]
    return cfg.model_validate({**cfg.model_dump(), "user_defined_symbols": [*cfg.user_defined_symbols, *extra]}) \
        if extra else cfg


def run(args) -> int:
    cfg = config_from_args(args)
    info = train_tokenizer(args.run, args.out, cfg, runner_config(args), overwrite=args.overwrite,
                           progress=not getattr(args, "quiet", False))
    print(f"train-tokenizer finished: {info['model']['model_type']} model with {info['model']['vocab_size']} pieces "
          f"-> {args.out}/{MODEL_FILE}")
    print(f"sample: {info['sample']['total_lines']} lines, {info['sample']['total_bytes']} bytes; "
          f"model card: {args.out}/{CARD_FILE}")
    if info["baseline"]:
        print(f"baseline: {info['baseline']['model_type']} ({info['baseline']['vocab_size']} pieces) -> "
              f"{args.out}/{info['baseline']['file']}")
    print(f"next: corpusforge eval-tokenizer --tokenizer {args.out} --run {args.run}")
    return 0
