"""The alert outbox page: dead letters first (with a button to send one again), then the alerts on
their way, then the latest delivered. Messages and errors are masked before a template sees them."""

from __future__ import annotations

from dataclasses import dataclass

from interlock_core.engine import Engine
from interlock_core.model import AlertRecord, AlertStatus
from interlock_core.redaction import redact_text

SHOWN = 50


@dataclass(frozen=True)
class AlertOutbox:
    failed: list[AlertRecord]
    pending: list[AlertRecord]
    delivered: list[AlertRecord]


def _masked(record: AlertRecord) -> AlertRecord:
    alert = record.alert.model_copy(update={"message": redact_text(record.alert.message)})
    error = redact_text(record.last_error) if record.last_error else None
    return record.model_copy(update={"alert": alert, "last_error": error})


async def alert_outbox(engine: Engine) -> AlertOutbox:
    async def listed(status: AlertStatus) -> list[AlertRecord]:
        return [_masked(r) for r in await engine.list_alerts(status, limit=SHOWN)]

    return AlertOutbox(await listed(AlertStatus.FAILED), await listed(AlertStatus.PENDING),
                       await listed(AlertStatus.DELIVERED))
