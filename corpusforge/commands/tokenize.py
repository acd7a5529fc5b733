"""`corpusforge tokenize`: encode a run's kept documents into token shards (corpusforge.pipelines.tokenizer)."""
from __future__ import annotations

import argparse

from corpusforge.commands.common import add_runner_arguments, runner_config
from corpusforge.pipelines.tokenizer import run_tokenize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="curate run directory (its kept/ is encoded)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer dir from `corpusforge train-tokenizer`")
    parser.add_argument("--out", required=True, help="output directory for the token shards")
    parser.add_argument("--num-shards", type=int, default=None, help="default: one per kept Parquet shard")
    parser.add_argument("--no-eos", dest="append_eos", action="store_false",
                        help="do not end each document with the tokenizer's end-of-text id")
    parser.add_argument("--seed", type=int, default=0, help="key of the shard assignment and in-shard order")
    parser.add_argument("--no-verify", dest="verify_roundtrip", action="store_false",
                        help="skip decoding every document to check it gives the kept text back")
    parser.add_argument("--encode-threads", type=int, default=1,
                        help="SentencePiece threads per worker (default 1: runners run one worker per core)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing shards in --out")
    add_runner_arguments(parser)


def run(args) -> int:
    manifest = run_tokenize(args.run, args.tokenizer, args.out, num_shards=args.num_shards,
                            append_eos=args.append_eos, seed=args.seed, verify_roundtrip=args.verify_roundtrip,
                            runner=runner_config(args), overwrite=args.overwrite,
                            encode_threads=args.encode_threads)
    print(f"tokenize finished: {manifest['total_documents']} documents, {manifest['total_tokens']} tokens in "
          f"{manifest['num_shards']} shard(s) of {manifest['dtype']} -> {args.out}")
    for lang, v in manifest["languages"].items():
        print(f"  {lang}: {v['documents']} docs, {v['tokens']} tokens, {v['bytes_per_token']:.2f} bytes/token")
    if manifest["roundtrip_mismatch_count"]:
        print(f"warning: {manifest['roundtrip_mismatch_count']} document(s) do not decode back to their kept text "
              f"(ids in {args.out}/manifest.json); with normalization other than identity this is expected")
    return 0
