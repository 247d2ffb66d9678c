"""``glue``: start an AWS Glue job run, then follow it with GetJobRun.

```yaml
trigger:
  type: glue
  jobName: my-etl-job
  arguments: {"--date": "${date}"}   # passed as the run's Arguments
  workerType: G.1X                    # optional, together with numberOfWorkers
  numberOfWorkers: 10
```

StartJobRun takes no idempotency token (its ``JobRunId`` only names a run to retry), so a relaunch
of a run under its key — its launcher crashed before recording the launch — starts the job again:
at-least-once. Keep the job's ``MaxConcurrentRuns`` at 1 (Glue's default) and Glue refuses the
second run while the first is still going (``ConcurrentRunsExceededException``, a transient failure
recorded on the run, so the retry policy decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from .aws_base import ArgumentText, AWSTrigger, AWSTriggerConfig, metadata_text, poll_result

SUCCEEDED = frozenset({"SUCCEEDED"})
FAILED = {
    "FAILED": FailureCategory.TRANSIENT,
    "ERROR": FailureCategory.TRANSIENT,
    "TIMEOUT": FailureCategory.TIMEOUT,
    "STOPPED": FailureCategory.PERMANENT,
}


class GlueConfig(AWSTriggerConfig):
    job_name: str = Field(min_length=1, max_length=255)
    arguments: dict[str, ArgumentText] = Field(default_factory=dict)
    worker_type: str | None = Field(default=None, min_length=1)
    number_of_workers: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _workers_together(self) -> GlueConfig:
        if (self.worker_type is None) != (self.number_of_workers is None):
            raise ValueError("workerType and numberOfWorkers must be given together")
        return self


class GlueTrigger(AWSTrigger[GlueConfig]):
    name: ClassVar[str] = "glue"
    config_model: ClassVar[type[GlueConfig]] = GlueConfig
    service: ClassVar[str] = "glue"
    metadata_kind: ClassVar[str] = "glue"

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = self.launch_config(config, request)
        params: dict[str, Any] = {"JobName": cfg.job_name}
        if cfg.arguments:
            params["Arguments"] = dict(cfg.arguments)
        if cfg.worker_type is not None:
            params["WorkerType"] = cfg.worker_type
            params["NumberOfWorkers"] = cfg.number_of_workers

        async def start(client: Any) -> str:
            response = await client.start_job_run(**params)
            return str(response["JobRunId"])

        run_id = await self.call(cfg, "glue trigger: StartJobRun", start)
        return LaunchResult(
            state="running",
            metadata={"glue_job_name": cfg.job_name, "glue_job_run_id": run_id},
        )

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        keys = metadata_text(metadata, "glue_job_name", "glue_job_run_id")
        if keys is None:
            return PollResult(state="running", message=self.missing_metadata())
        job_name, run_id = keys
        cfg = self.poll_config(config)

        async def get(client: Any) -> dict[str, Any]:
            response = await client.get_job_run(JobName=job_name, RunId=run_id)
            return dict(response["JobRun"])

        run = await self.call(cfg, "glue status: GetJobRun", get)
        return poll_result(
            str(run.get("JobRunState", "")),
            succeeded=SUCCEEDED,
            failed=FAILED,
            detail=run.get("ErrorMessage"),
        )
