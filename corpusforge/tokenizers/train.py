"""`corpusforge train-tokenizer`: a SentencePiece BPE model trained on a run's kept documents.

OUT gets:
  tokenizer.model / tokenizer.vocab   the model and a readable list of its pieces (id, piece as JSON, score, kind)
  baseline/tokenizer.model            the comparison model (default: unigram, same sample and vocabulary size)
  sample.txt, sample_stats.json       the training sample (from the Beam step) and its per-language shares
  training.json                       every setting, hashes, versions: what eval-tokenizer and tokenize read
  MODEL_CARD.md                       the same for people, with the per-language share of the sample
  tokenizer.json, tokenizer_config.json, special_tokens_map.json
                                      the same model for Hugging Face (corpusforge.tokenizers.hf):
                                      AutoTokenizer.from_pretrained(OUT) loads it offline

Determinism: the sample is chosen by keyed hashes of document ids; SentencePiece reads it in file order
with no sentence sampling or shuffling, from an iterator (so no input path is stored in the model), and
the thread count is a fixed setting (it is stored in the model). The same kept documents and settings
give the same model bytes; the tests train twice and compare.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import sys
import time
from typing import Iterable, Iterator

from corpusforge.config import ConfigError, RunnerConfig, TokenizerTrainConfig, format_validation_error

log = logging.getLogger("corpusforge.train_tokenizer")

FORMAT = "corpusforge-tokenizer/1"
MODEL_FILE = "tokenizer.model"
VOCAB_FILE = "tokenizer.vocab"
TRAINING_FILE = "training.json"
CARD_FILE = "MODEL_CARD.md"
BASELINE_DIR = "baseline"
UNK_PIECE = "<unk>"
BOS_PIECE = "<s>"


def sentencepiece_args(cfg: TokenizerTrainConfig, model_type: str, vocab_size: int) -> dict:
    """Trainer flags. Sampling and shuffling are off: the Beam step already chose the sample."""
    for sym in [*cfg.user_defined_symbols, *cfg.control_symbols]:
        if "," in sym:
            # The Python wrapper passes symbol lists to the trainer comma-joined.
            raise ConfigError(f"symbol {sym!r} contains a comma, which SentencePiece cannot take in a symbol list")
    return {
        "model_type": model_type,
        "vocab_size": vocab_size,
        "character_coverage": cfg.character_coverage,
        "normalization_rule_name": cfg.normalization_rule_name,
        "remove_extra_whitespaces": cfg.remove_extra_whitespaces,
        "add_dummy_prefix": cfg.add_dummy_prefix,
        "byte_fallback": cfg.byte_fallback,
        "split_digits": cfg.split_digits,
        "user_defined_symbols": list(cfg.user_defined_symbols),
        "control_symbols": list(cfg.control_symbols),
        "unk_id": 0, "unk_piece": UNK_PIECE,
        "bos_id": 1, "bos_piece": BOS_PIECE,
        "eos_id": 2, "eos_piece": cfg.eos_piece,
        "pad_id": -1,
        "max_sentence_length": cfg.max_sentence_length,
        "hard_vocab_limit": cfg.hard_vocab_limit,
        "input_sentence_size": 0,
        "shuffle_input_sentence": False,
        "num_threads": cfg.num_threads,
    }


def read_sample_lines(path: str) -> Iterator[str]:
    """Lines of sample.txt, split on "\\n" only (text-mode reading would also split on "\\r" and U+2028)."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line:
                yield line.decode("utf-8")


def train_sentencepiece(lines: Iterable[str], args: dict, progress: bool = False) -> bytes:
    """Train and return the serialized model. SentencePiece's own log is its progress report."""
    import sentencepiece as spm

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model,
                                       minloglevel=0 if progress else 2, **args)
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size too high" in msg or "Vocabulary size is smaller than required_chars" in msg:
            raise ConfigError(
                f"SentencePiece cannot build a {args['model_type']} vocabulary of {args['vocab_size']} from this "
                f"sample: {msg.split(']', 1)[-1].strip()} -- lower --vocab-size (or --baseline-vocab-size), "
                "raise the sample budget, or pass --soft-vocab-limit"
            ) from None
        raise
    return model.getvalue()


