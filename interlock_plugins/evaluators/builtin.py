"""The ``builtin`` evaluator runner and the builtin evaluators Interlock ships.

``evaluator: builtin:<name>`` runs an in-process evaluator: an object with a ``name`` and an
async ``evaluate(request, context) -> EvaluatorOutput``. Plugins add more through the
``interlock_register_builtin_evaluators`` hook; the engine factory hands the registry to the
runner as the ``builtins`` option. A builtin evaluator with a ``config_model`` (a pydantic model)
has the trait's config validated by it when the project loads (``interlock validate`` names file,
line and key), as ``builtin:rule`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date as Date
from typing import Any, ClassVar

import anyio

from interlock_core.errors import StoreUnavailable
from interlock_core.model import DEFAULT_SCHEDULE_ID, FailureCategory, RunStatus
from interlock_core.model.records import format_timestamp
from interlock_core.plugin_api import BuiltinEvaluator
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext

from .output import FAIL, PASS, check_output, excerpt, failed
from .rules import RuleEvaluator
from .upstream_cycles import UpstreamCycles

PREFIX = "builtin:"
DEFAULT_TIMEOUT_SECONDS = 30.0


def _config_text(config: Mapping[str, Any], key: str) -> str | None:
    """A string setting of the trait's config; a YAML date counts as its ISO text."""
    value = config.get(key)
    if isinstance(value, Date):
        return value.isoformat()
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class UpstreamJobLog:
    """PASS when the upstream pipeline's run log says COMPLETED for the cycle.

    Config: ``upstreamPipeline`` (required), ``date`` (default: the cycle's date) and
    ``upstreamSchedule`` (default: the cycle's schedule)."""

    name: ClassVar[str] = "upstream-job-log"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        config = request.config or {}
        upstream = _config_text(config, "upstreamPipeline")
        if upstream is None:
            return failed("config missing: upstreamPipeline", FailureCategory.PERMANENT)
        day = _config_text(config, "date") or request.date
        if not day:
            return failed("config missing: date (and the cycle has none)", FailureCategory.PERMANENT)
        schedule = _config_text(config, "upstreamSchedule") or request.schedule_id or DEFAULT_SCHEDULE_ID
        cycle = f"{day}/{schedule}"
        entry = await context.store.get_run_log(upstream, day, schedule)
        if entry is None:
            return EvaluatorOutput(status=FAIL, reason=f"upstream {upstream} has no run log for {cycle}")
        value: dict[str, Any] = {
            "upstreamRunId": entry.run_id,
            "completedAt": format_timestamp(entry.completed_at) if entry.completed_at else None,
        }
        if entry.status is RunStatus.COMPLETED:
            return EvaluatorOutput(
                status=PASS, value=value, reason=f"upstream {upstream} completed for {cycle}"
            )
        return EvaluatorOutput(
            status=FAIL,
            value={**value, "upstreamStatus": entry.status.value},
            reason=f"upstream {upstream} status is {entry.status.value} for {cycle}",
        )


class AlwaysPass:
    """PASS, always (demos and tests). ``reason`` in the config is echoed."""

    name: ClassVar[str] = "always-pass"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        reason = _config_text(request.config or {}, "reason") or "always passes"
        return EvaluatorOutput(status=PASS, reason=reason)


class AlwaysFail:
    """FAIL, always (demos and tests): a plain not-ready. ``reason`` in the config is echoed."""

    name: ClassVar[str] = "always-fail"

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        reason = _config_text(request.config or {}, "reason") or "always fails"
        return EvaluatorOutput(status=FAIL, reason=reason)


BUILTIN_EVALUATORS: list[BuiltinEvaluator] = [UpstreamJobLog(), UpstreamCycles(), AlwaysPass(), AlwaysFail(),
                                               RuleEvaluator()]


class BuiltinRunner:
    """Runs ``builtin:<name>`` evaluators in process, under the trait's timeout."""

    name: ClassVar[str] = "builtin"
    priority: ClassVar[int] = 100

    def __init__(self, context: RunnerContext) -> None:
        self.context = context
        # The registry handed over by the engine factory wins; the shipped builtins fill the gaps.
        self.builtins: dict[str, BuiltinEvaluator] = {item.name: item for item in BUILTIN_EVALUATORS}
        provided = context.options.get("builtins")
        if isinstance(provided, Mapping):
            self.builtins.update(provided)

    def handles(self, evaluator: str) -> bool:
        return evaluator.startswith(PREFIX)

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput:
        name = evaluator[len(PREFIX) :].strip()
        builtin = self.builtins.get(name)
        if builtin is None:
            return failed(f"unknown builtin evaluator: {name}", FailureCategory.PERMANENT)
        timeout = request.timeout if request.timeout > 0 else DEFAULT_TIMEOUT_SECONDS
        try:
            with anyio.fail_after(timeout):
                output = await builtin.evaluate(request, self.context)
        except TimeoutError:
            return failed(
                f"EVALUATOR_TIMEOUT: builtin {name} gave no result after {timeout:g}s",
                FailureCategory.TIMEOUT,
            )
        except StoreUnavailable as exc:
            return failed(
                f"EVALUATOR_ERROR: builtin {name}: {excerpt(exc.message)}", FailureCategory.TRANSIENT
            )
        except Exception as exc:
            detail = excerpt(str(exc)) or "no message"
            return failed(
                f"EVALUATOR_ERROR: builtin {name} raised {type(exc).__name__}: {detail}",
                FailureCategory.EVALUATOR_CRASH,
            )
        return check_output(output, origin=f"builtin {name}")

    async def close(self) -> None:
        return None
