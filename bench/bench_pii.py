"""PII stage throughput vs Presidio's vanilla per-document loop, with recall and precision of both.

Same run, same documents (the Faker-labelled evaluation set, English part), same recognizers and thresholds:
  vanilla: AnalyzerEngine.analyze(text) per document, the full en_core_web_sm pipeline inside (tok2vec, tagger,
           parser, attribute_ruler, lemmatizer, ner), Presidio's PhoneRecognizer, then placeholder replacement;
  ours:    PIIRedactor.process_batch over batches of `batch_size` (NER-only pipeline with nlp.pipe over the
           name-candidate sentences, windowed phone matcher, post-filters), same replacement.

    .venv/bin/python bench/bench_pii.py --docs 600 --seed 7
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from corpusforge.config import PIIConfig  # noqa: E402
from corpusforge.testing.pii_eval import ENTITY_TYPES, generate_eval_set, score, vanilla_presidio  # noqa: E402
from corpusforge.records import Document  # noqa: E402
from corpusforge.transforms.pii import PIIRedactor  # noqa: E402


def _placeholders(text: str, spans) -> str:
    out, pos = [], 0
    for s, e, t in sorted(spans):
        if s < pos:
            continue
        out += [text[pos:s], f"<{t}>"]
        pos = e
    return "".join(out) + text[pos:]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=600, help="documents generated (English ones are timed)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)

    docs = [d for d in generate_eval_set(args.docs, seed=args.seed, language_mix={"en": 1.0})]
    cfg = PIIConfig(enabled=True, batch_size=args.batch_size)
    n_chars = sum(len(d.text) for d in docs)
    print(f"{len(docs)} English documents, {n_chars / len(docs):.0f} chars/doc, "
          f"{sum(len(d.spans) for d in docs)} labelled PII values, "
          f"{sum(1 for d in docs if not d.spans)} PII-free documents")

    t0 = time.perf_counter()
    vanilla = vanilla_presidio(cfg)
    ours = PIIRedactor(cfg)
    ours.setup()
    print(f"setup (both): {time.perf_counter() - t0:.1f} s")
    warm = docs[:16]
    for d in warm:
        vanilla(d.text)
    ours.process_batch([Document(d.id, d.text, meta={"language": "en"}) for d in warm])

    # Interleaved batch by batch, so that load from other processes on a shared machine hits both alike.
    batches = [docs[i:i + args.batch_size] for i in range(0, len(docs), args.batch_size)]
    v_pred, o_pred = [], []
    t_vanilla = t_ours = t_stage = 0.0
    for batch in batches:
        t0 = time.perf_counter()
        for d in batch:
            spans = vanilla(d.text)
            _placeholders(d.text, spans)
            v_pred.append(spans)
        t_vanilla += time.perf_counter() - t0

        t0 = time.perf_counter()
        wrapped = [Document(d.id, d.text, meta={"language": "en"}) for d in batch]
        detected = ours.detect_batch(wrapped)
        for w, (spans, _) in zip(wrapped, detected):
            ours.anonymize(w, spans)
        t_ours += time.perf_counter() - t0
        o_pred += [[(s, e, t) for s, e, t, _ in spans] for spans, _ in detected]

        # The stage as the pipeline calls it (detection + replacement + meta, in place).
        t0 = time.perf_counter()
        ours.process_batch([Document(d.id, d.text, meta={"language": "en"}) for d in batch])
        t_stage += time.perf_counter() - t0

    n = len(docs)
    print(f"vanilla per-document loop: {n / t_vanilla:8.1f} docs/s")
    print(f"ours (detect + anonymize): {n / t_ours:8.1f} docs/s   speedup x{t_vanilla / t_ours:.2f}")
    print(f"ours (process_batch):      {n / t_stage:8.1f} docs/s   speedup x{t_vanilla / t_stage:.2f}")
    sv, so = score(docs, v_pred), score(docs, o_pred)
    print(f"{'entity':16s} {'n':>4s} | {'vanilla R':>9s} {'P':>6s} {'FP':>4s} | {'ours R':>7s} {'P':>6s} {'FP':>4s}")
    for e in ENTITY_TYPES:
        a, b = sv[e], so[e]
        print(f"{e:16s} {a['tp'] + a['fn']:4d} | {a['recall']:9.3f} {a['precision']:6.3f} {a['fp']:4d} | "
              f"{b['recall']:7.3f} {b['precision']:6.3f} {b['fp']:4d}")
    free = [i for i, d in enumerate(docs) if not d.spans]
    print(f"false positives on the {len(free)} PII-free documents: vanilla {sum(len(v_pred[i]) for i in free)}, "
          f"ours {sum(len(o_pred[i]) for i in free)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
