"""Several ``interlock serve`` replicas on one Redis (a key prefix of their own), one project
directory, one orchestrator stand-in; and the evaluation spans the ``hold`` evaluator records, to
check that no two replicas ever evaluated the same cycle at once."""

from __future__ import annotations

import itertools
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.support import REDIS_ADDR, SENSORS_ENV, Sensors, drop_keys, http_trigger, redis_store, write_project
from tests.helpers.orchestrator import Orchestrator, orchestrator_server
from tests.helpers.served import API_KEY, Served, spawn_serve

RUN_LEASE = 3.0
"""``engine.runLease`` of the replicas (seconds): a killed replica's TRIGGERING run is theirs to
reconcile this long after its last renewal."""
TRAIT_TIMEOUT = 3.0
"""``engine.defaultTimeout``: it also sizes the watcher's cycle lease (2 x timeout + 30 s)."""


@dataclass
class Span:
    """One run of the ``hold`` evaluator: when, by which replica (its parent) and which process."""

    start: int
    end: int | None
    replica: int
    pid: int

    @property
    def running(self) -> bool:
        """Not finished and its process is still there (a timed-out evaluator is killed before
        it can write its end)."""
        if self.end is not None:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return False
        return state not in ("Z", "X")


def read_spans(sensors: Sensors, name: str) -> list[Span]:
    path = sensors.root / f"{name}.spans"
    spans: dict[int, Span] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        word, ns, replica, pid = line.split()
        if word == "start":
            spans[int(pid)] = Span(int(ns), None, int(replica), int(pid))
        elif int(pid) in spans:
            spans[int(pid)].end = int(ns)
    return sorted(spans.values(), key=lambda s: s.start)


def overlaps(spans: list[Span]) -> list[tuple[Span, Span]]:
    """Pairs of evaluations that ran at the same time (a running one runs until now; one killed
    by its timeout ended before its replica released the cycle, so before the next one began)."""
    out = []
    for earlier, later in itertools.pairwise(spans):
        if earlier.running or (earlier.end is not None and later.start < earlier.end):
            out.append((earlier, later))
    return out


def relay_pipeline(name: str, orchestrator: Orchestrator, *, seconds: float = 0.3, **extra: Any) -> dict[str, Any]:
    """Archetype ``relay``: a slow evaluated trait (the ``hold`` evaluator) and a pushed ``signal``."""
    data: dict[str, Any] = {
        "name": name, "archetype": "relay",
        "traits": {"slow-check": {"evaluator": "hold", "config": {"seconds": seconds}}},
        "trigger": http_trigger(name, orchestrator),
        "retry": {"maxAttempts": 3, "backoffSeconds": 0.5, "backoffMultiplier": 1.0},
    }
    data.update(extra)
    return data


@dataclass
class Cluster:
    root: Path
    prefix: str
    orchestrator: Orchestrator
    sensors: Sensors
    replicas: dict[str, Served] = field(default_factory=dict)

    def start(self, *names: str, watcher: bool = True) -> list[Served]:
        """Start replicas (in parallel) and wait until each listens."""
        extra = () if watcher else ("--no-watcher",)
        starting = [spawn_serve(self.root, *extra, name=name, env={SENSORS_ENV: str(self.sensors.root)})
                    for name in names]
        for name, pending in zip(names, starting, strict=True):
            self.replicas[name] = pending.ready()
        return [self.replicas[name] for name in names]

    def by_pid(self, pid: int) -> str:
        return next(name for name, served in self.replicas.items() if served.pid == pid)

    def by_url(self, url: str | None) -> str:
        return next(name for name, served in self.replicas.items() if url and url.startswith(served.url + "/"))

    def kill_orphans(self) -> None:
        """Evaluators of a killed replica outlive it (their own process group): end them."""
        for path in self.sensors.root.glob("*.spans"):
            for span in read_spans(self.sensors, path.name.removesuffix(".spans")):
                if span.running:
                    try:
                        os.killpg(span.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass


@contextmanager
def cluster(root: Path, **config: Any) -> Iterator[Cluster]:
    """A project for replicas on Redis; every replica started through the cluster is stopped after."""
    prefix = f"replicas-{uuid.uuid4().hex[:10]}:"
    settings: dict[str, Any] = {"engine": {"runLease": f"{RUN_LEASE:g}s", "defaultTimeout": f"{TRAIT_TIMEOUT:g}s"}}
    settings.update(config)
    with orchestrator_server(API_KEY) as orchestrator:
        write_project(root, redis_store(prefix, REDIS_ADDR), **settings)
        made = Cluster(root, prefix, orchestrator, Sensors(root / "sensors"))
        try:
            yield made
        finally:
            for served in made.replicas.values():
                served.stop()
            orchestrator.release_all()
            for hold in made.sensors.root.glob("*.hold"):
                hold.unlink()
            made.kill_orphans()
            drop_keys(prefix)
