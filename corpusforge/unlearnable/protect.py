"""Make image-caption pairs unlearnable (MEM, or the EM/TAP/UAP baselines): the library behind `corpusforge protect`.

Run directory:
  images/<id>.png            protected images, same size as the inputs, within eps after 8-bit quantization
  captions.jsonl / .csv      protected captions (trigger + caption, plain text) next to the image path
  quarantine/quarantine.jsonl  records that could not be used, with the error
  stats.json                 counts with the conservation check (in == protected + quarantined)
  report.json / report.html  per-image PSNR/SSIM, eps, triggers, loss curves, surrogate losses after PNG/JPEG
  manifest.json              inputs (sizes, sha256), config, run key, package versions, outputs
  _work/                     working-resolution image cache, int8 noise memmaps, per-round checkpoint
  _SUCCESS                   written last

Re-running the same command resumes from the last complete round; a finished run (same config and inputs)
is not redone. A different config or input on an existing run dir is an error unless output.overwrite.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpusforge import __version__, storage
from corpusforge.config import ConfigError, ProtectConfig
from corpusforge.progress_api import Silent
from corpusforge.provenance import package_versions
from corpusforge.storage import sha256_file, write_text_atomic

log = logging.getLogger("corpusforge.protect")

WORK = "_work"
SUCCESS = "_SUCCESS"
CACHE_META = "cache.json"
PACKAGES = ("torch", "torchvision", "open-clip-torch", "numpy", "pillow", "scikit-image")  # decide the outputs


# ------------------------------------------------------------------------------------------ records
@dataclass
class PairRecord:
    id: str
    image: str  # resolved image path
    captions: list[str]
    source: str
    line: int


def _load_records(cfg: ProtectConfig) -> tuple[list[PairRecord], list[dict], int]:
    """-> (records, quarantine rows, rows read) from the configured caption files, via data.load_pairs
    (it merges rows of one id and quarantines unparseable rows, rows without image or caption, duplicate ids).
    Images are decoded later, one at a time, straight into the working-resolution memmap (bounded RAM)."""
    from corpusforge.unlearnable import data

    ic = cfg.input
    files = _input_files(cfg)
    if not files:
        raise ConfigError(f"input.paths {ic.paths} matched no file")
    records: dict[str, PairRecord] = {}
    quarantine: list[dict] = []
    rows_read = 0
    for path in files:
        loaded = data.load_pairs(path, image_root=ic.image_root, max_pixels=ic.max_image_pixels, decode=False,
                                 id_field=ic.id_field, image_field=ic.image_field, caption_field=ic.caption_field)
        rows_read += loaded.rows_read
        quarantine.extend(json.loads(q.to_json()) for q in loaded.quarantined)
        for pair in loaded.pairs:
            if pair.path is None:
                raise ConfigError(f"{path}: protect needs image files (caption JSONL/CSV), not embedded bytes")
            if pair.image_id in records:
                quarantine.append({"source": path, "line": pair.line, "stage": "read", "doc_id": pair.image_id,
                                   "error": "duplicate_id: the id appears in an earlier input file"})
                continue
            records[pair.image_id] = PairRecord(pair.image_id, pair.path, list(pair.captions), path, pair.line)
            if ic.limit and len(records) >= ic.limit:
                break
    return list(records.values()), quarantine, rows_read


def _decode_image(path: str, max_pixels: int) -> np.ndarray:
    from corpusforge.unlearnable import data

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise data.ImageError("image_missing_file", f"{path}: {exc.strerror or exc}") from exc
    return np.asarray(data.decode_image(raw, max_pixels), dtype=np.uint8)


def working_size(noise_size: int, model_size: int, records: list[PairRecord]) -> int:
    """The square resolution the noise is optimized and stored at: `noise_size`, but never below the
    surrogate's input (the surrogate must see every pixel it shapes) and never above the smallest image's larger
    side (an upsampled noise on an image that was smaller would be wasted work). Image sizes come from the file
    headers; unreadable files are skipped here and quarantined when decoded."""
    from PIL import Image

    sides = []
    for r in records:
        try:
            with Image.open(r.image) as im:
                sides.append(max(im.size))
        except Exception:  # quarantined later, with the decode error
            continue
    cap = min(sides) if sides else model_size
    return int(max(model_size, min(noise_size, cap)))


def to_working(img: np.ndarray, size: int) -> np.ndarray:
    """HxWx3 uint8 -> 3xSxS uint8 with data.resize_square (whole image, no crop: the noise covers every pixel
    of the output; the same resize the attack harness uses)."""
    from PIL import Image

    from corpusforge.unlearnable import data

    return data.resize_square(Image.fromarray(img), size).transpose(2, 0, 1).copy()


def safe_name(record_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", record_id)[:80].lstrip(".") or "image"
    if name != record_id:  # keep names unique after sanitizing
        name += "-" + hashlib.sha256(record_id.encode()).hexdigest()[:8]
    return name


def run_key(cfg: ProtectConfig, records: list[PairRecord]) -> str:
    """What the result depends on: the method config and each record (id, captions, image size on disk)."""
    conf = cfg.model_dump(mode="json")
    conf.pop("output")
    for k in ("device", "num_threads"):
        conf.pop(k)
    conf["input"].pop("paths")
    h = hashlib.sha256(json.dumps(conf, sort_keys=True).encode())
    for r in records:
        size = os.path.getsize(r.image) if os.path.exists(r.image) else -1
        h.update(json.dumps([r.id, r.captions, os.path.basename(r.image), size]).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ main
def _resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def protect(cfg: ProtectConfig, stop_after_round: int | None = None, progress=Silent) -> dict:
    """Run (or resume) protection. `stop_after_round` stops after that round's checkpoint (tests).
    `progress`: corpusforge.progress_api (lines for decoding the images and for the rounds, with ETA)."""
    from corpusforge.unlearnable.mem import MinMinProtector, WorkingSet, noise_rows
    from corpusforge.unlearnable.run_state import ImageCache, Int8DeltaStore, write_json
    from corpusforge.unlearnable.surrogate import load_surrogate

    from corpusforge.unlearnable.clip import limit_threads

    t_start = time.perf_counter()
    limit_threads(cfg.num_threads)
    out = Path(cfg.output.dir)
    work_dir = out / WORK
    records, quarantine, rows_read = _load_records(cfg)
    key = run_key(cfg, records)

    if out.exists() and any(out.iterdir()):
        previous = _previous_key(out)
        if cfg.output.overwrite:
            shutil.rmtree(out)
        elif previous is not None and previous != key:
            raise ConfigError(f"output dir {out} holds a protect run with a different config or inputs; "
                              f"use another output.dir or --overwrite")
        elif previous is None:
            raise ConfigError(f"output dir {out} is not empty and holds no protect run; choose another output.dir")
        elif (out / SUCCESS).exists():
            log.info("run in %s is complete (same config and inputs); nothing to do", out)
            return json.loads((out / "stats.json").read_text())
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json({"run_key": key}, work_dir / "run_key.json")

    device = _resolve_device(cfg.device)
    surrogate = load_surrogate(cfg.model, cfg.checkpoint, device, cfg.seed)
    ensemble = [load_surrogate(name, None, device, cfg.seed + 1 + i) for i, name in enumerate(cfg.ensemble)]
    size = working_size(cfg.noise_size, max(m.image_size for m in [surrogate, *ensemble]), records)

    # Working-resolution cache: decoded once; images that fail to decode are quarantined here.
    meta_path = work_dir / CACHE_META
    if meta_path.exists() and json.loads(meta_path.read_text()).get("run_key") == key:
        meta = json.loads(meta_path.read_text())
        cache = ImageCache(work_dir / "images.u8", meta["rows"], size, create=False)
    else:
        cache = ImageCache(work_dir / "images.u8", max(len(records), 1), size, create=True)
        valid, bad = [], []
        with progress("protect: decoding images", total=len(records), unit="images") as step:
            for rec in step.each(records):
                try:
                    img = _decode_image(rec.image, cfg.input.max_image_pixels)
                except Exception as e:  # any decode problem: keep the record, with the error, in quarantine
                    reason = str(e) if getattr(e, "reason", None) else f"image_unreadable: {type(e).__name__}: {e}"
                    bad.append(_quarantine_row(rec, reason))
                    continue
                cache.put(len(valid), to_working(img, size))
                valid.append(rec.id)
        cache.flush()
        meta = {"run_key": key, "rows": max(len(records), 1), "valid": valid, "quarantined": bad}
        write_json(meta, meta_path)
    by_id = {r.id: r for r in records}
    valid = [by_id[i] for i in meta["valid"]]
    quarantine = list(quarantine) + meta["quarantined"]
    if len(valid) < 2:
        qpath = _write_quarantine(out, quarantine)
        raise ConfigError(f"only {len(valid)} usable image-caption pairs (need at least 2); "
                          f"{len(quarantine)} records quarantined ({_reason_counts(quarantine)}), "
                          f"each with its error in {qpath}")

    work = WorkingSet(cache, [[surrogate.encode_caption(c) for c in r.captions] for r in valid])
    store = Int8DeltaStore(work_dir, int(noise_rows(cfg, work.captions).max()) + 1, size)
    protector = MinMinProtector(cfg, surrogate, work, store, work_dir, run_key=key, ensemble=ensemble)
    state = protector.run(stop_after_round=stop_after_round, progress=progress)
    if state.round_done < cfg.rounds - 1:
        log.info("stopped after round %d of %d; re-run the same command to continue", state.round_done + 1, cfg.rounds)
        return {"in": None, "protected": None, "quarantined": None, "round_done": state.round_done}

    summary = write_outputs(cfg, out, valid, quarantine, records, protector, state, key, t_start, rows_read)
    (out / SUCCESS).write_text("")
    if not cfg.output.keep_work:
        shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints are only needed until the run is complete
    return summary


def _previous_key(out: Path) -> str | None:
    for p in (out / "manifest.json", out / WORK / "run_key.json"):
        if p.exists():
            try:
                return json.loads(p.read_text()).get("run_key")
            except (OSError, json.JSONDecodeError):
                return None
    return None


def _quarantine_row(rec: PairRecord, error: str) -> dict:
    return {"source": rec.source, "line": rec.line, "stage": "protect_load", "doc_id": rec.id, "error": error,
            "image": rec.image}


# ------------------------------------------------------------------------------------------ outputs
def apply_delta(orig: np.ndarray, delta_work) -> np.ndarray:
    """Upsample a working-resolution delta (1,3,S,S, [0,1] units) to the image's size (bilinear: a convex
    combination, so |delta| <= eps still holds) and add it in 8-bit. round(o + v) - o = round(v) for integer o,
    so the saved pixels differ from the original by at most round(eps * 255)."""
    import torch.nn.functional as F

    h, w = orig.shape[:2]
    up = F.interpolate(delta_work.float(), size=(h, w), mode="bilinear", align_corners=False)[0]
    up = up.permute(1, 2, 0).numpy() * 255.0
    return np.clip(np.round(orig.astype(np.float32) + up), 0, 255).astype(np.uint8)


def _save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image

    with storage.atomic_writer(path) as f:
        Image.fromarray(img).save(f, format="PNG", optimize=False)


def _psnr_ssim(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from corpusforge.unlearnable.metrics import psnr, ssim

    return float(psnr(a, b)), float(ssim(a, b))


def write_outputs(cfg: ProtectConfig, out: Path, valid: list[PairRecord], quarantine: list[dict],
                  records: list[PairRecord], protector, state, key: str, t_start: float, rows_read: int) -> dict:
    import torch

    from corpusforge.unlearnable.baselines import METHODS
    from corpusforge.unlearnable.mem import pair_loss
    from corpusforge.unlearnable.metrics import block_score
    from corpusforge.unlearnable.report import render_report_html
    from corpusforge.unlearnable.robustness import jpeg_reencode
    from corpusforge.unlearnable.run_state import write_json
    from corpusforge.unlearnable.surrogate import protected_caption, trigger_text

    s, store = protector.s, protector.store
    size = store.shape[-1]  # the working resolution the noise was optimized at
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    eps255 = int(round(cfg.eps * 255))
    n_eval = min(len(valid), cfg.output.eval_pairs)
    views = {"clean": [], "protected_png": []}
    for q in cfg.output.jpeg_eval_qualities:
        views[f"protected_jpeg{q}"] = []
    per_image, caption_rows = [], []
    for i, rec in enumerate(valid):
        orig = _decode_image(rec.image, cfg.input.max_image_pixels)
        delta = store.read(state.buffer, [protector.rows[i]])
        prot = apply_delta(orig, delta)
        name = safe_name(rec.id) + ".png"
        _save_png(prot, images_dir / name)
        back = _decode_image(str(images_dir / name), cfg.input.max_image_pixels)  # what a downloader gets
        max_diff = int(np.abs(back.astype(np.int16) - orig.astype(np.int16)).max())
        if back.shape != orig.shape or max_diff > eps255:
            raise RuntimeError(f"{name}: reloaded PNG differs from the input by {max_diff}/255 > eps; this is a bug")
        psnr, ssim = _psnr_ssim(orig, back)
        period = max(orig.shape[:2]) / size  # how far the working-resolution noise was scaled up
        blocks = block_score(orig, back, period)
        ids = state.triggers[state.groups[i]].tolist() if state.triggers is not None else []
        trig = trigger_text(s.tokenizer, ids)
        prot_caps = [protected_caption(s.tokenizer, ids, c) for c in rec.captions]
        per_image.append({"id": rec.id, "image": f"images/{name}", "width": int(orig.shape[1]),
                          "height": int(orig.shape[0]), "psnr": round(psnr, 4), "ssim": round(ssim, 6),
                          "max_abs_diff_255": max_diff, "trigger": trig,
                          "block_score": None if blocks is None else round(blocks, 4)})
        caption_rows.append({"id": rec.id, "image": f"images/{name}", "captions": prot_caps, "trigger": trig,
                             "original_captions": rec.captions})
        if i < n_eval:
            views["clean"].append(to_working(orig, size))
            views["protected_png"].append(to_working(back, size))
            for q in cfg.output.jpeg_eval_qualities:
                views[f"protected_jpeg{q}"].append(to_working(jpeg_reencode(back, q), size))

    # Surrogate losses: the final surrogate on clean pairs vs protected pairs after 8-bit PNG (and JPEG).
    ev_rows = valid[:n_eval]
    caps = [s.encode_caption(r.captions[0]) for r in ev_rows]
    trig_rows = (state.triggers[state.groups[:n_eval]].tolist() if state.triggers is not None else None)
    clean_tokens = s.build_tokens(None, caps)
    prot_tokens = s.build_tokens(trig_rows, caps)
    evaluation = {}
    for view, arrs in views.items():
        x = torch.from_numpy(np.stack(arrs).astype(np.float32) / 255.0)
        evaluation[view] = pair_loss(s, x, clean_tokens if view == "clean" else prot_tokens, cfg.batch_size)
        arrs.clear()
    if state.triggers is not None:
        x_work = protector.work.images.read(np.arange(n_eval)) + store.read(state.buffer, protector.rows[:n_eval])
        evaluation["protected_working_resolution"] = pair_loss(s, x_work.clamp(0, 1), prot_tokens, cfg.batch_size)

    # Captions: JSONL (one row per image) and CSV (one row per caption).
    if "jsonl" in cfg.output.caption_formats:
        write_text_atomic(out / "captions.jsonl", "".join(json.dumps(
            {"id": r["id"], "image": r["image"], "caption": r["captions"], "trigger": r["trigger"]},
            ensure_ascii=False, sort_keys=True) + "\n" for r in caption_rows))
    if "csv" in cfg.output.caption_formats:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "image", "caption", "caption_index", "trigger"])
        for r in caption_rows:
            for j, c in enumerate(r["captions"]):
                w.writerow([r["id"], r["image"], c, j, r["trigger"]])
        write_text_atomic(out / "captions.csv", buf.getvalue())
    _write_quarantine(out, quarantine)

    # Counted in image-caption records (rows naming the same id are merged into one record, as data.py does).
    n_in = len(records) + sum(1 for q in quarantine if q.get("stage") != "protect_load")
    n_prot = len(valid)
    n_quar = len(quarantine)
    stats = {"in": n_in, "protected": n_prot, "quarantined": n_quar, "rows_read": rows_read,
             "rows_merged": rows_read - (len(records) + sum(1 for q in quarantine if q.get("stage") != "protect_load")),
             "images_protected": len(valid), "captions_protected": sum(len(r.captions) for r in valid),
             "conservation": {"in": n_in, "protected": n_prot, "quarantined": n_quar, "ok": n_in == n_prot + n_quar},
             "quarantine_reasons": _reason_counts(quarantine)}
    if not stats["conservation"]["ok"]:
        raise RuntimeError(f"conservation check failed: {stats['conservation']}; this is a bug")
    psnrs = [p["psnr"] for p in per_image if np.isfinite(p["psnr"])]
    report = {
        "method": cfg.method, "method_description": METHODS[cfg.method], "eps": cfg.eps, "eps_255": eps255,
        "alpha": cfg.alpha, "trigger_tokens": protector.k, "rounds": cfg.rounds, "model": cfg.model,
        "surrogate_image_size": s.image_size, "noise_size": size, "eot": cfg.eot.model_dump(mode="json"),
        "summary": {"psnr_mean": float(np.mean(psnrs)) if psnrs else None, "psnr_min": min(psnrs) if psnrs else None,
                    "ssim_mean": float(np.mean([p["ssim"] for p in per_image])),
                    "max_abs_diff_255": max(p["max_abs_diff_255"] for p in per_image),
                    "distinct_triggers": len({p["trigger"] for p in per_image}),
                    "block_score_max": max((p["block_score"] for p in per_image if p["block_score"] is not None),
                                           default=None)},
        "surrogate_eval": evaluation, "eval_pairs": n_eval, "curves": state.curves, "per_image": per_image,
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    write_json(report, out / "report.json")
    write_json(stats, out / "stats.json")
    write_text_atomic(out / "report.html", render_report_html(report, stats))
    manifest = {
        "corpusforge_version": __version__, "command": "protect", "run_key": key,
        "inputs": [{"path": p, "size": os.path.getsize(p), "sha256": sha256_file(p)} for p in _input_files(cfg)],
        "config": cfg.model_dump(mode="json"), "packages": package_versions(PACKAGES),
        "outputs": {"images": "images/", "captions": [f"captions.{f}" for f in cfg.output.caption_formats],
                    "quarantine": "quarantine/quarantine.jsonl", "stats": "stats.json", "report": "report.html",
                    "report_json": "report.json", "checkpoint": f"{WORK}/"},
    }
    write_json(manifest, out / "manifest.json")
    return stats


def _write_quarantine(out: Path, quarantine: list[dict]) -> Path:
    path = out / "quarantine" / "quarantine.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(q, sort_keys=True, ensure_ascii=False) + "\n" for q in quarantine))
    return path


def _reason_counts(quarantine: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for q in quarantine:
        reason = str(q.get("error", "")).split(":", 1)[0] or "unknown"
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def _input_files(cfg: ProtectConfig) -> list[str]:
    """Caption files named by input.paths (files, folders, glob patterns). A folder stands for its captions
    file (data.resolve_source), so the manifest hashes that file, never the folder itself."""
    import glob

    from corpusforge.unlearnable.data import resolve_source

    files = []
    for pat in cfg.input.paths:
        for p in sorted(glob.glob(pat)) or ([pat] if os.path.exists(pat) else []):
            files.append(str(resolve_source(p)) if os.path.isdir(p) else p)
    return sorted(set(files))
