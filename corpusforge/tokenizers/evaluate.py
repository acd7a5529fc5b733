"""`corpusforge eval-tokenizer`: how well a tokenizer compresses held-out kept documents, per language.

Held-out documents are those the training sample left out by design (keyed hash of the id, the split in
the tokenizer's training.json), so the figures are not measured on training text. Figures, per language
and pooled over all held-out documents ("overall"):

  bytes_per_token      UTF-8 bytes / tokens (higher: more text per token)
  chars_per_token      characters / tokens
  tokens_per_word      fertility: tokens / whitespace-separated words (Rust et al. 2021; for languages written
                       without spaces it is left out, as words cannot be counted that way)
  byte_fallback_rate   share of tokens that are UTF-8 byte pieces (characters the vocabulary does not cover)
  unknown_tokens       tokens that are <unk> (0 whenever byte fallback is on)
  vocab_utilisation    share of the learned pieces (not bytes, not control) used at least once

The baseline (OUT/baseline, or --baseline DIR) gets the same figures on the same documents.
Output: TOKENIZER/eval.json, TOKENIZER/eval.html (an HTML fragment), and with --run RUN/tokenizer_eval.json.
"""
from __future__ import annotations

import html
import json
import logging
import os

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.languages import UNSEGMENTED_LANGUAGES
from corpusforge.tokenizers.sample import is_heldout, language_of

log = logging.getLogger("corpusforge.eval_tokenizer")

SCHEMA = "corpusforge-tokenizer-eval/1"


def heldout_documents(run_dir: str, holdout_percent: float, seed: int, max_bytes_per_language: int) -> dict[str, list[str]]:
    """Texts of held-out kept documents by language, in kept-file order, up to a byte cap per language."""
    from corpusforge.io.runs import kept_files, read_kept_file

    out: dict[str, list[str]] = {}
    used: dict[str, int] = {}
    for path in kept_files(run_dir):
        for row in read_kept_file(path):
            if not is_heldout(row["id"], holdout_percent, seed):
                continue
            lang = language_of(row.get("language"))
            text = row.get("text") or ""
            if used.get(lang, 0) >= max_bytes_per_language or not text:
                continue
            out.setdefault(lang, []).append(text)
            used[lang] = used.get(lang, 0) + len(text.encode("utf-8"))
    return dict(sorted(out.items()))


def _learned_ids(sp) -> set[int]:
    return {i for i in range(sp.get_piece_size())
            if not (sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i))}


def _figures(counts: dict, learned: int, used: set[int], lang: str | None) -> dict:
    tokens = counts["tokens"]
    fertility = None
    if lang not in UNSEGMENTED_LANGUAGES and counts["words"]:
        fertility = tokens / counts["words"]
    return {
        "documents": counts["documents"],
        "bytes": counts["bytes"],
        "chars": counts["chars"],
        "words": counts["words"],
        "tokens": tokens,
        "bytes_per_token": counts["bytes"] / tokens if tokens else None,
        "chars_per_token": counts["chars"] / tokens if tokens else None,
        "tokens_per_word": fertility,
        "byte_fallback_tokens": counts["byte_tokens"],
        "byte_fallback_rate": counts["byte_tokens"] / tokens if tokens else 0.0,
        "unknown_tokens": counts["unknown_tokens"],
        "vocab_used": len(used),
        "vocab_utilisation": len(used) / learned if learned else 0.0,
    }


