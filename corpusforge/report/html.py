"""report.html: one self-contained file (plots embedded as PNG data URIs) built from stats.json.

Counts come from stats.json. The only text is a few bounded example snippets per drop reason, read from
dropped/, which already holds text as `output.dropped_text` allows (redacted by the PII stage's anonymizer when
PII is on, absent with `none`); documents the PII stage itself dropped are never shown, since their text is
that stage's input.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os

from corpusforge import storage
from corpusforge.io.writers import row_group_batches
from corpusforge.transforms.signals import SPECS

EXAMPLES_PER_REASON = 3
SNIPPET_CHARS = 240
SIGNALS_CHARS = 300


def _plot_bar(title: str, data: dict, xlabel: str, log_y: bool = False, sort_numeric: bool = True,
              threshold: float | None = None, threshold_label: str = "threshold") -> str:
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
    if threshold is not None and sort_numeric:
        # Bins are labelled by their start: the line sits where the threshold falls between bin starts.
        starts = [float(k) for k in labels]
        pos = sum(1 for x in starts if x <= threshold) - 1
        width = (starts[pos + 1] - starts[pos]) if 0 <= pos < len(starts) - 1 else 1.0
        frac = (threshold - starts[pos]) / width if pos >= 0 and width else 0.0
        ax.axvline(pos - 0.5 + frac, color="#C44E52", linestyle="--", linewidth=1.5,
                   label=f"{threshold_label} {threshold:g}")
        ax.legend(fontsize=8)
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
    """Length bins (log2 of characters), every bin between the first and last shown, empty ones as 0."""
    if not h:
        return {}
    lo, hi = min(int(k) for k in h), max(int(k) for k in h)
    return {f"{2 ** b}": h.get(str(b), 0) for b in range(lo, hi + 1)}


def _filled(h: dict, step: float, lo: float | None = None, hi: float | None = None, fmt: str = "{:.2f}") -> dict:
    """A histogram keyed by bin start (as text), with every bin from lo to hi present (empty ones as 0)."""
    if not h:
        return {}
    lo = min(float(k) for k in h) if lo is None else lo
    hi = max(float(k) for k in h) if hi is None else hi
    values = {round(float(k) / step): v for k, v in h.items()}
    return {fmt.format(i * step): values.get(i, 0) for i in range(round(lo / step), round(hi / step) + 1)}


def _merge(*hs: dict) -> dict:
    out: dict = {}
    for h in hs:
        for k, v in h.items():
            out[k] = out.get(k, 0) + v
    return out


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else ""


def funnel_rows(stats: dict) -> list[list]:
    """Stages in pipeline order: in, dropped, quarantined, out, share of the stage's input dropped, and the
    share of all input records still flowing after the stage."""
    n = stats["conservation"]["input"]
    return [[s["stage"], s["in"], s["dropped"], s["quarantined"], s["out"], _pct(s["dropped"] + s["quarantined"], s["in"]),
             _pct(s["out"], n)] for s in stats["stages"]]


def reason_rows(stats: dict) -> list[list]:
    """Drop reasons in pipeline order (largest first within a stage), with their share of all input records."""
    n = stats["conservation"]["input"]
    order = {s["stage"]: i for i, s in enumerate(stats["stages"])}
    rows = [[st, reason, cnt, _pct(cnt, n)] for st, reasons in stats.get("drop_reasons", {}).items()
            for reason, cnt in reasons.items()]
    return sorted(rows, key=lambda r: (order.get(r[0], len(order)), -r[2], r[1]))


def drop_examples(run_dir: str, per_reason: int = EXAMPLES_PER_REASON) -> dict[tuple[str, str], list[dict]]:
    """(stage, reason) -> up to `per_reason` dropped documents (smallest ids: deterministic), each with a bounded
    snippet of its dropped/ text and its signals. Streams dropped/ in record batches; never the PII stage's."""
    import glob
    import heapq

    import pyarrow.parquet as pq

    best: dict[tuple[str, str], list] = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "dropped", "*.parquet"))):
        pf = pq.ParquetFile(path)
        for batch in row_group_batches(pf, 2048, ["id", "stage", "reason", "text", "language", "signals"]):
            for row in batch.to_pylist():
                if row["stage"] == "pii" or not row["text"]:
                    continue
                heap = best.setdefault((row["stage"], row["reason"]), [])
                item = (_neg(row["id"]), {
                    "id": row["id"], "language": row["language"],
                    "snippet": " ".join(row["text"][:SNIPPET_CHARS * 2].split())[:SNIPPET_CHARS],
                    "signals": (row["signals"] or "")[:SIGNALS_CHARS]})
                if len(heap) < per_reason:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
    return {k: [d for _, d in sorted(v, key=lambda x: x[1]["id"])] for k, v in best.items()}


