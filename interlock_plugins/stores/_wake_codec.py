"""Wake-ups as JSON text, the same for every channel that carries them between processes
(Redis pub/sub, the SQLite store's wake-up table)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from interlock_core.model import format_timestamp
from interlock_core.ports import WakeUp

__all__ = ["decode_wake_up", "encode_wake_up"]

log = logging.getLogger(__name__)


def encode_wake_up(wake: WakeUp) -> str:
    body: dict[str, Any] = {"pipelineId": wake.pipeline_id, "reason": wake.reason}
    if wake.schedule_id is not None:
        body["scheduleId"] = wake.schedule_id
    if wake.date is not None:
        body["date"] = wake.date
    if wake.at is not None:
        body["at"] = format_timestamp(wake.at)
    return json.dumps(body, separators=(",", ":"))


def decode_wake_up(data: str | bytes) -> WakeUp | None:
    """The wake-up in a message, or None (logged) when the message is not one."""
    try:
        body = json.loads(data)
        pipeline_id = body["pipelineId"]
        if not isinstance(pipeline_id, str) or not pipeline_id:
            raise ValueError("pipelineId must be a non-empty string")
        at = body.get("at")
        return WakeUp(
            pipeline_id=pipeline_id,
            reason=str(body.get("reason") or ""),
            schedule_id=_optional_str(body.get("scheduleId")),
            date=_optional_str(body.get("date")),
            at=_utc(datetime.fromisoformat(at)) if isinstance(at, str) else None,
        )
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring malformed wake-up message %.200r: %s", data, exc)
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
