"""Many concurrent starts of one cycle from two engines on one SQLite file launch the job once.

Traits are pushed so that no evaluator process runs and the race is between claims alone (the
same race with subprocess evaluators is in test_lifecycle.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio

from interlock_core.engine import Engine, Outcome, RunOutcome
from interlock_core.model import RunStatus
from tests.helpers.project import Harness, pipeline

S = RunStatus
CALLS = 200
LOSING = {Outcome.CLAIM_LOST, Outcome.DUPLICATE, Outcome.IN_PROGRESS}


def launches(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


async def race(engines: list[Engine], name: str, calls: int = CALLS) -> list[RunOutcome]:
    outcomes: list[RunOutcome] = []

    async def one(engine: Engine) -> None:
        outcomes.append(await engine.start_run(name))

    async with anyio.create_task_group() as tg:
        for i in range(calls):
            tg.start_soon(one, engines[i % len(engines)])
    return outcomes


async def pushed_ready(harness: Harness, trigger: dict[str, object], **extra: object) -> tuple[Engine, Engine]:
    """Two engines on one store file, for a pipeline whose traits are pushed (no evaluator runs)."""
    harness.write([pipeline("p1", traits={}, trigger=trigger, **extra)])
    a = await harness.engine()
    b = await harness.engine()
    assert a.store is not b.store and a.store.path == b.store.path
    for trait in ("freshness", "volume"):
        await a.push_trait("p1", trait, "PASS")
    return a, b


async def test_concurrent_starts_launch_exactly_once(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "launches"
    a, b = await pushed_ready(harness, {"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}"]})

    outcomes = await race([a, b], "p1")

    counts = Counter(o.outcome for o in outcomes)
    assert len(outcomes) == CALLS
    assert counts[Outcome.TRIGGERED] == 1
    assert set(counts) - {Outcome.TRIGGERED} <= LOSING
    assert launches(marker) == 1
    runs = await b.store.list_runs("p1", 1000)
    assert len(runs) == 1 and runs[0].status is S.COMPLETED and runs[0].attempt == 1
    entry = await b.store.get_run_log("p1", "2026-03-02", "daily")
    assert entry is not None and entry.status is S.COMPLETED and entry.run_id == runs[0].run_id


async def test_concurrent_retries_launch_the_next_attempt_exactly_once(harness: Harness, tmp_path: Path) -> None:
    marker, ok = tmp_path / "launches", tmp_path / "ok"
    a, b = await pushed_ready(harness, {"type": "command", "argv": ["sh", "-c", f"echo x >> {marker}; test -e {ok}"]},
                              retry={"maxAttempts": 3, "backoffSeconds": 10})
    first = await a.start_run("p1")
    assert first.run is not None and first.run.status is S.FAILED and launches(marker) == 1

    harness.clock.advance(11)  # past the backoff: every caller may now try attempt 2
    ok.touch()
    outcomes = await race([a, b], "p1")

    counts = Counter(o.outcome for o in outcomes)
    assert counts[Outcome.TRIGGERED] == 1
    assert set(counts) - {Outcome.TRIGGERED} <= LOSING
    assert launches(marker) == 2
    runs = await a.store.list_runs("p1", 1000)
    assert sorted(r.attempt for r in runs) == [1, 2]
    entry = await a.store.get_run_log("p1", "2026-03-02", "daily")
    assert entry is not None and entry.status is S.COMPLETED and entry.attempt_number == 2