class _neg:
    """Reverses string order, so a min-heap keeps the smallest ids."""

    def __init__(self, s: str):
        self.s = s

    def __lt__(self, other: "_neg") -> bool:
        return self.s > other.s

    def __gt__(self, other: "_neg") -> bool:
        return self.s < other.s


def _examples_section(stats: dict, examples: dict) -> list[str]:
    if not examples:
        return []
    parts = ["<h2>What each reason dropped (examples)</h2>",
             f"<p>Up to {EXAMPLES_PER_REASON} documents per reason (smallest ids), the first {SNIPPET_CHARS} "
             "characters of their text in dropped/ (as output.dropped_text allows) and the signals the stage "
             "measured.</p>"]
    for st, reason, cnt, share in reason_rows(stats):
        docs = examples.get((st, reason))
        if not docs:
            continue
        parts.append(f"<h3 class='reason'>{html.escape(st)}: {html.escape(reason)} ({cnt}, {share} of input)</h3>")
        parts.append(_table(["id", "language", "text (start)", "signals"],
                            [[d["id"], d["language"] or "", d["snippet"], d["signals"]] for d in docs]))
    return parts


SIGNAL_ORDER = {(st, sig): i for i, (st, sig) in enumerate((st, sig) for st, per in SPECS.items() for sig in per)}
SIGNAL_LANGUAGE_CHARTS = 3  # per signal, charts for the languages with the most documents (in a <details>)


def _line_label(t: dict, languages_total: int) -> str:
    side = "drops below" if t["kind"] == "min" else "drops above"
    langs = t["languages"]
    who = "" if len(langs) == languages_total else (
        f" ({', '.join(langs[:4])}{f' +{len(langs) - 4}' if len(langs) > 4 else ''})")
    return f"{t['key']} {t['value']:g}: {side}{who}"


def _dense(counts_by_bin: dict, n: int) -> list[int]:
    out = [0] * n
    for b, c in counts_by_bin.items():
        out[min(int(b), n - 1)] += c
    return out


def _language_mix(langs: dict) -> str:
    items = list(langs.items())
    text = ", ".join(f"{lang} {v['documents']}" for lang, v in items[:8])
    return text + (f", {len(items) - 8} more" if len(items) > 8 else "")


