"""``step-function``: start a Step Functions execution, then follow it with DescribeExecution.

```yaml
trigger:
  type: step-function
  stateMachineArn: arn:aws:states:eu-west-1:123456789012:stateMachine:daily-sales
  input: {"date": "${date}", "schedule": "${scheduleID}"}   # or `arguments:`; a JSON string works too
```

The execution is named after the run key, so relaunching the same run finds the execution
already started (``ExecutionAlreadyExists``) and follows it instead of starting another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import Field, model_validator

from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from .aws_base import AWSTrigger, AWSTriggerConfig, idempotency_name, metadata_text, poll_result
from .aws_errors import error_code

EXECUTION_NAME_LIMIT = 80
SUCCEEDED = frozenset({"SUCCEEDED"})
FAILED = {
    "FAILED": FailureCategory.TRANSIENT,
    "TIMED_OUT": FailureCategory.TIMEOUT,
    "ABORTED": FailureCategory.PERMANENT,
}


class StepFunctionConfig(AWSTriggerConfig):
    state_machine_arn: str = Field(min_length=1)
    input: dict[str, Any] | str | None = None
    arguments: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> StepFunctionConfig:
        if self.input is not None and self.arguments is not None:
            raise ValueError("give the execution input as `input` or as `arguments`, not both")
        return self

    def execution_input(self) -> str | None:
        """The input document as JSON text, or None for no input."""
        document = self.input if self.input is not None else self.arguments
        if document is None or document == {}:
            return None
        if isinstance(document, str):
            try:
                json.loads(document)
            except ValueError as exc:
                raise TriggerError(
                    f"step-function trigger: input is not valid JSON: {exc}",
                    category=FailureCategory.PERMANENT,
                ) from None
            return document
        return json.dumps(document, separators=(",", ":"), sort_keys=True)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of execution ``name`` of a state machine (also from a version or alias ARN)."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[2] != "states" or parts[5] != "stateMachine":
        raise TriggerError(
            f"step-function trigger: not a state machine ARN: {state_machine_arn!r}",
            category=FailureCategory.PERMANENT,
        )
    return ":".join([*parts[:5], "execution", parts[6], name])


class StepFunctionTrigger(AWSTrigger[StepFunctionConfig]):
    name: ClassVar[str] = "step-function"
    config_model: ClassVar[type[StepFunctionConfig]] = StepFunctionConfig
    service: ClassVar[str] = "stepfunctions"
    metadata_kind: ClassVar[str] = "sfn"

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = self.launch_config(config, request)
        name = idempotency_name(request.run_key or request.run_id, EXECUTION_NAME_LIMIT)
        params: dict[str, Any] = {"stateMachineArn": cfg.state_machine_arn, "name": name}
        document = cfg.execution_input()
        if document is not None:
            params["input"] = document

        async def start(client: Any) -> tuple[str, bool]:
            try:
                response = await client.start_execution(**params)
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":
                    raise
                # launched before (a relaunch after a crash): follow the execution already there
                existing = await client.describe_execution(
                    executionArn=execution_arn(cfg.state_machine_arn, name)
                )
                return str(existing["executionArn"]), True
            return str(response["executionArn"]), False

        arn, existed = await self.call(cfg, "step-function trigger: StartExecution", start)
        return LaunchResult(
            state="running",
            metadata={"sfn_execution_arn": arn},
            message=f"execution {name} was already started; following it" if existed else None,
        )

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        keys = metadata_text(metadata, "sfn_execution_arn")
        if keys is None:
            return PollResult(state="running", message=self.missing_metadata())
        (arn,) = keys
        cfg = self.poll_config(config)

        async def describe(client: Any) -> dict[str, Any]:
            return dict(await client.describe_execution(executionArn=arn))

        execution = await self.call(cfg, "step-function status: DescribeExecution", describe)
        error, cause = execution.get("error"), execution.get("cause")
        detail = f"{error}: {cause}" if error and cause else (error or cause)
        status = str(execution.get("status", ""))
        return poll_result(status, succeeded=SUCCEEDED, failed=FAILED, detail=detail)
