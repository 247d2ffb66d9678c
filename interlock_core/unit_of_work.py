"""The store's batch operations: what one call reads, and what one commit writes.

An evaluation reads the state it builds on in one call (:class:`PipelineRecords`) and records
its trait rows, its events (each with the alerts it raised and their "alert once" claim) and the
readiness cache in one commit (:class:`UnitOfWork`): one transaction on SQLite, one script on
Redis, one ``TransactWriteItems`` on DynamoDB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .model import (
    AlertClaim,
    AlertRecord,
    Event,
    PipelineConfig,
    ReadinessResult,
    RerunRecord,
    RunLogEntry,
    RunState,
    TraitEvaluation,
)

CycleKey = tuple[str, str, str]
"""(pipeline id, date, schedule id) of one cycle's run log."""


@dataclass(frozen=True)
class TraitWrite:
    """A trait row to write. ``unless_pushed_after``: the row is left as it is when the stored one
    is a pushed result (``source == "pushed"``) evaluated after that instant — an evaluator's verdict
    never overwrites a result pushed after its evaluation started."""

    evaluation: TraitEvaluation
    ttl: float | None
    unless_pushed_after: datetime | None = None


@dataclass(frozen=True)
class EventWrite:
    """An event, the outbox records of the alert it raised, and the claim guarding that alert.
    The event is written in any case; the alerts only when ``claim`` is None or taken now."""

    event: Event
    alerts: Sequence[AlertRecord] = ()
    claim: AlertClaim | None = None


@dataclass(frozen=True)
class UnitOfWork:
    """What one commit writes, all of it or none of it: trait rows, events in this order, the
    readiness cache."""

    traits: Sequence[TraitWrite] = ()
    events: Sequence[EventWrite] = ()
    readiness: ReadinessResult | None = None
    readiness_ttl: float | None = None

    @property
    def durable(self) -> bool:
        """Whether the commit carries a claim or an alert (a store syncs those to disk)."""
        return any(e.claim is not None or e.alerts for e in self.events)


@dataclass(frozen=True)
class CommitResult:
    """``skipped``: trait types left as stored (a newer push); ``claimed``: per event write, whether
    its alerts were kept (no claim, or the claim taken)."""

    skipped: frozenset[str] = frozenset()
    claimed: tuple[bool, ...] = ()


@dataclass(frozen=True)
class PipelineRecords:
    """One pipeline's stored state read in one call: its live trait rows by type, its readiness
    cache, and the run logs of the cycles asked for, by (date, schedule id)."""

    traits: Mapping[str, TraitEvaluation] = field(default_factory=dict)
    readiness: ReadinessResult | None = None
    run_logs: Mapping[tuple[str, str], RunLogEntry] = field(default_factory=dict)
    pipeline: PipelineConfig | None = None
    """With ``config``: the stored configuration (None when it is absent, or when its version is the
    ``known_version`` the caller holds)."""
    config_version: str | None = None
    """With ``config``: the stored configuration's version (a digest of what is stored, changing with
    every change of it); None when the pipeline is not stored."""
    reruns: Sequence[RerunRecord] = ()
    """With ``history``: the pipeline's newest reruns, newest first (as :meth:`Store.list_reruns`)."""
    latest_run: RunState | None = None
    """With ``history``: the pipeline's newest run (as the first of :meth:`Store.list_runs`)."""
    runs: Mapping[str, RunState] = field(default_factory=dict)
    """With ``history``: by run id, the runs the returned run logs name and the runs the returned reruns
    of the cycles asked for name (``rerunRunId``), as :meth:`Store.get_run` answers them."""


_VERSIONS: dict[str | bytes, str] = {}
"""Digests of stored configurations seen lately, by their text (a readiness GET reads the same one
on every request: the text is compared, not digested again)."""
_VERSIONS_MAX = 1024


def config_version(stored: str | bytes) -> str:
    """The version of a stored pipeline configuration: a digest of its stored text (what
    :attr:`PipelineRecords.config_version` answers; every store computes it so)."""
    version = _VERSIONS.get(stored)
    if version is None:
        version = hashlib.sha1(stored if isinstance(stored, bytes) else stored.encode(),
                               usedforsecurity=False).hexdigest()
        if len(_VERSIONS) >= _VERSIONS_MAX:
            _VERSIONS.clear()
        _VERSIONS[stored] = version
    return version


def may_overwrite(stored: TraitEvaluation | None, write: TraitWrite) -> bool:
    """Whether ``write`` may replace ``stored`` (its ``unless_pushed_after`` condition)."""
    if stored is None or write.unless_pushed_after is None or stored.source != "pushed":
        return True
    return stored.evaluated_at <= write.unless_pushed_after


__all__ = ["CommitResult", "CycleKey", "EventWrite", "PipelineRecords", "TraitWrite", "UnitOfWork", "config_version",
           "may_overwrite"]
