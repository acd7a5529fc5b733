"""`corpusforge make-image-benchmark`: write the offline image-caption benchmark set
(corpusforge.unlearnable.data.make_benchmark)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from corpusforge.unlearnable.data import DEFAULT_WALLPAPERS

log = logging.getLogger("corpusforge.unlearnable.data")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n", type=int, default=3000, help="number of images (default 3000)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=None, help="held-out images (default min(500, n/6))")
    parser.add_argument("--wallpapers", default=str(DEFAULT_WALLPAPERS),
                        help="folder of background photos from scripts/fetch_wallpapers.sh; 'none' to skip")
    parser.add_argument("--no-skimage", action="store_true", help="do not use scikit-image's bundled photos")


def run(args: argparse.Namespace) -> int:
    from corpusforge.unlearnable.data import make_benchmark

    wall = None if str(args.wallpapers).lower() == "none" else args.wallpapers
    if wall and not Path(wall).is_dir():
        log.warning("wallpaper folder %s not found (run scripts/fetch_wallpapers.sh); using scikit-image photos only",
                    wall)
    s = make_benchmark(args.out, n=args.n, size=args.size, seed=args.seed, test_size=args.test_size,
                       wallpaper_dir=wall, use_skimage=not args.no_skimage)
    print(f"wrote {s['n']} images ({s['train']} train / {s['test']} test, {s['size']}px, "
          f"{len(s['backgrounds'])} background photos) to {args.out}")
    return 0