def _lines_with_progress(path: str, total: int, progress: bool) -> Iterable[str]:
    lines = read_sample_lines(path)
    if not progress:
        return lines
    from tqdm import tqdm

    return tqdm(lines, total=total, desc="loading sample", unit=" lines", file=sys.stderr, mininterval=1.0)


def write_vocab(model_proto: bytes, path: str, user_defined: Iterable[str] = ()) -> None:
    """One line per piece: id, the piece as a JSON string (pieces may hold line breaks), score, kind."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    user_defined = set(user_defined)
    rows = []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        kind = ("unknown" if sp.is_unknown(i) else "control" if sp.is_control(i) else "byte" if sp.is_byte(i)
                else "unused" if sp.is_unused(i) else "user_defined" if piece in user_defined else "normal")
        rows.append(f"{i}\t{json.dumps(piece, ensure_ascii=False)}\t{sp.get_score(i):g}\t{kind}\n")
    _write_text(path, "".join(rows))


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_bytes(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _prepare_out(out_dir: str, overwrite: bool) -> str:
    if "://" in out_dir:
        raise ConfigError(f"--out {out_dir}: the tokenizer is trained on this machine; give a local directory")
    if os.path.exists(os.path.join(out_dir, MODEL_FILE)) and not overwrite:
        raise ConfigError(f"{out_dir} already holds a tokenizer; pass --overwrite to replace it")
    if os.path.isdir(out_dir):
        ours = {MODEL_FILE, VOCAB_FILE, TRAINING_FILE, CARD_FILE, BASELINE_DIR, "sample.txt", "sample_stats.json",
                "eval.json", "eval.html", "_work", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json"}
        foreign = sorted(set(os.listdir(out_dir)) - ours)
        if foreign:
            raise ConfigError(f"--out {out_dir} holds files that are not a tokenizer's ({foreign[0]}, ...); "
                              "choose an empty or new directory")
    work = os.path.join(out_dir, "_work")
    shutil.rmtree(work, ignore_errors=True)  # what a killed run left
    os.makedirs(work)
    return work


def train_tokenizer(run_dir: str, out_dir: str, cfg: TokenizerTrainConfig, runner: RunnerConfig | None = None,
                    overwrite: bool = False, progress: bool = False) -> dict:
    """Sample (Beam), train the model and its baseline, write OUT. Returns training.json's content."""
    import sentencepiece as spm

    from corpusforge.pipelines.tokenizer import build_training_sample, kept_files

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
    _write_bytes(os.path.join(work, MODEL_FILE), model)
    write_vocab(model, os.path.join(work, VOCAB_FILE), cfg.user_defined_symbols)

    baseline = None
    if cfg.baseline_model_type != "none":
        b_vocab = cfg.baseline_vocab_size or cfg.vocab_size
        b_args = sentencepiece_args(cfg, cfg.baseline_model_type, b_vocab)
        log.info("training baseline %s tokenizer, vocabulary %d", cfg.baseline_model_type, b_vocab)
        b_model = train_sentencepiece(read_sample_lines(sample_path), b_args, progress)
        os.makedirs(os.path.join(work, BASELINE_DIR))
        _write_bytes(os.path.join(work, BASELINE_DIR, MODEL_FILE), b_model)
        write_vocab(b_model, os.path.join(work, BASELINE_DIR, VOCAB_FILE), cfg.user_defined_symbols)
        baseline = {"dir": BASELINE_DIR, "file": f"{BASELINE_DIR}/{MODEL_FILE}", "sha256": _sha256(b_model),
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
        "model": {"file": MODEL_FILE, "sha256": _sha256(model), "model_type": cfg.model_type,
                  "vocab_size": sp.get_piece_size(), "eos_id": sp.eos_id(), "eos_piece": cfg.eos_piece},
        "baseline": baseline,
        "hf_tokenizer": hf,
        "sample": {k: stats[k] for k in ("unit", "budget", "alpha", "total_lines", "total_bytes", "sha256")},
        "holdout": {"percent": cfg.holdout_percent, "seed": cfg.seed, "hash": "blake2b-64 keyed 'holdout'"},
        "versions": _versions(),
    }
    _write_text(os.path.join(work, TRAINING_FILE), json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    _write_text(os.path.join(work, CARD_FILE), model_card(info, stats))
    _publish(work, out_dir)
    log.info("tokenizer written to %s (sample %.1fs, training %.1fs)", out_dir, t_sample, t_train)
    return info


HF_CHECK_LINES = 2000


def export_hf(model: bytes, work: str, sample_path: str) -> dict:
    """Write the Hugging Face files beside the model and check that they encode the first HF_CHECK_LINES sample
    lines to the same ids as SentencePiece. Settings the export cannot reproduce exactly are skipped, said so."""
    import sentencepiece as spm

    from corpusforge.tokenizers.hf import FILES, build_hf_tokenizer, write_hf_files

    try:
        tok = build_hf_tokenizer(model)
    except (ImportError, ValueError) as e:
        log.warning("no tokenizer.json: %s", e)
        return {"files": [], "skipped": str(e)}
    write_hf_files(model, lambda name, data: _write_bytes(os.path.join(work, name), data))
    sp = spm.SentencePieceProcessor(model_proto=model)
    checked = mismatched = 0
    for line in read_sample_lines(sample_path):
        if checked >= HF_CHECK_LINES:
            break
        checked += 1
        mismatched += sp.encode(line) != tok.encode(line, add_special_tokens=False).ids
    if mismatched:
        log.warning("tokenizer.json encodes %d of %d sample lines differently from tokenizer.model", mismatched,
                    checked)
    return {"files": list(FILES), "checked_lines": checked, "mismatched_lines": mismatched}


def _publish(work: str, out_dir: str) -> None:
    for name in sorted(os.listdir(work)):
        dst = os.path.join(out_dir, name)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.replace(os.path.join(work, name), dst)
    for stale in ("eval.json", "eval.html"):  # measured on a model that no longer exists
        if os.path.exists(os.path.join(out_dir, stale)):
            os.remove(os.path.join(out_dir, stale))
    os.rmdir(work)


def _versions() -> dict:
    from importlib.metadata import version

    return {"sentencepiece": version("sentencepiece"), "apache-beam": version("apache-beam")}


def model_card(info: dict, stats: dict) -> str:
    cfg = info["config"]
    sp_args = info["sentencepiece"]
    unit = stats["unit"]
    lines = [
        f"# Tokenizer model card: SentencePiece {info['model']['model_type'].upper()}, "
        f"{info['model']['vocab_size']} pieces",
        "",
        f"- Trained on: `{info['source_run']}/kept` ({len(info['kept_files'])} Parquet shard(s)), documents outside "
        f"the held-out {cfg['holdout_percent']}% (keyed hash of the id, seed {cfg['seed']}).",
        f"- Model: `{MODEL_FILE}`, SHA-256 `{info['model']['sha256']}`; end of text: "
        f"`{cfg['eos_piece']}` (id {info['model']['eos_id']}, a control piece: never produced from raw text, "
        "so a document cannot fake a boundary).",
        f"- Byte fallback: {'on' if cfg['byte_fallback'] else 'off'} (with it, no input ever maps to `<unk>`); "
        f"digits split: {'yes' if cfg['split_digits'] else 'no'}; character coverage {cfg['character_coverage']}; "
        f"max sentence length {cfg['max_sentence_length']} bytes (longer sample lines were split, not skipped).",
        f"- Normalization: `{cfg['normalization_rule_name']}`, remove_extra_whitespaces="
        f"{cfg['remove_extra_whitespaces']}, add_dummy_prefix={cfg['add_dummy_prefix']}. "
        + ("With these settings `decode(encode(text)) == text` for every text that does not contain U+2581 "
           "(SentencePiece's whitespace meta symbol, which decodes as a space)."
           if cfg["normalization_rule_name"] == "identity" and not cfg["remove_extra_whitespaces"]
           else "Text is normalized before encoding, so decoding does not always give the input back."),
        "- User-defined pieces (always one token): "
        + ", ".join(f"`{json.dumps(s)[1:-1]}`" for s in cfg["user_defined_symbols"]) + ".",
        "- Control pieces: " + ", ".join(f"`{s}`" for s in [UNK_PIECE, BOS_PIECE, cfg["eos_piece"], *cfg["control_symbols"]]) + ".",
        "",
        "## Training sample",
        "",
        f"Budget: {stats['budget']:,} {unit} "
        f"({'UTF-8 bytes of sample lines' if unit == 'bytes' else 'sample lines'}); taken: {stats['total_lines']:,} "
        f"lines, {stats['total_bytes']:,} bytes (SHA-256 of sample.txt `{stats['sha256']}`).",
        f"Languages are balanced by temperature sampling as in mT5: share_l = n_l^alpha / sum_k n_k^alpha with "
        f"alpha = {stats['alpha']} (n_l: {unit} of language l outside the held-out split); a language with less text "
        "than its share is taken whole and the rest of the budget is split again."
        + (" The budget exceeds the text available, so every language was taken whole: the sampled shares are "
           "the corpus shares." if all(v["target_units"] >= v["available_units"] for v in stats["languages"].values())
           else ""),
        "",
        f"| language | available {unit} | temperature share | target {unit} | sampled docs | sampled lines | "
        f"sampled bytes | sampled share | held-out docs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lang, v in stats["languages"].items():
        lines.append(
            f"| {lang} | {v['available_units']:,} | {v['temperature_share']:.3f} | {v['target_units']:,.0f} | "
            f"{v['sampled_documents']:,} | {v['sampled_lines']:,} | {v['sampled_bytes']:,} | {v['sampled_share']:.3f} | "
            f"{v['heldout_documents']:,} |"
        )
    lines += [
        "",
        "## Determinism",
        "",
        "The sample is chosen by keyed BLAKE2b hashes of document ids (no random state), SentencePiece reads it in "
        "file order with sentence sampling and shuffling off (`input_sentence_size=0`, "
        f"`shuffle_input_sentence=false`), and the thread count is fixed (`num_threads={sp_args['num_threads']}`; "
        "it is stored in the model). Re-running with the same kept documents and settings gives the same model "
        f"bytes (sentencepiece {info['versions']['sentencepiece']}).",
    ]
    if info["baseline"]:
        b = info["baseline"]
        lines += ["", "## Baseline", "",
                  f"`{b['file']}`: SentencePiece {b['model_type']} with {b['vocab_size']} pieces on the same sample and "
                  f"settings (SHA-256 `{b['sha256']}`), for `corpusforge eval-tokenizer` to compare against."]
    lines += ["", "## Use", "",
              "```python", "import sentencepiece as spm",
              f"sp = spm.SentencePieceProcessor(model_file='{MODEL_FILE}')",
              "ids = sp.encode('text')  # list of ints; sp.decode(ids) gives the text back", "```", ""]
    hf = info.get("hf_tokenizer") or {}
    if hf.get("files"):
        lines += ["With Hugging Face `transformers` (offline: everything is in this directory):", "",
                  "```python", "from transformers import AutoTokenizer",
                  "tok = AutoTokenizer.from_pretrained('TOKENIZER_DIR')  # reads tokenizer.json",
                  "ids = tok.encode('text', add_special_tokens=False)  # the same ids as sentencepiece", "```", "",
                  "With `tokenizers` alone: `Tokenizer.from_file('tokenizer.json')`, then set "
                  "`encode_special_tokens = True` (not stored in the file; tokenizer_config.json's "
                  "`split_special_tokens` does it for transformers) so that an end-of-text piece typed in a "
                  "document stays text, as in SentencePiece.", "",
                  f"`tokenizer.json` was checked against `{MODEL_FILE}` on the first {hf['checked_lines']:,} sample "
                  f"lines: {hf['mismatched_lines']} encoded differently.", ""]
    elif hf.get("skipped"):
        lines += [f"No `tokenizer.json`: {hf['skipped']}.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from corpusforge.pipelines.tokenizer import add_runner_arguments

    d = TokenizerTrainConfig()
    parser.add_argument("--run", required=True, help="curate run directory (its kept/ documents are the corpus)")
    parser.add_argument("--out", required=True, help="tokenizer directory to write")
    parser.add_argument("--vocab-size", type=int, default=d.vocab_size, help=f"pieces (default {d.vocab_size})")
    parser.add_argument("--model-type", choices=["bpe", "unigram"], default=d.model_type)
    parser.add_argument("--character-coverage", type=float, default=d.character_coverage,
                        help=f"share of characters covered by pieces, the rest fall back to bytes (default {d.character_coverage})")
    parser.add_argument("--normalization", dest="normalization_rule_name", default=d.normalization_rule_name,
                        choices=["identity", "nfkc", "nmt_nfkc", "nfkc_cf", "nmt_nfkc_cf"],
                        help="SentencePiece normalization rule; identity (default) round-trips exactly")
    parser.add_argument("--remove-extra-whitespaces", action="store_true", default=d.remove_extra_whitespaces)
    parser.add_argument("--add-dummy-prefix", action="store_true", default=d.add_dummy_prefix)
    parser.add_argument("--no-byte-fallback", dest="byte_fallback", action="store_false", default=True,
                        help="map unseen characters to <unk> instead of UTF-8 byte pieces")
    parser.add_argument("--no-split-digits", dest="split_digits", action="store_false", default=True)
    parser.add_argument("--user-defined-symbols", type=_symbols, default=None, metavar="A,B,...",
                        help="pieces always kept whole (default: \\n and the PII placeholders <PERSON>, <EMAIL_ADDRESS>, ...)")
    parser.add_argument("--add-user-defined-symbols", type=_symbols, default=[], metavar="A,B,...",
                        help="more pieces kept whole, added to the default list")
    parser.add_argument("--control-symbols", type=_symbols, default=[], metavar="A,B,...",
                        help="reserved ids never produced from raw text")
    parser.add_argument("--eos-piece", default=d.eos_piece, help=f"end-of-text control piece (default {d.eos_piece})")
    parser.add_argument("--max-sentence-length", type=int, default=d.max_sentence_length,
                        help="bytes per sample line; longer lines are split")
    parser.add_argument("--soft-vocab-limit", dest="hard_vocab_limit", action="store_false", default=True,
                        help="allow a smaller vocabulary when the sample is too small for --vocab-size")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--sample-bytes", type=int, default=None, help="byte budget of the sample (default 100 MB)")
    budget.add_argument("--sample-sentences", type=int, default=None, help="line budget of the sample")
    parser.add_argument("--alpha", type=float, default=d.alpha, help=f"language temperature exponent (default {d.alpha}, mT5)")
    parser.add_argument("--holdout-percent", type=float, default=d.holdout_percent,
                        help=f"documents kept out of the sample for eval-tokenizer (default {d.holdout_percent})")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--num-threads", type=int, default=d.num_threads,
                        help="SentencePiece threads (stored in the model, so keep it fixed for identical bytes)")
    parser.add_argument("--baseline", dest="baseline_model_type", choices=["unigram", "bpe", "none"],
                        default=d.baseline_model_type, help="baseline model type trained on the same sample")
    parser.add_argument("--baseline-vocab-size", type=int, default=None)
    parser.add_argument("--overwrite", action="store_true", help="replace a tokenizer already in --out")
    # --quiet (also no SentencePiece training log) is one of the options every subcommand has (corpusforge.cli).
    add_runner_arguments(parser)


def _symbols(value: str) -> list[str]:
    # "\n" written as the two characters backslash-n on a command line means a line break.
    return [s.replace("\\n", "\n").replace("\\t", "\t") for s in value.split(",") if s != ""]


def config_from_args(args) -> TokenizerTrainConfig:
    from pydantic import ValidationError

    fields = {k: getattr(args, k) for k in (
        "vocab_size", "model_type", "character_coverage", "normalization_rule_name", "remove_extra_whitespaces",
        "add_dummy_prefix", "byte_fallback", "split_digits", "control_symbols", "eos_piece", "max_sentence_length",
        "hard_vocab_limit", "sample_bytes", "sample_sentences", "alpha", "holdout_percent", "seed", "num_threads",
        "baseline_model_type", "baseline_vocab_size")}
    user = args.user_defined_symbols if args.user_defined_symbols is not None else TokenizerTrainConfig().user_defined_symbols
    fields["user_defined_symbols"] = [*user, *[s for s in args.add_user_defined_symbols if s not in user]]
    try:
        return TokenizerTrainConfig(**fields)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, "(command line)")) from None


def run(args) -> int:
    from corpusforge.pipelines.tokenizer import runner_config

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
