"""`corpusforge protect-photos DIR`: protect a folder of photos with a frozen surrogate
(corpusforge.unlearnable.photos; issue 18). `--preview IMAGE` protects one photo, writes original / protected /
amplified difference PNGs with its PSNR and a time estimate for the folder, and stops."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

log = logging.getLogger("corpusforge.photos")

POST_TOGETHER = ("Post each photo TOGETHER with its caption below: the protection pairs the noise in the photo "
                 "with the first words of the caption. A photo posted without its caption is less protected.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from corpusforge.unlearnable.frozen import DEFAULT_CHECKPOINT, DEFAULT_MODEL
    from corpusforge.unlearnable.photos import DEFAULT_MAX_PIXELS, DEFAULT_PRESET, PRESETS

    presets = ", ".join(f"{k}: eps {e:g}/255, {s} steps" for k, (e, s) in PRESETS.items())
    parser.add_argument("folder", metavar="DIR", help="folder of JPEG/PNG/WebP photos (content-sniffed)")
    parser.add_argument("--captions", help="CSV or JSONL with file_name and caption columns (default: "
                        "DIR/captions.csv or DIR/captions.jsonl, else each file's name)")
    parser.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET, help=f"strength ({presets})")
    parser.add_argument("--out", help="output folder (default: DIR-protected)")
    parser.add_argument("--preview", metavar="IMAGE", help="protect only this photo, write original/protected/"
                        "difference PNGs into OUT/preview with PSNR and a time estimate, and stop")
    parser.add_argument("--checkpoint", help=f"open_clip weights file of the surrogate (default {DEFAULT_CHECKPOINT},"
                        " built by scripts/build_surrogate.py)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="open_clip architecture of --checkpoint "
                        f"(default {DEFAULT_MODEL}; e.g. ViT-B-32 for OpenAI's weights)")
    parser.add_argument("--seed", type=int, default=0, help="trigger choice (default 0)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger photos")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: available cores)")


def _preview(args, job, folder: Path, out: Path, n_photos: int) -> int:
    from corpusforge import storage
    from corpusforge.unlearnable import photos

    path = Path(args.preview)
    photo = photos.read_photo(path, args.max_pixels)
    i = job.names.index(path.name) if path.name in job.names else 0
    if path.name not in job.names:  # a photo from elsewhere: use its own name as caption
        job = photos.Job.make(job.surrogate, [path.name], {}, args.preset, args.seed)
    result = photos.preview(job, i, photo)
    dest = out / "preview"
    for name in ("original.png", "protected.png", "difference.png"):
        storage.write_bytes_atomic(str(dest / name), result[name])
    print(f"preview of {path.name} (preset {args.preset}) -> {dest}/original.png, protected.png, difference.png "
          f"(difference amplified 10x)")
    print(f"PSNR {result['psnr']:.2f} dB; {result['seconds']:.2f} s for this photo, so about "
          f"{result['seconds'] * n_photos:.0f} s for the {n_photos} photos of {folder}")
    print(f"caption to post with it: {job.caption_to_post(i)}")
    print("run again without --preview to protect the whole folder")
    return 0


def run(args: argparse.Namespace) -> int:
    from corpusforge.pipelines.progress import Step
    from corpusforge.unlearnable import frozen, photos
    from corpusforge.unlearnable.clip import limit_threads

    limit_threads(args.threads)
    folder = Path(args.folder)
    out = Path(args.out) if args.out else folder.resolve().with_name(folder.resolve().name + "-protected")
    surrogate = frozen.load_frozen(args.checkpoint, args.model, args.seed)
    paths, skipped = photos.list_photos(folder, args.max_pixels)
    if args.preview:
        job = photos.Job.make(surrogate, [p.name for p in paths] or [Path(args.preview).name],
                              photos.find_captions(folder, args.captions), args.preset, args.seed)
        return _preview(args, job, folder, out, len(paths))
    t0 = time.perf_counter()
    with Step(f"protect-photos {folder.name} ({args.preset})", total=len(paths), unit="photos", interval=5) as step:
        def on_photo(name: str, stats: dict) -> None:
            step.add()
            if "skipped" not in stats:
                log.info("%s: PSNR %.1f dB, %.1fs", name, stats["psnr"], stats["seconds"])

        summary = photos.protect_folder(folder, out, surrogate, args.preset, args.captions, args.seed,
                                        args.max_pixels, on_photo)
    done = summary["photos"]
    print(f"protected {len(done)} photos of {folder} -> {out} in {time.perf_counter() - t0:.0f}s "
          f"(preset {args.preset}: eps {summary['eps_255']:g}/255, {summary['steps']} steps)")
    for s in summary["skipped"]:
        print(f"  skipped {s['file']}: {s['reason']}")
    stripped = [d["file"] for d in done if d["metadata_removed"]]
    print("metadata: EXIF, ICC profile and transparency kept; GPS location removed from EXIF, XMP and IPTC blocks "
          f"dropped (they can hold locations) -- removed in {len(stripped)} photo(s)"
          + (f": {', '.join(stripped)}" if stripped else ""))
    if done:
        print(f"PSNR {min(d['psnr'] for d in done):.1f}-{max(d['psnr'] for d in done):.1f} dB")
        print(POST_TOGETHER)
        for d in done:
            print(f"  {d['file']}\t{d['caption_to_post']}")
        print(f"(also in {out / photos.POST_FILES[0]} and {out / photos.POST_FILES[1]})")
    return 0 if done or not paths else 1
