"""Evaluation windows and the ``onDeadline`` policy on the fake clock, on SQLite and Redis: the
window's cadence, EVALUATION_WINDOW_EXPIRED once across two watchers on one store, and each policy
(``alert``, ``skip``, ``trigger``) at the window's close and at an SLA evaluation deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from interlock_core.engine import BackfillResult, Engine
from interlock_core.model import EventKind, RunStatus
from interlock_core.pipeline_state import PipelineState
from interlock_core.ports import Store
from interlock_core.watcher import Watcher
from tests.helpers.backends import scratch_redis_store
from tests.helpers.project import Harness, MemoryAlerts, pipeline

K = EventKind
S = RunStatus
DAY = "2026-03-02"


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, harness: Harness) -> AsyncIterator[Store | None]:
    if request.param == "sqlite":
        yield None  # the project's own SQLite file, shared by every engine the harness builds
        return
    async with scratch_redis_store(harness.clock, "window") as redis:
        yield redis


async def engine_on(harness: Harness, store: Store | None, alerts: MemoryAlerts | None = None) -> Engine:
    return await (harness.engine(store=store, alerts=alerts) if store is not None else harness.engine(alerts=alerts))


async def events(engine: Engine, name: str, kind: EventKind) -> list[Any]:
    return [e for e in await engine.store.list_events(name, 1000) if e.kind is kind]


def windowed(name: str, policy: str, **extra: Any) -> dict[str, Any]:
    schedule = {"name": "daily", "after": "09:00", "onDeadline": policy,
                "evaluation": {"window": "1h", "interval": "10m"}}
    return pipeline(name, schedules=[schedule], watch={"interval": "1h"}, **extra)


async def passes(harness: Harness, watchers: list[Watcher], until: datetime, step: float = 60) -> None:
    """Watcher passes every ``step`` seconds until ``until``, the watchers taking turns."""
    turn = 0
    while harness.clock.now() < until:
        await watchers[turn % len(watchers)].run_once(all_cycles=False)
        turn += 1
        harness.clock.advance(step)


async def test_window_alert_once_across_two_watchers_then_runs_when_ready(harness: Harness,
                                                                          store: Store | None) -> None:
    harness.write([windowed("late", "alert")])
    harness.sensors.set("late.freshness", "FAIL lag 900s")
    harness.sensors.set("late.volume", "PASS")
    harness.clock.set(datetime(2026, 3, 2, 8, 55, tzinfo=UTC))
    alerts = MemoryAlerts()
    first, second = await engine_on(harness, store, alerts), await engine_on(harness, store, alerts)
    watchers = [Watcher(first), Watcher(second)]
    await watchers[0].run_once()  # before the window: nothing evaluated; due again when it opens
    harness.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await passes(harness, watchers[:1], datetime(2026, 3, 2, 9, 59, tzinfo=UTC), step=300)
    # evaluated when the window opened at 09:00, then every 10 minutes (not every hour)
    assert harness.sensors.calls("late.freshness") == 6
    assert await events(first, "late", K.EVALUATION_WINDOW_EXPIRED) == []
    harness.clock.set(datetime(2026, 3, 2, 9, 52, tzinfo=UTC))
    state = await first.pipeline_state("late")
    assert "evaluation window closes at 2026-03-02 10:00 UTC; then onDeadline: alert" in state.message
    harness.clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    await passes(harness, watchers, datetime(2026, 3, 2, 10, 10, tzinfo=UTC), step=300)  # both past the close
    expired = await events(first, "late", K.EVALUATION_WINDOW_EXPIRED)
    assert len(expired) == 1 and expired[0].date == DAY and expired[0].details["onDeadline"] == "alert"
    assert expired[0].details["blocking"] == ["freshness"]
    assert [a for a in alerts.messages() if "evaluation window expired" in a] == [
        "Pipeline late evaluation window expired: cycle 2026-03-02/daily not ready after 1h0m0s "
        "(blocked by freshness); still waiting for readiness"]
    assert await first.store.get_run_log("late", DAY, "daily") is None
    assert "evaluation window closed at 2026-03-02 10:00 UTC; still waiting" in \
        (await first.pipeline_state("late")).message
    restarted = Watcher(await engine_on(harness, store, alerts))  # the claim lives in the store
    harness.sensors.set("late.freshness", "PASS")
    await restarted.run_once()
    assert len(await events(first, "late", K.EVALUATION_WINDOW_EXPIRED)) == 1
    runs = await first.store.list_runs("late")
    assert len(runs) == 1 and runs[0].status is S.COMPLETED and not runs[0].degraded


async def test_window_skip_records_the_cycle_skipped(harness: Harness, store: Store | None) -> None:
    harness.write([windowed("skipper", "skip")])
    harness.sensors.set("skipper.freshness", "FAIL lag 900s")
    harness.sensors.set("skipper.volume", "PASS")
    harness.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    alerts = MemoryAlerts()
    engines = [await engine_on(harness, store, alerts), await engine_on(harness, store, alerts)]
    watchers = [Watcher(e) for e in engines]
    await passes(harness, watchers, datetime(2026, 3, 2, 10, 5, tzinfo=UTC), step=600)
    entry = await engines[0].store.get_run_log("skipper", DAY, "daily")
    assert entry is not None and entry.status is S.SKIPPED and entry.run_id is None
    assert len(await events(engines[0], "skipper", K.CYCLE_SKIPPED)) == 1
    assert len(await events(engines[0], "skipper", K.EVALUATION_WINDOW_EXPIRED)) == 1
    assert sum("evaluation window expired" in m and m.endswith("cycle skipped") for m in alerts.messages()) == 1
    calls = harness.sensors.calls("skipper.freshness")
    harness.sensors.set("skipper.freshness", "PASS")  # ready too late: the cycle stays skipped
    await passes(harness, watchers, datetime(2026, 3, 2, 12, 0, tzinfo=UTC), step=1800)
    assert harness.sensors.calls("skipper.freshness") == calls  # a skipped cycle is not evaluated again
    assert await engines[0].store.list_runs("skipper") == []
    state = await engines[0].pipeline_state("skipper")
    assert state.state is PipelineState.SKIPPED and "was skipped (evaluation window" in state.message
    report = await engines[0].backfill("skipper", since=DAY, until=DAY)  # reported; a rerun runs it
    assert [c.result for c in report.cycles] == [BackfillResult.SKIPPED] and report.ok
    _, outcome = await engines[0].request_rerun("skipper", DAY, "data arrived late")
    assert outcome is not None and outcome.run is not None and outcome.run.status is S.COMPLETED


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # on Redis: the SLA deadline's trigger case
async def test_window_trigger_runs_degraded(harness: Harness, store: Store | None, tmp_path: Path) -> None:
    seen, gate = tmp_path / "degraded.txt", tmp_path / "gate"
    script = f"echo $0 >> {seen}; test -e {gate}"  # the first attempt fails, the retry succeeds
    harness.write([windowed("anyway", "trigger", retry={"maxAttempts": 2, "backoffSeconds": 60},
                            trigger={"type": "command", "argv": ["sh", "-c", script, "${degraded}"]})])
    harness.sensors.set("anyway.freshness", "FAIL lag 900s")
    harness.sensors.set("anyway.volume", "PASS")
    harness.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    alerts = MemoryAlerts()
    engines = [await engine_on(harness, store, alerts), await engine_on(harness, store, alerts)]
    watchers = [Watcher(e) for e in engines]
    await passes(harness, watchers, datetime(2026, 3, 2, 10, 5, tzinfo=UTC), step=600)
    [failed] = await engines[0].store.list_runs("anyway")
    assert failed.degraded is True and failed.status is S.FAILED
    assert failed.to_json_dict()["degraded"] is True
    assert "closed at 2026-03-02T10:00:00Z not ready" in failed.metadata["degradedReason"]
    gate.touch()
    await passes(harness, watchers, datetime(2026, 3, 2, 10, 15, tzinfo=UTC), step=120)  # after the backoff
    runs = await engines[0].store.list_runs("anyway")
    assert len(runs) == 2 and all(r.degraded for r in runs)  # the retry of a degraded run is degraded too
    assert {r.status for r in runs} == {S.FAILED, S.COMPLETED}
    assert seen.read_text() == "true\ntrue\n"
    expired = await events(engines[0], "anyway", K.EVALUATION_WINDOW_EXPIRED)
    assert len(expired) == 1 and expired[0].details["degraded"] is True
    window_alerts = [a for a in alerts.alerts if "evaluation window expired" in a.message]
    assert len(window_alerts) == 1 and window_alerts[0].details is not None
    assert window_alerts[0].details["degraded"] is True and "triggering anyway" in window_alerts[0].message


@pytest.mark.parametrize(("store", "policy"), [("sqlite", "alert"), ("sqlite", "skip"), ("redis", "trigger")],
                         indirect=["store"])
async def test_sla_evaluation_deadline_policy(harness: Harness, store: Store | None, policy: str) -> None:
    harness.write([pipeline("sla", schedules=[{"name": "daily", "deadline": "10:00", "onDeadline": policy}],
                            watch={"interval": "5m"})])
    harness.sensors.set("sla.freshness", "FAIL lag 900s")
    harness.sensors.set("sla.volume", "PASS")
    harness.clock.set(datetime(2026, 3, 2, 9, 50, tzinfo=UTC))
    alerts = MemoryAlerts()
    engines = [await engine_on(harness, store, alerts), await engine_on(harness, store, alerts)]
    await passes(harness, [Watcher(e) for e in engines], datetime(2026, 3, 2, 10, 25, tzinfo=UTC), step=600)
    [breach] = [a for a in alerts.alerts if "evaluation SLA breached" in a.message]
    assert breach.details is not None and breach.details["onDeadline"] == policy
    assert breach.details.get("degraded") is (True if policy == "trigger" else None)
    store_ = engines[0].store
    breaches = await events(engines[0], "sla", K.SLA_BREACHED)
    assert [b.details["kind"] for b in breaches].count("evaluation") == 1
    entry = await store_.get_run_log("sla", DAY, "daily")
    runs = await store_.list_runs("sla")
    if policy == "alert":
        assert entry is None and runs == []
    elif policy == "skip":
        assert entry is not None and entry.status is S.SKIPPED and runs == []
        assert "evaluation deadline" in (entry.failure_message or "")
        assert len(await events(engines[0], "sla", K.CYCLE_SKIPPED)) == 1
    else:
        assert len(runs) == 1 and runs[0].degraded is True
        assert entry is not None and entry.status is S.COMPLETED


def test_window_config_errors_name_the_key(tmp_path: Path) -> None:
    from interlock_core.config import load_project
    from interlock_core.errors import ConfigErrors

    (tmp_path / "pipelines").mkdir()
    (tmp_path / "interlock.yaml").write_text("provider: sqlite\n")
    (tmp_path / "pipelines" / "bad.yaml").write_text(
        "name: bad\narchetype: x\nschedules:\n  - name: daily\n    after: '23:00'\n"
        "    onDeadline: later\n    evaluation:\n      window: 2h\n      interval: 3h\n")
    with pytest.raises(ConfigErrors) as caught:
        load_project(tmp_path)
    text = str(caught.value)
    assert "bad.yaml" in text and "onDeadline" in text and "interval must not be longer than the window" in text
