"""corpusforge: curate text corpora for LLM pretraining (Beam) and protect photo-caption data (MEM).

Each subcommand lives in the module that owns it; that module exposes
`add_arguments(parser)` and `run(args) -> int`. Modules are imported only when their subcommand runs,
so `corpusforge curate` never imports torch.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Offline by design: no library may reach a model hub or the public suffix list at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "curate": ("corpusforge.pipelines.curate", "Run the curation pipeline (read, filter, dedup, PII) on a corpus."),
    "refresh": ("corpusforge.pipelines.refresh", "Process only new input and dedup it against earlier runs' state."),
    "report": ("corpusforge.report.html", "Rebuild report.html from a run directory's stats.json."),
    "train-lm": ("corpusforge.pipelines.train_lm", "Train a SentencePiece + KenLM 5-gram model for perplexity filtering."),
    "train-tokenizer": ("corpusforge.tokenizers.train", "Train a SentencePiece BPE tokenizer on a run's kept documents."),
    "eval-tokenizer": ("corpusforge.tokenizers.evaluate", "Evaluate a tokenizer on held-out kept documents."),
    "tokenize": ("corpusforge.pipelines.tokenizer", "Encode a run's kept documents into token shards."),
    "protect": ("corpusforge.pipelines.protect", "Make photo-caption pairs unlearnable (MEM, EM or UAP)."),
    "verify-protection": ("corpusforge.unlearnable.attack", "Train an attacker CLIP on pairs and measure retrieval."),
    "make-image-benchmark": ("corpusforge.unlearnable.data", "Generate the offline image-caption benchmark set."),
}


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpusforge", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == load:
            importlib.import_module(module).add_arguments(sp)
        else:
            sp.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in SUBCOMMANDS:
        build_parser().print_help()
        return 0 if command is None else 2
    parser = build_parser(load=command)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Beam's worker chatter (one line per bundle) would bury our progress lines.
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
    from corpusforge.config import ConfigError

    module = importlib.import_module(SUBCOMMANDS[command][0])
    try:
        return int(module.run(args) or 0)
    except ConfigError as e:
        print(f"corpusforge {command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"corpusforge {command}: interrupted; re-run the same command to finish the job", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
