"""The local runner's malloc settings (issue 13, memory): set for the driver and inherited by the workers."""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from corpusforge.config import RunnerConfig
from corpusforge.pipelines.options import (ARROW_FALLBACK_POOL, ARROW_POOL, ARROW_POOL_ENV, GLIBC_MALLOC_ENV,
                                          bound_native_heap, make_runner, pipeline_options)


def test_settings_go_to_the_environment_and_a_users_value_wins(monkeypatch):
    for key in GLIBC_MALLOC_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    bound_native_heap()
    assert os.environ["MALLOC_ARENA_MAX"] == "4"
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == GLIBC_MALLOC_ENV["MALLOC_MMAP_THRESHOLD_"]
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == GLIBC_MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]


def test_arrow_pool_is_set_unless_the_user_chose_one(monkeypatch):
    import pyarrow as pa

    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv(ARROW_POOL_ENV, "system")
        bound_native_heap()
        assert os.environ[ARROW_POOL_ENV] == "system" and pa.default_memory_pool().backend_name == before.backend_name
        monkeypatch.delenv(ARROW_POOL_ENV)
        bound_native_heap()
        assert os.environ[ARROW_POOL_ENV] == ARROW_POOL
        assert pa.default_memory_pool().backend_name == ARROW_POOL
    finally:
        pa.set_memory_pool(before)


def test_a_pyarrow_without_jemalloc_uses_the_system_pool_and_says_so(monkeypatch, caplog):
    import logging

    import pyarrow as pa

    def unavailable():
        raise NotImplementedError("jemalloc support is not built")

    before = pa.default_memory_pool()
    monkeypatch.delenv(ARROW_POOL_ENV, raising=False)
    monkeypatch.setattr(pa, "jemalloc_memory_pool", unavailable)
    try:
        with caplog.at_level(logging.INFO, logger="corpusforge.pipelines.options"):
            bound_native_heap()
        assert os.environ[ARROW_POOL_ENV] == ARROW_FALLBACK_POOL == "system"
        assert pa.default_memory_pool().backend_name == "system"
        assert "no jemalloc pool" in caplog.text
    finally:
        pa.set_memory_pool(before)


def test_worker_processes_of_the_local_runner_start_with_the_settings(monkeypatch):
    for key in [*GLIBC_MALLOC_ENV, ARROW_POOL_ENV]:
        monkeypatch.delenv(key, raising=False)
    cfg = RunnerConfig(runner="FnApiRunner", direct_num_workers=1, direct_running_mode="multi_processing")
    driver = os.getpid()
    expected = [*GLIBC_MALLOC_ENV.items(), (ARROW_POOL_ENV, ARROW_POOL), ("arrow pool", ARROW_POOL)]
    with beam.Pipeline(runner=make_runner(cfg), options=pipeline_options(cfg)) as p:
        # each value read in the process that runs the step: a worker the runner started, not this one
        seen = p | beam.Create([k for k, _ in expected]) | beam.Map(
            lambda key: (key, __import__("pyarrow").default_memory_pool().backend_name if key == "arrow pool"
                         else os.environ.get(key), os.getpid() != driver))
        assert_that(seen, equal_to([(k, v, True) for k, v in expected]))


def _streams_held_by_finished_outputs(_):
    """In the worker (the runner's embedded one: this process): how many DataOutputOperations still hold a
    stream with bytes in it. The probing stage writes nothing, so every such operation is a finished one."""
    import gc

    from apache_beam.runners.worker.bundle_processor import DataOutputOperation

    return sum(1 for o in gc.get_objects() if isinstance(o, DataOutputOperation)
               and getattr(o, "output_stream", None) is not None and o.output_stream.size() > 0)


def _held_after_one_stage(check) -> None:
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    with beam.Pipeline(runner=FnApiRunner()) as p:  # embedded worker: its processors live in this process
        held = (p | beam.Create(range(2000)) | beam.Map(lambda i: (i % 7, "x" * 100)) | beam.GroupByKey()
                | beam.combiners.Count.Globally() | beam.Map(_streams_held_by_finished_outputs))
        assert_that(held, check)


def _none_held(held):
    assert list(held) == [0], held


def _some_held(held):
    assert len(held) == 1 and held[0] >= 1, held


def test_a_finished_stage_keeps_no_output_buffer_in_the_worker(monkeypatch):
    """The harness caches finished stages' processors; with `release_finished_output_streams` (applied on import
    of corpusforge.pipelines) they no longer hold their last output buffer. Without it they do (checked here, so
    the probe is known to see them)."""
    from apache_beam.runners.worker.bundle_processor import DataOutputOperation

    from corpusforge.pipelines.harness import release_finished_output_streams

    assert release_finished_output_streams() and release_finished_output_streams()  # idempotent
    patched = DataOutputOperation.finish
    _held_after_one_stage(_none_held)
    monkeypatch.setattr(DataOutputOperation, "finish", patched.__wrapped__)
    _held_after_one_stage(_some_held)
