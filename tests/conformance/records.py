"""Record factories for the store conformance suite: valid records with every field settable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from interlock_core.model import (
    CascadeMarker,
    Event,
    EventKind,
    PipelineConfig,
    ReadinessResult,
    ReadinessStatus,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    TraitEvaluation,
)

Advance = Callable[[float], Awaitable[None]]
"""``await advance(seconds)``: let that much time pass for the store under test."""

OpenStore = Callable[..., Awaitable[Any]]
"""``await open_store()``: another started store on the same backend as ``store`` (the same file,
key prefix or table, as a second process or replica opens it); ``await open_store(fresh=True)``:
one on a new, empty backend. The fixture closes (and cleans up) what it opened."""

CONCURRENCY = 50
"""Concurrent writers in the race cases: exactly one of them wins."""

DAY = "2026-02-20"
"""The cycle date of the rerun-budget and breaker cases."""

BASE = datetime(2026, 3, 2, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float = 0.0) -> datetime:
    return BASE + timedelta(seconds=seconds)


def pipeline(name: str, archetype: str = "batch-ingestion", **fields: Any) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": name, "archetype": archetype, **fields})


def trait(pipeline_id: str, trait_type: str, status: str = "PASS", **fields: Any) -> TraitEvaluation:
    fields.setdefault("evaluated_at", at())
    return TraitEvaluation(pipeline_id=pipeline_id, trait_type=trait_type, status=status, **fields)


def readiness(
    pipeline_id: str, status: ReadinessStatus = ReadinessStatus.READY, **fields: Any
) -> ReadinessResult:
    fields.setdefault("evaluated_at", at())
    return ReadinessResult(pipeline_id=pipeline_id, status=status, **fields)


def run(
    run_id: str,
    pipeline_id: str = "ct-pipe",
    status: RunStatus = RunStatus.PENDING,
    version: int = 1,
    created: float = 0.0,
    **fields: Any,
) -> RunState:
    fields.setdefault("created_at", at(created))
    fields.setdefault("updated_at", at(created))
    return RunState(run_id=run_id, pipeline_id=pipeline_id, status=status, version=version, **fields)


def run_log(
    pipeline_id: str,
    date: str,
    schedule_id: str = "daily",
    status: RunStatus = RunStatus.RUNNING,
    version: int = 1,
    started: float = 0.0,
    **fields: Any,
) -> RunLogEntry:
    fields.setdefault("started_at", at(started))
    fields.setdefault("updated_at", at(started))
    return RunLogEntry(
        pipeline_id=pipeline_id, date=date, schedule_id=schedule_id, status=status, version=version, **fields
    )


def rerun(
    rerun_id: str,
    pipeline_id: str = "ct-rerun-pipe",
    status: RunStatus = RunStatus.PENDING,
    version: int = 1,
    requested: float = 0.0,
    **fields: Any,
) -> RerunRecord:
    fields.setdefault("original_date", "2026-02-20")
    fields.setdefault("reason", "late data")
    fields.setdefault("requested_at", at(requested))
    return RerunRecord(rerun_id=rerun_id, pipeline_id=pipeline_id, status=status, version=version, **fields)


def event(
    pipeline_id: str, kind: EventKind = EventKind.TRAIT_EVALUATED, seconds: float = 0.0, **fields: Any
) -> Event:
    fields.setdefault("timestamp", at(seconds))
    return Event(kind=kind, pipeline_id=pipeline_id, **fields)


def marker(pipeline_id: str, date: str, source: str, schedule_id: str = "daily") -> CascadeMarker:
    return CascadeMarker(
        pipeline_id=pipeline_id, schedule_id=schedule_id, date=date, source=source, timestamp=at()
    )


def engine_ctx(store: Any) -> Any:
    """The engine context the engine's own readers (budgets, inputs) need: only its store."""
    return SimpleNamespace(store=store)
