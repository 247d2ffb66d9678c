"""The read paths kept cheap (fake clock): a readiness GET follows its pipeline's configuration as
stored (resolved once per version) and answers as of one instant, and a watcher pass leases only the
cycles with work."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from interlock_core.engine import Outcome
from interlock_core.errors import NotFoundError
from interlock_core.model import PipelineConfig, ReadinessResult, ReadinessStatus, RunStatus, TraitStatus
from interlock_core.pipeline_state import PipelineState
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, pipeline
from tests.helpers.store_ops import CountingStore, Tally


async def test_a_readiness_get_follows_the_stored_configuration(harness: Harness) -> None:
    harness.write([pipeline("p0")])
    harness.sensors.ready("p0")
    engine = await harness.engine()
    await engine.evaluate("p0")

    async def get() -> tuple[ReadinessStatus, list[str]]:  # what GET .../readiness asks of the engine
        result = await engine.check_readiness("p0")
        view = await engine.pipeline_state(result.pipeline_id, readiness=result)
        return result.status, [c.schedule_id for c in view.cycles]

    assert await get() == (ReadinessStatus.READY, ["daily"])
    assert await get() == (ReadinessStatus.READY, ["daily"])  # resolved once, read again
    config = (await engine.get_pipeline("p0")).model_dump(by_alias=True, exclude_none=True)
    config["schedules"] = [{"name": "daily"}, {"name": "evening"}]
    await engine.register_pipeline(PipelineConfig.model_validate(config))
    assert await get() == (ReadinessStatus.READY, ["daily", "evening"])  # the new version, at once
    await engine.delete_pipeline("p0")
    with pytest.raises(NotFoundError):
        await engine.check_readiness("p0")


async def test_a_readiness_get_answers_as_of_one_instant(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle whose run log the GET reads is the cycle its state is of, even when the day turns
    between two of the clock's readings: every part of the answer is of the first one."""
    harness.write([pipeline("p0")])
    harness.sensors.ready("p0")
    engine = await harness.engine()
    started = await engine.start_run("p0")
    assert started.outcome is Outcome.TRIGGERED and started.run is not None
    day = started.run.date
    watcher = Watcher(engine)
    for _ in range(20):
        entry = await engine.store.get_run_log("p0", day, "daily")
        if entry is not None and entry.status is RunStatus.COMPLETED:
            break
        await watcher.run_once()
    assert entry is not None and entry.status is RunStatus.COMPLETED
    harness.clock.set(datetime.fromisoformat(day).replace(hour=23, minute=59, second=59, tzinfo=UTC))
    start = harness.clock.now()
    readings: list[datetime] = []

    def ticking() -> datetime:  # the day turns between the GET's first reading of the clock and its next
        at = start + timedelta(seconds=len(readings))
        readings.append(at)
        return at

    for _ in range(2):  # the first GET resolves the configuration; the second is the kept path
        readings.clear()
        monkeypatch.setattr(harness.clock, "now", ticking)
        result = await engine.check_readiness("p0")
        view = await engine.pipeline_state(result.pipeline_id, readiness=result)
        monkeypatch.undo()
        assert len(readings) >= 1 and result.evaluated_at == view.computed_at
        assert (view.state, view.date) == (PipelineState.COMPLETED, day)


async def test_shared_answers_decide_a_verdict_once_per_stored_rows(harness: Harness) -> None:
    """Within ``shared_answers`` (what GET .../readiness asks), the verdict over the same stored rows
    is answered again — the same trait results, this instant's ``evaluatedAt`` — until a row
    changes; a plain read still answers results of the caller's own."""
    harness.write([pipeline("p0")])
    harness.sensors.ready("p0")
    engine = await harness.engine()
    await engine.evaluate("p0")

    async def shared() -> tuple[ReadinessResult, PipelineState]:
        with engine.shared_answers():
            result = await engine.check_readiness("p0")
            return result, await engine.pipeline_state_word(result.pipeline_id, readiness=result)

    await shared()  # resolves the configuration
    second, _ = await shared()
    harness.clock.advance(timedelta(seconds=5))
    third, state = await shared()
    assert third.traits is second.traits and third.evaluated_at == harness.clock.now() > second.evaluated_at
    assert (third.status, state) == (ReadinessStatus.READY, PipelineState.READY)
    plain = await engine.check_readiness("p0")
    assert plain.traits is not third.traits and plain.traits == third.traits
    plain.traits[0].status = TraitStatus.FAIL  # the caller's own: no other answer sees it
    assert (await shared())[0].traits[0].status == TraitStatus.PASS
    await engine.push_trait("p0", third.traits[0].trait_type, "FAIL", reason="late")
    pushed, state = await shared()
    assert (pushed.status, state) == (ReadinessStatus.NOT_READY, PipelineState.NOT_READY)
    assert pushed.traits[0].reason == "late" and pushed.blocking == [third.traits[0].trait_type]


async def test_a_shared_answer_with_a_missing_trait_is_of_its_instant(harness: Harness) -> None:
    """A trait without a stored result is STALE as of the answer's instant, on every shared answer."""
    harness.write([pipeline("p0")])
    engine = await harness.engine()
    for _ in range(3):
        harness.clock.advance(timedelta(seconds=1))
        with engine.shared_answers():
            result = await engine.check_readiness("p0")
        assert result.status is ReadinessStatus.NOT_READY
        assert {t.status for t in result.traits} == {TraitStatus.STALE}
        assert {t.evaluated_at for t in result.traits} == {result.evaluated_at} == {harness.clock.now()}


async def test_a_watcher_pass_leases_only_cycles_with_work(harness: Harness) -> None:
    names = ["done", "waiting"]
    harness.write([pipeline(n) for n in names])
    harness.sensors.ready("done")
    tally = Tally()
    from interlock_core.config import load_project
    from interlock_core.engine.factory import create_store
    from interlock_core.plugins import load_plugins

    inner = create_store(load_project(harness.root), harness.clock, load_plugins())
    engine = await harness.engine(store=CountingStore(inner, tally))
    started = await engine.start_run("done")
    assert started.outcome is Outcome.TRIGGERED and started.run is not None
    day = started.run.date
    for _ in range(20):
        entry = await engine.store.get_run_log("done", day, "daily")
        if entry is not None and entry.status is RunStatus.COMPLETED:
            break
        await Watcher(engine).run_once()
    leased: Counter[str] = Counter()
    acquire = inner.acquire_lease

    async def counted(key: str, owner: str, ttl: float) -> Any:
        leased[key] += 1
        return await acquire(key, owner, ttl)

    inner.acquire_lease = counted
    watcher = Watcher(engine)
    stats = await watcher.run_once()
    assert stats.cycles == 2 and stats.outcomes.get("duplicate") == 1
    assert leased["cycle:waiting:daily"] == 1  # not ready: evaluated under its lease
    assert leased["cycle:done:daily"] == 0  # completed today, nothing to do: not leased
    # a rerun request (it wakes the pipeline) gives the completed cycle work: it is leased again
    await engine.request_rerun("done", day, "a fixed job", force=True, execute=False)
    await watcher.run_once()
    assert leased["cycle:done:daily"] == 1
