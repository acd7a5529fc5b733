r"""Kept rate of real handbook prose in ~20 languages: a corpus builder and a scorer for `corpusforge curate`.

What it measures: per (language, source), the share of documents of >= 50 words (ja, zh: non-space characters
/ 2) that a `corpusforge curate` run kept, with the top drop reasons (read from RUN_DIR/dropped/**/*.parquet),
and, as the last line, the lowest per-language kept rate (both sources together) and its language.

Why: every document here is real, edited prose that this project did not generate, from other sources than
../shared/evaldev: the Debian Administrator's Handbook (source "dhb", 24 languages) and the Debian Reference
(source "dref", 9 languages), as shipped in Debian packages. A filter that drops much of it is too strict for
ordinary prose in that language.

Usage (from the repository root; the apt-get line needs root):

    apt-get install -y debian-handbook debian-reference-en debian-reference-de debian-reference-fr \
        debian-reference-it debian-reference-es debian-reference-ja debian-reference-pt \
        debian-reference-zh-cn debian-reference-id
    .venv/bin/python bench/handbook_prose.py build --out runs/handbook_prose
    .venv/bin/corpusforge curate -q --config configs/local.yaml \
        --set input.paths='["runs/handbook_prose/*.jsonl"]' --set langid.languages=null \
        --set output.dir=runs/handbook_run --set output.overwrite=true
    .venv/bin/python bench/handbook_prose.py score runs/handbook_run --corpus runs/handbook_prose

`score ... --lang ja --examples 5` also lists up to 5 dropped document ids per drop reason for that language.

build: reads the HTML of the installed packages,
  dhb  = debian-handbook        /usr/share/doc/debian-handbook/html/<lang-REGION>/*.html  (zh-TW skipped)
  dref = debian-reference-<ll>  /usr/share/debian-reference/*.<ll>.html
splits each page into documents at section headings (150-2000 words; ja, zh: 300-4000 characters), removes
paragraphs left untranslated (verbatim or English-like text in a translation; a section that is mostly English
is dropped whole), spreads at most 400 documents per (source, language) evenly over the book, and writes
OUT/<source>-<lang>.jsonl with one {"id", "text", "url", "lang"} object per line (no file when a language has
fewer than 20 documents) plus OUT/stats.json. The output depends only on the installed package versions
(checked with Debian bookworm: debian-handbook 11.20220922, debian-reference-* 2.100); the run is deterministic.

The texts stay out of the repository (write them under runs/, which git ignores), because of their licences:
- debian-handbook, /usr/share/doc/debian-handbook/copyright: "License: GPL-2.0+ or CC-BY-SA-3.0",
  Copyright 2003-2015 Raphael Hertzog, 2006-2015 Roland Mas, 2013-2015 Freexian SARL.
- debian-reference, /usr/share/doc/debian-reference-common/copyright (the same file in each
  debian-reference-<ll> package): "License: GPL-2+", "This document may used under the terms the GNU General
  Public License version 2 or higher", Copyright 2007-2013 Osamu Aoki; translators were asked to license
  their work under the same terms (GPL).
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import sys

from lxml import etree

DEFAULT_OUT = "runs/handbook_prose"
DHB_ROOT = "/usr/share/doc/debian-handbook/html"
DREF_ROOT = "/usr/share/debian-reference"
APT_PACKAGES = ["debian-handbook", "debian-reference-en", "debian-reference-de", "debian-reference-fr",
                "debian-reference-it", "debian-reference-es", "debian-reference-ja", "debian-reference-pt",
                "debian-reference-zh-cn", "debian-reference-id"]
CAP = 400  # at most this many documents per (source, language), spread evenly over the book

# word-based limits (most languages) and char-based limits (ja, zh)
MIN_W, MAX_W, SPLIT_W = 150, 2000, 1500
MIN_C, MAX_C, SPLIT_C = 300, 4000, 3000
CHAR_LANGS = {"ja", "zh"}
# Translations lag the English original: untranslated paragraphs appear in
# English verbatim. A heading segment is dropped when more than this share of
# its prose words sits in blocks (>=5 words) found verbatim in the English
# original; otherwise only those English blocks are removed.
MAX_EN_SHARE = 0.5
MIN_DOCS = 20  # languages with fewer usable docs get no file

DHB_LANG = {
    "ar-MA": "ar", "ca-ES": "ca", "cs-CZ": "cs", "da-DK": "da", "de-DE": "de",
    "el-GR": "el", "en-US": "en", "es-ES": "es", "fa-IR": "fa", "fr-FR": "fr",
    "hr-HR": "hr", "id-ID": "id", "it-IT": "it", "ja-JP": "ja", "ko-KR": "ko",
    "nb-NO": "nb", "nl-NL": "nl", "pl-PL": "pl", "pt-BR": "pt", "ro-RO": "ro",
    "ru-RU": "ru", "sv-SE": "sv", "tr-TR": "tr", "vi-VN": "vi", "zh-CN": "zh",
    # zh-TW deliberately skipped
}
DREF_LANG = {"en": "en", "de": "de", "fr": "fr", "es": "es", "it": "it",
             "ja": "ja", "pt": "pt", "id": "id", "zh-cn": "zh"}
DREF_PAGES = ["pr01"] + ["ch%02d" % i for i in range(1, 13)] + ["apa"]

BLOCK = {"p", "div", "li", "dt", "dd", "tr", "pre", "h1", "h2", "h3", "h4",
         "h5", "h6", "ul", "ol", "dl", "table", "tbody", "thead", "tfoot",
         "blockquote", "section", "body", "caption", "hr", "br"}
ITEM = {"li", "dt", "dd", "tr"}
HEAD = {"h1", "h2", "h3", "h4"}
CELL = {"td", "th"}
SKIP_TAG = {"script", "style", "head", "img", "object", "map"}
SKIP_CLASS = {"navheader", "navfooter", "toc", "docnav", "list-of-tables",
              "list-of-figures", "list-of-examples", "indexterm"}
SKIP_ID = {"banner", "title"}  # dhb: "Download the ebook" banner, logo row
EN_FUNC = {"the", "and", "of", "to", "is", "that", "with", "this", "are", "which",
           "be", "by", "from", "can", "an", "you", "on", "as", "its", "will", "not"}
SAMPLE_KEYS = {("dhb", "de"), ("dhb", "ja"), ("dref", "fr"), ("dhb", "ru"), ("dref", "zh")}

MIN_SCORE_WORDS = 50  # score: only documents of at least this many words (ja, zh: non-space chars / 2)
TOP_REASONS = 7


# ---------------------------------------------------------------------------------------------------------
# build: HTML -> text blocks
# ---------------------------------------------------------------------------------------------------------

def local(tag):
    if not isinstance(tag, str):
        return None  # comments / PIs
    return tag.rsplit("}", 1)[-1].lower()


def skipped(el) -> bool:
    tag = local(el.tag)
    if tag is None or tag in SKIP_TAG:
        return True
    cls = set((el.get("class") or "").split())
    if cls & SKIP_CLASS:
        return True
    if el.get("id") in SKIP_ID and tag in ("div", "p"):
        return True
    return False


def heading_anchor(el):
    """Section id of a heading: an id inside the heading, else the nearest enclosing div/section id."""
    ids = [a.get("id") for a in el.iter() if a.get("id")]
    sid = ids[0] if ids else None
    if sid is None:
        p = el.getparent()
        while p is not None and sid is None:
            if local(p.tag) in ("div", "section") and p.get("id"):
                sid = p.get("id")
            p = p.getparent()
    return sid


class Extractor:
    """Walk the DOM in document order and emit leaf text blocks.

    Each block: dict(kind=para|item|pre|head, text=..., anchor=section id or None)
    """

    def __init__(self):
        self.blocks = []
        self.buf = []
        self.kind_stack = []
        self.cur_anchor = None

    def flush(self, kind):
        txt = re.sub(r"\s+", " ", "".join(self.buf)).strip()
        self.buf = []
        if txt:
            self.blocks.append({"kind": kind, "text": txt, "anchor": self.cur_anchor})

    def cur_kind(self):
        return self.kind_stack[-1] if self.kind_stack else "para"

    def walk(self, el):
        if skipped(el):
            if el.tail:
                self.buf.append(el.tail)
            return
        tag = local(el.tag)
        if tag == "pre":
            self._pre(el)
        elif tag in BLOCK or tag in HEAD:
            self._block(el, tag)
        else:  # inline (incl. td/th which are joined per row)
            if el.text:
                self.buf.append(el.text)
            for ch in el:
                self.walk(ch)
        if el.tail:
            self.buf.append(el.tail)

    def _pre(self, el):
        self.flush(self.cur_kind())
        txt = "".join(el.itertext()).strip("\n").rstrip()
        if txt.strip():
            self.blocks.append({"kind": "pre", "text": txt, "anchor": self.cur_anchor})

    def _block(self, el, tag):
        self.flush(self.cur_kind())
        if tag in HEAD:
            kind = "head"
            self.cur_anchor = heading_anchor(el)
        elif tag in ITEM:
            kind = "item"
        else:
            kind = self.cur_kind() if tag not in ("p", "div") else "para"
        self.kind_stack.append(kind)
        if el.text:
            self.buf.append(el.text)
        row_start = len(self.buf)
        for ch in el:
            # table cells of one row are joined with " | " (empty cells,
            # e.g. the icon cell of a Note/Tip box, get no separator)
            if local(ch.tag) in CELL and "".join(self.buf[row_start:]).strip():
                self.buf.append(" | ")
            self.walk(ch)
        self.flush(kind)
        self.kind_stack.pop()


def extract(path):
    tree = etree.parse(path, etree.XMLParser(resolve_entities=True, no_network=True))
    body = [e for e in tree.getroot() if local(e.tag) == "body"][0]
    ex = Extractor()
    ex.walk(body)
    ex.flush("para")
    return ex.blocks


# ---------------------------------------------------------------------------------------------------------
# build: blocks -> documents
# ---------------------------------------------------------------------------------------------------------

def size(text, lang):
    if lang in CHAR_LANGS:
        return len(re.sub(r"\s", "", text))
    return len(text.split())


def join_blocks(blocks):
    out = []
    prev = None
    for b in blocks:
        if prev is not None:
            out.append("\n" if (prev["kind"] == "item" and b["kind"] == "item") else "\n\n")
        out.append(b["text"])
        prev = b
    return "".join(out)


def segments(blocks):
    """Split a page's blocks at headings (h1-h4 = DocBook section titles)."""
    segs, cur = [], []
    for b in blocks:
        if b["kind"] == "head" and cur:
            segs.append(cur)
            cur = []
        cur.append(b)
    if cur:
        segs.append(cur)
    return segs


