"""``glue``: start an AWS Glue job run, then follow it with GetJobRun.

```yaml
trigger:
  type: glue
  jobName: my-etl-job
  arguments: {"--date": "${date}"}   # passed as the run's Arguments
  workerType: G.1X                    # optional, together with numberOfWorkers
  numberOfWorkers: 10
```

StartJobRun takes no idempotency token (its ``JobRunId`` only names a run to retry). Every job run
gets the run id as the argument ``--interlock_run_id``, so a relaunch of a run — its launcher
crashed before recording the launch — first looks through the job's most recent runs (GetJobRuns)
for one carrying this run's id and follows it; only a run that carries it is adopted, and when none
does (it is older than the most recent page, or was never started) the job is started again:
at-least-once. Keep the job's ``MaxConcurrentRuns`` at 1 (Glue's default) and Glue refuses the
second run while the first is still going (``ConcurrentRunsExceededException``, a transient failure
recorded on the run, so the retry policy decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD, ownership_unknown
from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from .aws_base import ArgumentText, AWSTrigger, AWSTriggerConfig, metadata_text, poll_result

OWNER_ARGUMENT = f"--{OWNER_FIELD}"
RECENT_RUNS = 200
"""Job runs a relaunch looks through for its own (GetJobRuns' largest page)."""
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
        params: dict[str, Any] = {"JobName": cfg.job_name,
                                  "Arguments": {**cfg.arguments, OWNER_ARGUMENT: request.run_id}}
        if cfg.worker_type is not None:
            params["WorkerType"] = cfg.worker_type
            params["NumberOfWorkers"] = cfg.number_of_workers

        if request.relaunch:
            adopted = await self._existing_run(cfg, request.run_id)
            if adopted is not None:
                return LaunchResult(state="running", message=f"job run {adopted} already started; adopted",
                                    metadata={"glue_job_name": cfg.job_name, "glue_job_run_id": adopted,
                                              "glue_relaunch": True})

        async def start(client: Any) -> str:
            response = await client.start_job_run(**params)
            return str(response["JobRunId"])

        run_id = await self.call(cfg, "glue trigger: StartJobRun", start)
        return LaunchResult(
            state="running",
            metadata={"glue_job_name": cfg.job_name, "glue_job_run_id": run_id},
        )

    async def _existing_run(self, cfg: GlueConfig, run_id: str) -> str | None:
        """The job run a crashed launcher of this run already started: one of the most recent runs
        whose arguments carry this run's id; :func:`ownership_unknown` when they cannot be listed."""

        async def find(client: Any) -> str | None:
            response = await client.get_job_runs(JobName=cfg.job_name, MaxResults=RECENT_RUNS)
            for run in response.get("JobRuns") or []:
                if (run.get("Arguments") or {}).get(OWNER_ARGUMENT) == run_id and run.get("Id"):
                    return str(run["Id"])
            return None

        try:
            return await self.call(cfg, "glue trigger: GetJobRuns", find)
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("glue trigger", f"{OWNER_ARGUMENT}={run_id}", f"a run of job {cfg.job_name}",
                                    exc) from None

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
