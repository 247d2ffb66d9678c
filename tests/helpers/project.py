"""Build real projects on disk for engine and watcher tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interlock_core.clock import Clock, FakeClock
from interlock_core.config import load_project
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.model import Alert

SENSOR = str(Path(__file__).with_name("sensor"))

TEST_ARCHETYPE = {
    "name": "test-archetype",
    "requiredTraits": [
        {"type": "freshness", "defaultConfig": {"sensor": "freshness"}, "defaultTtl": 300, "defaultTimeout": 10},
        {"type": "volume", "defaultConfig": {"sensor": "volume"}, "defaultTtl": 300, "defaultTimeout": 10},
    ],
    "optionalTraits": [{"type": "quality", "defaultConfig": {"sensor": "quality"}}],
    "readinessRule": {"type": "all-required-pass"},
}


def pipeline(name: str, **extra: Any) -> dict[str, Any]:
    """A pipeline of the test archetype whose traits read sensor files."""
    data: dict[str, Any] = {
        "name": name,
        "archetype": "test-archetype",
        "traits": {
            "freshness": {"evaluator": SENSOR, "config": {"sensor": f"{name}.freshness"}},
            "volume": {"evaluator": SENSOR, "config": {"sensor": f"{name}.volume"}},
        },
        "trigger": {"type": "command", "argv": ["true"]},
    }
    data.update(extra)
    return data


async def store_key(engine: Engine, key: str) -> str:
    """``key`` (``pipeline:schedule:date[:rerun]:attempt``) as a run key of ``engine``'s store: every
    run key starts with the store identity."""
    return f"{await engine.store.store_identity()}:{key}"


class MemoryAlerts:
    """Captures alerts (unit-test double for the dispatcher)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def submit(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def messages(self) -> list[str]:
        return [a.message for a in self.alerts]


@dataclass
class Sensors:
    root: Path

    def set(self, name: str, state: str) -> None:
        (self.root / name).write_text(state)

    def value(self, name: str, **value: Any) -> None:
        """What the sensor reports as its value besides its name (what the data says)."""
        (self.root / f"{name}.value").write_text(json.dumps(value))

    def ready(self, pipeline_name: str) -> None:
        self.set(f"{pipeline_name}.freshness", "PASS")
        self.set(f"{pipeline_name}.volume", "PASS")

    def calls(self, name: str) -> int:
        path = self.root / f"{name}.calls"
        return len(path.read_text().splitlines()) if path.exists() else 0


@dataclass
class Harness:
    root: Path
    sensors: Sensors
    clock: FakeClock
    engines: list[Engine] = field(default_factory=list)

    def write(self, pipelines: list[dict[str, Any]], *, config: dict[str, Any] | None = None,
              calendars: list[dict[str, Any]] | None = None) -> None:
        (self.root / "archetypes").mkdir(parents=True, exist_ok=True)
        (self.root / "pipelines").mkdir(exist_ok=True)
        (self.root / "calendars").mkdir(exist_ok=True)
        (self.root / "archetypes" / "test.yaml").write_text(yaml.safe_dump(TEST_ARCHETYPE))
        for old in (self.root / "pipelines").glob("*.yaml"):
            old.unlink()
        for p in pipelines:
            (self.root / "pipelines" / f"{p['name']}.yaml").write_text(yaml.safe_dump(p))
        for c in calendars or []:
            (self.root / "calendars" / f"{c['name']}.yaml").write_text(yaml.safe_dump(c))
        cfg = {"provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "alerts": [],
               "watcher": {"defaultInterval": "30s"}, "evaluatorEnv": ["INTERLOCK_TEST_SENSORS"]}
        cfg.update(config or {})
        (self.root / "interlock.yaml").write_text(yaml.safe_dump(cfg))

    async def engine(self, *, clock: Clock | None = None, alerts: MemoryAlerts | None = None,
                     **kwargs: Any) -> Engine:
        project = load_project(self.root)
        engine = build_engine(project, clock=clock or self.clock, alerts=alerts or MemoryAlerts(), **kwargs)
        await start_engine(engine, project)
        self.engines.append(engine)
        return engine
