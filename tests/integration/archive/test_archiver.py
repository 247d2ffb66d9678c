"""The archiver end to end: a real SQLite live store copied into a real PostgreSQL archive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from archive_helpers import DSN, Raw

from interlock_core.archiver import EVENTS, Archiver, trait_evaluations_from_events
from interlock_core.clock import FakeClock
from interlock_core.errors import StoreUnavailable, ValidationError
from interlock_core.model import EventKind, EventRecord, FailureCategory, RunStatus
from interlock_plugins.archive import PostgresArchive
from interlock_plugins.stores.sqlite import SQLiteStore
from tests.conformance.records import event, pipeline, rerun, run, run_log

pytestmark = pytest.mark.postgres


class FailingOnce:
    """An archive whose next ``insert_events`` fails once; everything else goes through."""

    def __init__(self, inner: PostgresArchive) -> None:
        self.inner = inner
        self.fail_next_insert = False
        self.migrate, self.close = inner.migrate, inner.close
        self.upsert_runs, self.upsert_run_logs = inner.upsert_runs, inner.upsert_run_logs
        self.upsert_reruns = inner.upsert_reruns
        self.get_cursor, self.set_cursor = inner.get_cursor, inner.set_cursor

    async def insert_events(self, pipeline_id: str, records: Sequence[EventRecord]) -> None:
        if self.fail_next_insert:
            self.fail_next_insert = False
            raise RuntimeError("disk full")
        await self.inner.insert_events(pipeline_id, records)


async def fill(store: SQLiteStore) -> None:
    for name in ("pipe-a", "pipe-b"):
        await store.put_pipeline(pipeline(name))
    await store.put_run(run("a-1", "pipe-a", RunStatus.COMPLETED, created=1))
    await store.put_run(run("a-2", "pipe-a", RunStatus.FAILED, created=2))
    await store.put_run(run("a-3", "pipe-a", RunStatus.RUNNING, created=3))
    await store.put_run(run("b-1", "pipe-b", RunStatus.CANCELLED, created=1))
    await store.put_run_log(run_log("pipe-a", "2026-03-01", status=RunStatus.COMPLETED))
    await store.put_run_log(run_log("pipe-a", "2026-03-02", status=RunStatus.RUNNING, started=60))
    await store.put_rerun(rerun("rr-1", "pipe-a", RunStatus.PENDING))
    await store.append_event(event("pipe-a", trait_type="freshness", status="PASS", details={"age": 1}))
    await store.append_event(event("pipe-a", EventKind.TRAIT_PUSHED, trait_type="quality", status="FAIL",
                                   message="3 bad rows"))
    await store.append_event(event("pipe-a", EventKind.READINESS_CHECKED, status="READY"))
    await store.append_event(event("pipe-b", EventKind.RUN_STATE_CHANGED, run_id="b-1"))


async def counts(raw: Raw) -> dict[str, int]:
    return {table: await raw.count(table) for table in ("runs", "run_logs", "reruns", "events", "trait_evaluations")}


async def test_run_once_copies_everything_once(store: SQLiteStore, archive: PostgresArchive, raw: Raw) -> None:
    await fill(store)
    archiver = Archiver(store, archive, interval=60, clock=FakeClock())
    stats = await archiver.run_once()
    assert (stats.pipelines, stats.runs, stats.run_logs, stats.reruns, stats.events, stats.errors) == (2, 3, 2, 1, 4, 0)
    expected = {"runs": 3, "run_logs": 2, "reruns": 1, "events": 4, "trait_evaluations": 2}
    assert await counts(raw) == expected
    assert await raw.rows("SELECT run_id FROM runs ORDER BY 1") == [("a-1",), ("a-2",), ("b-1",)]  # terminal only
    assert await raw.rows("SELECT trait_type, status, reason FROM trait_evaluations ORDER BY id") == [
        ("freshness", "PASS", None), ("quality", "FAIL", "3 bad rows")
    ]

    again = await archiver.run_once()
    assert (again.runs, again.run_logs, again.reruns, again.events, again.errors) == (0, 0, 0, 0, 0)
    fresh = await Archiver(store, archive, interval=60).run_once()  # no memory of the first: upserts again
    assert (fresh.runs, fresh.events, fresh.errors) == (3, 0, 0)
    assert await counts(raw) == expected


async def test_changes_and_new_events_are_archived_incrementally(
    store: SQLiteStore, archive: PostgresArchive, raw: Raw
) -> None:
    await fill(store)
    archiver = Archiver(store, archive, interval=60)
    await archiver.run_once()
    first_cursor = await archive.get_cursor("pipe-a", EVENTS)
    assert first_cursor is not None

    await store.put_run(run("a-3", "pipe-a", RunStatus.COMPLETED, version=2, created=3))
    await store.put_run_log(run_log("pipe-a", "2026-03-02", status=RunStatus.FAILED, version=2, started=60))
    await store.put_rerun(rerun("rr-1", "pipe-a", RunStatus.COMPLETED, version=2, rerun_run_id="a-3"))
    last = ""
    for i in range(2):
        last = await store.append_event(event("pipe-a", trait_type="freshness", status="FAIL", message=f"old {i}",
                                              details={"failureCategory": "TIMEOUT"}))
    stats = await archiver.run_once()
    assert (stats.runs, stats.run_logs, stats.reruns, stats.events, stats.errors) == (1, 1, 1, 2, 0)
    assert await archive.get_cursor("pipe-a", EVENTS) == last
    assert await raw.rows("SELECT status FROM runs WHERE run_id = 'a-3'") == [("COMPLETED",)]
    assert await raw.rows("SELECT status FROM run_logs WHERE date = '2026-03-02'") == [("FAILED",)]
    assert await raw.rows("SELECT status, rerun_run_id FROM reruns") == [("COMPLETED", "a-3")]
    assert await raw.count("events", "pipeline_id = 'pipe-a'") == 5
    assert await raw.count("trait_evaluations", "failure_category = 'TIMEOUT'") == 2


async def test_the_cursor_stays_put_when_the_insert_fails(
    store: SQLiteStore, archive: PostgresArchive, raw: Raw
) -> None:
    await store.put_pipeline(pipeline("pipe-a"))
    for i in range(3):
        await store.append_event(event("pipe-a", message=f"m{i}"))
    flaky = FailingOnce(archive)
    archiver = Archiver(store, flaky, interval=60)
    await archiver.run_once()
    cursor = await archive.get_cursor("pipe-a", EVENTS)
    last = ""
    for i in range(2):
        last = await store.append_event(event("pipe-a", message=f"n{i}"))

    flaky.fail_next_insert = True
    failed = await archiver.run_once()
    assert (failed.events, failed.errors) == (0, 1)
    assert await archive.get_cursor("pipe-a", EVENTS) == cursor
    assert await raw.count("events") == 3

    recovered = await archiver.run_once()
    assert (recovered.events, recovered.errors) == (2, 0)
    assert await archive.get_cursor("pipe-a", EVENTS) == last
    assert await raw.count("events") == 5


async def test_events_are_copied_in_batches(store: SQLiteStore, archive: PostgresArchive, raw: Raw) -> None:
    await store.put_pipeline(pipeline("pipe-a"))
    last = ""
    for i in range(5):
        last = await store.append_event(event("pipe-a", message=f"m{i}"))
    stats = await Archiver(store, archive, interval=60, event_batch=2).run_once()
    assert stats.events == 5
    assert await archive.get_cursor("pipe-a", EVENTS) == last
    assert await raw.count("events") == 5


async def test_a_first_tick_catches_up_and_later_ticks_find_old_runs_that_finished(
    store: SQLiteStore, archive: PostgresArchive, raw: Raw
) -> None:
    await store.put_pipeline(pipeline("pipe-a"))
    await store.put_run(run("old", "pipe-a", RunStatus.RUNNING, created=0))
    for i in range(1, 8):
        await store.put_run(run(f"r-{i}", "pipe-a", RunStatus.COMPLETED, created=i))
    archiver = Archiver(store, archive, interval=60, history_page=2)
    assert (await archiver.run_once()).runs == 7
    await store.put_run(run("r-8", "pipe-a", RunStatus.COMPLETED, created=8))
    assert (await archiver.run_once()).runs == 1
    await store.put_run(run("old", "pipe-a", RunStatus.COMPLETED, version=2, created=0))
    assert (await archiver.run_once()).runs == 1
    assert await raw.count("runs") == 9


async def test_errors_are_counted_never_raised(tmp_path: Path, archive: PostgresArchive, raw: Raw) -> None:
    closed = SQLiteStore(tmp_path / "closed.db")
    stats = await Archiver(closed, archive, interval=60).run_once()
    assert (stats.pipelines, stats.errors) == (0, 1)

    store = SQLiteStore(tmp_path / "live.db")
    await store.start()
    try:
        await store.put_pipeline(pipeline("pipe-a"))
        await store.put_run(run("a-1", "pipe-a", RunStatus.COMPLETED))
        unreachable = PostgresArchive.from_dsn("postgresql://postgres@127.0.0.1:1/test")
        stats = await Archiver(store, unreachable, interval=60).run_once()
        assert (stats.pipelines, stats.runs, stats.errors) == (1, 0, 1)  # the tick stops at the first outage
        assert await raw.count("runs") == 0
    finally:
        await store.close()


async def test_run_migrates_ticks_at_once_and_stops_when_cancelled(
    schema: str, store: SQLiteStore, raw: Raw
) -> None:
    await store.put_pipeline(pipeline("pipe-a"))
    await store.append_event(event("pipe-a"))
    pg = PostgresArchive.from_dsn(DSN, schema=schema)
    archiver = Archiver(store, pg, interval=3600)
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                await tg.start(archiver.run)
                await archiver.wait_for_tick(1)
                tg.cancel_scope.cancel()
    finally:
        await pg.close()
    assert archiver.ticks == 1 and archiver.last_stats is not None and archiver.last_stats.events == 1
    assert await raw.count("events") == 1


async def test_run_fails_at_start_when_the_archive_cannot_migrate(store: SQLiteStore) -> None:
    archiver = Archiver(store, PostgresArchive.from_dsn("postgresql://postgres@127.0.0.1:1/test"), interval=1)
    with anyio.fail_after(15), pytest.raises(StoreUnavailable, match="unreachable"):
        await archiver.run()  # before task_status.started(): ``tg.start`` raises it in ``serve``
    assert archiver.ticks == 0


def test_bad_settings_are_refused(store: SQLiteStore) -> None:
    archive = PostgresArchive.from_dsn(DSN)
    with pytest.raises(ValidationError, match="interval"):
        Archiver(store, archive, interval=0)
    with pytest.raises(ValidationError, match="batch"):
        Archiver(store, archive, interval=1, event_batch=0)


def test_trait_evaluations_come_from_trait_events_only() -> None:
    records = [
        EventRecord(stream_id="1", event=event("p", trait_type="t", status="FAIL", message="why",
                                                details={"failureCategory": "EVALUATOR_CRASH", "n": 1})),
        EventRecord(stream_id="2", event=event("p", EventKind.TRAIT_PUSHED, trait_type="u", status="PASS",
                                                details={"failureCategory": "nonsense"})),
        EventRecord(stream_id="3", event=event("p", EventKind.SLA_BREACHED, trait_type="t", status="FAIL")),
        EventRecord(stream_id="4", event=event("p", status="PASS")),
    ]
    found = trait_evaluations_from_events("p", records)
    assert [(t.stream_id, t.evaluation.source) for t in found] == [("1", "evaluator"), ("2", "pushed")]
    first = found[0].evaluation
    assert (first.reason, first.value, first.failure_category) == (
        "why", {"failureCategory": "EVALUATOR_CRASH", "n": 1}, FailureCategory.EVALUATOR_CRASH
    )
    assert found[1].evaluation.failure_category is None
    assert first.evaluated_at == records[0].event.timestamp
    assert timedelta(0) == first.evaluated_at - records[0].event.timestamp