def bsize(blocks, lang):
    return sum(size(b["text"], lang) for b in blocks)


def split_balanced(blocks, lang, target):
    """Split a block list at block boundaries into n ~equal parts of <= ~target."""
    tot = bsize(blocks, lang)
    n = max(1, -(-tot // target))  # ceil
    per = tot / n
    parts, cur, acc = [], [], 0
    for b in blocks:
        s = size(b["text"], lang)
        if cur and len(parts) < n - 1 and acc + s / 2 > per * (len(parts) + 1):
            parts.append(cur)
            cur = []
        cur.append(b)
        acc += s
    if cur:
        parts.append(cur)
    return parts


def merge_small_segments(blocks, lang, lo):
    """Merge tiny heading segments with the next one; a small trailing remainder joins the previous piece."""
    merged, cur = [], []
    for seg in segments(blocks):
        cur = cur + seg
        if bsize(cur, lang) >= lo:
            merged.append(cur)
            cur = []
    if cur:
        if merged:
            merged[-1] = merged[-1] + cur
        else:
            merged.append(cur)
    return merged


def make_docs(blocks, lang):
    lo, hi, sp = (MIN_C, MAX_C, SPLIT_C) if lang in CHAR_LANGS else (MIN_W, MAX_W, SPLIT_W)
    docs = []
    for m in merge_small_segments(blocks, lang, lo):
        # split anything over the max at paragraph boundaries (~sp per part)
        docs.extend(split_balanced(m, lang, sp) if bsize(m, lang) > hi else [m])
    # anything still under the minimum (whole page too short, or a single huge <pre>) is dropped
    return [d for d in docs if lo <= bsize(d, lang) <= hi * 1.25]


# ---------------------------------------------------------------------------------------------------------
# build: untranslated (English) paragraphs in translations
# ---------------------------------------------------------------------------------------------------------

def norm(t):
    return re.sub(r"\W+", " ", t.lower()).strip()


def english_like(text):
    """Untranslated English paragraph that does not match the en-US text
    exactly (e.g. localized cross-reference inside it)."""
    w = re.findall(r"[^\W\d_]+", text.lower())
    if len(w) < 8:
        return False
    f = sum(x in EN_FUNC for x in w)
    return w.count("the") >= 1 and f / len(w) >= 0.2


def is_untranslated(b, en_set):
    if b["kind"] == "pre":
        return False
    t = b["text"]
    return (len(t.split()) >= 5 and norm(t) in en_set) or english_like(t)


def english_blocks(paths):
    s = set()
    for p in paths:
        for b in extract(p):
            if b["kind"] != "pre" and len(b["text"].split()) >= 5:
                s.add(norm(b["text"]))
    return s


def drop_untranslated(blocks, en_set):
    """Per heading segment: drop the whole segment if most of its prose is
    verbatim English (untranslated), otherwise drop just the English blocks."""
    out, stats = [], [0, 0]
    for seg in segments(blocks):
        tot = sum(len(b["text"].split()) for b in seg if b["kind"] != "pre")
        bad = [b for b in seg if is_untranslated(b, en_set)]
        badw = sum(len(b["text"].split()) for b in bad)
        if tot and badw / tot > MAX_EN_SHARE:
            stats[0] += 1
            continue
        ids = set(map(id, bad))
        stats[1] += len(bad)
        out.extend(b for b in seg if id(b) not in ids)
    return out, stats


# ---------------------------------------------------------------------------------------------------------
# build: sources, files, report
# ---------------------------------------------------------------------------------------------------------

def dhb_pages(langdir):
    """Book order: follow <link rel="next"> from index.html, then the remaining pages sorted by name."""
    order, seen = [], set()
    cur = "index.html"
    while cur and cur not in seen and os.path.exists(os.path.join(langdir, cur)):
        seen.add(cur)
        order.append(cur)
        t = etree.parse(os.path.join(langdir, cur))
        nxt = None
        for link in t.iter("{http://www.w3.org/1999/xhtml}link"):
            if link.get("rel") == "next":
                nxt = link.get("href").split("#")[0]
        cur = nxt
    rest = sorted(os.path.basename(p) for p in glob.glob(langdir + "/*.html")
                  if os.path.basename(p) not in seen)
    pages = [p for p in order + rest if p != "index.html"]
    return [os.path.join(langdir, p) for p in pages]


def dref_pages(code):
    pages = [os.path.join(DREF_ROOT, "%s.%s.html" % (p, code)) for p in DREF_PAGES]
    return [p for p in pages if os.path.exists(p)]


def missing_packages():
    """Debian packages whose HTML folders/pages this build needs but cannot find."""
    missing = []
    if not os.path.isfile(os.path.join(DHB_ROOT, "en-US", "index.html")):
        missing.append("debian-handbook")
    for code in DREF_LANG:
        if not dref_pages(code):
            missing.append("debian-reference-%s" % code)
    return missing


def check_sources():
    missing = missing_packages()
    if missing:
        raise SystemExit(
            "handbook_prose build: HTML of %s not found (looked under %s and %s).\n"
            "Install the sources with:\n  apt-get install -y %s"
            % (", ".join(missing), DHB_ROOT, DREF_ROOT, " ".join(APT_PACKAGES)))


def select_docs(docs):
    """At most CAP documents, a deterministic spread over the book."""
    n = len(docs)
    if n > CAP:
        docs = [docs[(i * n) // CAP] for i in range(CAP)]
    return docs


def write_jsonl(out_dir, source, lang, recs):
    """Write OUT/<source>-<lang>.jsonl; with fewer than MIN_DOCS records (essentially untranslated) write no file
    and remove a stale one. Returns the path written or None."""
    fn = os.path.join(out_dir, "%s-%s.jsonl" % (source, lang))
    if len(recs) < MIN_DOCS:
        if os.path.exists(fn):
            os.remove(fn)
        return None
    with open(fn, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return fn


def build_one(out_dir, source, lang, pages, en_set):
    docs = []  # (blocks, url)
    dropped = [0, 0]
    for path in pages:
        blocks = extract(path)
        if lang != "en":
            blocks, st = drop_untranslated(blocks, en_set)
            dropped[0] += st[0]
            dropped[1] += st[1]
        for d in make_docs(blocks, lang):
            anchor = next((b["anchor"] for b in d if b["anchor"]), None) or ""
            docs.append((d, "file://%s#%s" % (path, anchor)))
    recs = [{"id": "%s-%s-%d" % (source, lang, i), "text": join_blocks(d), "url": url, "lang": lang}
            for i, (d, url) in enumerate(select_docs(docs))]
    fn = write_jsonl(out_dir, source, lang, recs)
    sizes = [size(r["text"], lang) for r in recs]
    return {"source": source, "lang": lang, "file": fn, "avail": len(docs), "docs": len(recs),
            "untrans_segments_dropped": dropped[0], "untrans_blocks_dropped": dropped[1],
            "mean": sum(sizes) / len(sizes) if sizes else 0,
            "min": min(sizes) if sizes else 0, "max": max(sizes) if sizes else 0,
            "unit": "chars" if lang in CHAR_LANGS else "words", "recs": recs}


def build_dhb(out_dir):
    stats = []
    en_set = english_blocks(dhb_pages(os.path.join(DHB_ROOT, "en-US")))
    for d, lang in DHB_LANG.items():
        ld = os.path.join(DHB_ROOT, d)
        if not os.path.isdir(ld):
            print("missing dhb", d, file=sys.stderr)
            continue
        stats.append(build_one(out_dir, "dhb", lang, dhb_pages(ld), en_set))
    return stats


def build_dref(out_dir):
    stats = []
    en_set = english_blocks([os.path.join(DREF_ROOT, "%s.en.html" % p) for p in DREF_PAGES])
    for code, lang in DREF_LANG.items():
        pages = dref_pages(code)
        if not pages:
            print("missing dref", code, file=sys.stderr)
            continue
        stats.append(build_one(out_dir, "dref", lang, pages, en_set))
    return stats


def print_build_report(stats):
    print("%-5s %-5s %6s %6s %7s %7s %9s %6s %6s %-5s %s" % (
        "lang", "src", "avail", "docs", "untrSeg", "untrBlk", "mean", "min", "max", "unit", "file"))
    for s in stats:
        print("%-5s %-5s %6d %6d %7d %7d %9.1f %6d %6d %-5s %s" % (
            s["lang"], s["source"], s["avail"], s["docs"], s["untrans_segments_dropped"],
            s["untrans_blocks_dropped"], s["mean"], s["min"], s["max"], s["unit"],
            os.path.basename(s["file"]) if s["file"] else "-- not written (too few translated docs)"))
    print()
    for s in stats:
        if (s["source"], s["lang"]) in SAMPLE_KEYS:
            for r in s["recs"][:: max(1, len(s["recs"]) // 2)][:2]:
                print("[%s] %s\n  %r\n" % (r["id"], r["url"], r["text"][:200]))


def cmd_build(args) -> None:
    check_sources()
    out_dir = args.out
    os.makedirs(out_dir, exist_ok=True)
    stats = build_dhb(out_dir) + build_dref(out_dir)
    print_build_report(stats)
    with open(os.path.join(out_dir, "stats.json"), "w") as f:
        json.dump([{k: v for k, v in s.items() if k != "recs"} for s in stats], f, indent=1)


# ---------------------------------------------------------------------------------------------------------
# score
# ---------------------------------------------------------------------------------------------------------

def score_size(text, lang):
    """Words; for ja and zh non-space characters / 2."""
    return len(re.sub(r"\s", "", text)) // 2 if lang in CHAR_LANGS else len(text.split())


def load_corpus(corpus_dir):
    """id -> (lang, source, size) for every document in CORPUS_DIR/*.jsonl."""
    files = sorted(glob.glob(os.path.join(corpus_dir, "*.jsonl")))
    if not files:
        raise SystemExit("handbook_prose score: no *.jsonl in %s (run `build --out %s` first)"
                         % (corpus_dir, corpus_dir))
    meta = {}
    for fn in files:
        with open(fn, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                meta[d["id"]] = (d["lang"], d["id"].split("-")[0], score_size(d["text"], d["lang"]))
    return meta


def load_drop_reasons(run_dir):
    """id -> drop reason, from RUN_DIR/dropped/**/*.parquet."""
    import pandas as pd  # only the score subcommand needs pandas

    if not os.path.isdir(os.path.join(run_dir, "dropped")):
        raise SystemExit("handbook_prose score: %s/dropped not found (not a `corpusforge curate` output dir?)"
                         % run_dir)
    files = sorted(glob.glob(os.path.join(run_dir, "dropped", "**", "*.parquet"), recursive=True))
    why = {}
    for fn in files:
        dr = pd.read_parquet(fn, columns=["id", "stage", "reason"])
        why.update(zip(dr["id"], dr["reason"]))
    return why


def tally(meta, why):
    """Per (lang, source): documents of >= MIN_SCORE_WORDS, drop-reason counts, dropped ids per (lang, reason)."""
    tot = collections.Counter()
    lost = collections.defaultdict(collections.Counter)
    ex = collections.defaultdict(list)
    for i, (lang, src, n) in meta.items():
        if n < MIN_SCORE_WORDS:
            continue
        key = (lang, src)
        tot[key] += 1
        if i in why:
            lost[key][why[i]] += 1
            ex[(lang, why[i])].append(i)
    return tot, lost, ex


def min_language_rate(tot, lost):
    """(kept rate, language) of the language with the lowest kept rate, its sources pooled."""
    n_lang, lost_lang = collections.Counter(), collections.Counter()
    for (lang, _src), n in tot.items():
        n_lang[lang] += n
        lost_lang[lang] += sum(lost[(lang, _src)].values())
    return min((1 - lost_lang[lang] / n_lang[lang], lang) for lang in n_lang)


def cmd_score(args) -> None:
    meta = load_corpus(args.corpus)
    tot, lost, ex = tally(meta, load_drop_reasons(args.run_dir))
    if not tot:
        raise SystemExit("handbook_prose score: no document of >= %d words in %s" % (MIN_SCORE_WORDS, args.corpus))
    for key in sorted(tot):
        nl = sum(lost[key].values())
        print(f"{key[0]} {key[1]:5s} n={tot[key]:4d} kept={1 - nl / tot[key]:.3f} ",
              ", ".join(f"{k}:{v}" for k, v in lost[key].most_common(TOP_REASONS)))
    if args.lang and args.examples:
        for (lang, reason), ids in sorted(ex.items()):
            if lang == args.lang:
                print("=====", reason, ids[:args.examples])
    rate, lang = min_language_rate(tot, lost)
    print(f"min kept rate over languages (sources pooled): {rate:.3f} ({lang})")


# ---------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the JSONL corpus from the installed Debian handbook packages")
    b.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("score", help="kept rate per language and source of a curate run over the corpus")
    s.add_argument("run_dir", metavar="RUN_DIR", help="output.dir of the `corpusforge curate` run")
    s.add_argument("--corpus", default=DEFAULT_OUT, help="directory written by build (default: %(default)s)")
    s.add_argument("--lang", help="language whose dropped document ids to list per reason")
    s.add_argument("--examples", type=int, default=0, metavar="N", help="ids per reason to list for --lang")
    s.set_defaults(func=cmd_score)
    return ap.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
