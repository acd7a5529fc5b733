"""The same page across languages: does one language drop what most languages keep? (issue 10)

    .venv/bin/python bench/evaldev_xlang.py RUN_DIR [--evaldev ../shared/evaldev] [--lang ja]

The development set's documentation pages share their URL across languages. For every URL with real prose of
>= 50 words (the scorer's count: whitespace words, CJK characters / 2) in at least `--min-langs` languages and
kept in at least `--kept-share` of them, prints per language how many such pages a stage other than dedup dropped (dedup
drops are not counted: which copy survives is not a quality decision), and per rule the largest counts. A rule
that does not mean the same in one language shows as many drops of pages the others keep. `--lang` lists that
language's dropped pages (id, reason, URL).
"""
from __future__ import annotations

import argparse
import glob
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--evaldev", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "evaldev")
    ap.add_argument("--min-langs", type=int, default=4)
    ap.add_argument("--kept-share", type=float, default=0.75)
    ap.add_argument("--lang", default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(args.evaldev))
    import metrics  # the development set's own loader (../shared/evaldev/metrics.py)

    data = args.evaldev / "data"
    truth = metrics.load_truth(data)
    files = glob.glob(f"{args.run}/dropped/**/*.parquet", recursive=True)
    dropped = pd.concat([pd.read_parquet(f, columns=["id", "stage", "reason"]) for f in files])
    why = dict(zip(dropped["id"], dropped["stage"] + "/" + dropped["reason"]))
    by_url: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for doc in metrics.iter_corpus(data):
        meta = truth["docs"].get(doc["id"])
        if not meta or meta["kind"] not in ("base", "hard_negative"):
            continue
        text = doc["text"]
        words = len(re.sub(r"\s", "", text)) // 2 if meta["lang"] in ("ja", "zh") else len(text.split())
        if words >= 50:
            by_url[doc.get("url")][meta["lang"]] = (doc["id"], why.get(doc["id"], "kept"))
    pages, lost, rules, listed = Counter(), Counter(), Counter(), []
    shared = {u: langs for u, langs in by_url.items() if len(langs) >= args.min_langs}
    for url, langs in shared.items():
        if sum(w == "kept" for _, w in langs.values()) / len(langs) < args.kept_share:
            continue
        for lang, (doc_id, w) in langs.items():
            pages[lang] += 1
            if w != "kept" and not w.startswith("dedup/"):
                lost[lang] += 1
                rules[(lang, w)] += 1
                listed.append((lang, doc_id, w, url))
    print(f"{len(shared)} URLs with >= 50-word prose in >= {args.min_langs} languages; "
          f"kept by >= {args.kept_share:.0%} of their languages, dropped by a stage other than dedup:")
    print(", ".join(f"{lang} {lost[lang]}/{pages[lang]}" for lang in sorted(pages)))
    print("largest (language, rule) counts:", ", ".join(f"{l} {r} {n}" for (l, r), n in rules.most_common(8)))
    for lang, doc_id, w, url in listed:
        if lang == args.lang:
            print(doc_id, w, url)


if __name__ == "__main__":
    main()
