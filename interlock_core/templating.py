"""``${NAME}`` expansion: environment variables in config, run variables in triggers.

``${NAME}`` and ``${NAME:-default}`` are replaced; ``$${`` stands for a literal ``${``.
Run variables (``${date}``, ``${cycle}``, ``${hour}``, ``${minute}``, ``${scheduleID}``,
``${pipelineID}``, ``${runId}``, ``${runKey}``, ``${attempt}``, ``${callbackURL}``, ``${degraded}``) are
known to every trigger; anything else must come from the environment. ``${cycle}`` is the cycle key (the
date, or ``YYYY-MM-DDTHH:MM`` for a sub-daily cron schedule), ``${date}`` always its date, and
``${hour}``/``${minute}`` a sub-daily cycle's fire time (``${hour}`` of a daily cycle: the hour of
a schedule named ``hNN``, else empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::-([^}]*))?\}")

RUN_VARIABLES = frozenset({"date", "cycle", "hour", "minute", "scheduleID", "scheduleId", "pipelineID", "pipelineId",
                           "runId", "runID", "runKey", "attempt", "callbackURL", "callbackUrl", "degraded"})


class MissingVariable(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def references(text: str) -> list[tuple[str, bool]]:
    """The ``(name, has_default)`` pairs referenced by ``text``."""
    return [(m.group(1), m.group(2) is not None) for m in _REF.finditer(text) if m.group(1)]


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand references in ``text``; raise :class:`MissingVariable` for an unknown name without default."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        value = lookup(name)
        if value is None:
            if default is None:
                raise MissingVariable(name)
            return default
        return value

    return _REF.sub(repl, text)


def expand_tree(value: Any, lookup: Callable[[str], str | None]) -> Any:
    """Expand every string inside nested dicts and lists."""
    if isinstance(value, str):
        return expand(value, lookup)
    if isinstance(value, Mapping):
        return {k: expand_tree(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_tree(v, lookup) for v in value]
    return value


def run_variables(pipeline_id: str, schedule_id: str, date: str, run_id: str = "", run_key: str = "",
                  attempt: int = 1, callback_url: str = "", *, degraded: bool = False) -> dict[str, str]:
    """The run variables of one launch. ``callbackURL`` is the run's completion URL
    (``…/api/runs/<runId>/complete``) when the server knows its own address, else empty;
    ``degraded`` is ``true`` when the job runs although its cycle was not ready (``onDeadline: trigger``)."""
    hour = schedule_id[1:] if schedule_id.startswith("h") and schedule_id[1:].isdigit() else ""
    cycle, minute = date, ""
    if len(cycle) == 16 and cycle[10] == "T":  # a sub-daily cycle: YYYY-MM-DDTHH:MM
        date, hour, minute = cycle[:10], cycle[11:13], cycle[14:16]
    return {
        "date": date,
        "cycle": cycle,
        "hour": hour,
        "minute": minute,
        "scheduleID": schedule_id,
        "scheduleId": schedule_id,
        "pipelineID": pipeline_id,
        "pipelineId": pipeline_id,
        "runId": run_id,
        "runID": run_id,
        "runKey": run_key,
        "attempt": str(attempt),
        "callbackURL": callback_url,
        "callbackUrl": callback_url,
        "degraded": "true" if degraded else "false",
    }


def chain_lookup(*sources: Mapping[str, str]) -> Callable[[str], str | None]:
    def lookup(name: str) -> str | None:
        for source in sources:
            if name in source:
                return source[name]
        return None

    return lookup
