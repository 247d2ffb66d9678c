"""What every part of the engine shares: the store, clock, registries, alerts and wake-ups."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from ..archetypes import ArchetypeRegistry, ResolvedTrait, resolve_traits
from ..calendars import CalendarRegistry
from ..clock import Clock
from ..errors import NotFoundError, PipelineRetired, StoreUnavailable
from ..model import (
    Alert,
    AlertClaim,
    AlertLevel,
    EngineConfig,
    Event,
    EventKind,
    PipelineConfig,
    ReadinessResult,
    RetryPolicy,
    WatcherConfig,
)
from ..outbound import HostPolicy
from ..outbox import SinkPolicy, outbox_records
from ..ports import EvaluatorRunner, Notifier, Store, TriggerType, WakeUp
from ..unit_of_work import CommitResult, EventWrite, TraitWrite, UnitOfWork

log = logging.getLogger("interlock.engine")


class AlertSubmitter(Protocol):
    """Told of every alert once the store has it (the sender delivers it sooner than its next
    look at the outbox). One offering ``submit_unrecorded`` is handed the alerts the store could
    not take, to deliver from memory; otherwise those go to ``submit`` too."""

    def submit(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class Recording:
    """An event to record in a commit, with the alert it raised and the claim that makes that alert
    once (the event is recorded whether or not the claim is taken)."""

    event: Event
    alert: Alert | None = None
    claim: AlertClaim | None = None


class NullAlerts:
    def submit(self, alert: Alert) -> None:
        log.debug("alert raised: %s", alert.message)


@dataclass
class TriggerRegistry:
    """Trigger type classes by name; instances created on first use and closed with the engine.
    ``classes`` may import a class when it is looked up (a plugin registry's view)."""

    classes: Mapping[str, Any]
    factory: Callable[[Any], TriggerType]
    _instances: dict[str, TriggerType] = field(default_factory=dict)

    def get(self, name: str) -> TriggerType:
        if name not in self._instances:
            if name not in self.classes:
                raise NotFoundError(f"unknown trigger type {name!r}", triggerType=name)
            self._instances[name] = self.factory(self.classes[name])
        return self._instances[name]

    def cls(self, name: str) -> Any:
        if name not in self.classes:
            raise NotFoundError(f"unknown trigger type {name!r}", triggerType=name)
        return self.classes[name]

    async def aclose(self) -> None:
        for instance in self._instances.values():
            close = getattr(instance, "close", None)
            if close is not None:
                await close()
        self._instances.clear()


@dataclass
class EngineContext:
    store: Store
    clock: Clock
    archetypes: ArchetypeRegistry
    calendars: CalendarRegistry
    runners: MutableSequence[EvaluatorRunner]
    triggers: TriggerRegistry
    alerts: AlertSubmitter
    notifier: Notifier
    alert_sinks: tuple[SinkPolicy, ...] = ()
    """The sinks every alert goes to (one outbox record each)."""
    config: EngineConfig = field(default_factory=EngineConfig)
    watcher: WatcherConfig = field(default_factory=WatcherConfig)
    owner: str = field(default_factory=lambda: f"engine-{uuid.uuid4().hex[:12]}")
    callback_base_url: str | None = None
    api_allowed_env: frozenset[str] = frozenset()
    """The environment variables a pipeline registered over the API may name (``api.allowedEnv``)."""
    evaluator_dirs: tuple[Path, ...] = ()
    outbound: HostPolicy = field(default_factory=HostPolicy)
    """The outbound host policy (``outbound:``), for what registration checks of an API pipeline."""
    on_event: Callable[[Event], Awaitable[None]] | None = None
    wake_listeners: list[Callable[[WakeUp], None]] = field(default_factory=list)

    # ------------------------------------------------------------------------------ lookups
    async def pipeline(self, pipeline_id: str) -> PipelineConfig:
        pipeline = await self.store.get_pipeline(pipeline_id)
        if pipeline is None:
            raise NotFoundError(f"pipeline {pipeline_id!r} not found", pipelineId=pipeline_id)
        return pipeline

    async def live_pipeline(self, pipeline_id: str) -> PipelineConfig:
        """The pipeline, for a caller that would act on it (evaluate, push, run, rerun): a retired
        pipeline is refused with :class:`PipelineRetired`."""
        pipeline = await self.pipeline(pipeline_id)
        if pipeline.retired:
            raise PipelineRetired(pipeline.name, pipeline.retired_at)
        return pipeline

    def traits_of(self, pipeline: PipelineConfig) -> list[ResolvedTrait]:
        return resolve_traits(self.archetypes.get(pipeline.archetype), pipeline)

    def retry_policy(self, pipeline: PipelineConfig) -> RetryPolicy:
        return pipeline.retry_policy

    def interval(self, pipeline: PipelineConfig) -> timedelta:
        if pipeline.watch is not None and pipeline.watch.interval is not None:
            return pipeline.watch.interval
        return self.watcher.default_interval

    # ------------------------------------------------------------------------------ effects
    def event(self, kind: EventKind, pipeline_id: str, **fields: Any) -> Event:
        """An event (``None`` fields left out; ``timestamp``: when it happened, if not now), to record
        with :meth:`record_event` or hand to :meth:`alert` / :meth:`alert_once` as the event that
        raised the alert."""
        at = fields.pop("timestamp", None) or self.clock.now()
        return Event(kind=kind, pipeline_id=pipeline_id, timestamp=at,
                     **{k: v for k, v in fields.items() if v is not None})

    async def emit(self, kind: EventKind, pipeline_id: str, *, alert: Alert | None = None, **fields: Any) -> None:
        """Record an event; with the ``alert`` it raised (:meth:`make_alert`), in the same store write."""
        await self.record_event(self.event(kind, pipeline_id, **fields), alert=alert)

    async def record_event(self, event: Event, *, alert: Alert | None = None) -> None:
        await self._write(event, alert, None)

    def make_alert(self, level: AlertLevel, message: str, pipeline_id: str | None = None, *,
                   trait_type: str | None = None, details: dict[str, Any] | None = None, key: str | None = None,
                   schedule_id: str | None = None, date: str | None = None) -> Alert:
        """An alert of now, through the one redaction pass (no sink sees a secret a trait reason, a
        failure message or a detail quoted)."""
        from ..redaction import redact, redact_text  # imported by the first alert: reading state raises none

        return Alert(level=level, message=redact_text(message), pipeline_id=pipeline_id, trait_type=trait_type,
                     details=redact(details) if details else details, timestamp=self.clock.now(), key=key,
                     schedule_id=schedule_id, date=date)

    async def alert(self, level: AlertLevel, message: str, pipeline_id: str | None = None, *,
                    event: Event | None = None, **kwargs: Any) -> None:
        """Raise an alert: into the store's alert outbox (one record per sink), with ``event`` when
        given, in one write; the sender delivers it."""
        await self._write(event, self.make_alert(level, message, pipeline_id, **kwargs), None)

    async def alert_once(self, key: str, level: AlertLevel, message: str, pipeline_id: str | None = None,
                         *, ttl: timedelta = timedelta(days=8), event: Event | None = None,
                         event_always: bool = False, **kwargs: Any) -> bool:
        """Alert unless an alert with ``key`` was already raised (across every engine on the store):
        the claim, the alert and ``event`` are one store write, so either all are kept or none.
        ``event_always``: ``event`` is recorded even when the claim is held (only the alert is
        once). True when this call raised the alert."""
        alert = self.make_alert(level, message, pipeline_id, key=key, **kwargs)
        claimed = await self._write(event, alert, AlertClaim(key, ttl.total_seconds()))
        if not claimed and event_always and event is not None:
            await self.record_event(event)
        return claimed

    async def _write(self, event: Event | None, alert: Alert | None, claim: AlertClaim | None) -> bool:
        records = outbox_records(alert, self.alert_sinks, self.clock.now()) if alert is not None else []
        try:
            if claim is None and event is not None:
                await self.store.append_event(event, records)
                written = True
            elif claim is None and not records:
                written = True  # an alert with no sink configured: nothing to keep
            else:
                written = await self.store.record_alerts(records, event=event, claim=claim)
        except StoreUnavailable:
            if alert is not None:
                # the write may have happened and only its answer been lost, or not: deliver from
                # memory now (a duplicate later is better than silence)
                fallback = getattr(self.alerts, "submit_unrecorded", None)
                (fallback or self.alerts.submit)(alert)
            raise
        if not written:
            return False
        if alert is not None:
            self.alerts.submit(alert)
        if event is not None and self.on_event is not None:
            await self.on_event(event)
        return True

    async def commit(self, *, traits: Sequence[TraitWrite] = (), events: Sequence[Recording] = (),
                     readiness: ReadinessResult | None = None, readiness_ttl: float | None = None) -> CommitResult:
        """Write trait rows, events (each with its alert's outbox records and claim) and the
        readiness cache in one store commit; then hand the alerts it kept to the sender and the
        events to ``on_event``, as :meth:`record_event` and :meth:`alert_once` do one by one."""
        now = self.clock.now()
        writes = [EventWrite(r.event, outbox_records(r.alert, self.alert_sinks, now) if r.alert else (), r.claim)
                  for r in events]
        work = UnitOfWork(traits=tuple(traits), events=writes, readiness=readiness, readiness_ttl=readiness_ttl)
        try:
            result = await self.store.commit(work)
        except StoreUnavailable:
            fallback = getattr(self.alerts, "submit_unrecorded", None)
            for recording in events:
                if recording.alert is not None:
                    (fallback or self.alerts.submit)(recording.alert)
            raise
        for recording, kept in zip(events, result.claimed, strict=False):
            if kept and recording.alert is not None:
                self.alerts.submit(recording.alert)
        if self.on_event is not None:
            for recording in events:
                await self.on_event(recording.event)
        return result

    async def wake(self, pipeline_id: str, reason: str, schedule_id: str | None = None,
                   date: str | None = None) -> None:
        wake = WakeUp(pipeline_id=pipeline_id, reason=reason, schedule_id=schedule_id, date=date,
                      at=self.clock.now())
        for listener in self.wake_listeners:  # watchers in this process react without a round trip
            listener(wake)
        try:
            await self.notifier.publish(wake)
        except Exception:  # a lost wake-up is harmless: intervals cover every pipeline
            log.warning("could not publish wake-up for %s", pipeline_id, exc_info=True)
