"""What every part of the engine shares: the store, clock, registries, alerts and wake-ups."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from ..archetypes import ArchetypeRegistry, ResolvedTrait, resolve_traits
from ..calendars import CalendarRegistry
from ..clock import Clock
from ..errors import NotFoundError, PipelineRetired, StoreUnavailable
from ..model import Alert, AlertLevel, EngineConfig, Event, EventKind, PipelineConfig, RetryPolicy, WatcherConfig
from ..outbound import HostPolicy
from ..ports import EvaluatorRunner, Notifier, Store, TriggerType, WakeUp
from ..redaction import redact, redact_text

log = logging.getLogger("interlock.engine")


class AlertSubmitter(Protocol):
    def submit(self, alert: Alert) -> None: ...


class NullAlerts:
    def submit(self, alert: Alert) -> None:
        log.debug("alert dropped (no sinks): %s", alert.message)


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
    runners: list[EvaluatorRunner]
    triggers: TriggerRegistry
    alerts: AlertSubmitter
    notifier: Notifier
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
    async def emit(self, kind: EventKind, pipeline_id: str, **fields: Any) -> None:
        """Record an event (``timestamp``: when it happened, if not now)."""
        at = fields.pop("timestamp", None) or self.clock.now()
        event = Event(kind=kind, pipeline_id=pipeline_id, timestamp=at,
                      **{k: v for k, v in fields.items() if v is not None})
        await self.store.append_event(event)
        if self.on_event is not None:
            await self.on_event(event)

    def alert(self, level: AlertLevel, message: str, pipeline_id: str | None = None, *,
              trait_type: str | None = None, details: dict[str, Any] | None = None,
              key: str | None = None) -> None:
        """Queue an alert for every sink, through the one redaction pass (no sink sees a secret a
        trait reason, a failure message or a detail quoted)."""
        self.alerts.submit(Alert(level=level, message=redact_text(message), pipeline_id=pipeline_id,
                                 trait_type=trait_type, details=redact(details) if details else details,
                                 timestamp=self.clock.now(), key=key))

    async def alert_once(self, key: str, level: AlertLevel, message: str, pipeline_id: str | None = None,
                         *, ttl: timedelta = timedelta(days=8), **kwargs: Any) -> bool:
        """Alert unless an alert with ``key`` was already sent (across every engine on the store)."""
        try:
            claimed = await self.store.acquire_lease(f"alert:{key}", uuid.uuid4().hex, ttl.total_seconds())
        except StoreUnavailable:
            # the claim may have been written and only its reply lost: it would then suppress this
            # alert for ever, so alert now (a duplicate later is better than silence)
            self.alert(level, message, pipeline_id, key=key, **kwargs)
            raise
        if claimed:
            self.alert(level, message, pipeline_id, key=key, **kwargs)
        return claimed

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
