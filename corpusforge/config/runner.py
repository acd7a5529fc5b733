"""Which Beam runner executes a pipeline (curate, refresh, tokenize, the train-tokenizer sample)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from corpusforge.config.base import StrictModel


class DataflowConfig(StrictModel):
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    staging_location: str | None = None
    job_name: str | None = None
    machine_type: str | None = None
    max_num_workers: int | None = None
    requirements_file: str | None = "requirements.txt"
    setup_file: str | None = "./setup.py"
    sdk_container_image: str | None = None
    dry_run: bool = False


class RunnerConfig(StrictModel):
    # multi_threading is deliberately not offered: it silently lost elements in CombinePerKey pipelines.
    runner: Literal["FnApiRunner", "PortableRunner", "DataflowRunner"] = "FnApiRunner"
    direct_num_workers: int = Field(1, ge=1, le=64)
    direct_running_mode: Literal["in_memory", "multi_processing"] = "in_memory"
    job_endpoint: str | None = Field(None, description="PortableRunner job service, e.g. localhost:8099")
    environment_type: Literal["LOOPBACK", "DOCKER", "PROCESS", "EXTERNAL"] = "LOOPBACK"
    dataflow: DataflowConfig = Field(default_factory=DataflowConfig)
    extra_options: list[str] = Field(default_factory=list, description="Raw Beam pipeline flags.")
    sort_shards: int = Field(
        64, ge=1, le=100_000,
        description="Groupings that carry documents or their keys (unique ids, the dedup's exact group, LSH "
                    "buckets, verification and final joins) go through sorted run files in this many shards "
                    "instead of a shuffle (pipelines/shards.py): the stages after them run this many ways in "
                    "parallel.")

    @model_validator(mode="after")
    def _check_runner(self) -> "RunnerConfig":
        if self.runner == "DataflowRunner":
            missing = [k for k in ("project", "region", "temp_location") if not getattr(self.dataflow, k)]
            if missing:
                raise ValueError(
                    "DataflowRunner needs runner.dataflow." + ", runner.dataflow.".join(missing)
                    + " (e.g. project: my-gcp-project, region: us-central1, temp_location: gs://bucket/tmp)"
                )
        if self.runner == "PortableRunner" and not self.job_endpoint:
            raise ValueError("PortableRunner needs runner.job_endpoint (host:port of a Beam job service)")
        return self
