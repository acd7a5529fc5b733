"""Which text dedup compares (`dedup.compare_text`), end to end with `run_curate` on the FnApiRunner: C4's line
rules remove the same short lines (headings) from a page and its edited copy, which lowers their Jaccard; `read`
(the default) compares the pages as read and finds the copy, `kept` compares what C4 left and does not. Both keep
the C4-cleaned text."""
from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from corpusforge.config import load_config
from corpusforge.pipelines.curate import run_curate
from corpusforge.records import Document
from corpusforge.transforms.dedup.shingles import jaccard, shingles
from corpusforge.transforms.quality.c4 import C4QualityFilter
from dedup_planted import real_documents
from test_pipeline_e2e import DEMO, ROOT

HEADINGS = ["Example", "Syntax", "See also", "Note", "Parameters", "Returns"]
OTHER_STAGES = ("langid", "gopher_repetition", "gopher_quality", "fineweb", "perplexity", "pii")


def _page(text: str) -> str:
    """Sentences one per line, a short heading line (C4 removes lines under 3 words) before every second one."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]
    lines = []
    for i, s in enumerate(sentences):
        if i % 2 == 0:
            lines.append(HEADINGS[(i // 2) % len(HEADINGS)])
        lines.append(s)
    return "\n".join(lines)


def _edited_copy(page: str, tag: str):
    """(copy, raw Jaccard, Jaccard after C4) for the copy closest above 0.805 raw whose C4 text is below 0.8:
    the copy keeps the page's first words and replaces the rest word by word (line breaks kept)."""
    c4 = C4QualityFilter(load_config(DEMO, []).c4)  # the C4 rules the runs below use
    tokens = re.split(r"( +|\n)", page)
    word_at = [i for i, t in enumerate(tokens) if t.strip()]
    cleaned_page = c4(Document("p", page)).text
    for keep in range(len(word_at) - 1, 0, -1):
        t = list(tokens)
        for n, i in enumerate(word_at[keep:]):
            if t[i] not in HEADINGS:
                t[i] = f"{tag}{n}x."  # ends with "." so the edited lines stay C4 sentences
        copy = "".join(t)
        raw = jaccard(shingles(page), shingles(copy))
        kept = jaccard(shingles(cleaned_page), shingles(c4(Document("c", copy)).text))
        if raw < 0.805:
            return None
        if kept < 0.8:
            return copy, raw, kept
    return None


@pytest.fixture(scope="module")
def pairs():
    out = []
    for i, d in enumerate(real_documents(min_words=150)):
        if d.get("lang") not in (None, "en"):
            continue
        page = _page(d["text"])
        made = _edited_copy(page, f"edit{i}w")
        if made:
            out.append((f"p{i:02d}-a", page, f"p{i:02d}-b", *made))
        if len(out) == 4:
            break
    assert len(out) == 4, "the demo corpus should give four such pages"
    return out


def _curate(tmp_path, pairs, compare_text: str) -> tuple[dict, dict]:
    src = tmp_path / "in.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for a, page, b, copy, _, _ in pairs:
            f.write(json.dumps({"id": a, "text": page}) + "\n" + json.dumps({"id": b, "text": copy}) + "\n")
    out = tmp_path / compare_text
    cfg = load_config(DEMO, [f"output.dir={out}", f"input.paths=['{src}']", f"dedup.compare_text={compare_text}",
                             "runner.direct_num_workers=1", "runner.direct_running_mode=in_memory",
                             f"perplexity.models_dir={ROOT}/models/demo_lm",
                             *(f"{s}.enabled=false" for s in OTHER_STAGES)])
    run_curate(cfg)
    kept = {r["id"]: r["text"] for r in pq.read_table(out / "kept").to_pylist()}
    dropped = {r["id"]: (r["reason"], r["duplicate_of"]) for r in pq.read_table(out / "dropped").to_pylist()}
    return kept, dropped


def test_copies_are_compared_as_read_by_default_and_as_kept_on_request(tmp_path, pairs):
    for _, _, _, _, raw, kept in pairs:
        assert raw >= 0.805 and kept < 0.8  # C4 moves each pair from above the threshold to below it
    kept, dropped = _curate(tmp_path, pairs, "read")
    # one of each pair is dropped as a near duplicate of the other (which one: lsh.representative_rank)
    assert len(dropped) == len(pairs) and len(kept) == len(pairs)
    for a, _, b, _, _, _ in pairs:
        assert dropped.get(a, dropped.get(b)) in (("dedup_near_duplicate", a), ("dedup_near_duplicate", b))
        assert (a in kept) != (b in kept)
    # the kept text is C4's: no heading line survives, whichever text dedup compared
    assert all(line not in HEADINGS for t in kept.values() for line in t.split("\n"))

    kept_k, dropped_k = _curate(tmp_path, pairs, "kept")
    assert dropped_k == {} and len(kept_k) == 2 * len(pairs)
    assert kept_k.items() >= kept.items()  # the same cleaned texts
