"""Beam runner and pipeline options from `RunnerConfig`."""
from __future__ import annotations

import ctypes
import logging
import os
import re

from apache_beam.options.pipeline_options import PipelineOptions

from corpusforge.config import RunnerConfig


def _job_name(name: str) -> str:
    # Dataflow job names: lowercase letters, digits and hyphens, starting with a letter.
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "corpusforge"
    return cleaned if cleaned[0].isalpha() else "cf-" + cleaned


def pipeline_options(cfg: RunnerConfig, job_name: str = "corpusforge") -> PipelineOptions:
    flags: list[str] = []
    if cfg.runner == "FnApiRunner":
        flags += [f"--direct_num_workers={cfg.direct_num_workers}", f"--direct_running_mode={cfg.direct_running_mode}"]
    elif cfg.runner == "PortableRunner":
        flags += ["--runner=PortableRunner", f"--job_endpoint={cfg.job_endpoint}",
                  f"--environment_type={cfg.environment_type}"]
    elif cfg.runner == "DataflowRunner":
        df = cfg.dataflow
        flags += ["--runner=DataflowRunner", f"--project={df.project}", f"--region={df.region}",
                  f"--temp_location={df.temp_location}", f"--job_name={_job_name(df.job_name or job_name)}"]
        if df.staging_location:
            flags.append(f"--staging_location={df.staging_location}")
        if df.machine_type:
            flags.append(f"--machine_type={df.machine_type}")
        if df.max_num_workers:
            flags.append(f"--max_num_workers={df.max_num_workers}")
        # Workers install the same package and pinned requirements, so they load the same models.
        if df.requirements_file:
            flags.append(f"--requirements_file={df.requirements_file}")
        if df.setup_file:
            flags.append(f"--setup_file={df.setup_file}")
        if df.sdk_container_image:
            flags.append(f"--sdk_container_image={df.sdk_container_image}")
        if df.dry_run:
            flags.append("--dry_run=True")
    flags += ["--no_save_main_session", "--pickle_library=cloudpickle"]
    flags += cfg.extra_options
    return PipelineOptions(flags)


# glibc malloc settings for the local runner's processes. The FnApiRunner hands each worker its whole share of a
# stage's input as one data-plane message (tens of MB), and glibc keeps such freed buffers in its heaps, so a
# process's RSS grows with the largest stage it has seen. Buffers of 1 MB and up are mapped and unmapped on their
# own, free memory at the top of a heap above 1 MB is returned, and two arenas serve all threads. Measured on
# 20,000 documents (BENCHMARKS.md "Reliability"): worst worker 946 -> 675 MB, driver 1,068 -> 624 MB, same time.
GLIBC_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "1048576", "MALLOC_ARENA_MAX": "2"}
_MALLOPT = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_ARENA_MAX": -8}  # M_* of malloc.h

# Arrow's allocator for the same processes. The pyarrow wheels default to mimalloc, which held ~50-70 MB more per
# worker than jemalloc around the Parquet shard writes (a state shard's merge alone: +75 / +102 MB over the
# process's base for 2,000 / 33,000 rows with mimalloc, +39 / +51 MB with jemalloc). Measured on 5,000 and 80,000
# documents (BENCHMARKS.md "Reliability", twelfth session): worst worker 398 -> 347 and 502 -> 432 MB.
# Without jemalloc, the system allocator (glibc with the settings above): measured the same run, it held 15 / 8 MB
# less per worker than jemalloc at 5,000 / 80,000 documents (fourteenth session), where mimalloc held 50-70 MB more.
ARROW_POOL_ENV, ARROW_POOL, ARROW_FALLBACK_POOL = "ARROW_DEFAULT_MEMORY_POOL", "jemalloc", "system"


def bound_native_heap() -> None:
    """Apply GLIBC_MALLOC_ENV to this process (mallopt) and, through the environment, to the worker processes
    the runner starts, and ARROW_POOL as Arrow's default memory pool (where pyarrow was built with it). A value
    the user already set in the environment wins; on a C library other than glibc the malloc variables are
    ignored and mallopt is not called."""
    for key, value in GLIBC_MALLOC_ENV.items():
        os.environ.setdefault(key, value)
    _use_arrow_pool()
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    for key, param in _MALLOPT.items():
        try:
            mallopt(param, int(os.environ[key]))
        except ValueError:
            continue  # not a number: glibc ignores it too


def _use_arrow_pool() -> None:
    if ARROW_POOL_ENV in os.environ:
        return
    import pyarrow as pa

    name = ARROW_POOL
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (some conda or source builds)
        name, pool = ARROW_FALLBACK_POOL, pa.system_memory_pool()
        logging.getLogger(__name__).info("pyarrow has no %s pool: Arrow allocates from %s instead of %s",
                                         ARROW_POOL, name, pa.default_memory_pool().backend_name)
    os.environ[ARROW_POOL_ENV] = name  # read by the workers' pyarrow when it first allocates
    pa.set_memory_pool(pool)


def make_runner(cfg: RunnerConfig):
    """The runner object; FnApiRunner is built directly so it never tries to download Prism (with the malloc
    settings of `bound_native_heap`)."""
    if cfg.runner == "FnApiRunner":
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        bound_native_heap()
        return FnApiRunner()
    return None  # PipelineOptions --runner decides
