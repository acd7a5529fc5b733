"""Train a SentencePiece + KenLM 5-gram model for CCNet perplexity filtering.

    corpusforge train-lm --lang de --input data/lm_reference/de.jsonl --out models/demo_lm

Recipe as CCNet's Makefile (Wenzek et al. 2020): the reference text is normalized with CCNet's
text_normalizer; a SentencePiece unigram model (vocab 65536, character coverage 0.9995; the vocabulary is
sized down to what SentencePiece reports as the maximum when the reference is too small) is trained on it;
the text is encoded into pieces; `lmplz -o 5 --discount_fallback` trains the KenLM model and `build_binary`
converts it. Documents are split into training and held-out sets by a seeded hash of their text; the
held-out documents are scored exactly as the perplexity stage scores (same code) and their percentiles
0..100 are written as <lang>.cutoffs.json, so the stage's head/middle/tail buckets mean "relative to clean
reference text".

Outputs in --out (CCNet's file names, so the directory is usable as CCNet's lm_sp/ too):
  <lang>.sp.model, <lang>.sp.vocab, <lang>.arpa.bin (+ <lang>.arpa with --keep-arpa),
  <lang>.cutoffs.json, <lang>.model_card.json and <lang>.model_card.md (sizes, data hashes, held-out perplexity).

Progress: every phase (reading, normalizing, SentencePiece, encoding, lmplz, build_binary, scoring) runs
inside `progress(label, total, unit)`, a context manager with `each(items)` / `add(n)`. Pass
corpusforge.pipelines.progress.Step for lines (a start line, done / total with rate and ETA or "running" every
10 s, a finish line); the default, Silent, logs nothing. This module sits below pipelines/, so it takes the
class as an argument rather than importing it.

Determinism: SentencePiece is trained single-threaded with a fixed seed on the input in file order, and
lmplz/build_binary are deterministic programs, so the same input and options give byte-identical
<lang>.sp.model, <lang>.arpa, <lang>.arpa.bin and cutoffs on the same library versions; the model card also
records timings, which differ run to run.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from corpusforge import storage
from corpusforge.config import ConfigError
from corpusforge.progress_api import Silent
from corpusforge.tokenizers.train import fit_sentencepiece
from corpusforge.transforms.perplexity import (
    CUTOFFS_SUFFIX, SP_SUFFIX, doc_log_score, doc_perplexity, perplexity_from_scores, scoring_units,
)

log = logging.getLogger(__name__)

# CCNet Makefile: VOCAB_SIZE=65536, spm_train --character_coverage=0.9995 --model_type=unigram.
DEFAULT_VOCAB_SIZE = 65536
DEFAULT_CHARACTER_COVERAGE = 0.9995
DEFAULT_ORDER = 5
_VOCAB_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")
BUILD_HINT = "run scripts/build_kenlm.sh (builds lmplz and build_binary from the kenlm source package)"


# ----------------------------------------------------------------------------------------- lmplz
# Below this many training words train-lm warns: CCNet's models were trained on whole Wikipedias (hundreds of
# millions of words); one million words is the least where a 5-gram model's ranking starts to be stable.
USEFUL_TRAINING_WORDS = 1_000_000


def default_kenlm_bin_dir() -> Path:
    home = os.environ.get("CORPUSFORGE_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "corpusforge")
    return Path(home) / "kenlm" / "bin"


def find_kenlm_tool(name: str) -> str:
    """Path of `lmplz` / `build_binary`: $CORPUSFORGE_KENLM_BIN, then PATH, then the build script's cache dir."""
    env = os.environ.get("CORPUSFORGE_KENLM_BIN")
    if env:
        base = Path(env)
        cand = base / name if base.is_dir() else base.parent / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
        raise ConfigError(f"CORPUSFORGE_KENLM_BIN={env} has no executable {name}; {BUILD_HINT} and point "
                          f"CORPUSFORGE_KENLM_BIN at the directory it prints")
    on_path = shutil.which(name)
    if on_path:
        return on_path
    cand = default_kenlm_bin_dir() / name
    if cand.is_file() and os.access(cand, os.X_OK):
        return str(cand)
    raise ConfigError(f"KenLM's {name} was not found (looked in $CORPUSFORGE_KENLM_BIN, PATH and "
                      f"{default_kenlm_bin_dir()}); {BUILD_HINT}")


# ------------------------------------------------------------------------------------------ input
def read_reference(paths: list[str], text_field: str = "text", lang_field: str | None = None,
                   lang: str | None = None, progress=Silent) -> list[str]:
    """Texts from JSONL / JSONL.gz files (records with `text_field`) or plain .txt (one document per line)."""
    with progress(f"train-lm{' ' + lang if lang else ''}: reading {len(paths)} file(s)", unit="records") as step:
        return _read_reference(paths, text_field, lang_field, lang, step)


