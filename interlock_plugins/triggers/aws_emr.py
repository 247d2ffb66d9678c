"""``emr``: add one step to a running EMR cluster, then follow it with DescribeStep.

```yaml
trigger:
  type: emr
  clusterID: j-XXXXXXXXXXXXX          # clusterId is accepted too
  arguments: ["spark-submit", "s3://bucket/job.py", "--date", "${date}"]
  jobName: daily-sales                # optional step name (default: the run key)
  jar: command-runner.jar             # optional (default), runs ``arguments`` as a command
  actionOnFailure: CONTINUE           # optional
```

AddJobFlowSteps takes no idempotency token. The step is named after the run key (which carries the
store identity) unless ``jobName`` is set, and carries the run id as the Java property
``interlock_run_id``. A relaunch of a run under its key (its launcher crashed before recording the
launch) looks the step up with ListSteps (the most recent steps) and follows it instead of adding
another — but only a step of that name that carries this run's id: a step of the same name that
does not is not ours, and the step is added. With ``jobName`` set, a relaunch adds the step again:
at-least-once.

The older mapping form of ``arguments`` is accepted too and becomes ``key=value`` arguments in the
order written; ``command`` is accepted as the older name of ``jar``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD, ownership_unknown
from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from .aws_base import ArgumentText, AWSTrigger, AWSTriggerConfig, metadata_text, poll_result

COMMAND_RUNNER = "command-runner.jar"
STEP_NAME_LIMIT = 256
SUCCEEDED = frozenset({"COMPLETED"})
FAILED = {
    "FAILED": FailureCategory.TRANSIENT,
    "INTERRUPTED": FailureCategory.TRANSIENT,
    "CANCELLED": FailureCategory.PERMANENT,
}


class EMRConfig(AWSTriggerConfig):
    cluster_id: str = Field(
        min_length=1,
        validation_alias=AliasChoices("clusterID", "clusterId", "cluster_id"),
        serialization_alias="clusterID",
    )
    arguments: list[ArgumentText] | dict[str, ArgumentText] = Field(default_factory=list)
    job_name: str | None = Field(default=None, min_length=1, max_length=STEP_NAME_LIMIT)
    jar: str = Field(default=COMMAND_RUNNER, min_length=1, validation_alias=AliasChoices("jar", "command"))
    action_on_failure: Literal["CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"] = (
        "CONTINUE"
    )

    @model_validator(mode="after")
    def _command_needs_arguments(self) -> EMRConfig:
        if self.jar == COMMAND_RUNNER and not self.arguments:
            raise ValueError(
                "arguments is required with command-runner.jar, e.g. [spark-submit, s3://bucket/job.py]"
            )
        return self

    def step_arguments(self) -> list[str]:
        if isinstance(self.arguments, dict):
            return [f"{key}={value}" for key, value in self.arguments.items()]
        return list(self.arguments)


class EMRTrigger(AWSTrigger[EMRConfig]):
    name: ClassVar[str] = "emr"
    config_model: ClassVar[type[EMRConfig]] = EMRConfig
    service: ClassVar[str] = "emr"
    metadata_kind: ClassVar[str] = "emr"

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = self.launch_config(config, request)
        step_name = cfg.job_name or (request.run_key or request.run_id)[:STEP_NAME_LIMIT]
        step = {
            "Name": step_name,
            "ActionOnFailure": cfg.action_on_failure,
            "HadoopJarStep": {"Jar": cfg.jar, "Args": cfg.step_arguments(),
                              "Properties": [{"Key": OWNER_FIELD, "Value": request.run_id}]},
        }

        if request.relaunch and not cfg.job_name:
            adopted = await self._existing_step(cfg, step_name, request.run_id)
            if adopted is not None:
                return LaunchResult(state="running", message=f"step {step_name} already added; adopted",
                                    metadata={"emr_cluster_id": cfg.cluster_id, "emr_step_id": adopted,
                                              "emr_relaunch": True})

        async def add(client: Any) -> list[str]:
            response = await client.add_job_flow_steps(JobFlowId=cfg.cluster_id, Steps=[step])
            return [str(s) for s in response.get("StepIds") or []]

        step_ids = await self.call(cfg, "emr trigger: AddJobFlowSteps", add)
        if not step_ids:
            raise TriggerError(
                "emr trigger: AddJobFlowSteps returned no step id", category=FailureCategory.TRANSIENT
            )
        return LaunchResult(
            state="running",
            metadata={"emr_cluster_id": cfg.cluster_id, "emr_step_id": step_ids[0]},
        )

    async def _existing_step(self, cfg: EMRConfig, step_name: str, run_id: str) -> str | None:
        """The step a crashed launcher of this run already added (AddJobFlowSteps takes no
        idempotency token, so a relaunch looks for the step named after the run key that carries
        this run's id); :func:`ownership_unknown` when the steps cannot be listed right now."""

        async def find(client: Any) -> str | None:
            response = await client.list_steps(ClusterId=cfg.cluster_id)
            for step in response.get("Steps") or []:
                properties = (step.get("Config") or {}).get("Properties") or {}
                if step.get("Name") == step_name and step.get("Id") and properties.get(OWNER_FIELD) == run_id:
                    return str(step["Id"])
            return None

        try:
            return await self.call(cfg, "emr trigger: ListSteps", find)
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("emr trigger", step_name, f"a step of cluster {cfg.cluster_id}",
                                    exc) from None

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        keys = metadata_text(metadata, "emr_cluster_id", "emr_step_id")
        if keys is None:
            return PollResult(state="running", message=self.missing_metadata())
        cluster_id, step_id = keys
        cfg = self.poll_config(config)

        async def describe(client: Any) -> dict[str, Any]:
            response = await client.describe_step(ClusterId=cluster_id, StepId=step_id)
            return dict(response["Step"].get("Status") or {})

        status = await self.call(cfg, "emr status: DescribeStep", describe)
        failure = status.get("FailureDetails") or {}
        reason = status.get("StateChangeReason") or {}
        return poll_result(
            str(status.get("State", "")),
            succeeded=SUCCEEDED,
            failed=FAILED,
            detail=failure.get("Message") or failure.get("Reason") or reason.get("Message"),
        )
