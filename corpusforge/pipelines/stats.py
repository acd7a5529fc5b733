"""Turn the pipeline's counted keys into stats.json, with the conservation check.

Two independent tallies must agree: records counted as they are read, and outcomes counted where they are
written (kept + dropped + quarantined). The per-stage table is derived from stage order: each stage sees
what the previous one passed on.
"""
from __future__ import annotations

from collections import defaultdict

from corpusforge.transforms.signals import signal_stats


def build_stats(counts: list[list], stage_order: list[str], metrics: dict | None = None,
                timings: dict | None = None, on_disk: dict[str, int] | None = None) -> dict:
    """`on_disk`: rows found in the written shards ({"kept", "dropped", "quarantined"}); when given, the check
    also fails unless they equal the counted outcomes (a shard lost or overwritten by another process)."""
    c: dict[tuple[str, ...], int] = {tuple(k.split("\t")): int(v) for k, v in counts}
    n_in = c.get(("input", "records"), 0)
    kept = c.get(("outcome", "kept"), 0)
    dropped = c.get(("outcome", "dropped"), 0)
    quarantined = c.get(("outcome", "quarantined"), 0)

    drop_reasons: dict[str, dict[str, int]] = defaultdict(dict)
    quarantine_reasons: dict[str, dict[str, int]] = defaultdict(dict)
    hist: dict[str, dict[str, int]] = defaultdict(dict)
    per_lang: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    languages: dict[str, dict[str, int]] = defaultdict(dict)
    skipped: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for key, v in sorted(c.items()):
        kind = key[0]
        if kind == "language_outcome":
            languages[key[1]][key[2]] = v
        elif kind == "rule_skipped":
            skipped[key[1]][key[2]][key[3]] = v
        elif kind == "dropped":
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

    signals, would_drop = signal_stats(c, stage_order)
    disk_ok = on_disk is None or on_disk == {"kept": kept, "dropped": dropped, "quarantined": quarantined}
    ok = n_in == kept + dropped + quarantined and flowing == kept and not unknown_stages and disk_ok
    return {
        "conservation": {
            "input": n_in, "kept": kept, "dropped": dropped, "quarantined": quarantined,
            "ok": ok, "check": "input == kept + dropped + quarantined",
            "stage_chain_ok": flowing == kept, "unknown_stages": unknown_stages,
            **({"on_disk": dict(on_disk), "on_disk_ok": disk_ok} if on_disk is not None else {}),
        },
        "stages": stages,
        "drop_reasons": {k: dict(sorted(v.items())) for k, v in sorted(drop_reasons.items())},
        "quarantine_reasons": {k: dict(sorted(v.items())) for k, v in sorted(quarantine_reasons.items())},
        "histograms": {k: dict(sorted(v.items())) for k, v in sorted(hist.items())},
        "perplexity": {k: {lang: dict(sorted(b.items())) for lang, b in sorted(v.items())} for k, v in per_lang.items()},
        "languages": language_table(languages, stage_order),
        "rules_skipped": {st: {rule: dict(sorted(langs.items())) for rule, langs in sorted(rules.items())}
                          for st, rules in sorted(skipped.items())},
        # What each quality stage measured on every document that reached it (fixed bins, per language, with
        # the thresholds), and what annotate-only stages would have dropped: transforms/signals.py.
        "signals": signals,
        "would_drop": would_drop,
        "beam_metrics": metrics or {},
        "timings": timings or {},
    }


def language_table(outcomes: dict[str, dict[str, int]], stage_order: list[str]) -> dict[str, dict]:
    """Per language (documents not yet labelled: "und"): documents that reached an end, kept, the kept share,
    and the documents each stage dropped, in pipeline order. Quarantined records carry no language and are
    not in this table."""
    table = {}
    for lang, ends in outcomes.items():
        n = sum(ends.values())
        kept = ends.get("kept", 0)
        dropped = {st: ends[st] for st in stage_order if ends.get(st)}
        dropped.update({st: v for st, v in sorted(ends.items()) if st != "kept" and st not in dropped})
        table[lang] = {"in": n, "kept": kept, "kept_rate": round(kept / n, 4) if n else None, "dropped": dropped}
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["in"], kv[0])))
