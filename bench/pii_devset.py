"""Fast PII check on a labelled corpus in the evaldev layout (data/part-*.jsonl.gz + data/truth.json.gz).

Runs the stages the PII stage sees in `curate` (DocumentNormalizer, fastText LanguageIdFilter labels, then
PIIRedactor with the placeholder operator) over EVERY document, without the quality/dedup stages in between, and
prints what `score.py`'s PII section prints for a curate run:
  * leak per type x locale: share of injected values (truth "pii": type, value, locale, id; private IPs skipped)
    still verbatim in the output text;
  * placeholders in documents WITHOUT injected PII: share of those documents holding a `<TYPE>` placeholder,
    per language of the document.

    .venv/bin/python bench/pii_devset.py ../shared/evaldev [--show 20] [--langs en,de]

Language labels are cached next to /tmp (they depend only on the LID model and the text).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from corpusforge.config import PIIConfig  # noqa: E402
from corpusforge.records import Document  # noqa: E402
from corpusforge.transforms.langid import LanguageIdFilter  # noqa: E402
from corpusforge.transforms.normalize import DocumentNormalizer  # noqa: E402
from corpusforge.transforms.pii import PIIRedactor  # noqa: E402

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]{2,})>")


def load_docs(root: str) -> list[Document]:
    """Normalized documents with `meta["language"]` from the real LID stage (cached by content hash)."""
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "data", "part-*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(r.get("text"), str) or "id" not in r:
                    continue
                out = DocumentNormalizer()(Document(id=r["id"], text=r["text"]))
                if isinstance(out, Document):
                    docs.append(out)
    key = hashlib.sha256("\0".join(d.text for d in docs).encode()).hexdigest()[:16]
    cache = f"/tmp/pii_devset_lid_{key}.json"
    if os.path.exists(cache):
        with open(cache) as f:
            labels = json.load(f)
    else:
        lid = LanguageIdFilter()
        labels = [lang for lang, _ in lid.predict([d.text for d in docs])]
        with open(cache, "w") as f:
            json.dump(labels, f)
    for d, lang in zip(docs, labels):
        d.meta["language"] = lang
    return docs


def evaluate(docs: list[Document], truth: dict, cfg: PIIConfig, show: int = 0) -> dict:
    originals = {d.id: d.text for d in docs}
    redactor = PIIRedactor(cfg)
    redactor.setup()
    t0 = time.perf_counter()
    ner_by_lang: dict[str, Counter] = defaultdict(Counter)
    fp_spans: Counter = Counter()
    pii_ids = {e["id"] for e in truth["pii"]}
    for i in range(0, len(docs), cfg.batch_size):
        batch = docs[i:i + cfg.batch_size]
        if show:  # the spans found in PII-free documents, before they are replaced
            for d, (spans, _) in zip(batch, redactor.detect_batch(batch)):
                if d.id not in pii_ids:
                    fp_spans.update(f"{d.meta['language']} {t}: {d.text[s:e]!r}" for s, e, t, _ in spans)
        redactor.process_batch(batch)
        for d in batch:
            ner_by_lang[d.meta["language"]][str(d.meta.get("pii_ner"))] += 1
    elapsed = time.perf_counter() - t0
    out = {d.id: d.text for d in docs}
    langs = {d.id: d.meta["language"] for d in docs}

    leak = defaultdict(lambda: [0, 0])
    leaked_examples = defaultdict(list)
    for e in truth["pii"]:
        t = out.get(e["id"])
        if t is None or e.get("ip_scope") == "private":
            continue
        k = f"{e['type']}@{e['locale']}"
        leak[k][1] += 1
        if e["value"] in t:
            leak[k][0] += 1
            leaked_examples[e["type"]].append((e["locale"], e["value"], _context(t, e["value"])))
    fp = defaultdict(lambda: [0, 0])
    fp_types: Counter = Counter()
    fp_examples = []
    for i, t in out.items():
        if i in pii_ids or i not in truth["docs"]:
            continue
        lang = langs[i]
        fp[lang][1] += 1
        found = list(_PLACEHOLDER.finditer(t))
        if found:
            fp[lang][0] += 1
            fp_types.update(m.group(1) for m in found)
            fp_examples += [(i, lang, m.group(1), _orig_context(originals[i], t, m)) for m in found[:2]]
    n_fp = sum(b for _, b in fp.values())
    report = {
        "docs": len(docs), "seconds": round(elapsed, 1), "ms_per_doc": round(1000 * elapsed / len(docs), 2),
        "leak": {k: round(a / b, 4) for k, (a, b) in sorted(leak.items())},
        "leak_n": {k: f"{a}/{b}" for k, (a, b) in sorted(leak.items())},
        "fp_rate": round(sum(a for a, _ in fp.values()) / n_fp, 4) if n_fp else None,
        "fp_by_lang": {k: f"{a}/{b}" for k, (a, b) in sorted(fp.items())},
        "fp_types": dict(fp_types.most_common()),
        "ner_by_lang": {k: dict(v) for k, v in sorted(ner_by_lang.items())},
    }
    if show:
        for typ, ex in sorted(leaked_examples.items()):
            print(f"--- leaked {typ}: {len(ex)}")
            for loc, v, ctx in ex[:show * (3 if typ == "PHONE_NUMBER" else 1)]:
                print(f"   {loc} {v!r}  ..{ctx!r}..")
        print("--- most frequent spans found in PII-free docs")
        for k, n in fp_spans.most_common(4 * show):
            print(f"   {n:5d} {k}")
        print(f"--- placeholders in PII-free docs: {len(fp_examples)} (first {show})")
        for i, lang, typ, ctx in fp_examples[:show]:
            print(f"   {i} {lang} {typ}: {ctx!r}")
    return report


def _context(text: str, value: str, width: int = 50) -> str:
    p = text.find(value)
    return text[max(0, p - width): p + len(value) + width]


def _orig_context(original: str, redacted: str, m: re.Match, width: int = 50) -> str:
    # Placeholder's position in the redacted text, shown with its surroundings there (the value is gone).
    return redacted[max(0, m.start() - width): m.end() + width]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default="../shared/evaldev")
    ap.add_argument("--show", type=int, default=0, help="print this many leaked values / false placeholders")
    ap.add_argument("--langs", default=None, help="only documents LID labels with these languages (comma list)")
    ap.add_argument("--fp-every", type=int, default=1, help="keep every n-th document without injected PII (speed)")
    ap.add_argument("--set", action="append", default=[], help="PIIConfig override as key=json")
    args = ap.parse_args(argv)
    with gzip.open(os.path.join(args.root, "data", "truth.json.gz"), "rt") as f:
        truth = json.load(f)
    docs = load_docs(args.root)
    if args.langs:
        keep = set(args.langs.split(","))
        docs = [d for d in docs if d.meta["language"] in keep]
    pii_ids = {e["id"] for e in truth["pii"]}
    docs = [d for i, d in enumerate(docs) if d.id in pii_ids or i % args.fp_every == 0]
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = PIIConfig(enabled=True, **overrides)
    print(json.dumps(evaluate(docs, truth, cfg, args.show), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
