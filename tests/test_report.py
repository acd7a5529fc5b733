"""report.html answers "what happened to my data" (issue 16, item 3): funnel in pipeline order with shares,
drop reasons in pipeline order, bounded examples per reason (never the PII stage's), histograms without hidden
empty bins and with the langid threshold drawn. Built from a real curate run."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from corpusforge.cli import main
from corpusforge.io.writers import DROPPED_SCHEMA
from corpusforge.report.html import (
    EXAMPLES_PER_REASON, SNIPPET_CHARS, _filled, _log2_labels, drop_examples, funnel_rows, reason_rows,
)

PROSE = ("The committee met on Tuesday to discuss the budget for the coming year, and several members raised "
         "concerns about the cost of maintaining the old library building near the river. ")


def _run(tmp_path: Path) -> Path:
    with (tmp_path / "in.jsonl").open("w") as f:
        for i in range(12):
            f.write(json.dumps({"id": f"ok{i:02d}", "text": f"Item {i}. " + PROSE * 3 + f"Note {i * 7919}."}) + "\n")
        for i in range(5):  # too short for Gopher
            f.write(json.dumps({"id": f"short{i}", "text": f"Just a few words, number {i}."}) + "\n")
        for i in range(4):  # not a kept language
            f.write(json.dumps({"id": f"fi{i}", "text": "Tämä on suomenkielinen teksti, jossa kerrotaan kirjaston "
                                                        f"aukioloajoista ja uusista kirjoista numero {i}. " * 3})
                    + "\n")
        f.write("not json\n")
    cfg = {"input": {"paths": [str(tmp_path / "in.jsonl")]}, "output": {"dir": str(tmp_path / "run"), "num_shards": 2},
           "langid": {"languages": ["en"], "threshold": 0.5}, "c4": {"enabled": False},
           "fineweb": {"enabled": False}, "gopher_repetition": {"enabled": False}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["curate", "-q", "--config", str(tmp_path / "c.yaml")]) == 0
    return tmp_path / "run"


def test_report_sections_funnel_reasons_and_examples(tmp_path):
    run = _run(tmp_path)
    stats = json.loads((run / "stats.json").read_text())
    page = (run / "report.html").read_text()
    headings = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page)
    for section in ("Funnel (pipeline order)", "Per language", "Drop reasons (pipeline order)",
                    "What each reason dropped (examples)", "Distributions",
                    "Filter signals (all documents that reached the filter)"):
        assert section in headings, section
    # Funnel: stages in pipeline order, shares of the 22 input records.
    rows = funnel_rows(stats)
    assert [r[0] for r in rows] == [s["stage"] for s in stats["stages"]]
    read = rows[0]
    assert read[0] == "read" and read[3] == 1 and read[6] == f"{100 * 21 / 22:.1f}%"
    # Reasons in pipeline order: langid before gopher_quality, whatever the names' alphabetical order.
    reasons = reason_rows(stats)
    stages = [r[0] for r in reasons]
    assert stages.index("langid") < stages.index("gopher_quality")
    assert ["langid", "langid_unwanted_language", 4, f"{100 * 4 / 22:.1f}%"] in reasons
    assert page.index("langid: langid_unwanted_language") < page.index("gopher_quality: gopher_short_doc")
    # Examples: at most three per reason, smallest ids first, bounded snippets with the signals.
    ex = drop_examples(str(run))
    assert [d["id"] for d in ex[("langid", "langid_unwanted_language")]] == ["fi0", "fi1", "fi2"]
    assert [d["id"] for d in ex[("gopher_quality", "gopher_short_doc")]] == ["short0", "short1", "short2"]
    assert all(len(d["snippet"]) <= SNIPPET_CHARS for v in ex.values() for d in v)
    assert "n_words" in ex[("gopher_quality", "gopher_short_doc")][0]["signals"]
    assert "Just a few words, number 0." in page and "Just a few words, number 4." not in page


def test_examples_never_come_from_the_pii_stage(tmp_path):
    rows = [{"id": f"p{i}", "stage": "pii", "reason": "pii_too_much", "duplicate_of": None, "text": "secret " * 9,
             "url": None, "source": "x", "line": i, "language": "en", "signals": "{}"} for i in range(4)]
    rows += [{"id": f"g{i}", "stage": "gopher_quality", "reason": "gopher_short_doc", "duplicate_of": None,
              "text": "x" * 1000, "url": None, "source": "x", "line": i, "language": "en", "signals": "{}"}
             for i in range(9, -1, -1)]
    (tmp_path / "dropped").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=DROPPED_SCHEMA), tmp_path / "dropped" / "part-0.parquet")
    ex = drop_examples(str(tmp_path))
    assert list(ex) == [("gopher_quality", "gopher_short_doc")]
    assert [d["id"] for d in ex[("gopher_quality", "gopher_short_doc")]] == ["g0", "g1", "g2"]
    assert len(ex[("gopher_quality", "gopher_short_doc")]) == EXAMPLES_PER_REASON
    assert all(len(d["snippet"]) == SNIPPET_CHARS for d in ex[("gopher_quality", "gopher_short_doc")])


def test_histograms_show_empty_bins():
    assert _filled({"0.60": 2, "0.95": 1}, 0.05, 0.0, 1.0) == {
        f"{i * 0.05:.2f}": {12: 2, 19: 1}.get(i, 0) for i in range(21)}
    assert _log2_labels({"3": 1, "6": 2}) == {"8": 1, "16": 0, "32": 0, "64": 2}


def test_signal_histogram_svg_places_thresholds_inside_their_bin_and_keeps_empty_bins():
    from corpusforge.report.svg import LEFT, WIDTH, histogram_svg, threshold_x

    edges = [0.0, 0.1, 0.2, 0.3]
    slot = WIDTH / len(edges)
    assert threshold_x(edges, 0.1, slot) == LEFT + slot          # on an edge: the bin's start
    assert threshold_x(edges, 0.15, slot) == LEFT + 1.5 * slot   # inside: in proportion
    assert threshold_x(edges, 0.9, slot) == LEFT + 3 * slot      # the open last bin: its start
    svg = histogram_svg("t", edges, [4, 0, 2, 1], [{"label": "max_x 0.15: drops above", "value": 0.15}], "x")
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    assert xs == [LEFT, LEFT + 2 * slot, LEFT + 3 * slot]  # the empty second bin keeps its slot
    assert "max_x 0.15: drops above" in svg and "&gt;=0.3" in svg  # the open last bin, labelled


def test_report_renders_in_a_headless_browser(tmp_path):
    """Open report.html in real headless Chromium (Debian's package; scripts/test.sh installs it): the parsed page
    has every section and every chart the file holds, and the rendered page is not blank."""
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed: apt-get install chromium (scripts/test.sh does)"
    run = _run(tmp_path)
    uri = (run / "report.html").as_uri()
    env = {**os.environ, "HOME": str(tmp_path)}  # the browser's profile stays in the test's directory
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    dom = subprocess.run([*cmd, "--dump-dom", uri], capture_output=True, text=True, timeout=120, env=env).stdout
    source = (run / "report.html").read_text()
    assert "<h1>" in dom and "Funnel (pipeline order)" in dom and "Filter signals" in dom
    assert dom.count("<svg") == source.count("<svg") > 0  # every chart parsed as SVG
    assert dom.count("<img") == source.count("<img")
    shot = tmp_path / "page.png"
    subprocess.run([*cmd, f"--screenshot={shot}", "--window-size=1200,2400", uri], capture_output=True, timeout=120,
                   env=env, check=True)
    gray = Image.open(shot).convert("L")
    dark = sum(gray.histogram()[:128])
    assert 0.001 < dark / (gray.width * gray.height) < 0.5  # text and charts drawn on a white page
