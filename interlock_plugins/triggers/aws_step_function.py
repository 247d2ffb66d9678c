"""``step-function``: start a Step Functions execution, then follow it with DescribeExecution.

```yaml
trigger:
  type: step-function
  stateMachineArn: arn:aws:states:eu-west-1:123456789012:stateMachine:daily-sales
  input: {"date": "${date}", "schedule": "${scheduleID}"}   # or `arguments:`; a JSON string works too
```

The execution is named after the run key (which carries the store identity), so relaunching the
same run finds the execution already started instead of starting another. The input document
carries the run id (``interlock_run_id``, added to a JSON object input; an input that is not a JSON
object is sent as written and cannot carry it). StartExecution answers an execution of the same name
and the same input (so the same run id) with that execution; one whose input differs is
``ExecutionAlreadyExists``, and that execution is followed only when its input carries this run's
id (DescribeExecution); any other is a name taken by an execution Interlock did not start for this
run: PERMANENT, never adopted. When tracing is on, a JSON object input also carries the launch's
W3C trace context (``traceparent``, ``tracestate``), for the state machine to continue the trace.

For a dry-run pipeline it looks up the executions the state machine's own schedule (an EventBridge
rule, say) started for a cycle (:meth:`StepFunctionTrigger.find_runs`): ListExecutions, those started
on the cycle's day in the schedule's time zone, executions whose input carries an
``interlock_run_id`` left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import Field, model_validator

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD, key_taken, ownership_unknown
from interlock_core.model import FailureCategory, SchedulerRun
from interlock_core.ports import CycleWindow, LaunchRequest, LaunchResult, PollResult

from .aws_base import AWSTrigger, AWSTriggerConfig, idempotency_name, metadata_text, poll_result
from .aws_errors import error_code

EXECUTION_NAME_LIMIT = 80
LOOKUP_PAGES = 5
"""ListExecutions pages (of 100, newest first) read per cycle at most."""
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

    def execution_input(self, run_id: str, trace_context: Mapping[str, str] | None = None) -> str:
        """The input document as JSON text, carrying ``run_id`` as ``interlock_run_id`` and the
        launch's trace context (``traceparent`` …, when tracing is on) (an input that is a JSON
        array or scalar is kept as written: it has no place for them)."""
        document: Any = self.input if self.input is not None else self.arguments
        if isinstance(document, str):
            try:
                parsed = json.loads(document)
            except ValueError as exc:
                raise TriggerError(
                    f"step-function trigger: input is not valid JSON: {exc}",
                    category=FailureCategory.PERMANENT,
                ) from None
            if not isinstance(parsed, dict):
                return document
            document = parsed
        return json.dumps({**(document or {}), **(trace_context or {}), OWNER_FIELD: run_id}, separators=(",", ":"),
                          sort_keys=True)


def input_owner(document: object) -> object:
    """The ``interlock_run_id`` in an execution's input (None when it has none)."""
    try:
        parsed = json.loads(document) if isinstance(document, str) else None
    except ValueError:
        return None
    return parsed.get(OWNER_FIELD) if isinstance(parsed, dict) else None


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
        params: dict[str, Any] = {"stateMachineArn": cfg.state_machine_arn, "name": name,
                                  "input": cfg.execution_input(request.run_id, request.trace_context)}

        async def start(client: Any) -> str | None:
            try:
                response = await client.start_execution(**params)
            except ClientError as exc:
                if error_code(exc) != "ExecutionAlreadyExists":
                    raise
                return None  # an execution of that name with another input: whose is it?
            return str(response["executionArn"])

        arn = await self.call(cfg, "step-function trigger: StartExecution", start)
        if arn is None:
            arn = await self._prove_ours(cfg, name, request)
            return LaunchResult(state="running", metadata={"sfn_execution_arn": arn},
                                message=f"execution {name} was already started by this run; following it")
        return LaunchResult(state="running", metadata={"sfn_execution_arn": arn})

    async def _prove_ours(self, cfg: StepFunctionConfig, name: str, request: LaunchRequest) -> str:
        """The ARN of execution ``name`` when its input carries this run's id (a relaunch after a
        crash, with an input that changed meanwhile); :func:`key_taken` when it does not,
        :func:`ownership_unknown` when it cannot be described right now."""
        arn = execution_arn(cfg.state_machine_arn, name)

        async def describe(client: Any) -> dict[str, Any]:
            return dict(await client.describe_execution(executionArn=arn))

        job = f"execution {name}"
        try:
            execution = await self.call(cfg, "step-function trigger: DescribeExecution", describe)
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("step-function trigger", name, job, exc) from None
        owner = input_owner(execution.get("input"))
        if owner != request.run_id:
            raise key_taken("step-function trigger", name, request.run_id, job, owner)
        return str(execution.get("executionArn") or arn)

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

    async def find_runs(self, config: Any, cycle: CycleWindow) -> list[SchedulerRun]:
        """The state machine's executions started within the cycle's day, oldest first, Interlock's own
        (an input carrying ``interlock_run_id``) left out."""
        cfg = self.poll_config(config)
        arn = cfg.state_machine_arn

        async def listed(client: Any) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            params: dict[str, Any] = {"stateMachineArn": arn, "maxResults": 100}
            for _ in range(LOOKUP_PAGES):
                page = await client.list_executions(**params)
                older = False
                for execution in (dict(e) for e in page.get("executions") or []):
                    started = _started(execution)
                    if started is not None and cycle.start <= started < cycle.end:
                        found.append(execution)
                    older = older or (started is not None and started < cycle.start)
                if older or not page.get("nextToken"):
                    break
                params["nextToken"] = page["nextToken"]
            mine = []
            for execution in found:
                described = await client.describe_execution(executionArn=execution["executionArn"])
                if input_owner(described.get("input")) is None:
                    mine.append({**execution, **dict(described)})
            return mine

        executions = await self.call(cfg, "step-function lookup: ListExecutions", listed)
        runs = [_scheduler_run(e) for e in executions]
        return sorted(runs, key=lambda r: (r.started_at or cycle.start, r.run_id))


def _started(execution: Mapping[str, Any]) -> datetime | None:
    value = execution.get("startDate")
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def _scheduler_run(execution: Mapping[str, Any]) -> SchedulerRun:
    status = str(execution.get("status") or "RUNNING")
    word = "succeeded" if status in SUCCEEDED else "failed" if status in FAILED else "running"
    stopped = execution.get("stopDate")
    error, cause = execution.get("error"), execution.get("cause")
    detail = f": {error}" + (f": {cause}" if cause else "") if error else ""
    return SchedulerRun(run_id=str(execution.get("name") or execution.get("executionArn")), state=word,
                        started_at=_started(execution),
                        finished_at=stopped if word != "running" and isinstance(stopped, datetime) else None,
                        message=f"{status}{detail}"[:2000], failure_category=FAILED.get(status))
