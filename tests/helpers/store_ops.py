"""Count what a call costs the store: Store method calls, SQLite statements and write transactions,
Redis round trips. Used by ``tests/engine/test_store_operations.py`` (the ceilings) and
``bench/bench_store_ops.py`` (the table in docs/performance.md)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.helpers.backends import REDIS_ADDR


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)
    statements: int = 0
    transactions: int = 0
    round_trips: int = 0

    def reset(self) -> None:
        self.calls.clear()
        self.statements = self.transactions = self.round_trips = 0

    @property
    def store_calls(self) -> int:
        return sum(self.calls.values())

    def row(self) -> dict[str, int]:
        return {"store calls": self.store_calls, "SQLite statements": self.statements,
                "write transactions": self.transactions, "Redis round trips": self.round_trips}


class CountingStore:
    """Wraps a real store; counts every Store method called on it (by name)."""

    def __init__(self, inner: Any, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_") or name in ("start", "close", "wake_up_notifier"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.tally.calls[name] += 1
            return attr(*args, **kwargs)

        return call


def trace_sqlite(store: Any, tally: Tally) -> None:
    """Count the statements on a started SQLite store's connections (writer and fast-path reader)."""

    def traced(statement: str) -> None:
        tally.statements += 1
        if statement.strip().upper().startswith("BEGIN"):
            tally.transactions += 1

    for conn in (store._db._conn, store._db._reader):
        if isinstance(conn, sqlite3.Connection):
            conn.set_trace_callback(traced)


def trace_redis(store: Any, tally: Tally) -> None:
    """Count round trips on a Redis store's client (each command sent alone, each pipeline sent) and
    on its multiplexed reads' connection (each command)."""
    client = store._redis
    execute_command: Callable[..., Awaitable[Any]] = client.execute_command

    async def counted(*args: Any, **kwargs: Any) -> Any:
        tally.round_trips += 1
        return await execute_command(*args, **kwargs)

    client.execute_command = counted
    make_pipeline = client.pipeline

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make_pipeline(*args, **kwargs)
        execute = pipe.execute

        async def sent(*a: Any, **k: Any) -> Any:
            tally.round_trips += 1
            return await execute(*a, **k)

        pipe.execute = sent
        return pipe

    client.pipeline = pipeline
    reads = store._reads  # the hot reads' multiplexed connection: each command a round trip too
    if reads is not None:
        call: Callable[..., Awaitable[Any]] = reads.call

        async def read(*args: Any) -> Any:
            tally.round_trips += 1
            return await call(*args)

        reads.call = read


SCENARIOS = ("evaluation, 3 passing traits", "triggering start_run", "readiness GET", "watcher first pass, per cycle")
WATCHED = 2
"""Pipelines (one cycle each) in the watcher pass measured; its counts are per cycle."""


async def measure(harness: Any, provider: str = "sqlite") -> dict[str, dict[str, float]]:
    """The counts of each scenario on a fresh project in ``harness`` (tests.helpers.project.Harness)."""
    from interlock_core.config import load_project
    from interlock_core.engine.factory import create_store
    from interlock_core.plugins import load_plugins
    from interlock_core.watcher import Watcher

    from .project import pipeline

    def three(name: str) -> dict[str, Any]:
        traits = pipeline(name)["traits"]
        quality = {"evaluator": traits["volume"]["evaluator"], "config": {"sensor": f"{name}.quality"}}
        return pipeline(name, traits={**traits, "quality": quality})

    names = ["p0", *(f"w{n}" for n in range(WATCHED))]
    config: dict[str, Any] = {}
    if provider == "redis":
        import uuid

        config = {"provider": "redis", "redis": {"addr": REDIS_ADDR, "keyPrefix": f"ops-{uuid.uuid4().hex[:8]}:"}}
    harness.write([three(n) for n in names], config=config)
    for name in names:
        harness.sensors.ready(name)
        harness.sensors.set(f"{name}.quality", "PASS")
    tally = Tally()
    inner = create_store(load_project(harness.root), harness.clock, load_plugins())
    engine = await harness.engine(store=CountingStore(inner, tally))
    (trace_redis if provider == "redis" else trace_sqlite)(inner, tally)
    out: dict[str, dict[str, float]] = {}

    async def scenario(label: str, body: Callable[[], Awaitable[Any]], per: int = 1) -> None:
        tally.reset()
        await body()
        out[label] = {k: v / per for k, v in tally.row().items()}
        out[label]["calls by name"] = dict(tally.calls)  # type: ignore[assignment]

    try:
        await engine.evaluate("p0")  # warm: schema, scripts, the first purge
        await scenario(SCENARIOS[0], lambda: engine.evaluate("p0"))
        await scenario(SCENARIOS[1], lambda: engine.start_run("p0"))

        async def readiness_get() -> None:  # what GET /api/pipelines/{id}/readiness asks of the engine
            result = await engine.check_readiness("p0")
            await engine.pipeline_state(result.pipeline_id, readiness=result)

        await readiness_get()  # warm: the pipeline's configuration resolved (once per stored version)
        await scenario(SCENARIOS[2], readiness_get)
        for name in names[1:]:
            await engine.start_run(name)
        await scenario(SCENARIOS[3], lambda: Watcher(engine).run_once(), per=WATCHED + 1)
    finally:
        if provider == "redis":
            await inner.purge()
    return out
