"""CCNet buckets from the corpus itself: per-language perplexity percentiles computed in the pipeline.

CCNet sets the head/middle/tail cutoffs at the 30th and 60th percentiles of the perplexities of the corpus
it processes, per language. Here every scored document adds one count to its language's histogram on a
fixed log grid (`transforms.perplexity.perplexity_bin`): a CombinePerKey, so no worker ever holds the
documents or their scores, only at most a few thousand bins per language. The percentiles read off the
histograms become a side input that assigns each document its bucket; with `drop_rule: tail` the tail goes
to `dropped`. The cutoffs are also written to `cutoffs_path` (JSON) for stats.json and the report.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from corpusforge.config import PerplexityConfig
from corpusforge.records import Document, Drop, Dropped
from corpusforge.transforms.perplexity import (
    apply_drop_rule, cutoffs_from_histogram, perplexity_bin, perplexity_bucket,
)

STAGE = "perplexity"


def _bin_key(doc: Document):
    ppl = doc.meta.get("perplexity")
    if ppl is not None:
        yield (doc.meta.get("language") or "und", perplexity_bin(ppl)), 1


def _language_cutoffs(item, head: int, tail: int) -> tuple[str, dict]:
    language, bins = item
    counts = dict(bins)
    pct = cutoffs_from_histogram(counts, tuple(sorted({head, tail, 10, 25, 50, 75, 90})))
    return language, {"documents": sum(counts.values()), "head": pct.get(head), "tail": pct.get(tail),
                      "percentiles": {str(k): v for k, v in sorted(pct.items())}}


class _AssignBucket(beam.DoFn):
    def __init__(self, cfg: PerplexityConfig):
        self.cfg = cfg

    def process(self, doc: Document, cutoffs: dict):
        ppl = doc.meta.get("perplexity")
        cut = cutoffs.get(doc.meta.get("language") or "und")
        if ppl is None or cut is None:
            yield doc
            return
        out = doc.with_text(doc.text)
        bucket = perplexity_bucket(ppl, cut["head"], cut["tail"])
        out.meta["perplexity_bucket"] = bucket
        Metrics.counter(f"corpusforge.{STAGE}", f"bucket.{bucket}").inc()
        # max_perplexity was applied by the scoring stage; only the tail rule needs the corpus cutoffs.
        result = apply_drop_rule(self.cfg, out, (cut["head"], cut["tail"])) if self.cfg.drop_rule == "tail" else out
        if isinstance(result, Drop) and not self.cfg.annotate_only:
            Metrics.counter(f"corpusforge.{STAGE}", f"reason.{result.reason}").inc()
            yield beam.pvalue.TaggedOutput("dropped", Dropped(result.annotate(doc), STAGE, result.reason,
                                                              {**result.signals, "cutoffs": "corpus"}))
            return
        yield out


def _write_cutoffs(cutoffs: dict, path: str) -> str:
    from corpusforge.io.writers import write_json_atomic

    write_json_atomic(dict(sorted(cutoffs.items())), path)
    return path


class PerplexityBuckets(beam.PTransform):
    """Scored documents -> {"kept", "dropped"}: buckets from this corpus's per-language percentiles."""

    def __init__(self, cfg: PerplexityConfig, cutoffs_path: str):
        super().__init__()
        self.cfg, self.cutoffs_path = cfg, cutoffs_path

    def expand(self, docs):
        cfg = self.cfg
        cutoffs = (docs
                   | "PerplexityBins" >> beam.FlatMap(_bin_key)
                   | "CountBins" >> beam.CombinePerKey(sum)
                   | "ByLanguage" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
                   | "HistogramPerLanguage" >> beam.GroupByKey()
                   | "Cutoffs" >> beam.Map(_language_cutoffs, cfg.head_percentile, cfg.tail_percentile))
        table = beam.pvalue.AsDict(cutoffs)
        (cutoffs
         | "AllLanguages" >> beam.combiners.ToDict()
         | "WriteCutoffs" >> beam.Map(_write_cutoffs, self.cutoffs_path))
        out = docs | "AssignBuckets" >> beam.ParDo(_AssignBucket(cfg), table).with_outputs("dropped", main="kept")
        return {"kept": out.kept, "dropped": out.dropped}