def signals_section(stats: dict) -> list[str]:
    """Per stage and signal: the histogram over every document the signal was measured on (kept and dropped),
    the thresholds drawn (one line per distinct value, with the languages held to it), the language mix, and
    per-language charts for the largest languages (their own thresholds; perplexity: the corpus cutoffs)."""
    from corpusforge.report.svg import histogram_svg

    signals = stats.get("signals") or {}
    if not signals:
        return []
    cutoffs = (stats.get("perplexity") or {}).get("cutoffs") or {}
    # stats.json is written with sorted keys: put stages, signals and languages back in a reading order.
    order = {st["stage"]: i for i, st in enumerate(stats.get("stages", []))}
    signals = {st: {sig: {**h, "languages": dict(sorted(h["languages"].items(),
                                                          key=lambda kv: (-kv[1]["documents"], kv[0])))}
                    for sig, h in sorted(per.items(), key=lambda kv: (SIGNAL_ORDER.get((st, kv[0]), 999), kv[0]))}
               for st, per in sorted(signals.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))}
    parts = ["<h2>Filter signals (all documents that reached the filter)</h2>",
             "<p>What each filter measured on every document it saw, kept or dropped, on fixed bins, with the "
             "configured thresholds as dashed lines (a threshold's languages are listed when not every language "
             "shares it). A filter that stops at the first broken rule (fineweb) measures later signals only on "
             "documents that passed the earlier rules. Hover a bar for its exact range and count.</p>"]
    for stage, per_signal in signals.items():
        parts.append(f"<h3 class='signal-stage'>{html.escape(stage)}</h3>")
        first = next(iter(per_signal.values()))
        parts.append(f"<p>Documents measured, by language: {html.escape(_language_mix(first['languages']))}.</p>")
        for signal, h in per_signal.items():
            n_langs = len(h["languages"])
            lines = [{"label": _line_label(t, n_langs), "value": t["value"]} for t in h["thresholds"]]
            title = f"{stage}: {signal} ({h['documents']} documents)"
            parts.append(f"<h4 class='signal'>{html.escape(title)}</h4>")
            parts.append(histogram_svg(title, h["bins"], h["counts"], lines, signal))
            per_lang = []
            for lang, v in list(h["languages"].items())[:SIGNAL_LANGUAGE_CHARTS]:
                lang_lines = [{"label": f"{k} {val:g}", "value": val} for k, val in v["thresholds"].items()]
                cut = cutoffs.get(lang) if signal == "perplexity" else None
                if isinstance(cut, dict):
                    lang_lines += [{"label": f"head below {cut['head']:g}", "value": cut["head"], "color": "#55A868"},
                                   {"label": f"tail from {cut['tail']:g}", "value": cut["tail"], "color": "#8172B2"}]
                t = f"{stage}: {signal}, {lang} ({v['documents']} documents)"
                per_lang.append(histogram_svg(t, h["bins"], _dense(v["counts"], len(h["bins"])), lang_lines, signal))
            if per_lang and (n_langs > 1 or signal == "perplexity"):
                parts.append(f"<details><summary>{signal} per language (largest {len(per_lang)})</summary>"
                             + "".join(per_lang) + "</details>")
    return parts


def would_drop_rows(stats: dict) -> list[list]:
    """Annotate-only stages: what each would have dropped, per reason, as a share of the stage's input."""
    stage_in = {s["stage"]: s["in"] for s in stats.get("stages", [])}
    rows = []
    for st, reasons in (stats.get("would_drop") or {}).items():
        for reason, v in sorted(reasons.items(), key=lambda kv: (-kv[1]["documents"], kv[0])):
            langs = sorted(v["languages"].items(), key=lambda kv: (-kv[1], kv[0]))
            rows.append([st, reason, v["documents"], _pct(v["documents"], stage_in.get(st, 0)),
                         ", ".join(f"{lang}: {n}" for lang, n in langs)])
    return rows


def _would_drop_section(stats: dict) -> list[str]:
    rows = would_drop_rows(stats)
    if not rows:
        return []
    return ["<h2>Would drop (annotate_only stages)</h2>",
            "<p>These stages ran with <code>annotate_only</code>: they kept every document and recorded the verdict "
            "(<code>&lt;stage&gt;_verdict</code>) and signals on it. Counted at the stage, on the documents that "
            "reached it.</p>",
            _table(["stage", "reason", "documents", "% of stage input", "by language"], rows)]


