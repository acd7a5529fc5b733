"""corpusforge: curate text corpora for LLM pretraining (Beam) and protect photo-caption data (MEM).

Each subcommand is a thin module in `corpusforge.commands` exposing `add_arguments(parser)` and
`run(args) -> int`: it parses arguments, loads the config and calls one library function. Modules are
imported only when their subcommand runs, so `corpusforge curate` never imports torch.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys

# Offline by design: no library may reach a model hub or the public suffix list at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "curate": ("corpusforge.commands.curate", "Run the curation pipeline (read, filter, dedup, PII) on a corpus."),
    "refresh": ("corpusforge.commands.refresh", "Process only new input and dedup it against earlier runs' state."),
    "report": ("corpusforge.commands.report", "Rebuild report.html from a run directory's stats.json."),
    "train-lm": ("corpusforge.commands.train_lm", "Train a SentencePiece + KenLM 5-gram model for perplexity filtering."),
    "train-tokenizer": ("corpusforge.commands.train_tokenizer", "Train a SentencePiece BPE tokenizer on a run's kept documents."),
    "eval-tokenizer": ("corpusforge.commands.eval_tokenizer", "Evaluate a tokenizer on held-out kept documents."),
    "tokenize": ("corpusforge.commands.tokenize", "Encode a run's kept documents into token shards."),
    "protect": ("corpusforge.commands.protect", "Make photo-caption pairs unlearnable (MEM, EM or UAP)."),
    "verify-protection": ("corpusforge.commands.verify_protection", "Train an attacker CLIP on pairs and measure retrieval."),
    "make-image-benchmark": ("corpusforge.commands.make_image_benchmark", "Generate the offline image-caption benchmark set."),
    "protect-photos": ("corpusforge.commands.protect_photos", "Protect a folder of photos (presets, preview, frozen surrogate)."),
    "serve-protect": ("corpusforge.commands.serve_protect", "Local web page to protect photos (127.0.0.1 by default)."),
    "config": ("corpusforge.commands.config", "Print every config key with its default and help (--defaults), or the "
                                              "resolved config of a YAML file (--show)."),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Set in the child a terminal run is moved into (see _supervise); its value is the parent's pid.
SUPERVISED_ENV = "CORPUSFORGE_SUPERVISED"


def _logging_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """-v/-q/--log-level, on the top parser and on every subcommand (so they work after it too). On a
    subcommand they default to SUPPRESS, so they never overwrite a value given before the subcommand."""
    default = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (same as --log-level DEBUG)",
                        **({"default": False} if top else default))
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only: no progress lines",
                        **({"default": False} if top else default))
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO (default), WARNING or ERROR", **({"default": None} if top else default))


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    from corpusforge import __version__

    parser = argparse.ArgumentParser(prog="corpusforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"corpusforge {__version__}")
    _logging_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == load:
            _logging_options(sp, top=False)
            importlib.import_module(module).add_arguments(sp)
        else:
            sp.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def find_command(argv: list[str]) -> str | None:
    """The first argument that is neither an option nor the value of --log-level."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--log-level":
            skip = True
        elif not a.startswith("-"):
            return a
    return None


def log_level(args) -> int:
    if args.log_level:
        return getattr(logging, args.log_level)
    if args.verbose:
        return logging.DEBUG
    return logging.WARNING if args.quiet else logging.INFO


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = find_command(argv)
    if command is None or command not in SUBCOMMANDS:
        if command is None and ({"--version", "-h", "--help"} & set(argv)):
            build_parser().parse_args(argv)  # prints and exits
        if command is not None:
            from corpusforge.config.help import suggest_command

            guess = suggest_command(command, SUBCOMMANDS)
            print(f"corpusforge: unknown command {command!r}" + (f" (did you mean {guess!r}?)" if guess else "")
                  + "; commands: " + ", ".join(SUBCOMMANDS), file=sys.stderr)
            return 2
        build_parser().print_help()
        return 0
    parser = build_parser(load=command)
    args = parser.parse_args(argv)
    if command != "config" and _should_supervise():
        return _supervise(argv, command)
    level = log_level(args)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:
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
        _interrupted(command)
        return 130


def _interrupted(command: str) -> None:
    print(f"corpusforge {command}: interrupted; re-run the same command to finish the job", file=sys.stderr)


# ---------------------------------------------------------------------------------------- Ctrl-C
def _should_supervise() -> bool:
    """Interactive runs (a terminal on stdin) on POSIX, unless already the supervised child."""
    if os.name != "posix" or os.environ.get(SUPERVISED_ENV):
        return False
    return os.environ.get("CORPUSFORGE_SUPERVISE") == "1" or sys.stdin.isatty()


def _supervise(argv: list[str], command: str) -> int:
    """Run the command in a child in its own session, so Ctrl-C reaches only this process: it then stops the
    child's whole process group (Beam's worker processes included) with SIGTERM, which ends Python without a
    traceback, and prints one line. Without this every Beam worker and thread prints its own KeyboardInterrupt
    traceback (~150 lines, issue 16). The run is resumable, so stopping it anywhere is safe."""
    env = {**os.environ, SUPERVISED_ENV: str(os.getpid())}
    child = subprocess.Popen([sys.executable, "-m", "corpusforge.cli", *argv], env=env, start_new_session=True)
    try:
        return child.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                break
            try:
                child.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        # Beam workers left in the group after the child exited.
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _interrupted(command)
        return 130


if __name__ == "__main__":
    sys.exit(main())
