"""A campaign world: one project on disk, one store (SQLite file or Redis prefix), several
engines on it — each with its own store connection, fault injector, watcher and alert
dispatcher — a fake clock, and everything the invariants need to look at."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from interlock_core.alerts import AlertDispatcher
from interlock_core.clock import FakeClock
from interlock_core.config import Project, load_project
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.errors import InterlockError
from interlock_core.model import Alert, Event, EventKind, PipelineConfig, ScheduleConfig
from interlock_core.plugins import load_plugins
from interlock_core.watcher import Watcher
from interlock_plugins.stores.sqlite import SQLiteStore
from tests.helpers.backends import REDIS_URL

from . import plugin
from .faults import FaultyStore, MemorySink, RecordingAlerts
from .leases import FakeTimeLeaseRedisStore
from .oracle import new_decision

START = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # a Friday; New York springs forward on Sunday the 8th

ARCHETYPE = {
    "name": "safety-archetype",
    "requiredTraits": [{"type": "a", "defaultTtl": 3600}, {"type": "b", "defaultTtl": 3600},
                       {"type": "c", "defaultTtl": 7200}],
    "optionalTraits": [{"type": "q"}],
    "readinessRule": {"type": "all-required-pass"},
}
CALENDARS = [{"name": "weekends", "days": ["Saturday", "Sunday"]},
             {"name": "holidays", "dates": ["2026-03-09", "2026-11-02", "2026-11-03"]}]


@dataclass
class Slot:
    """One engine: its connection to the store, its watcher, its alert dispatcher."""

    name: str
    engine: Engine
    store: FaultyStore
    watcher: Watcher
    dispatcher: AlertDispatcher
    sink: MemorySink


@dataclass
class Tick:
    """A watcher tick that ran to the end: the cycle, when, and the pipeline as the tick saw it."""

    pipeline: PipelineConfig
    schedule: ScheduleConfig
    at: datetime


class World:
    def __init__(self, root: Path, backend: str, *, evaluator: str = "safety") -> None:
        self.root = root.absolute()
        self.backend = backend
        self.evaluator = evaluator
        self.clock = FakeClock(START)
        self.behaviour = plugin.Behaviour(clock=self.clock)
        plugin.BEHAVIOURS[str(self.root)] = self.behaviour
        self.prefix = f"safety:{uuid.uuid4().hex}:"
        self.submitted: list[Alert] = []
        self.failed_alerts: list[Alert] = []
        self.events: list[Event] = []
        self.ticks: dict[tuple[str, str], list[Tick]] = {}
        self.slots: list[Slot] = []
        self.retired: list[Slot] = []
        self.configs: dict[str, tuple[PipelineConfig, datetime]] = {}
        self.history: dict[str, list[tuple[datetime, PipelineConfig]]] = {}
        self.unexpected: list[str] = []
        self.serial = 0
        self.project: Project | None = None
        self.sensors = self.root.parent / "sensors"
        if evaluator == "subprocess":  # the sensor evaluator reads its answers from files here
            self.sensors.mkdir(parents=True, exist_ok=True)
            self._sensors_env = os.environ.get("INTERLOCK_TEST_SENSORS")  # put back by close()
            os.environ["INTERLOCK_TEST_SENSORS"] = str(self.sensors)
            for name in ("p1", "p2", "p3"):
                for trait in ("a", "b", "c", "q"):
                    (self.sensors / f"{name}.{trait}").write_text("PASS")
        self.observer: Any = None

    # ------------------------------------------------------------------------------ set-up
    def _write_project(self) -> None:
        (self.root / "archetypes").mkdir(parents=True, exist_ok=True)
        (self.root / "pipelines").mkdir(exist_ok=True)
        (self.root / "calendars").mkdir(exist_ok=True)
        (self.root / "archetypes" / "safety.yaml").write_text(yaml.safe_dump(ARCHETYPE))
        for calendar in CALENDARS:
            (self.root / "calendars" / f"{calendar['name']}.yaml").write_text(yaml.safe_dump(calendar))
        config = {"provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "alerts": [],
                  "engine": {"runLease": "5m"}, "watcher": {"defaultInterval": "30s"}}
        config["evaluatorEnv"] = ["INTERLOCK_TEST_SENSORS"]  # what the sensor evaluator reads
        (self.root / "interlock.yaml").write_text(yaml.safe_dump(config))

    def _store(self) -> Any:
        if self.backend == "redis":
            return FakeTimeLeaseRedisStore(url=REDIS_URL, key_prefix=self.prefix, clock=self.clock)
        return SQLiteStore(self.root / "interlock.db", clock=self.clock, retention=None)

    async def start(self, engines: int = 2) -> None:
        self._write_project()
        self.project = load_project(self.root, plugins=load_plugins(extra=[plugin]))
        self.observer = self._store()
        await self.observer.start()
        self.behaviour.observer = self.observer
        for _ in range(engines):
            await self.add_engine()

    async def add_engine(self) -> Slot:
        assert self.project is not None
        self.serial += 1
        name = f"engine-{self.serial}"
        store = FaultyStore(self._store())
        sink = MemorySink()
        holder: dict[str, Engine] = {}

        async def on_failure(alert: Alert, sink_name: str, exc: Exception) -> None:
            self.failed_alerts.append(alert)
            if alert.pipeline_id and "engine" in holder:
                try:
                    await holder["engine"].ctx.emit(EventKind.ALERT_FAILED, alert.pipeline_id,
                                                    message=f"alert to {sink_name} failed: {exc}")
                except InterlockError:
                    pass

        dispatcher = AlertDispatcher([("memory", sink)], clock=self.clock, retries=2, backoff=0,
                                     on_failure=on_failure)
        engine = build_engine(self.project, clock=self.clock, store=store,  # type: ignore[arg-type]
                              alerts=RecordingAlerts(dispatcher, self.submitted),
                              evaluator_options={"safety": self.behaviour})
        holder["engine"] = engine
        engine.ctx.owner = name
        engine.ctx.on_event = self._on_event
        await start_engine(engine, self.project, sync_pipelines=False)
        self._instrument(engine)
        slot = Slot(name, engine, store, Watcher(engine), dispatcher, sink)
        self.slots.append(slot)
        return slot

    async def _on_event(self, event: Event) -> None:
        self.events.append(event)

    def _instrument(self, engine: Engine) -> None:
        """Each tick decides on its own; a tick that ran to the end is noted; an error that is not
        one of Interlock's own (which the watcher would only log) is a finding."""
        original = engine.cycles.tick

        async def tick(pipeline: PipelineConfig, schedule: ScheduleConfig) -> Any:
            new_decision()
            at = self.clock.now()
            try:
                outcome = await original(pipeline, schedule)
            except InterlockError:
                raise
            except Exception as exc:
                self.unexpected.append(f"tick {pipeline.name}/{schedule.name}: {type(exc).__name__}: {exc!r}")
                raise
            self.ticks.setdefault((pipeline.name, schedule.name), []).append(Tick(pipeline, schedule, at))
            return outcome

        engine.cycles.tick = tick  # type: ignore[method-assign]
        woken_day = engine.cycles.woken_day

        async def woken(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str) -> Any:
            new_decision()  # a past day a wake-up named is started on its own evaluation, like a tick
            return await woken_day(pipeline, schedule, day)

        engine.cycles.woken_day = woken  # type: ignore[method-assign]

    async def drop_engine(self, slot: Slot) -> Slot:
        """The engine's process is gone: close what it held and start a fresh one on the store."""
        self.slots.remove(slot)
        slot.store.heal()
        await slot.dispatcher.deliver_pending()
        await slot.engine.aclose()
        self.retired.append(slot)
        return await self.add_engine()

    async def refresh_config(self, name: str) -> None:
        """What the store holds for ``name`` now (a registration may have failed half-way)."""
        stored: PipelineConfig | None = await self.observer.get_pipeline(name)
        if stored is None:
            return
        current = self.configs.get(name)
        if current is None or current[0] != stored:
            self.configs[name] = (stored, self.clock.now())
            self.history.setdefault(name, []).append((self.clock.now(), stored))
            traits = {t: cfg for t, cfg in stored.traits.items()}
            self.behaviour.traits[name] = [(t, not (traits.get(t) and traits[t].evaluator)) for t in ("a", "b", "c")]

    def configs_at(self, name: str, when: datetime) -> list[PipelineConfig]:
        """Every configuration of ``name`` that may have been in force at ``when``: the one from
        before ``when`` and each one stored at ``when`` itself. The clock is fake and steps do not
        move it, so what the engine did at ``when`` may have come before or after a change stored
        at the same instant (a drift rerun asked for by one step's watcher pass, then the pipeline
        altered by the next)."""
        before = [config for since, config in self.history.get(name, []) if since < when]
        at = [config for since, config in self.history.get(name, []) if since == when]
        return before[-1:] + at

    def set_evaluator(self, name: str, trait: str, outcome: str) -> None:
        self.behaviour.evaluators[(name, trait)] = outcome
        if self.evaluator == "subprocess":
            text = {"pass": "PASS", "fail": "FAIL injected", "timeout": "HANG", "crash": "CRASH",
                    "bad": "BADJSON"}[outcome]
            (self.sensors / f"{name}.{trait}").write_text(text)

    async def close(self) -> None:
        for slot in [*self.slots]:
            slot.store.heal()
            await slot.dispatcher.aclose()
            await slot.engine.aclose()
        self.slots.clear()
        for slot in self.retired:
            await slot.dispatcher.aclose()
        if self.observer is not None:
            if self.backend == "redis":
                await self.observer.purge()
            await self.observer.close()
        plugin.BEHAVIOURS.pop(str(self.root), None)
        if self.evaluator == "subprocess":  # the next test in this process sees the environment it had
            if self._sensors_env is None:
                os.environ.pop("INTERLOCK_TEST_SENSORS", None)
            else:
                os.environ["INTERLOCK_TEST_SENSORS"] = self._sensors_env
