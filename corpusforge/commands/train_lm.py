"""`corpusforge train-lm`: train the SentencePiece + KenLM model of one language (corpusforge.lm.train)."""
from __future__ import annotations

import argparse

from corpusforge.config import ConfigError
from corpusforge.pipelines.progress import Step
from corpusforge.lm.train import (
    DEFAULT_CHARACTER_COVERAGE, DEFAULT_ORDER, DEFAULT_VOCAB_SIZE, read_reference, train_language_model,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True, help="language code; files are named <lang>.*")
    parser.add_argument("--input", required=True, nargs="+", help="reference JSONL / JSONL.gz (or .txt, one doc a line)")
    parser.add_argument("--out", required=True, help="output directory (the perplexity stage's models_dir)")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--lang-field", default=None, help="keep only records whose FIELD equals --lang (e.g. lang_hint)")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
                        help="SentencePiece vocabulary (CCNet: 65536; sized down for small references)")
    parser.add_argument("--character-coverage", type=float, default=DEFAULT_CHARACTER_COVERAGE)
    parser.add_argument("--model-type", choices=["unigram", "bpe"], default="unigram")
    parser.add_argument("--order", type=int, default=DEFAULT_ORDER, help="KenLM n-gram order (at most 6)")
    parser.add_argument("--heldout-fraction", type=float, default=0.1)
    parser.add_argument("--min-heldout-docs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory", default="512M", help="lmplz -S (sort memory), e.g. 512M, 4G, 10%%")
    parser.add_argument("--scoring", choices=["lines", "document"], default="lines",
                        help="must match perplexity.scoring of the runs that use the model")
    parser.add_argument("--cutoff-input", nargs="+", default=None,
                        help="JSONL sample of the corpus to filter: bucket cutoffs are its percentiles (as CCNet); "
                             "default: the held-out part of the reference")
    parser.add_argument("--keep-arpa", action="store_true", help="also keep the ARPA text model")


def run(args: argparse.Namespace) -> int:
    if not 2 <= args.order <= 6:
        raise ConfigError(f"--order must be between 2 and 6 (KenLM is built with max order 6), got {args.order}")
    if not 0.0 < args.heldout_fraction < 0.5:
        raise ConfigError(f"--heldout-fraction must be in (0, 0.5), got {args.heldout_fraction}")
    texts = read_reference(args.input, args.text_field, args.lang_field, args.lang, progress=Step)
    cutoff_texts = None
    if args.cutoff_input:
        cutoff_texts = read_reference(args.cutoff_input, args.text_field, args.lang_field, args.lang, progress=Step)
    card = train_language_model(
        args.lang, texts, args.out, vocab_size=args.vocab_size, character_coverage=args.character_coverage,
        model_type=args.model_type, order=args.order, heldout_fraction=args.heldout_fraction,
        min_heldout_docs=args.min_heldout_docs, seed=args.seed, memory=args.memory, scoring=args.scoring,
        keep_arpa=args.keep_arpa, inputs=list(args.input), cutoff_texts=cutoff_texts,
        cutoff_inputs=args.cutoff_input, progress=Step,
    )
    hp = card["heldout_perplexity"]
    print(f"{args.lang}: vocab {card['sentencepiece']['vocab_size']}, {card['train_docs']} train / "
          f"{card['heldout_docs']} held-out docs, held-out perplexity {hp['corpus']} "
          f"(cutoffs p30 {hp['head_cutoff_p30']}, p60 {hp['tail_cutoff_p60']}), {card['seconds']['total']}s -> {args.out}")
    return 0
