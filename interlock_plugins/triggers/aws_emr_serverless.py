"""``emr-serverless``: start a Spark job run on an EMR Serverless application, then follow it.

```yaml
trigger:
  type: emr-serverless
  applicationId: 00f1abcdexample
  executionRoleArn: arn:aws:iam::123456789012:role/emr-serverless-job
  entryPoint: s3://bucket/jobs/daily_sales.py
  entryPointArguments: ["--date", "${date}"]
  sparkSubmitParameters: "--conf spark.executor.cores=2"   # optional
  jobName: daily-sales                                     # optional (default: the run key)
```

The run key (which carries the store identity) is the ``clientToken``, so relaunching the same run
does not start a second job. StartJobRun answers a token it already knows with that job run, exactly
as it answers a new one, so every launch reads the job run back (GetJobRun) and keeps it only when
its ``interlock_run_id`` tag, set at launch, is this run's id; any other is a token taken by a job
run Interlock did not start for this run: PERMANENT, never adopted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD, key_taken, ownership_unknown
from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from .aws_base import ArgumentText, AWSTrigger, AWSTriggerConfig, idempotency_name, metadata_text, poll_result

CLIENT_TOKEN_LIMIT = 64
JOB_NAME_LIMIT = 256
SUCCEEDED = frozenset({"SUCCESS"})
FAILED = {
    "FAILED": FailureCategory.TRANSIENT,
    "CANCELLED": FailureCategory.PERMANENT,
}


class EMRServerlessConfig(AWSTriggerConfig):
    application_id: str = Field(min_length=1)
    execution_role_arn: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    entry_point_arguments: list[ArgumentText] = Field(default_factory=list)
    spark_submit_parameters: str | None = Field(default=None, min_length=1)
    job_name: str | None = Field(default=None, min_length=1, max_length=JOB_NAME_LIMIT)

    def job_driver(self) -> dict[str, Any]:
        spark: dict[str, Any] = {"entryPoint": self.entry_point}
        if self.entry_point_arguments:
            spark["entryPointArguments"] = list(self.entry_point_arguments)
        if self.spark_submit_parameters:
            spark["sparkSubmitParameters"] = self.spark_submit_parameters
        return {"sparkSubmit": spark}


class EMRServerlessTrigger(AWSTrigger[EMRServerlessConfig]):
    name: ClassVar[str] = "emr-serverless"
    config_model: ClassVar[type[EMRServerlessConfig]] = EMRServerlessConfig
    service: ClassVar[str] = "emr-serverless"
    metadata_kind: ClassVar[str] = "emr-serverless"

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = self.launch_config(config, request)
        run_key = request.run_key or request.run_id
        token = idempotency_name(run_key, CLIENT_TOKEN_LIMIT, allowed=r"A-Za-z0-9._-")
        params = {
            "applicationId": cfg.application_id,
            "executionRoleArn": cfg.execution_role_arn,
            "clientToken": token,
            "name": cfg.job_name or run_key[:JOB_NAME_LIMIT],
            "jobDriver": cfg.job_driver(),
            "tags": {OWNER_FIELD: request.run_id},
        }

        async def start(client: Any) -> str:
            response = await client.start_job_run(**params)
            return str(response["jobRunId"])

        job_run_id = await self.call(cfg, "emr-serverless trigger: StartJobRun", start)
        await self._prove_ours(cfg, job_run_id, token, request)
        return LaunchResult(
            state="running",
            metadata={"emr_sl_application_id": cfg.application_id, "emr_sl_job_run_id": job_run_id},
        )

    async def _prove_ours(self, cfg: EMRServerlessConfig, job_run_id: str, token: str,
                          request: LaunchRequest) -> None:
        """Return when job run ``job_run_id`` (what StartJobRun answered for ``token``) is tagged
        with this run's id; :func:`key_taken` when it is not, :func:`ownership_unknown` when it
        cannot be read right now."""

        async def get(client: Any) -> dict[str, Any]:
            response = await client.get_job_run(applicationId=cfg.application_id, jobRunId=job_run_id)
            return dict(response["jobRun"])

        job = f"job run {job_run_id} of application {cfg.application_id}"
        try:
            run = await self.call(cfg, "emr-serverless trigger: GetJobRun", get)
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("emr-serverless trigger", token, job, exc) from None
        tags = run.get("tags")
        owner = tags.get(OWNER_FIELD) if isinstance(tags, dict) else None
        if owner != request.run_id:
            raise key_taken("emr-serverless trigger", token, request.run_id, job, owner)

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        keys = metadata_text(metadata, "emr_sl_application_id", "emr_sl_job_run_id")
        if keys is None:
            return PollResult(state="running", message=self.missing_metadata())
        application_id, job_run_id = keys
        cfg = self.poll_config(config)

        async def get(client: Any) -> dict[str, Any]:
            response = await client.get_job_run(applicationId=application_id, jobRunId=job_run_id)
            return dict(response["jobRun"])

        run = await self.call(cfg, "emr-serverless status: GetJobRun", get)
        return poll_result(
            str(run.get("state", "")),
            succeeded=SUCCEEDED,
            failed=FAILED,
            detail=run.get("stateDetails"),
        )
