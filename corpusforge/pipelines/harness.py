"""What the pipelines change in the Beam SDK harness their DoFns run in (applied on `import corpusforge.pipelines`,
so in every worker process that unpickles one of our steps, and in the driver).

**A finished bundle's output buffer is released.** The harness keeps each finished stage's `BundleProcessor`
(for reuse, up to 60 s idle), and with it each `DataOutputOperation`'s last output stream: a Cython buffer
grown to the bundle's whole output (up to the 10 MB flush size, then doubled past it), never shrunk, and
invisible to Python's allocator statistics. A batch run on the FnApiRunner runs each stage once per worker, so
every stage left its output behind in the worker: connected components alone (20 rounds of two stages, two
workers) added 1.32 MB per round for 12,800 edges and 3.21 MB for 51,200, 0.68 and 0.74 with this change
(`bench/bench_components_memory.py`). After `finish` the stream is closed and its bytes already handed to the data channel;
the next bundle sets a new one (`BundleProcessor.process_bundle`), so dropping the reference frees the buffer
and changes nothing else. Measured in BENCHMARKS.md "Reliability" (seventeenth session).
"""
from __future__ import annotations

import functools
import logging

_MARK = "_corpusforge_releases_stream"


def release_finished_output_streams() -> bool:
    """Make `DataOutputOperation.finish` drop its closed output stream. Idempotent; False (and a log line)
    when this Beam has no such operation to patch, in which case runs work as before, only with more memory."""
    try:
        from apache_beam.runners.worker.bundle_processor import DataOutputOperation
    except ImportError:  # pragma: no cover - a Beam without the portable worker
        logging.getLogger(__name__).info("Beam has no DataOutputOperation: output buffers are not released")
        return False
    finish = DataOutputOperation.finish
    if getattr(finish, _MARK, False):
        return True

    @functools.wraps(finish)
    def finish_and_release(self):
        try:
            finish(self)
        finally:
            self.output_stream = None

    setattr(finish_and_release, _MARK, True)
    DataOutputOperation.finish = finish_and_release
    return True
