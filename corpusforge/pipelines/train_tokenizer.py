"""`train-tokenizer` as one job: a Beam pass draws the training sample from a run's kept documents
(corpusforge.pipelines.tokenizer), then SentencePiece trains the model and its baseline on this machine
(corpusforge.tokenizers.train), and the tokenizer directory is published in one step."""
from __future__ import annotations

import json
import logging
import os
import time

from corpusforge import storage
from corpusforge.config import ConfigError, RunnerConfig, TokenizerTrainConfig
from corpusforge.io.runs import kept_files
from corpusforge.pipelines.tokenizer import build_training_sample
from corpusforge.provenance import package_versions
from corpusforge.tokenizers.train import (
    BASELINE_DIR, CARD_FILE, FORMAT, MODEL_FILE, TRAINING_FILE, VOCAB_FILE, _lines_with_progress, _ours, _prepare_out,
    export_hf, model_card, read_sample_lines, sentencepiece_args, train_sentencepiece, write_vocab,
)

log = logging.getLogger("corpusforge.train_tokenizer")


def train_tokenizer(run_dir: str, out_dir: str, cfg: TokenizerTrainConfig, runner: RunnerConfig | None = None,
                    overwrite: bool = False, progress: bool = False) -> dict:
    """Sample (Beam), train the model and its baseline, write OUT. Returns training.json's content."""
    import sentencepiece as spm

    files = kept_files(run_dir)
    work = _prepare_out(out_dir, overwrite)
    t0 = time.time()
    stats = build_training_sample(run_dir, work, cfg, runner)
    if stats["total_lines"] == 0:
        raise ConfigError(f"the training sample is empty: {run_dir}/kept has no text outside the held-out "
                          f"{cfg.holdout_percent}% (lower --holdout-percent or curate more documents)")
    t_sample = time.time() - t0
    sample_path = os.path.join(work, "sample.txt")

    log.info("training %s tokenizer, vocabulary %d, on %d lines (%.1f MB)", cfg.model_type, cfg.vocab_size,
             stats["total_lines"], stats["total_bytes"] / 1e6)
    args = sentencepiece_args(cfg, cfg.model_type, cfg.vocab_size)
    t1 = time.time()
    model = train_sentencepiece(_lines_with_progress(sample_path, stats["total_lines"], progress), args, progress)
    t_train = time.time() - t1
    storage.write_bytes_atomic(os.path.join(work, MODEL_FILE), model)
    write_vocab(model, os.path.join(work, VOCAB_FILE), cfg.user_defined_symbols)

    baseline = None
    if cfg.baseline_model_type != "none":
        b_vocab = cfg.baseline_vocab_size or cfg.vocab_size
        b_args = sentencepiece_args(cfg, cfg.baseline_model_type, b_vocab)
        log.info("training baseline %s tokenizer, vocabulary %d", cfg.baseline_model_type, b_vocab)
        b_model = train_sentencepiece(read_sample_lines(sample_path), b_args, progress)
        os.makedirs(os.path.join(work, BASELINE_DIR))
        storage.write_bytes_atomic(os.path.join(work, BASELINE_DIR, MODEL_FILE), b_model)
        write_vocab(b_model, os.path.join(work, BASELINE_DIR, VOCAB_FILE), cfg.user_defined_symbols)
        baseline = {"dir": BASELINE_DIR, "file": f"{BASELINE_DIR}/{MODEL_FILE}", "sha256": storage.sha256_bytes(b_model),
                    "model_type": cfg.baseline_model_type, "vocab_size": b_vocab,
                    "sentencepiece": {k: v for k, v in b_args.items()}}

    sp = spm.SentencePieceProcessor(model_proto=model)
    hf = export_hf(model, work, sample_path)
    info = {
        "format": FORMAT,
        "source_run": run_dir,
        "kept_files": [f.rsplit("/", 1)[-1] for f in files],
        "config": cfg.model_dump(),
        "sentencepiece": args,
        "model": {"file": MODEL_FILE, "sha256": storage.sha256_bytes(model), "model_type": cfg.model_type,
                  "vocab_size": sp.get_piece_size(), "eos_id": sp.eos_id(), "eos_piece": cfg.eos_piece},
        "baseline": baseline,
        "hf_tokenizer": hf,
        "sample": {k: stats[k] for k in ("unit", "budget", "alpha", "total_lines", "total_bytes", "sha256")},
        "holdout": {"percent": cfg.holdout_percent, "seed": cfg.seed, "hash": "blake2b-64 keyed 'holdout'"},
        "versions": package_versions(("sentencepiece", "apache-beam")),
    }
    storage.write_text_atomic(os.path.join(work, TRAINING_FILE), json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    storage.write_text_atomic(os.path.join(work, CARD_FILE), model_card(info, stats))
    # eval.json/eval.html of an earlier model go too: they measured a model that no longer exists
    storage.publish_work_dir(work, out_dir, _ours)
    log.info("tokenizer written to %s (sample %.1fs, training %.1fs)", out_dir, t_sample, t_train)
    return info
