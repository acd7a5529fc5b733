#!/usr/bin/env python3
"""Build the clean reference text the demo perplexity models are trained on: data/lm_reference/<lang>.jsonl.

    .venv/bin/python scripts/build_lm_reference.py                  # fetches the .debs with `apt-get download`
    .venv/bin/python scripts/build_lm_reference.py --debs-dir DIR   # or uses .debs already in DIR

Sources: the same Debian bookworm documentation packages as the demo corpus (libreoffice-help-<lang>,
debian-handbook, installation-guide-amd64; licences in data/lm_reference/SOURCES.md), but disjoint from it:
LibreOffice's reference pages rather than the `guide/` pages the demo draws from, and any paragraph that also
occurs in data/demo is skipped, so the demo corpus is unseen text for these models. Each paragraph is checked
with fastText lid.176 (translations are partial: an English paragraph inside a German page is dropped).
Paragraphs are grouped per page into documents of at most DOC_MAX_WORDS words: {"id", "text", "url",
"source_pkg"}. Documents are taken round-robin over the three sources, each in a stable hash order, until
MAX_BYTES of text per language. Same package versions -> identical bytes.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))
from build_demo_corpus import (  # noqa: E402
    HANDBOOK_LANG_DIR, INSTALL_LANG_DIR, LO_LANG_DIR, LangId, deb_field, extract, html_blocks,
)

LANGS = ["en", "de", "fr", "es", "it", "pt", "nl"]
MAX_BYTES = 190_000  # per language, of UTF-8 text
MIN_PARA_WORDS = 8
MIN_PARAS_PER_DOC = 2
DOC_MAX_WORDS = 400
SHARED_PACKAGES = ["debian-handbook", "installation-guide-amd64"]
MIN_LID_SCORE = 0.5


def package(lang: str) -> str:
    return f"libreoffice-help-{'en-us' if lang == 'en' else lang}"


def fetch(debs_dir: Path, packages: list[str]) -> dict[str, Path]:
    debs_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs_dir.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs_dir, check=True)
    return {p: sorted(debs_dir.glob(f"{p}_*.deb"))[-1] for p in packages}


def demo_paragraphs(demo_dir: Path) -> set[str]:
    """Every line of every text in data/demo, to keep the reference disjoint from the demo corpus."""
    texts: list[object] = []
    for path in sorted(demo_dir.glob("*.jsonl*")):
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                texts.append(json.loads(line).get("text"))
            except (ValueError, AttributeError):
                continue
    for path in sorted(demo_dir.glob("*.parquet")):
        texts += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    return {line.strip() for t in texts if isinstance(t, str) for line in t.split("\n") if line.strip()}


def stable_key(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def lo_pages(root: Path, lang: str) -> list[tuple[Path, str, str]]:
    base = root / "usr/share/libreoffice/help" / LO_LANG_DIR[lang] / "text"
    pages = [p for p in base.glob("*/**/*.html") if "guide" not in p.relative_to(base).parts]
    return [(p, f"https://help.libreoffice.org/7.4/{LO_LANG_DIR[lang]}/text/{p.relative_to(base).as_posix()}",
             package(lang)) for p in pages]


def handbook_pages(root: Path, lang: str) -> list[tuple[Path, str, str]]:
    d = HANDBOOK_LANG_DIR[lang]
    base = root / "usr/share/doc/debian-handbook/html" / d
    return [(p, f"https://debian-handbook.info/browse/{d}/stable/{p.name}", "debian-handbook")
            for p in base.glob("*.html") if p.name not in {"index.html", "pr01.html", "ix01.html"}]


def install_pages(root: Path, lang: str) -> list[tuple[Path, str, str]]:
    base = root / "usr/share/doc/installation-guide-amd64" / INSTALL_LANG_DIR[lang]
    return [(p, f"https://www.debian.org/releases/bookworm/amd64/{p.stem}.{lang}.html", "installation-guide-amd64")
            for p in base.glob("*.html") if not p.name.startswith(("apf", "index"))]


def page_docs(pages: list[tuple[Path, str, str]], lang: str, lid: LangId, seen: set[str]) -> list[dict]:
    """Documents (groups of clean paragraphs) from `pages`, taken in a stable hash order of their URL."""
    docs = []
    for path, url, pkg in sorted(pages, key=lambda t: stable_key(t[1])):
        paras = []
        for kind, text in html_blocks(path):
            if kind != "p" or len(text.split()) < MIN_PARA_WORDS or text in seen:
                continue
            got, score = lid(text)
            if got != lang or score < MIN_LID_SCORE:
                continue
            seen.add(text)
            paras.append(text)
        groups, cur, n = [], [], 0
        for para in paras:
            w = len(para.split())
            if cur and n + w > DOC_MAX_WORDS:
                groups.append(cur)
                cur, n = [], 0
            cur.append(para)
            n += w
        groups.append(cur)
        for i, group in enumerate(g for g in groups if len(g) >= MIN_PARAS_PER_DOC):
            key = f"{url}#{i}"
            docs.append({"id": f"lmref-{lang}-{stable_key(key)[:12]}", "text": "\n".join(group),
                         "url": url + (f"#part-{i}" if i else ""), "source_pkg": pkg})
    return docs


def reference_docs(roots: dict[str, Path], lang: str, lid: LangId, exclude: set[str]) -> list[dict]:
    seen = set(exclude)
    sources = [page_docs(lo_pages(roots[package(lang)], lang), lang, lid, seen),
               page_docs(handbook_pages(roots["debian-handbook"], lang), lang, lid, seen),
               page_docs(install_pages(roots["installation-guide-amd64"], lang), lang, lid, seen)]
    picked, used = [], 0
    for rnd in range(max(len(s) for s in sources)):
        for src in sources:
            if rnd < len(src):
                size = len(src[rnd]["text"].encode("utf-8"))
                if used + size <= MAX_BYTES:
                    picked.append(src[rnd])
                    used += size
    return sorted(picked, key=lambda d: d["id"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debs-dir", type=Path, default=Path.home() / ".cache/corpusforge/debs")
    ap.add_argument("--out", type=Path, default=ROOT / "data/lm_reference")
    ap.add_argument("--demo-dir", type=Path, default=ROOT / "data/demo")
    ap.add_argument("--langs", default=",".join(LANGS))
    args = ap.parse_args(argv)
    langs = args.langs.split(",")
    debs = fetch(args.debs_dir, SHARED_PACKAGES + [package(lang) for lang in langs])
    exclude = demo_paragraphs(args.demo_dir)
    lid = LangId()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        roots = {pkg: extract(deb, Path(work)) for pkg, deb in debs.items()}
        versions = {pkg: deb_field(deb, "Version") for pkg, deb in debs.items()}
        for lang in langs:
            docs = reference_docs(roots, lang, lid, exclude)
            with open(args.out / f"{lang}.jsonl", "w", encoding="utf-8") as f:
                for d in docs:
                    f.write(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n")
            per_pkg = {p: sum(d["source_pkg"] == p for d in docs) for p in sorted({d["source_pkg"] for d in docs})}
            print(f"{lang}: {len(docs)} documents {per_pkg}, {sum(len(d['text'].encode()) for d in docs)} bytes")
    (args.out / "versions.json").write_text(json.dumps(versions, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
