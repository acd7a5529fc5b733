"""`corpusforge eval-tokenizer`: measure a tokenizer on held-out kept documents (corpusforge.tokenizers.evaluate)."""
from __future__ import annotations

import argparse

from corpusforge import storage
from corpusforge.report.html import write_report
from corpusforge.tokenizers.evaluate import evaluate_tokenizer, tokenizer_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokenizer", required=True, help="tokenizer dir from `corpusforge train-tokenizer`")
    parser.add_argument("--run", default=None,
                        help="curate run whose held-out kept documents to use (default: the training run); "
                             "also writes RUN/tokenizer_eval.json for the run report")
    parser.add_argument("--baseline", default=None,
                        help="another tokenizer dir to compare with (default: TOKENIZER/baseline)")
    parser.add_argument("--max-bytes-per-language", type=int, default=5_000_000,
                        help="cap on held-out text measured per language (default 5 MB)")


def run(args) -> int:
    result = evaluate_tokenizer(args.tokenizer, args.run, args.baseline, args.max_bytes_per_language)
    if args.run and storage.exists(storage.join(args.run, "stats.json")):
        write_report(args.run)  # the run's report.html gains the tokenizer section
    tok, base = result["tokenizer"], result["baseline"]
    print(f"{'language':<10} {'docs':>6} {'bytes/tok':>10} {'tok/word':>9} {'fallback':>9} {'vocab':>7}"
          + (f"   baseline {tokenizer_label(base)}: bytes/tok tok/word" if base else ""))
    for lang, v in [*tok["languages"].items(), ("overall", tok["overall"])]:
        b = (base["languages"].get(lang) if lang != "overall" else base["overall"]) if base else None
        line = (f"{lang:<10} {v['documents']:>6} {_num(v['bytes_per_token']):>10} {_num(v['tokens_per_word']):>9} "
                f"{100 * v['byte_fallback_rate']:>8.2f}% {100 * v['vocab_utilisation']:>6.1f}%")
        if b:
            line += f"   {_num(b['bytes_per_token']):>9} {_num(b['tokens_per_word']):>8}"
        print(line)
    print(f"written: {args.tokenizer}/eval.json, {args.tokenizer}/eval.html"
          + (f", {args.run}/tokenizer_eval.json" if args.run else ""))
    return 0


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"