def _read_reference(paths, text_field, lang_field, lang, step) -> list[str]:
    texts: list[str] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"input file not found: {path}")
        raw = p.read_bytes()
        if p.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        lines = raw.decode("utf-8").splitlines()
        if p.name.endswith((".txt", ".txt.gz")):
            texts += [line for line in lines if line.strip()]
            step.add(len(lines))
            continue
        for n, line in enumerate(step.each(lines), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise ConfigError(f"{path}:{n} is not JSON ({e}); expected JSONL with a "
                                  f"{text_field!r} field") from None
            if lang_field and rec.get(lang_field) != lang:
                continue
            text = rec.get(text_field)
            if isinstance(text, str) and text.strip():
                texts.append(text)
    return texts


def split_heldout(texts: list[str], fraction: float, min_heldout: int, seed: int) -> tuple[list[str], list[str]]:
    """Seeded hash split; identical texts land on the same side, so held-out text never leaks into training."""
    def key(t: str) -> str:
        return hashlib.sha256(f"{seed}\0{t}".encode("utf-8")).hexdigest()

    ranked = sorted(range(len(texts)), key=lambda i: (key(texts[i]), i))
    n_held = max(min_heldout, round(fraction * len(texts)))
    n_held = min(n_held, len(texts) // 2)
    held_idx = set(ranked[:n_held])
    # Keep duplicates of a held-out text out of training too.
    held_texts = {texts[i] for i in held_idx}
    train = [t for i, t in enumerate(texts) if i not in held_idx and t not in held_texts]
    heldout = [texts[i] for i in sorted(held_idx)]
    return train, heldout


# -------------------------------------------------------------------------------------- training
def train_sentencepiece(lines: list[str], model_prefix: Path, vocab_size: int, character_coverage: float,
                        model_type: str, seed: int) -> int:
    """Train SentencePiece into <prefix>.model/.vocab; returns the vocabulary size used (sized down to
    SentencePiece's reported maximum when the text is too small, as CCNet's Makefile retries smaller)."""
    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    size = vocab_size
    for _ in range(3):
        try:
            model = fit_sentencepiece(lines, {
                "vocab_size": size, "character_coverage": character_coverage, "model_type": model_type,
                "hard_vocab_limit": True, "num_threads": 1, "input_sentence_size": 0,
                "shuffle_input_sentence": False})
        except RuntimeError as e:
            m = _VOCAB_TOO_HIGH.search(str(e))
            if not m:
                raise
            size = int(m.group(2))
            log.info("reference too small for vocab %d; SentencePiece allows at most %d, retrying", vocab_size, size)
            continue
        Path(str(model_prefix) + ".model").write_bytes(model)
        sp = spm.SentencePieceProcessor(model_proto=model)
        with open(str(model_prefix) + ".vocab", "w", encoding="utf-8") as f:
            for i in range(sp.get_piece_size()):  # spm_train's .vocab format: piece TAB score
                f.write(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n")
        return size
    raise ConfigError(f"could not size the SentencePiece vocabulary for this reference (last {size})")


def run_lmplz(pieces_file: Path, arpa: Path, order: int, memory: str, vocab_estimate: int, tmp_dir: Path) -> str:
    lmplz = find_kenlm_tool("lmplz")
    cmd = [lmplz, "-o", str(order), "-S", memory, "-T", str(tmp_dir), "--vocab_estimate", str(vocab_estimate),
           "--discount_fallback"]
    with open(pieces_file, "rb") as src, open(arpa, "wb") as dst:
        proc = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"lmplz failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    shown = ["lmplz"] + [c for c in cmd[1:] if c not in ("-T", str(tmp_dir))]  # the card omits the temp dir
    return " ".join(shown)


def run_build_binary(arpa: Path, binary: Path) -> None:
    proc = subprocess.run([find_kenlm_tool("build_binary"), str(arpa), str(binary)], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"build_binary failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")


def arpa_ngram_counts(arpa: Path) -> dict[str, int]:
    counts = {}
    with open(arpa, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ngram "):
                k, v = line[6:].strip().split("=")
                counts[k] = int(v)
            elif line.startswith("\\1-grams"):
                break
    return counts


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    return {str(p): round(float(np.percentile(arr, p)), 4) for p in range(101)}


def train_language_model(lang: str, texts: list[str], out_dir: str | os.PathLike, *, vocab_size: int = DEFAULT_VOCAB_SIZE,
                         character_coverage: float = DEFAULT_CHARACTER_COVERAGE, model_type: str = "unigram",
                         order: int = DEFAULT_ORDER, heldout_fraction: float = 0.1, min_heldout_docs: int = 20,
                         seed: int = 0, memory: str = "512M", scoring: str = "lines", keep_arpa: bool = False,
                         inputs: list[str] | None = None, cutoff_texts: list[str] | None = None,
                         cutoff_inputs: list[str] | None = None, progress=Silent) -> dict:
    """Train `<lang>.sp.model` + `<lang>.arpa.bin`, write cutoffs and the model card; returns the card.

    Cutoffs are percentiles of held-out reference perplexities, or of `cutoff_texts` when given (CCNet took
    them from a sample of the crawl being filtered, so that 30/30/40 % of it fall in head/middle/tail).
    `progress`: see the module docstring (pipelines.progress.Step for lines, Silent for none).
    """
    import kenlm
    import sentencepiece as spm

    if not re.fullmatch(r"[A-Za-z0-9_-]+", lang):
        raise ConfigError(f"--lang {lang!r} must be a language code such as en or pt-BR")
    if len(texts) < 4:
        raise ConfigError(f"need at least 4 reference documents for {lang!r}, got {len(texts)}")
    find_kenlm_tool("lmplz"), find_kenlm_tool("build_binary")  # fail before the slow part
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train, heldout = split_heldout(texts, heldout_fraction, min_heldout_docs, seed)
    with progress(f"train-lm {lang}: normalizing training documents", total=len(train)) as step:
        units = [u for t in step.each(train) for u in scoring_units(t, scoring)]
    if not units:
        raise ConfigError(f"the reference for {lang!r} has no text left after normalization")
    training_text = ("\n".join(units) + "\n").encode("utf-8")
    n_words = sum(len(u.split()) for u in units)
    if n_words < USEFUL_TRAINING_WORDS:
        log.warning(
            "train-lm %s: %d training words. A 5-gram model that ranks text reliably needs millions of words "
            "(CCNet trained on each language's Wikipedia: %s+ words recommended); with %.1f%% of that, "
            "perplexities are noisy. Use this model to annotate (perplexity.drop_rule: none), never to decide "
            "what a corpus keeps.", lang, n_words, f"{USEFUL_TRAINING_WORDS:,}", 100 * n_words / USEFUL_TRAINING_WORDS)

    with tempfile.TemporaryDirectory(prefix=f"train-lm-{lang}-", dir=out) as tmp:
        tmp_dir = Path(tmp)
        sp_prefix = tmp_dir / f"{lang}.sp"
        # SentencePiece, lmplz and build_binary report nothing while they run: their steps log "running".
        with progress(f"train-lm {lang}: SentencePiece on {len(units):,} lines"):
            used_vocab = train_sentencepiece(units, sp_prefix, vocab_size, character_coverage, model_type, seed)
        t_sp = time.time()
        sp = spm.SentencePieceProcessor()
        sp.Load(str(sp_prefix) + ".model")
        pieces_file = tmp_dir / "pieces.txt"
        with open(pieces_file, "w", encoding="utf-8") as f, \
                progress(f"train-lm {lang}: encoding into pieces", total=len(units), unit="lines") as step:
            for u in step.each(units):
                f.write(" ".join(sp.encode_as_pieces(u)) + "\n")
        arpa = tmp_dir / f"{lang}.arpa"
        with progress(f"train-lm {lang}: lmplz (order {order})"):
            lmplz_cmd = run_lmplz(pieces_file, arpa, order, memory, used_vocab, tmp_dir)
        binary = tmp_dir / f"{lang}.arpa.bin"
        with progress(f"train-lm {lang}: build_binary"):
            run_build_binary(arpa, binary)
        t_lm = time.time()
        ngram_counts = arpa_ngram_counts(arpa)

        lm = kenlm.Model(str(binary))
        held_ppl, held_log, held_len = [], 0.0, 0
        with progress(f"train-lm {lang}: scoring held-out documents", total=len(heldout)) as step:
            for t in step.each(heldout):
                lp, n = doc_log_score(lm, sp, t, scoring)
                if n:
                    held_ppl.append(perplexity_from_scores(lp, n))
                    held_log += lp
                    held_len += n
        if not held_ppl:
            raise ConfigError(f"no held-out document of {lang!r} has text to score")
        cutoff_ppl = held_ppl
        if cutoff_texts is not None:
            with progress(f"train-lm {lang}: scoring --cutoff-input documents", total=len(cutoff_texts)) as step:
                cutoff_ppl = [p for p in (doc_perplexity(lm, sp, t, scoring) for t in step.each(cutoff_texts))
                              if p is not None]
            if not cutoff_ppl:
                raise ConfigError(f"--cutoff-input has no {lang!r} document with text to score")
        del lm

        finals = {f"{lang}{SP_SUFFIX}": Path(str(sp_prefix) + ".model"),
                  f"{lang}.sp.vocab": Path(str(sp_prefix) + ".vocab"),
                  f"{lang}.arpa.bin": binary}
        if keep_arpa:
            finals[f"{lang}.arpa"] = arpa
        for name, src in finals.items():
            storage.replace(str(src), str(out / name))
    if not keep_arpa and (out / f"{lang}.arpa").exists():
        (out / f"{lang}.arpa").unlink()  # a stale ARPA from an earlier run would shadow nothing but confuse

    cutoffs = {
        "language": lang,
        "scoring": scoring,
        "source": "corpusforge train-lm: percentiles of "
                  + ("held-out reference document perplexities" if cutoff_texts is None
                     else "perplexities of the --cutoff-input sample"),
        "cutoff_inputs": list(cutoff_inputs or []),
        "documents": len(cutoff_ppl),
        "percentiles": percentiles(cutoff_ppl),
    }
    storage.write_bytes_atomic(out / f"{lang}{CUTOFFS_SUFFIX}", (json.dumps(cutoffs, indent=1, sort_keys=True) + "\n").encode())

    card = {
        "language": lang,
        "created_by": "corpusforge train-lm",
        "recipe": "CCNet (Wenzek et al. 2020): text_normalizer + SentencePiece + KenLM lmplz",
        "training_words": n_words,
        "enough_training_text": n_words >= USEFUL_TRAINING_WORDS,
        "scoring": scoring,
        "inputs": [{"path": p, "bytes": Path(p).stat().st_size, "sha256": storage.sha256_bytes(Path(p).read_bytes())}
                   for p in (inputs or [])],
        "reference_docs": len(texts),
        "train_docs": len(train),
        "heldout_docs": len(heldout),
        "training_text_sha256": storage.sha256_bytes(training_text),
        "training_text_bytes": len(training_text),
        "training_lines": len(units),
        "seed": seed,
        "cutoffs_from": cutoffs["source"].split(": ", 1)[1],
        "sentencepiece": {"model_type": model_type, "vocab_size_requested": vocab_size, "vocab_size": used_vocab,
                          "character_coverage": character_coverage, "num_threads": 1,
                          "version": spm.__version__},
        "kenlm": {"order": order, "lmplz": lmplz_cmd, "ngram_counts": ngram_counts},
        "files": {name: {"bytes": (out / name).stat().st_size, "sha256": storage.sha256_bytes((out / name).read_bytes())}
                  for name in sorted(finals) + [f"{lang}{CUTOFFS_SUFFIX}"]},
        "heldout_perplexity": {
            "corpus": perplexity_from_scores(held_log, held_len),
            "median_doc": percentiles(held_ppl)["50"],
            "head_cutoff_p30": cutoffs["percentiles"]["30"],
            "tail_cutoff_p60": cutoffs["percentiles"]["60"],
        },
        "seconds": {"sentencepiece": round(t_sp - t0, 2), "kenlm": round(t_lm - t_sp, 2),
                    "total": round(time.time() - t0, 2)},
    }
    storage.write_bytes_atomic(out / f"{lang}.model_card.json", (json.dumps(card, indent=1, sort_keys=True) + "\n").encode())
    storage.write_bytes_atomic(out / f"{lang}.model_card.md", model_card_markdown(card).encode("utf-8"))
    return card


def model_card_markdown(card: dict) -> str:
    hp = card["heldout_perplexity"]
    lines = [
        f"# Perplexity model `{card['language']}`",
        "",
        f"{card['recipe']}; scoring mode `{card['scoring']}`; made by `{card['created_by']}`.",
        "",
        f"- Reference: {card['reference_docs']} documents ({card['train_docs']} train, {card['heldout_docs']} "
        f"held out); training text {card['training_text_bytes']} bytes, {card['training_lines']} lines, "
        f"sha256 `{card['training_text_sha256']}`",
    ]
    for inp in card["inputs"]:
        lines.append(f"- Input `{inp['path']}`: {inp['bytes']} bytes, sha256 `{inp['sha256']}`")
    sp, km = card["sentencepiece"], card["kenlm"]
    lines += [
        f"- SentencePiece {sp['version']}: {sp['model_type']}, vocab {sp['vocab_size']} (requested "
        f"{sp['vocab_size_requested']}), character coverage {sp['character_coverage']}, seed {card['seed']}",
        f"- KenLM: `{km['lmplz']}`; n-grams " + ", ".join(f"{k}-grams {v}" for k, v in sorted(km["ngram_counts"].items())),
        f"- Held-out perplexity: corpus {hp['corpus']}, median document {hp['median_doc']}",
        f"- Bucket cutoffs ({card['cutoffs_from']}): p30 {hp['head_cutoff_p30']}, p60 {hp['tail_cutoff_p60']}",
        "",
        "| file | bytes | sha256 |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {f['bytes']} | `{f['sha256'][:16]}...` |" for name, f in card["files"].items()]
    return "\n".join(lines) + "\n"