def tokenizer_metrics(model_file: str, docs: dict[str, list[str]]) -> dict:
    """Every figure for one tokenizer on `docs` ({language: [text]}): per language and overall."""
    import numpy as np
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_file)
    size = sp.get_piece_size()
    is_byte = np.array([sp.is_byte(i) for i in range(size)], dtype=bool)
    learned = _learned_ids(sp)
    learned_mask = np.zeros(size, dtype=bool)
    learned_mask[list(learned)] = True
    unk = sp.unk_id()
    per_lang, all_used = {}, np.zeros(size, dtype=bool)
    total = {"documents": 0, "bytes": 0, "chars": 0, "words": 0, "tokens": 0, "byte_tokens": 0, "unknown_tokens": 0}
    for lang, texts in docs.items():
        counts = dict.fromkeys(total, 0)
        used = np.zeros(size, dtype=bool)
        for text, ids in zip(texts, sp.encode(texts)):
            arr = np.asarray(ids, dtype=np.int64)
            counts["documents"] += 1
            counts["bytes"] += len(text.encode("utf-8"))
            counts["chars"] += len(text)
            counts["words"] += len(text.split())
            counts["tokens"] += len(arr)
            counts["byte_tokens"] += int(is_byte[arr].sum())
            counts["unknown_tokens"] += int((arr == unk).sum())
            used[arr] = True
        for k in total:
            total[k] += counts[k]
        all_used |= used
        per_lang[lang] = _figures(counts, len(learned), set(np.flatnonzero(used & learned_mask)), lang)
    overall = _figures(total, len(learned), set(np.flatnonzero(all_used & learned_mask)), None)
    # Fertility pooled over segmented languages only, so unsegmented text cannot inflate it.
    seg_words = sum(v["words"] for k, v in per_lang.items() if k not in UNSEGMENTED_LANGUAGES)
    seg_tokens = sum(v["tokens"] for k, v in per_lang.items() if k not in UNSEGMENTED_LANGUAGES)
    overall["tokens_per_word"] = seg_tokens / seg_words if seg_words else None
    return {"vocab_size": size, "learned_pieces": len(learned), "languages": per_lang, "overall": overall}


def _training_info(tokenizer_dir: str) -> dict:
    path = os.path.join(tokenizer_dir, "training.json")
    if not os.path.exists(path):
        raise ConfigError(f"{path} not found (is --tokenizer the --out of `corpusforge train-tokenizer`?)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def evaluate_tokenizer(tokenizer_dir: str, run_dir: str | None = None, baseline_dir: str | None = None,
                       max_bytes_per_language: int = 5_000_000, write_run_report: bool | None = None) -> dict:
    """Measure the tokenizer (and its baseline) on held-out kept documents; write eval.json and eval.html."""
    info = _training_info(tokenizer_dir)
    source_run = run_dir or info["source_run"]
    holdout = info["holdout"]
    if holdout["percent"] <= 0:
        raise ConfigError(f"{tokenizer_dir} was trained with --holdout-percent 0: no held-out documents to "
                          "evaluate on; retrain with a held-out share (default 5)")
    docs = heldout_documents(source_run, holdout["percent"], holdout["seed"], max_bytes_per_language)
    if not docs:
        raise ConfigError(f"no held-out documents in {source_run}/kept (held-out share {holdout['percent']}%); "
                          "curate more documents or retrain with a larger --holdout-percent")
    model_file = os.path.join(tokenizer_dir, info["model"]["file"])
    result = {
        "schema": SCHEMA,
        "run": source_run,
        "heldout": {"percent": holdout["percent"], "seed": holdout["seed"],
                    "max_bytes_per_language": max_bytes_per_language,
                    "documents": {lang: len(t) for lang, t in docs.items()}},
        "tokenizer": {"dir": tokenizer_dir, "model_type": info["model"]["model_type"],
                      "vocab_size": info["model"]["vocab_size"], "sha256": info["model"]["sha256"],
                      **tokenizer_metrics(model_file, docs)},
        "baseline": None,
        "unsegmented_languages": sorted(UNSEGMENTED_LANGUAGES & set(docs)),
    }
    b_file, b_desc = _baseline(tokenizer_dir, info, baseline_dir)
    if b_file:
        result["baseline"] = {**b_desc, **tokenizer_metrics(b_file, docs)}
    fragment = eval_html(result)
    storage.write_text_atomic(os.path.join(tokenizer_dir, "eval.json"), json.dumps(result, indent=2, sort_keys=True) + "\n")
    storage.write_text_atomic(os.path.join(tokenizer_dir, "eval.html"), fragment)
    if write_run_report if write_run_report is not None else run_dir is not None:
        storage.write_text_atomic(os.path.join(source_run, "tokenizer_eval.json"),
               json.dumps({**result, "html": fragment}, indent=2, sort_keys=True) + "\n")
    return result


