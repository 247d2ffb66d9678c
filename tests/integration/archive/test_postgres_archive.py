"""The PostgreSQL archive against a real server: schema, idempotent writes, cursors, queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import psycopg
import pytest
from archive_helpers import DSN, Raw

from interlock_core.errors import ConfigError, InterlockError, StoreUnavailable, ValidationError
from interlock_core.model import ArchiverConfig, EventKind, EventRecord, FailureCategory, RunStatus
from interlock_plugins.archive import PostgresArchive
from interlock_plugins.archive._schema import LATEST_VERSION, TABLES
from tests.conformance.records import at, event, rerun, run, run_log

pytestmark = pytest.mark.postgres


def records(pipeline_id: str, *events: tuple[str, dict[str, Any]]) -> list[EventRecord]:
    return [EventRecord(stream_id=sid, event=event(pipeline_id, **fields)) for sid, fields in events]


async def test_migrate_creates_the_tables_and_is_idempotent(
    schema: str, archive: PostgresArchive, raw: Raw
) -> None:
    tables = await raw.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", schema
    )
    assert sorted(t for (t,) in tables) == sorted(TABLES)
    await archive.migrate()
    other = PostgresArchive.from_dsn(DSN, schema=schema)
    try:
        async with anyio.create_task_group() as tg:  # concurrent migrations serialise on a lock
            tg.start_soon(other.migrate)
            tg.start_soon(archive.migrate)
    finally:
        await other.close()
    assert await raw.rows("SELECT version FROM schema_migrations") == [(LATEST_VERSION,)]
    assert await archive.schema_version() == LATEST_VERSION
    indexes = await raw.rows("SELECT indexname FROM pg_indexes WHERE schemaname = %s", schema)
    assert ("events_pipeline_stream",) in indexes


async def test_a_newer_schema_is_refused(archive: PostgresArchive, raw: Raw) -> None:
    await raw.rows("INSERT INTO schema_migrations (version, description) VALUES (99, 'future') RETURNING 1")
    with pytest.raises(StoreUnavailable, match="newer"):
        await archive.migrate()


async def test_upsert_run_is_idempotent_and_the_later_version_wins(
    archive: PostgresArchive, raw: Raw
) -> None:
    await archive.upsert_runs([run("r-1", "pipe-a", RunStatus.RUNNING, version=2, metadata={"job": "j-1"})])
    await archive.upsert_runs([run("r-1", "pipe-a", RunStatus.RUNNING, version=2, metadata={"job": "j-1"})])
    done = run("r-1", "pipe-a", RunStatus.COMPLETED, version=3, completed_at=at(60), metadata={"job": "j-1"})
    await archive.upsert_runs([done])
    await archive.upsert_runs([run("r-1", "pipe-a", RunStatus.RUNNING, version=2)])  # stale: ignored
    rows = await raw.rows("SELECT run_id, status, version, metadata, completed_at, record FROM runs")
    assert len(rows) == 1
    run_id, status, version, metadata, completed_at, record = rows[0]
    assert (run_id, status, version) == ("r-1", "COMPLETED", 3)
    assert (metadata, completed_at) == ({"job": "j-1"}, at(60))
    assert record["runId"] == "r-1" and record["status"] == "COMPLETED"
    await archive.upsert_runs([])


async def test_upsert_run_log_is_idempotent(archive: PostgresArchive, raw: Raw) -> None:
    await archive.upsert_run_logs([run_log("pipe-a", "2026-03-01", "", RunStatus.RUNNING, attempt_number=1)])
    await archive.upsert_run_logs([
        run_log("pipe-a", "2026-03-01", "daily", RunStatus.COMPLETED, version=2, attempt_number=2,
                completed_at=at(120), failure_category=FailureCategory.TRANSIENT)
    ])
    rows = await raw.rows(
        "SELECT schedule_id, status, attempt_number, failure_category, completed_at FROM run_logs"
    )
    assert rows == [("daily", "COMPLETED", 2, "TRANSIENT", at(120))]


async def test_upsert_rerun_is_idempotent(archive: PostgresArchive, raw: Raw) -> None:
    await archive.upsert_reruns([rerun("rr-1", "pipe-a", RunStatus.PENDING)])
    await archive.upsert_reruns([rerun("rr-1", "pipe-a", RunStatus.COMPLETED, version=2, rerun_run_id="r-9")])
    assert await raw.rows("SELECT rerun_id, status, rerun_run_id, reason FROM reruns") == [
        ("rr-1", "COMPLETED", "r-9", "late data")
    ]


async def test_events_are_deduplicated_per_pipeline_and_stream_id(archive: PostgresArchive, raw: Raw) -> None:
    batch = records("pipe-a", ("1", {"kind": EventKind.RUN_STATE_CHANGED, "run_id": "r-1"}), ("2", {}))
    await archive.insert_events("pipe-a", batch)
    await archive.insert_events("pipe-a", batch)
    await archive.insert_events("pipe-b", records("pipe-b", ("1", {})))
    await archive.insert_events("pipe-a", [])
    assert await raw.count("events") == 3
    rows = await raw.rows(
        "SELECT stream_id, kind, run_id FROM events WHERE pipeline_id = 'pipe-a' ORDER BY 1"
    )
    assert rows == [("1", "RUN_STATE_CHANGED", "r-1"), ("2", "TRAIT_EVALUATED", None)]


async def test_trait_evaluations_are_extracted_once(archive: PostgresArchive, raw: Raw) -> None:
    batch = records(
        "pipe-a",
        ("1", {"trait_type": "freshness", "status": "FAIL", "message": "source is 3h old",
               "details": {"ageHours": 3, "failureCategory": "TIMEOUT"}, "seconds": 1}),
        ("2", {"kind": EventKind.TRAIT_PUSHED, "trait_type": "quality", "status": "PASS", "seconds": 2}),
        ("3", {"kind": EventKind.READINESS_CHECKED, "status": "READY", "seconds": 3}),
        ("4", {"trait_type": None, "status": "PASS", "seconds": 4}),
    )
    await archive.insert_events("pipe-a", batch)
    await archive.insert_events("pipe-a", batch)
    rows = await raw.rows(
        "SELECT stream_id, trait_type, status, reason, value, failure_category, source FROM trait_evaluations"
        " ORDER BY stream_id"
    )
    assert rows == [
        ("1", "freshness", "FAIL", "source is 3h old", {"ageHours": 3, "failureCategory": "TIMEOUT"},
         "TIMEOUT", "evaluator"),
        ("2", "quality", "PASS", None, None, None, "pushed"),
    ]
    history = await archive.trait_history("pipe-a", at(0))
    assert [(t.trait_type, t.reason, t.failure_category) for t in history] == [
        ("quality", None, None), ("freshness", "source is 3h old", FailureCategory.TIMEOUT)
    ]
    assert [t.trait_type for t in await archive.trait_history("pipe-a", at(2))] == ["quality"]
    assert len(await archive.trait_history("pipe-a", at(0), limit=1)) == 1
    assert await archive.trait_history("pipe-b", at(0)) == []


async def test_nul_characters_are_cleaned_not_fatal(archive: PostgresArchive, raw: Raw) -> None:
    batch = records("pipe-a", ("1", {"trait_type": "t", "status": "FAIL", "message": "bad\x00byte",
                                      "details": {"out\x00": "x\x00y"}}))
    await archive.insert_events("pipe-a", batch)
    rows = await raw.rows("SELECT message, details FROM events")
    assert rows == [("bad\ufffdbyte", {"out\ufffd": "x\ufffdy"})]


async def test_cursor_roundtrip(archive: PostgresArchive) -> None:
    assert await archive.get_cursor("pipe-a", "events") is None
    await archive.set_cursor("pipe-a", "events", "5")
    await archive.set_cursor("pipe-a", "events", "1700000000000-3")
    await archive.set_cursor("pipe-b", "events", "2")
    assert await archive.get_cursor("pipe-a", "events") == "1700000000000-3"
    assert await archive.get_cursor("pipe-a", "runs") is None


async def test_failed_pipelines_and_run_history(archive: PostgresArchive) -> None:
    await archive.upsert_run_logs([
        run_log("pipe-c", "2026-03-01", status=RunStatus.FAILED),
        run_log("pipe-a", "2026-03-01", status=RunStatus.FAILED),
        run_log("pipe-a", "2026-03-01", "hourly", status=RunStatus.FAILED),
        run_log("pipe-b", "2026-03-01", status=RunStatus.COMPLETED),
        run_log("pipe-b", "2026-03-02", status=RunStatus.FAILED),
    ])
    assert await archive.failed_pipelines("2026-03-01") == ["pipe-a", "pipe-c"]
    assert await archive.failed_pipelines(at().date()) == ["pipe-b"]
    await archive.upsert_run_logs([
        run_log("pipe-h", f"2026-02-{day:02d}", status=RunStatus.COMPLETED, started=day * 86400.0)
        for day in range(1, 6)
    ])
    history = await archive.run_history("pipe-h", limit=3)
    assert [entry.date for entry in history] == ["2026-02-05", "2026-02-04", "2026-02-03"]
    assert history[0].started_at == at(5 * 86400.0)
    assert len(await archive.run_history("pipe-h", limit=0)) == 5


async def test_a_dropped_connection_is_store_unavailable_then_recovers(
    archive: PostgresArchive, raw: Raw
) -> None:
    await archive.set_cursor("pipe-a", "events", "1")
    assert archive._conn is not None
    pid = archive._conn.info.backend_pid
    assert await raw.rows("SELECT application_name FROM pg_stat_activity WHERE pid = %s", pid) == [
        ("interlock-archiver",)
    ]
    assert await raw.rows("SELECT pg_terminate_backend(%s)", pid) == [(True,)]
    with pytest.raises(StoreUnavailable, match="PostgreSQL archive"):
        await archive.get_cursor("pipe-a", "events")
    assert await archive.get_cursor("pipe-a", "events") == "1"
    assert await archive.ping() is True


async def test_unreachable_server_is_store_unavailable() -> None:
    pg = PostgresArchive.from_dsn("postgresql://postgres:secret-pw@127.0.0.1:1/test")
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/test unreachable") as caught:
        await pg.migrate()
    assert "secret-pw" not in caught.value.message and "secret-pw" not in repr(pg)
    assert await pg.ping() is False
    await pg.close()
    await pg.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        await pg.get_cursor("p", "events")


async def test_a_query_error_is_an_interlock_error(schema: str) -> None:
    pg = PostgresArchive.from_dsn(DSN, schema=schema)  # not migrated: no tables
    try:
        with pytest.raises(InterlockError, match="reading a cursor failed") as caught:
            await pg.get_cursor("pipe-a", "events")
        assert not isinstance(caught.value, StoreUnavailable)
    finally:
        await pg.close()


def test_bad_configuration_is_refused_before_connecting() -> None:
    with pytest.raises(ConfigError, match=r"archiver\.dsn"):
        PostgresArchive.from_dsn("")
    with pytest.raises(ConfigError, match="invalid PostgreSQL DSN") as caught:
        PostgresArchive.from_dsn("host=x password=hunter2 nonsense")
    assert "hunter2" not in caught.value.message
    with pytest.raises(ConfigError, match=r"archiver\.dsn"):
        PostgresArchive.from_config(ArchiverConfig(enabled=True))
    assert PostgresArchive.from_config(ArchiverConfig(dsn=DSN, interval=timedelta(seconds=30))).dsn == DSN
    with pytest.raises(ValidationError, match="schema"):
        PostgresArchive(DSN, schema="x; DROP TABLE runs")


def test_psycopg_is_the_driver() -> None:
    assert psycopg.__version__ >= "3.2"
