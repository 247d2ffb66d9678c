"""The builtin runner and the builtin evaluators (pure logic: a stand-in answers get_run_log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_core.errors import StoreUnavailable
from interlock_core.model import FailureCategory, RunLogEntry, RunStatus
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext, Store
from interlock_plugins.evaluators import interlock_register_builtin_evaluators
from interlock_plugins.evaluators.builtin import BUILTIN_EVALUATORS, BuiltinRunner

AT = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


class RunLogs:
    """Stands in for the store's get_run_log only; records what it was asked."""

    def __init__(self, *entries: RunLogEntry, down: bool = False) -> None:
        self.entries = {(e.pipeline_id, e.date, e.schedule_id): e for e in entries}
        self.asked: list[tuple[str, str, str]] = []
        self.down = down

    async def get_run_log(self, pipeline_id: str, date: str, schedule_id: str) -> RunLogEntry | None:
        self.asked.append((pipeline_id, date, schedule_id))
        if self.down:
            raise StoreUnavailable("redis at 127.0.0.1:6379 refused the connection")
        return self.entries.get((pipeline_id, date, schedule_id))


def entry(status: RunStatus, *, date: str = "2026-03-02", schedule: str = "morning") -> RunLogEntry:
    return RunLogEntry(
        pipeline_id="ingest",
        date=date,
        schedule_id=schedule,
        status=status,
        run_id="run-7",
        started_at=AT,
        updated_at=AT,
        completed_at=AT if status is RunStatus.COMPLETED else None,
    )


def request(timeout: float = 5.0, **config: Any) -> EvaluatorInput:
    return EvaluatorInput(
        pipeline_id="report",
        trait_type="upstream-dependency",
        config=config,
        schedule_id="morning",
        date="2026-03-02",
        timeout=timeout,
    )


def runner_with(store: object = None, **options: Any) -> BuiltinRunner:
    context = RunnerContext(
        evaluator_dirs=(), store=cast(Store, store or RunLogs()), clock=FakeClock(), options=options
    )
    return BuiltinRunner(context)


async def test_upstream_completed_passes() -> None:
    logs = RunLogs(entry(RunStatus.COMPLETED))
    out = await runner_with(logs).run("builtin:upstream-job-log", request(upstreamPipeline="ingest"))
    assert out == EvaluatorOutput(
        status="PASS",
        value={"upstreamRunId": "run-7", "completedAt": "2026-03-02T06:30:00Z"},
        reason="upstream ingest completed for 2026-03-02/morning",
    )
    assert logs.asked == [("ingest", "2026-03-02", "morning")]


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.FAILED, RunStatus.COMPLETED_MONITORING])
async def test_upstream_not_completed_is_a_plain_not_ready(status: RunStatus) -> None:
    logs = RunLogs(entry(status))
    out = await runner_with(logs).run("builtin:upstream-job-log", request(upstreamPipeline="ingest"))
    assert out.status == "FAIL"
    assert out.reason == f"upstream ingest status is {status.value} for 2026-03-02/morning"
    assert out.failure_category is None
    assert out.value is not None and out.value["upstreamStatus"] == status.value


async def test_upstream_without_run_log() -> None:
    out = await runner_with(RunLogs()).run("builtin:upstream-job-log", request(upstreamPipeline="ingest"))
    assert (out.status, out.reason, out.failure_category) == (
        "FAIL",
        "upstream ingest has no run log for 2026-03-02/morning",
        None,
    )


async def test_upstream_config_overrides_date_and_schedule() -> None:
    logs = RunLogs(entry(RunStatus.COMPLETED, date="2026-03-01", schedule="daily"))
    out = await runner_with(logs).run(
        "builtin:upstream-job-log",
        request(upstreamPipeline="ingest", date="2026-03-01", upstreamSchedule="daily"),
    )
    assert out.status == "PASS"
    assert logs.asked == [("ingest", "2026-03-01", "daily")]


@pytest.mark.parametrize("config", [{}, {"upstreamPipeline": ""}, {"upstreamPipeline": 3}])
async def test_upstream_pipeline_is_required(config: dict[str, Any]) -> None:
    out = await runner_with().run("builtin:upstream-job-log", request(**config))
    assert (out.status, out.reason, out.failure_category) == (
        "FAIL",
        "config missing: upstreamPipeline",
        FailureCategory.PERMANENT,
    )


async def test_store_unavailable_is_transient() -> None:
    out = await runner_with(RunLogs(down=True)).run("builtin:upstream-job-log", request(upstreamPipeline="x"))
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.TRANSIENT
    assert out.reason == (
        "EVALUATOR_ERROR: builtin upstream-job-log: redis at 127.0.0.1:6379 refused the connection"
    )


async def test_always_pass_and_always_fail() -> None:
    runner = runner_with()
    passed = await runner.run("builtin:always-pass", request())
    failed = await runner.run("builtin:always-fail", request(reason="switched off for the demo"))
    assert (passed.status, passed.reason) == ("PASS", "always passes")
    assert (failed.status, failed.reason, failed.failure_category) == (
        "FAIL",
        "switched off for the demo",
        None,
    )


async def test_unknown_builtin() -> None:
    out = await runner_with().run("builtin:nope", request())
    assert (out.status, out.reason, out.failure_category) == (
        "FAIL",
        "unknown builtin evaluator: nope",
        FailureCategory.PERMANENT,
    )


class Raising:
    name: ClassVar[str] = "raising"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        raise ValueError("division by zero in the freshness maths")


class Hanging:
    name: ClassVar[str] = "hanging"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        await anyio.Event().wait()
        raise AssertionError("unreachable")


class Lowercase:
    name: ClassVar[str] = "lowercase"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        return EvaluatorOutput(status="pass")


@pytest.fixture
def misbehaving() -> BuiltinRunner:
    return runner_with(builtins={b.name: b for b in (Raising(), Hanging(), Lowercase())})


async def test_builtins_from_options_come_first_then_the_shipped_ones() -> None:
    class Replacement:
        name: ClassVar[str] = "always-pass"

        async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
            return EvaluatorOutput(status="PASS", reason="from the registry")

    runner = runner_with(builtins={"always-pass": Replacement()})
    assert (await runner.run("builtin:always-pass", request())).reason == "from the registry"
    assert (await runner.run("builtin:always-fail", request())).reason == "always fails"


async def test_exception_in_builtin_is_a_crash(misbehaving: BuiltinRunner) -> None:
    out = await misbehaving.run("builtin:raising", request())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.EVALUATOR_CRASH
    assert (
        out.reason
        == "EVALUATOR_ERROR: builtin raising raised ValueError: division by zero in the freshness maths"
    )


async def test_builtin_timeout(misbehaving: BuiltinRunner) -> None:
    out = await misbehaving.run("builtin:hanging", request(timeout=0.05))
    assert out.failure_category is FailureCategory.TIMEOUT
    assert out.reason == "EVALUATOR_TIMEOUT: builtin hanging gave no result after 0.05s"


async def test_builtin_output_is_validated(misbehaving: BuiltinRunner) -> None:
    out = await misbehaving.run("builtin:lowercase", request())
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_OUTPUT_INVALID: builtin lowercase")


async def test_handles_and_registration() -> None:
    runner = runner_with()
    assert runner.handles("builtin:upstream-job-log")
    assert not runner.handles("check-freshness") and not runner.handles("http://x/builtin:y")
    await runner.close()
    registered = interlock_register_builtin_evaluators()
    assert [b.name for b in registered] == ["upstream-job-log", "upstream-cycles", "always-pass", "always-fail", "rule"]
    assert registered == BUILTIN_EVALUATORS
