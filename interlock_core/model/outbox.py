"""The alert outbox: one record per alert and sink, written with the event that raised the alert.

A record is PENDING until its sink took it (DELIVERED), its attempts ran out or the sink refused
it for good (FAILED: a dead letter, retried only on request), or an identical alert inside the
sink's ``groupWindow`` took it along (GROUPED, ``groupedInto`` names that one). Records are
ordered by ``id``: an id starts with its creation time in milliseconds, then a counter of this
process, so ids sort in the order alerts were raised.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .base import Record
from .records import Alert, Timestamp

_SEQUENCE = itertools.count()
ID_PATTERN = r"^\d{13}-\d{8}-[0-9a-f]{6}$"


class AlertStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    GROUPED = "grouped"

    @property
    def is_final(self) -> bool:
        return self is not AlertStatus.PENDING


def new_alert_id(now: datetime) -> str:
    """A fresh record id: creation time (ms), this process's counter, a random suffix."""
    millis = max(0, int(now.timestamp() * 1000))
    return f"{millis:013d}-{next(_SEQUENCE) % 10**8:08d}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class AlertClaim:
    """"Alert once": the key of an alert condition, taken (as a lease with a fresh owner) in the
    same store transaction as the alert, and kept ``ttl`` seconds. While it is held, the same
    condition writes nothing."""

    key: str
    ttl: float

    @property
    def lease_key(self) -> str:
        return f"alert:{self.key}"


class AlertRecord(Record):
    """One alert on its way to one sink."""

    id: str
    sink: str
    alert: Alert
    status: AlertStatus = AlertStatus.PENDING
    attempts: int = 0
    """Delivery attempts made so far (an answer "slow down" from the sink does not count)."""
    max_attempts: int = Field(default=5, ge=1)
    created_at: Timestamp
    updated_at: Timestamp
    next_attempt_at: Timestamp
    """When the sender may try next (creation, or the end of the group window, or a backoff)."""
    delivered_at: Timestamp | None = None
    failed_at: Timestamp | None = None
    last_error: str | None = None
    count: int = 1
    """How many identical alerts this record stands for."""
    group_key: str | None = None
    group_window: float | None = None
    """Seconds during which identical alerts join this one (None: no grouping)."""
    grouped_into: str | None = None
    retried: int = 0
    """How often someone sent the dead letter back for delivery."""
    version: int = 1

    @property
    def pipeline_id(self) -> str | None:
        return self.alert.pipeline_id

    def due(self, now: datetime) -> bool:
        return self.status is AlertStatus.PENDING and self.next_attempt_at <= now
