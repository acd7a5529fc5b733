"""report.html: one self-contained file (plots embedded as PNG data URIs) built from stats.json.

Only counts reach the report: no document text and no PII values are ever read here.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os


def _plot_bar(title: str, data: dict, xlabel: str, log_y: bool = False, sort_numeric: bool = True) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not data:
        return ""
    items = list(data.items())
    if sort_numeric:
        try:
            items.sort(key=lambda kv: float(kv[0]))
        except ValueError:
            items.sort(key=lambda kv: -kv[1])
    else:
        items.sort(key=lambda kv: -kv[1])
    labels = [str(k) for k, _ in items][:60]
    values = [v for _, v in items][:60]
    fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=90)
    ax.bar(range(len(values)), values, color="#4C72B0")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60 if len(labels) > 8 else 0, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("documents", fontsize=9)
    if log_y:
        ax.set_yscale("log")
    fig.tight_layout()
    buf = io.BytesIO()
    # Fixed metadata so the same stats give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _log2_labels(h: dict) -> dict:
    return {f"{2 ** int(k)}": v for k, v in sorted(h.items(), key=lambda kv: int(kv[0]))}


def render_report(stats: dict, title: str = "corpusforge run report", extra_sections: list[str] | None = None) -> str:
    c = stats["conservation"]
    parts = [f"<h1>{html.escape(title)}</h1>"]
    status = "holds" if c["ok"] else "FAILED"
    parts.append(
        f"<p class='summary'><b>{c['input']}</b> records in &rarr; <b>{c['kept']}</b> kept, <b>{c['dropped']}</b> "
        f"dropped, <b>{c['quarantined']}</b> quarantined. Conservation check ({html.escape(c['check'])}): "
        f"<b>{status}</b>.</p>"
    )
    t = stats.get("timings", {})
    if t:
        parts.append("<p>" + ", ".join(f"{html.escape(k)}: {v}" for k, v in t.items()) + "</p>")
    parts.append("<h2>Stages</h2>")
    metrics = stats.get("beam_metrics", {})
    parts.append(_table(["stage", "in", "out", "dropped", "quarantined", "seconds (workers)"],
                        [[s["stage"], s["in"], s["out"], s["dropped"], s["quarantined"],
                          metrics.get(s["stage"], {}).get("seconds", "")] for s in stats["stages"]]))
    langs = stats.get("languages") or {}
    if langs:
        # One row per language, so a language that loses most of its text stands out at once.
        stage_cols = [s["stage"] for s in stats["stages"] if any(s["stage"] in v["dropped"] for v in langs.values())]
        parts.append("<h2>Per language</h2>")
        parts.append(_table(
            ["language", "documents", "kept", "kept %"] + [f"dropped: {st}" for st in stage_cols],
            [[lang, v["in"], v["kept"], f"{100 * (v['kept_rate'] or 0):.1f}"]
             + [v["dropped"].get(st, 0) for st in stage_cols] for lang, v in langs.items()]))
    skipped = stats.get("rules_skipped") or {}
    if skipped:
        parts.append("<h3>Rules skipped for a language</h3>")
        parts.append(_table(["stage", "rule", "language: documents"],
                            [[st, rule, ", ".join(f"{lang}: {n}" for lang, n in langs_.items())]
                             for st, rules in skipped.items() for rule, langs_ in rules.items()]))
    cut = stats.get("perplexity", {}).get("cutoffs") or {}
    if cut:
        parts.append("<h3>Perplexity cutoffs (per language, from this corpus)</h3>")
        parts.append(_table(["language", "documents scored", "head below", "tail from"],
                            [[lang, v["documents"], v["head"], v["tail"]] for lang, v in cut.items()
                             if isinstance(v, dict)]))
    rows = [[st, reason, n] for st, reasons in stats.get("drop_reasons", {}).items() for reason, n in reasons.items()]
    if rows:
        parts.append("<h2>Drop reasons</h2>")
        parts.append(_table(["stage", "reason", "documents"], sorted(rows, key=lambda r: (r[0], -r[2], r[1]))))
    qrows = [[st, reason, n] for st, reasons in stats.get("quarantine_reasons", {}).items() for reason, n in reasons.items()]
    if qrows:
        parts.append("<h2>Quarantine</h2>")
        parts.append(_table(["stage", "error", "records"], qrows))
    h = stats.get("histograms", {})
    parts.append("<h2>Distributions</h2>")
    parts.append(_plot_bar("Kept documents by language", h.get("kept_language", {}), "language", sort_numeric=False))
    parts.append(_plot_bar("Dropped documents by language", h.get("dropped_language", {}), "language", sort_numeric=False))
    parts.append(_plot_bar("Language score (kept)", h.get("kept_language_score", {}), "fastText score (bin start)"))
    parts.append(_plot_bar("Document length (kept)", _log2_labels(h.get("kept_length_log2", {})), "characters (log2 bin start)",
                           sort_numeric=True))
    parts.append(_plot_bar("Document length (dropped)", _log2_labels(h.get("dropped_length_log2", {})),
                           "characters (log2 bin start)", sort_numeric=True))
    ppl = stats.get("perplexity", {}).get("kept_perplexity_log10", {})
    if ppl or h.get("perplexity_null"):
        parts.append("<h2>Perplexity</h2>")
        for lang, bins in ppl.items():
            parts.append(_plot_bar(f"Perplexity ({lang}, kept)", bins, "log10 perplexity (bin start)"))
        buckets = stats.get("perplexity", {}).get("kept_perplexity_bucket", {})
        if buckets:
            parts.append(_table(["language", "bucket", "documents"],
                                [[lang, b, n] for lang, bs in buckets.items() for b, n in bs.items()]))
        if h.get("perplexity_null"):
            parts.append(_table(["language without a model", "documents passed through"],
                                [[k, v] for k, v in h["perplexity_null"].items()]))
    if h.get("cluster_size"):
        parts.append("<h2>Deduplication</h2>")
        parts.append(_plot_bar("Duplicate cluster sizes", h["cluster_size"], "documents in cluster", log_y=True))
    if h.get("pii_entities") or h.get("pii_ner"):
        parts.append("<h2>PII</h2>")
        parts.append(_table(["entity type", "occurrences replaced"], [[k, v] for k, v in h.get("pii_entities", {}).items()]))
        if h.get("pii_ner"):
            parts.append(_table(["NER ran", "documents"], [[k, v] for k, v in h["pii_ner"].items()]))
    parts.extend(extra_sections or [])
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
             "th{background:#f0f0f0}img{display:block;margin:1em 0}.summary{font-size:1.1em}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def _tokenizer_section(run_dir: str) -> list[str]:
    """The fragment `corpusforge eval-tokenizer --run` leaves in the run directory (counts only)."""
    path = os.path.join(run_dir, "tokenizer_eval.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return ["<h2>Tokenizer</h2>", json.load(f).get("html", "")]
    return []


def write_report(run_dir: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    from corpusforge.io.writers import write_text_atomic

    with FileSystems.open(f"{run_dir}/stats.json", compression_type="uncompressed") as f:
        stats = json.loads(f.read().decode("utf-8"))
    extra = _tokenizer_section(run_dir) if "://" not in run_dir else []
    return write_text_atomic(render_report(stats, f"corpusforge run report: {os.path.basename(run_dir)}", extra),
                             f"{run_dir}/report.html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory holding stats.json")


def run(args) -> int:
    from corpusforge.config import ConfigError

    if not os.path.exists(os.path.join(args.run, "stats.json")) and "://" not in args.run:
        raise ConfigError(f"{args.run} has no stats.json: pass the directory of a finished curate run")
    print(write_report(args.run.rstrip("/")))
    return 0
