"""Reading the JSON the state machine hands to a handler.

Keys are camelCase (``pipelineId``, ``scheduleId``, ``rerunId``); the predecessor's spellings
(``pipelineID``, ``scheduleID``, ``rerunID``) are accepted in an execution's input so existing
callers keep working. A missing or malformed field is a :class:`ValidationError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlock_core.dates import check_run_date
from interlock_core.engine.steps import CycleRef
from interlock_core.errors import ValidationError


def mapping(event: Any, what: str = "event") -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise ValidationError(f"{what} must be a JSON object, not {type(event).__name__}", field=what)
    return event


def text(data: Mapping[str, Any], *names: str, required: bool = True) -> str | None:
    """The first non-empty string among ``names``."""
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{name} must be a string", field=name)
    if required:
        raise ValidationError(f"{names[0]} is required", field=names[0])
    return None


def run_date(data: Mapping[str, Any], name: str = "date", *, required: bool = True) -> str | None:
    """A cycle date: ``YYYY-MM-DD`` and a real calendar day, or a ValidationError naming it."""
    value = text(data, name, required=required)
    return None if value is None else check_run_date(value, name)


def flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def optional_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValidationError(f"{name} must be an integer", field=name)
    return int(value)


def owner(event: Mapping[str, Any]) -> str:
    """Who holds the cycle lease: the execution's name."""
    name = text(event, "owner")
    assert name is not None
    return name


def request(event: Mapping[str, Any]) -> dict[str, Any]:
    """What an execution's input asks for: pipeline, schedule, date, replay, rerun."""
    data = mapping(event.get("input", event), "input")
    rerun_id = text(data, "rerunId", "rerunID", required=False)
    return {
        "pipeline_id": text(data, "pipelineId", "pipelineID", required=rerun_id is None) or "",
        "schedule_id": text(data, "scheduleId", "scheduleID", required=False),
        "date": run_date(data, required=False),
        "replay": flag(data, "replay"),
        "rerun_id": rerun_id,
    }


def cycle(event: Mapping[str, Any]) -> CycleRef:
    """The resolved cycle every step after the first carries under ``cycle``."""
    data = mapping(event.get("cycle"), "cycle")
    pipeline_id, schedule_id, date = text(data, "pipelineId"), text(data, "scheduleId"), run_date(data)
    assert pipeline_id is not None and schedule_id is not None and date is not None
    return CycleRef(pipeline_id, schedule_id, date, replay=flag(data, "replay"),
                    rerun_id=text(data, "rerunId", required=False))


def run_id(event: Mapping[str, Any]) -> str:
    value = text(event, "runId")
    assert value is not None
    return value
