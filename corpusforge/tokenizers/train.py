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

import io
import json
import logging
import os
import sys
from typing import Iterable, Iterator

from corpusforge import storage
from corpusforge.config import ConfigError, TokenizerTrainConfig

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


def fit_sentencepiece(lines: Iterable[str], args: dict, progress: bool = False) -> bytes:
    """The one call into SentencePiece's trainer (tokenizers and the perplexity models): the serialized model.
    model_writer rather than model_prefix: a prefix (a temp path) would be stored in the model bytes.
    SentencePiece's own log is its progress report. Raises SentencePiece's RuntimeError."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model,
                                   minloglevel=0 if progress else 2, **args)
    return model.getvalue()


def train_sentencepiece(lines: Iterable[str], args: dict, progress: bool = False) -> bytes:
    """fit_sentencepiece, with a vocabulary the sample cannot fill reported as what to change."""
    try:
        return fit_sentencepiece(lines, args, progress)
    except RuntimeError as e:
        msg = str(e)
        if "Vocabulary size too high" in msg or "Vocabulary size is smaller than required_chars" in msg:
            raise ConfigError(
                f"SentencePiece cannot build a {args['model_type']} vocabulary of {args['vocab_size']} from this "
                f"sample: {msg.split(']', 1)[-1].strip()} -- lower --vocab-size (or --baseline-vocab-size), "
                "raise the sample budget, or pass --soft-vocab-limit"
            ) from None
        raise


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
    storage.write_text_atomic(path, "".join(rows))


# What a tokenizer directory may hold; anything else there is someone else's and is never deleted.
OUR_FILES = {MODEL_FILE, VOCAB_FILE, TRAINING_FILE, CARD_FILE, BASELINE_DIR, "sample.txt", "sample_stats.json",
             "eval.json", "eval.html", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


def _ours(name: str) -> bool:
    return name in OUR_FILES or (name.startswith(".") and storage.TMP_MARK in name)


def _prepare_out(out_dir: str, overwrite: bool) -> str:
    if storage.is_remote(out_dir):
        raise ConfigError(f"--out {out_dir}: the tokenizer is trained on this machine; give a local directory")
    return storage.claim_output_dir(out_dir, _ours, MODEL_FILE, overwrite, "a tokenizer")


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
    write_hf_files(model, lambda name, data: storage.write_bytes_atomic(os.path.join(work, name), data))
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
