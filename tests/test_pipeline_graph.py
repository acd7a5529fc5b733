"""The shape of the curate graph: what may cross a Flatten (issue 13, item 5; README "Memory").

On the FnApiRunner a Flatten of several inputs is a stage of its own that every element passes through, so
documents, dropped rows and quarantined records are spilled to run files where they are made and only the run
paths (and small keyed records: counts, the dedup's Drop decisions, state facts) are Flattened. Built, not run.
"""
from __future__ import annotations

import re

import apache_beam as beam
import pytest
from apache_beam.pipeline import PipelineVisitor

from corpusforge.config import CurateConfig, load_config
from corpusforge.io.readers import resolve_inputs
from corpusforge.pipelines import curate

# Producers whose elements are small: run paths of a spill, count keys, connected-components round numbers,
# the dedup's per-document Drop decisions and the state's (id, fact) pairs.
SMALL = re.compile(r"Spill|Count|ClusterSizeKeys|LargeStar|Fact|ExactDecide|NearDrops")


def _flatten_inputs(p: beam.Pipeline) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    class Visitor(PipelineVisitor):
        def visit_transform(self, node):
            if isinstance(node.transform, beam.Flatten):
                found[node.full_label] = [pc.producer.full_label for pc in node.inputs]

    p.visit(Visitor())
    return found


@pytest.mark.parametrize("phase", ["a", "b"])
def test_no_document_dropped_row_or_quarantined_record_crosses_a_flatten(phase, tmp_path):
    # PII on: phase B then has a per-document stage after dedup, with its own quarantine output.
    cfg = load_config("configs/local.yaml", ["pii.enabled=true", "langid.languages=null"], model=CurateConfig)
    p = beam.Pipeline()
    if phase == "a":
        curate.build_phase_a(p, cfg, resolve_inputs(cfg.input), str(tmp_path))
    else:
        curate.build_phase_b(p, cfg, str(tmp_path / "a"), str(tmp_path))
    flattens = _flatten_inputs(p)
    quarantine_writes = [label for label in flattens if "Quarantine" in label]
    assert quarantine_writes, "the quarantine is written from several inputs: their run paths are Flattened"
    for label, producers in flattens.items():
        large = [x for x in producers if not SMALL.search(x)]
        assert not large, f"{label} Flattens elements of {large}"
