"""The shape of the code (DESIGN.md, issue 15), checked on every run so it cannot drift back:
layers import downward only, Beam lives in pipelines/ (and behind storage.py), and only storage.py handles
remote paths and atomic renames."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "corpusforge"

# Lower numbers are lower layers; a module may import its own package, or a package of a lower layer.
LAYER = {
    "errors": 0, "records": 0, "languages": 0, "provenance": 0, "progress_api": 0, "__init__": 0,
    "config": 1, "storage": 1,
    "io": 2, "transforms": 2,
    "report": 3, "tokenizers": 3, "unlearnable": 3, "lm": 3, "testing": 3,
    "pipelines": 4, "webapp": 4,
    "commands": 5,
    "cli": 6,
}
# Same-layer imports between different packages that are part of the design.
SIDEWAYS = {("lm", "tokenizers")}  # train-lm trains SentencePiece through the tokenizer's one trainer call


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _package(rel_or_dotted) -> str:
    parts = rel_or_dotted.split(".") if isinstance(rel_or_dotted, str) else list(rel_or_dotted.with_suffix("").parts)
    return parts[0]


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "corpusforge":
                yield from (a.name for a in node.names)
            elif node.module.startswith("corpusforge."):
                yield node.module.removeprefix("corpusforge.")
        elif isinstance(node, ast.Import):
            yield from (a.name.removeprefix("corpusforge.") for a in node.names if a.name.startswith("corpusforge."))


def test_every_package_has_a_layer():
    missing = {_package(rel) for rel, _ in _modules()} - set(LAYER)
    assert not missing, f"add these packages to LAYER (and to DESIGN.md): {sorted(missing)}"


def test_layers_import_downward_only():
    upward = []
    for rel, tree in _modules():
        src = _package(rel)
        for target in _imports(tree):
            dst = _package(target)
            if dst == src or dst == "__version__":
                continue
            if LAYER[dst] > LAYER[src] or (LAYER[dst] == LAYER[src] and (src, dst) not in SIDEWAYS):
                upward.append(f"{rel} imports corpusforge.{target}")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def _offences(tree, needle: str):
    for node in ast.walk(tree):
        if needle == "://":  # the test `"://" in path`
            hit = (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and node.left.value == "://"
                   and isinstance(node.ops[0], (ast.In, ast.NotIn)))
        elif needle == "apache_beam":
            hit = isinstance(node, (ast.Import, ast.ImportFrom)) and needle in ast.unparse(node)
        else:
            hit = isinstance(node, ast.Call) and ast.unparse(node.func) == needle
        if hit:
            yield node.lineno, ast.unparse(node)[:80]


@pytest.mark.parametrize("needle,allowed,why", [
    ("apache_beam", {"pipelines", "storage", "cli"}, "Beam only in pipelines/ (storage.py wraps its FileSystems)"),
    # url.py parses web URLs (a scheme-less "example.com/x"), which are not storage paths.
    ("://", {"storage", "transforms/dedup/url.py"}, "remote paths are storage.py's business (storage.is_remote)"),
    ("os.replace", {"storage"}, "atomic writes and moves go through storage.py"),
])
def test_one_home_for_paths_and_beam(needle, allowed, why):
    found = [f"{rel}:{line}: {code}" for rel, tree in _modules()
             if _package(rel) not in allowed and str(rel) not in allowed for line, code in _offences(tree, needle)]
    assert not found, f"{why}:\n" + "\n".join(found)
