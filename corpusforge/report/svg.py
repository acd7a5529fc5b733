"""Inline SVG bar charts for report.html: no script, no stylesheet, no image files, readable in any browser.

A histogram is drawn on its fixed bins (lower edges, the last bin open-ended), one bar slot per bin whether or
not it is empty, so a gap in the data shows as a gap. Threshold lines sit where their value falls inside its
bin (linear within the bin), labelled with the config key, the side that drops, and the languages held to it.
Every number is formatted explicitly so the same counts give the same bytes.
"""
from __future__ import annotations

import html
import math

from corpusforge.transforms.signals import bin_index

WIDTH, HEIGHT = 720, 150          # plot area
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 46
LABEL_ROW = 12                    # vertical space per threshold label
MAX_TICKS = 12


def _num(x: float) -> str:
    return f"{x:.6g}"


def _xy(x: float) -> str:
    return f"{x:.1f}"


def threshold_x(edges: list[float], value: float, slot: float) -> float:
    """Horizontal position of `value` on bins of width `slot`: its bin's start plus the share of the bin below it
    (the open last bin: its start)."""
    i = bin_index(tuple(edges), value)
    frac = 0.0
    if i < len(edges) - 1 and edges[i + 1] > edges[i]:
        frac = min(max((value - edges[i]) / (edges[i + 1] - edges[i]), 0.0), 1.0)
    return LEFT + (i + frac) * slot


def bin_label(edges: list[float], i: int) -> str:
    return f">={_num(edges[i])}" if i == len(edges) - 1 else f"{_num(edges[i])}-{_num(edges[i + 1])}"


def histogram_svg(title: str, edges: list[float], counts: list[int], lines: list[dict], xlabel: str) -> str:
    """One histogram. `lines`: [{"label": str, "value": float, "color": str}] vertical markers."""
    n = len(edges)
    slot = WIDTH / n
    top = TOP + LABEL_ROW * len(lines)
    peak = max(counts) if counts else 0
    height = top + HEIGHT + BOTTOM
    base = top + HEIGHT
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + RIGHT}" height="{height}" '
           f'role="img" aria-label="{html.escape(title)}" class="hist" font-family="sans-serif" font-size="10">',
           f"<title>{html.escape(title)}</title>"]
    for i, c in enumerate(counts):
        if c:
            h = HEIGHT * c / peak
            out.append(f'<rect x="{_xy(LEFT + i * slot)}" y="{_xy(base - h)}" width="{_xy(max(slot - 1, 1))}" '
                       f'height="{_xy(h)}" fill="#4C72B0"><title>{html.escape(bin_label(edges, i))}: {c} '
                       f'documents</title></rect>')
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + WIDTH}" y2="{base}" stroke="#444"/>')
    out.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{base}" stroke="#444"/>')
    out.append(f'<text x="{LEFT - 4}" y="{base}" text-anchor="end">0</text>')
    out.append(f'<text x="{LEFT - 4}" y="{top + 8}" text-anchor="end">{peak}</text>')
    # a round tick step (0.1 on 0.01 bins), at most MAX_TICKS labels
    step = next((k for k in (1, 2, 4, 5, 10, 20, 25, 50, 100) if math.ceil(n / k) <= MAX_TICKS), math.ceil(n / MAX_TICKS))
    for i in range(0, n, step):
        x = LEFT + i * slot
        label = f">={_num(edges[i])}" if i == n - 1 else _num(edges[i])
        out.append(f'<line x1="{_xy(x)}" y1="{base}" x2="{_xy(x)}" y2="{base + 4}" stroke="#444"/>'
                   f'<text x="{_xy(x)}" y="{base + 15}" text-anchor="middle">{html.escape(label)}</text>')
    out.append(f'<text x="{LEFT + WIDTH / 2:.1f}" y="{base + 34}" text-anchor="middle">{html.escape(xlabel)}'
               f" (bin start; {n} bins, the last open-ended)</text>")
    out.append(f'<text x="12" y="{top + HEIGHT / 2:.1f}" transform="rotate(-90 12 {top + HEIGHT / 2:.1f})" '
               'text-anchor="middle">documents</text>')
    for k, line in enumerate(lines):
        x = threshold_x(edges, line["value"], slot)
        color = line.get("color", "#C44E52")
        y_label = TOP + LABEL_ROW * k + 2
        anchor = "end" if x > LEFT + WIDTH * 0.6 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(f'<line x1="{_xy(x)}" y1="{y_label - 2}" x2="{_xy(x)}" y2="{base}" stroke="{color}" '
                   f'stroke-width="1.5" stroke-dasharray="4 3" class="threshold"/>'
                   f'<text x="{_xy(x + dx)}" y="{y_label + 8}" text-anchor="{anchor}" fill="{color}">'
                   f"{html.escape(line['label'])}</text>")
    out.append("</svg>")
    return "".join(out)