def render_report(stats: dict, title: str = "corpusforge run report", extra_sections: list[str] | None = None,
                  examples: dict | None = None, config: dict | None = None) -> str:
    """The report page. `examples`: drop_examples() of the run; `config`: the run's config (manifest.json),
    for threshold lines."""
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
    parts.append("<h2>Funnel (pipeline order)</h2>")
    metrics = stats.get("beam_metrics", {})
    parts.append(_table(["stage", "in", "dropped", "quarantined", "out", "% of stage input removed",
                         "% of input remaining", "seconds (workers)"],
                        [row + [metrics.get(row[0], {}).get("seconds", "")] for row in funnel_rows(stats)]))
    langs = stats.get("languages") or {}
    if langs:
        # One row per language, so a language that loses most of its text stands out at once.
        stage_cols = [s["stage"] for s in stats["stages"] if any(s["stage"] in v["dropped"] for v in langs.values())]
        parts.append("<h2>Per language</h2>")
        parts.append(_table(
            ["language", "documents", "kept", "kept %"] + [f"dropped: {st}" for st in stage_cols],
            [[lang, v["in"], v["kept"], f"{100 * (v['kept_rate'] or 0):.1f}"]
             + [v["dropped"].get(st, 0) for st in stage_cols]
             for lang, v in sorted(langs.items(), key=lambda kv: (-kv[1]["in"], kv[0]))]))  # most documents first
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
    rows = reason_rows(stats)
    if rows:
        parts.append("<h2>Drop reasons (pipeline order)</h2>")
        parts.append(_table(["stage", "reason", "documents", "% of input"], rows))
    parts.extend(_would_drop_section(stats))
    parts.extend(_examples_section(stats, examples or {}))
    qrows = [[st, reason, n] for st, reasons in stats.get("quarantine_reasons", {}).items() for reason, n in reasons.items()]
    if qrows:
        parts.append("<h2>Quarantine</h2>")
        parts.append(_table(["stage", "error", "records"], qrows))
    h = stats.get("histograms", {})
    parts.append("<h2>Distributions</h2>")
    parts.append(_plot_bar("Kept documents by language", h.get("kept_language", {}), "language", sort_numeric=False))
    parts.append(_plot_bar("Dropped documents by language", h.get("dropped_language", {}), "language", sort_numeric=False))
    threshold = ((config or {}).get("langid") or {}).get("threshold")
    parts.append(_plot_bar("Language score (all documents that reached an end, kept and dropped)",
                           _filled(_merge(h.get("kept_language_score", {}), h.get("dropped_language_score", {})),
                                   0.05, 0.0, 1.0), "fastText score (bin start)", threshold=threshold,
                           threshold_label="langid.threshold"))
    parts.append(_plot_bar("Language score (kept)", _filled(h.get("kept_language_score", {}), 0.05, 0.0, 1.0),
                           "fastText score (bin start)"))
    parts.append(_plot_bar("Document length (kept)", _log2_labels(h.get("kept_length_log2", {})), "characters (log2 bin start)",
                           sort_numeric=True))
    parts.append(_plot_bar("Document length (dropped)", _log2_labels(h.get("dropped_length_log2", {})),
                           "characters (log2 bin start)", sort_numeric=True))
    parts.extend(signals_section(stats))
    ppl = stats.get("perplexity", {}).get("kept_perplexity_log10", {})
    if ppl or h.get("perplexity_null"):
        parts.append("<h2>Perplexity</h2>")
        for lang, bins in ppl.items():
            parts.append(_plot_bar(f"Perplexity ({lang}, kept)", _filled(bins, 0.1, fmt="{:.1f}"),
                                   "log10 perplexity (bin start)"))
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
             "th{background:#f0f0f0}img,svg.hist{display:block;margin:1em 0}.summary{font-size:1.1em}"
             "details{margin:0 0 1em 1em}h4{margin:1.2em 0 0;font-size:14px}")
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
    stats = json.loads(storage.read_text(f"{run_dir}/stats.json"))
    local = not storage.is_remote(run_dir)
    extra = _tokenizer_section(run_dir) if local else []
    config = None
    if storage.exists(f"{run_dir}/manifest.json"):
        config = json.loads(storage.read_text(f"{run_dir}/manifest.json")).get("config")
    examples = drop_examples(run_dir) if local else {}
    return storage.write_text_atomic(f"{run_dir}/report.html",
                                     render_report(stats, f"corpusforge run report: {os.path.basename(run_dir)}",
                                                   extra, examples, config))
