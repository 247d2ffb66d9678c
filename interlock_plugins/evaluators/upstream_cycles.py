"""``builtin:upstream-cycles``: PASS when an upstream pipeline completed every cycle this cycle
depends on, across schedules.

```yaml
traits:
  upstream-dependency:
    evaluator: builtin:upstream-cycles
    config:
      upstreamPipeline: events-raw   # required
      upstreamSchedule: daily        # default: this cycle's schedule when the upstream has it, else its first
      last: 7                        # the last 7 upstream cycles up to this cycle's end (default: the
                                     # upstream cycles inside this cycle: for a daily one, that date)
      maxLag: 1d                     # cycles ending less than 1d before this cycle's end may be missing
```

Which cycles those are is schedule arithmetic, in core (:mod:`interlock_core.cycle_spans`). With
``maxLag``, only the cycles whose span ended at least ``maxLag`` before this cycle's end are
required; when none of the window is that old, the upstream's latest cycle that is becomes the one
required (a daily pipeline over a daily upstream with ``maxLag: 1d`` needs yesterday's). A cycle
the upstream does not run (its calendar) is not required. A FAIL is a plain not-ready naming the
missing cycles; a config that cannot work (an unknown upstream schedule) is PERMANENT.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import pydantic
from pydantic import Field, field_validator

from interlock_core.calendars import CalendarRegistry
from interlock_core.cycle_spans import CycleRef, cycle_ref, cycles_inside, cycles_up_to, latest_ending_by
from interlock_core.durations import Duration, format_duration
from interlock_core.model import FailureCategory, PipelineConfig, RunStatus, ScheduleConfig
from interlock_core.model.base import ConfigModel
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext

from .output import FAIL, PASS, failed

MAX_LAST = 1000
SHOWN = 10
"""How many missing cycles a FAIL's reason names (the value lists them all)."""


class UpstreamCyclesConfig(ConfigModel):
    upstream_pipeline: str = Field(min_length=1)
    upstream_schedule: str | None = Field(default=None, min_length=1)
    last: int | None = Field(default=None, ge=1, le=MAX_LAST)
    max_lag: Duration | None = None

    @field_validator("max_lag")
    @classmethod
    def _lag(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(0):
            raise ValueError("must not be negative")
        return value


def _own_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys this evaluator reads (a trait inherits its archetype's ``defaultConfig``, meant for
    another evaluator, which it cannot remove)."""
    known = {name for field_name, info in UpstreamCyclesConfig.model_fields.items()
             for name in (field_name, info.alias)}
    return {key: value for key, value in config.items() if key in known}


def _schedule(pipeline: PipelineConfig, name: str | None) -> ScheduleConfig:
    return (pipeline.schedule(name) if name else None) or pipeline.resolved_schedules()[0]


def _lag_text(value: timedelta) -> str:
    """``1d``, ``6h``, ``90m`` for a whole number of days, hours or minutes; Go's form otherwise."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0 and value.microseconds == 0:
            return f"{seconds // size}{unit}"
    return format_duration(value)


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return shown + (f" … ({len(keys) - SHOWN} more)" if len(keys) > SHOWN else "")


class UpstreamCycles:
    """``builtin:upstream-cycles`` (config: :class:`UpstreamCyclesConfig`)."""

    name: ClassVar[str] = "upstream-cycles"
    config_model: ClassVar[type[pydantic.BaseModel]] = UpstreamCyclesConfig

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        try:
            config = UpstreamCyclesConfig.model_validate(_own_keys(request.config or {}))
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            return failed(f"invalid upstream-cycles config: {where}: {error['msg']}", FailureCategory.PERMANENT)
        name = config.upstream_pipeline
        upstream = await context.store.get_pipeline(name)
        if upstream is None:
            return EvaluatorOutput(status=FAIL, reason=f"upstream pipeline {name} is not registered")
        if config.upstream_schedule and upstream.schedule(config.upstream_schedule) is None:
            return failed(f"upstream pipeline {name} has no schedule {config.upstream_schedule!r}",
                          FailureCategory.PERMANENT)
        upstream_schedule = _schedule(upstream, config.upstream_schedule or request.schedule_id)
        downstream = await context.store.get_pipeline(request.pipeline_id)
        span = cycle_ref(downstream, _schedule(downstream, request.schedule_id), request.date) \
            if downstream is not None else cycle_ref(upstream, upstream_schedule, request.date)
        calendars = context.options.get("calendars")
        calendars = calendars if isinstance(calendars, CalendarRegistry) else None
        window = cycles_up_to(upstream, upstream_schedule, span, config.last, calendars) if config.last \
            else cycles_inside(upstream, upstream_schedule, span, calendars)
        required, accepted = window, []
        if config.max_lag:
            cutoff = span.ends - config.max_lag
            required = [c for c in window if c.ends <= cutoff]
            accepted = [c for c in window if c.ends > cutoff]
            if not required:
                latest = latest_ending_by(upstream, upstream_schedule, cutoff, span.day, calendars)
                required = [latest] if latest is not None else []
        return await self._judge(context, name, upstream_schedule.name, required, accepted, config)

    async def _judge(self, context: RunnerContext, name: str, schedule: str, required: list[CycleRef],
                     accepted: list[CycleRef], config: UpstreamCyclesConfig) -> EvaluatorOutput:
        completed: list[str] = []
        missing: list[str] = []
        states: dict[str, str] = {}
        for cycle in required:
            entry = await context.store.get_run_log(name, cycle.key, schedule)
            if entry is not None and entry.status is RunStatus.COMPLETED:
                completed.append(cycle.key)
            else:
                missing.append(cycle.key)
                states[cycle.key] = entry.status.value if entry is not None else "no run"
        value: dict[str, Any] = {"upstreamPipeline": name, "upstreamSchedule": schedule,
                                 "required": [c.key for c in required], "completed": completed, "missing": missing}
        if accepted:
            value["lagAccepted"] = [c.key for c in accepted]
        lag = f" (maxLag {_lag_text(config.max_lag)})" if config.max_lag else ""
        if not required:
            return EvaluatorOutput(status=PASS, value=value,
                                   reason=f"upstream {name} has no {schedule} cycle this cycle depends on{lag}")
        if missing:
            named = _listed([f"{key} ({states[key]})" for key in missing])
            return EvaluatorOutput(status=FAIL, value=value, reason=f"upstream {name} has not completed "
                                   f"{len(missing)} of {len(required)} {schedule} cycles{lag}: {named}")
        span = required[0].key if len(required) == 1 else f"{required[0].key} … {required[-1].key}"
        return EvaluatorOutput(status=PASS, value=value, reason=f"upstream {name} completed {len(required)} "
                               f"{schedule} cycle{'s' if len(required) != 1 else ''} ({span}){lag}")
