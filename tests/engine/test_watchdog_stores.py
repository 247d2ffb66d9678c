"""The watchdog on the Redis and DynamoDB stores (the SQLite store runs every test of
``test_watchdog``): its start mark, first-trait-pass mark and once-only claims go through the
store Protocol alone, so each check behaves the same on every backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import aioboto3
import pytest

from interlock_core.model import EventKind
from interlock_core.ports import Store
from interlock_core.watcher import Watcher
from interlock_plugins.stores.dynamodb import DynamoDBStore
from tests.helpers.backends import scratch_redis_store
from tests.helpers.dynamodb import dynamodb_moto_server
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server
from tests.moto_server import FAKE_REGION, MotoServer, fake_aws_environment

K = EventKind


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with dynamodb_moto_server() as server:
        yield server


@pytest.fixture(params=["redis", "dynamodb"])
async def store(request: pytest.FixtureRequest, harness: Harness,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    if request.param == "redis":
        async with scratch_redis_store(harness.clock, "watchdog") as redis:
            yield redis
        return
    server: MotoServer = request.getfixturevalue("moto_server")
    fake_aws_environment(monkeypatch, server)
    session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                               region_name=FAKE_REGION)
    yield DynamoDBStore(table_name=f"interlock-test-{uuid.uuid4().hex[:12]}", endpoint=server.url,
                        region=FAKE_REGION, create_table=True, clock=harness.clock, session=session)


async def events(engine: Any, name: str, kind: EventKind) -> list[Any]:
    return [e for e in await engine.store.list_events(name, 1000) if e.kind is kind]


async def test_missed_window_stuck_run_and_max_duration(harness: Harness, store: Store) -> None:
    with webhook_server() as hook:
        harness.write([
            pipeline("missed", schedules=[{"name": "daily", "after": "09:00", "deadline": "10:00"}]),
            pipeline("stuck", trigger={"type": "http", "url": hook.url}, sla={"expectedDuration": "10m"}),
            pipeline("slow", sla={"maxDuration": "1h"}),
        ])
        harness.sensors.ready("stuck")
        harness.sensors.set("slow.freshness", "PASS")
        harness.sensors.set("slow.volume", "FAIL empty")
        harness.clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        engine = await harness.engine(store=store)
        watcher = Watcher(engine)
        await watcher.run_once()  # the start mark; stuck's run starts; slow's first trait pass
        harness.clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
        restarted = await harness.engine(store=store)  # the marks live in the store, not the process
        watcher = Watcher(restarted)
        for _ in range(3):
            await watcher.run_once()
            harness.clock.advance(30)
        assert [e.date for e in await events(restarted, "missed", K.SCHEDULE_MISSED)] == ["2026-03-02"]
        assert len(await events(restarted, "stuck", K.RUN_STUCK)) == 1
        breaches = await events(restarted, "slow", K.SLA_BREACHED)
        assert [b.details for b in breaches] == [{"kind": "maxDuration"}]
