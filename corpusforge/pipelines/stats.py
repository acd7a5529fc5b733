"""Turn the pipeline's counted keys into stats.json, with the conservation check.

Two independent tallies must agree: records counted as they are read, and outcomes counted where they are
written (kept + dropped + quarantined). The per-stage table is derived from stage order: each stage sees
what the previous one passed on.
"""
from __future__ import annotations

from collections import defaultdict


def build_stats(counts: list[list], stage_order: list[str], metrics: dict | None = None,
                timings: dict | None = None) -> dict:
    c: dict[tuple[str, ...], int] = {tuple(k.split("\t")): int(v) for k, v in counts}
    n_in = c.get(("input", "records"), 0)
    kept = c.get(("outcome", "kept"), 0)
    dropped = c.get(("outcome", "dropped"), 0)
    quarantined = c.get(("outcome", "quarantined"), 0)

    drop_reasons: dict[str, dict[str, int]] = defaultdict(dict)
    quarantine_reasons: dict[str, dict[str, int]] = defaultdict(dict)
    hist: dict[str, dict[str, int]] = defaultdict(dict)
    per_lang: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for key, v in sorted(c.items()):
        kind = key[0]
        if kind == "dropped":
            drop_reasons[key[1]][key[2]] = v
        elif kind == "quarantined":
            quarantine_reasons[key[1]][key[2]] = v
        elif kind in ("kept_perplexity_log10", "kept_perplexity_bucket"):
            per_lang[kind][key[1]][key[2]] = v
        elif kind in ("kept_language", "dropped_language", "kept_length_log2", "dropped_length_log2",
                      "kept_language_score", "dropped_language_score", "cluster_size", "pii_entities", "pii_ner",
                      "perplexity_null"):
            hist[kind][key[1]] = hist[kind].get(key[1], 0) + v

    stages = []
    flowing = n_in
    for name in stage_order:
        d = sum(drop_reasons.get(name, {}).values())
        q = sum(quarantine_reasons.get(name, {}).values())
        out = flowing - d - q
        stages.append({"stage": name, "in": flowing, "out": out, "dropped": d, "quarantined": q,
                       "reasons": dict(sorted(drop_reasons.get(name, {}).items())),
                       "quarantine_reasons": dict(sorted(quarantine_reasons.get(name, {}).items()))})
        flowing = out
    unknown_stages = sorted((set(drop_reasons) | set(quarantine_reasons)) - set(stage_order))

    ok = n_in == kept + dropped + quarantined and flowing == kept and not unknown_stages
    return {
        "conservation": {
            "input": n_in, "kept": kept, "dropped": dropped, "quarantined": quarantined,
            "ok": ok, "check": "input == kept + dropped + quarantined",
            "stage_chain_ok": flowing == kept, "unknown_stages": unknown_stages,
        },
        "stages": stages,
        "drop_reasons": {k: dict(sorted(v.items())) for k, v in sorted(drop_reasons.items())},
        "quarantine_reasons": {k: dict(sorted(v.items())) for k, v in sorted(quarantine_reasons.items())},
        "histograms": {k: dict(sorted(v.items())) for k, v in sorted(hist.items())},
        "perplexity": {k: {lang: dict(sorted(b.items())) for lang, b in sorted(v.items())} for k, v in per_lang.items()},
        "beam_metrics": metrics or {},
        "timings": timings or {},
    }