def _baseline(tokenizer_dir: str, info: dict, baseline_dir: str | None) -> tuple[str | None, dict]:
    if baseline_dir:
        b_info = _training_info(baseline_dir)
        path = os.path.join(baseline_dir, b_info["model"]["file"])
        return path, {"dir": baseline_dir, "model_type": b_info["model"]["model_type"],
                      "vocab_size": b_info["model"]["vocab_size"], "sha256": b_info["model"]["sha256"]}
    b = info.get("baseline")
    if not b:
        return None, {}
    path = os.path.join(tokenizer_dir, b["file"])
    sha = storage.sha256_file(path)
    return path, {"dir": os.path.join(tokenizer_dir, b["dir"]), "model_type": b["model_type"],
                  "vocab_size": b["vocab_size"], "sha256": sha}


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "&ndash;"
    if pct:
        return f"{100 * v:.2f}%"
    if isinstance(v, float):
        return f"{v:.3f}"
    return f"{v:,}"


def tokenizer_label(t: dict) -> str:
    return f"{t['model_type']} {t['vocab_size']:,}"


def eval_html(result: dict) -> str:
    """A self-contained HTML fragment (a <section>) for the run report."""
    tok, base = result["tokenizer"], result["baseline"]
    rows_src: list[tuple[str, dict, dict | None]] = [
        (lang, v, base["languages"].get(lang) if base else None) for lang, v in tok["languages"].items()
    ]
    rows_src.append(("overall", tok["overall"], base["overall"] if base else None))
    metrics = [("bytes_per_token", "bytes / token", False), ("tokens_per_word", "tokens / word", False),
               ("byte_fallback_rate", "byte fallback", True), ("vocab_utilisation", "vocab used", True)]
    head = "<tr><th>language</th><th>docs</th><th>bytes</th>"
    for _, title, _ in metrics:
        head += f"<th>{title}<br><small>{html.escape(tokenizer_label(tok))}</small></th>"
        if base:
            head += f"<th>{title}<br><small>baseline {html.escape(tokenizer_label(base))}</small></th>"
    head += "</tr>"
    body = []
    for lang, v, b in rows_src:
        cells = f"<td>{html.escape(lang)}</td><td>{_fmt(v['documents'])}</td><td>{_fmt(v['bytes'])}</td>"
        for key, _, pct in metrics:
            cells += f"<td>{_fmt(v[key], pct)}</td>"
            if base:
                cells += f"<td>{_fmt(b[key] if b else None, pct)}</td>"
        style = ' style="font-weight:bold"' if lang == "overall" else ""
        body.append(f"<tr{style}>{cells}</tr>")
    unk = tok["overall"]["unknown_tokens"]
    note = (f"Held-out kept documents ({result['heldout']['percent']}% by a keyed hash of the id, never in the "
            f"training sample) of <code>{html.escape(result['run'])}</code>. Tokenizer "
            f"<code>{html.escape(tok['dir'])}</code>: {html.escape(tokenizer_label(tok))} pieces, {unk} unknown tokens.")
    if result["unsegmented_languages"]:
        note += (" Tokens per word is left out for languages written without spaces ("
                 + ", ".join(result["unsegmented_languages"]) + ").")
    return (
        '<section class="tokenizer-eval">\n<h2>Tokenizer evaluation</h2>\n'
        f"<p>{note}</p>\n<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n</section>\n"
    )
