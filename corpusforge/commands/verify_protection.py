"""`corpusforge verify-protection`: train an attacker CLIP on pairs, measure clean held-out retrieval
(corpusforge.unlearnable.attack)."""
from __future__ import annotations

import argparse
from pathlib import Path

from corpusforge.unlearnable.attack import DEFAULT_BATCH, DEFAULT_LR, DEFAULT_STEPS
from corpusforge.unlearnable.data import DEFAULT_MAX_PIXELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True,
                        help="training pairs: a folder with captions.jsonl/.csv (a protect run dir, or a benchmark "
                             "folder: its train.jsonl is used), a captions file, or Parquet with image bytes")
    parser.add_argument("--test", required=True, help="clean held-out pairs (benchmark folder: its test.jsonl)")
    parser.add_argument("--out", required=True, help="output folder for metrics.json")
    parser.add_argument("--model", default="cf-tiny",
                        help="attacker architecture: cf-tiny, cf-small-rn or any open_clip name (random init)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--init-checkpoint", default=None, help="local weights to fine-tune from (never downloaded)")
    parser.add_argument("--jpeg-quality", type=int, default=None,
                        help="JPEG re-encode the training images at this quality first (e.g. 75)")
    parser.add_argument("--grayscale", action="store_true", help="grayscale the training images first")
    parser.add_argument("--downscale", type=float, default=None,
                        help="downscale the training images by this factor and back up first (e.g. 0.5)")
    parser.add_argument("--augment", choices=["none", "shift"], default="none",
                        help="training augmentation (shift: random translation up to 4 px; never flips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help="quarantine images larger than this many pixels")
    parser.add_argument("--save-model", action="store_true", help="also write the attacker weights (attacker.pt)")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="measure even when image ids appear in both --train and --test (not held-out)")


def run(args: argparse.Namespace) -> int:
    from corpusforge.pipelines.progress import Step
    from corpusforge.unlearnable.attack import format_table, verify_protection

    report = verify_protection(args.train, args.test, args.out, model=args.model, steps=args.steps,
                               batch_size=args.batch_size, lr=args.lr, init_checkpoint=args.init_checkpoint,
                               jpeg_quality=args.jpeg_quality, grayscale=args.grayscale, downscale=args.downscale, seed=args.seed,
                               augment=args.augment, max_pixels=args.max_pixels, threads=args.threads,
                               save_model=args.save_model, allow_overlap=args.allow_overlap, steps_progress=Step)
    print(format_table(report))
    print(f"metrics: {Path(args.out) / 'metrics.json'}")
    return 0
