"""Before/after tables from ../shared/evaldev/score.py reports (eval_score.json), as Markdown.

    .venv/bin/python bench/evaldev_table.py BEFORE.json AFTER.json

Prints, per language, real prose of >= 50 words kept (the issue-10 target) and the stage that dropped most
of the rest; the low-quality categories' kept rate; language-ID accuracy; dedup precision/recall; PII leaks
by type and locale and the false-placeholder rate. Numbers only, read from the two reports.
"""
from __future__ import annotations

import json
import sys


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(before_path: str, after_path: str) -> None:
    b, a = _load(before_path), _load(after_path)
    print("| language | real prose >= 50 words kept, before | after | after: main remaining drops |")
    print("|---|---:|---:|---|")
    for lang, v in sorted(a["real_prose_by_language"].items()):
        old = b["real_prose_by_language"].get(lang, {})
        top = ", ".join(f"{k} {100 * x:.1f}%" for k, x in list(v["dropped_by"].items())[:3])
        print(f"| {lang} | {old.get('kept_rate_50w')} | **{v['kept_rate_50w']}** | {top} |")
    print()
    lq_b, lq_a = b["low_quality_kept_rate"], a["low_quality_kept_rate"]
    print("| low-quality category kept | before | after |\n|---|---:|---:|")
    for k in sorted(lq_a):
        print(f"| {k} | {lq_b.get(k)} | {lq_a[k]} |")
    print()
    print(f"language ID accuracy: before {b['language_id']['ALL']['accuracy']}, after {a['language_id']['ALL']['accuracy']}")
    for name, r in (("before", b), ("after", a)):
        d = r.get("dedup", {}).get("doc_level", {})
        p = r.get("pii", {})
        print(f"{name}: dedup precision {d.get('precision')} recall {d.get('recall')}; kept non-PII docs with "
              f"placeholders {p.get('kept_non_pii_docs_with_placeholders', {}).get('rate')}")
    print()
    print("| PII type@locale leaked | before | after |\n|---|---:|---:|")
    lb, la = b["pii"]["leak_by_type_and_locale"], a["pii"]["leak_by_type_and_locale"]
    for k in sorted(set(lb) | set(la)):
        print(f"| {k} | {lb.get(k, {}).get('leak_rate')} | {la.get(k, {}).get('leak_rate')} (n={la.get(k, {}).get('n')}) |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
