"""Reruns of one cycle requested at the same moment, through several engines on one store (the
SQLite file, Redis, DynamoDB): exactly one rerun is recorded and launched; every other request is
refused and records nothing, so nothing is left for a watcher to start later."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aioboto3
import anyio
import pytest

from interlock_core.engine import CycleBusy, Engine, Outcome, RerunExists, RunOutcome
from interlock_core.errors import ConflictError
from interlock_core.model import RerunRecord, RunStatus
from interlock_core.ports import Store
from interlock_core.watcher import Watcher
from interlock_plugins.stores.dynamodb import DynamoDBStore
from interlock_plugins.stores.redis import RedisStore
from tests.helpers.backends import REDIS_URL
from tests.helpers.dynamodb import dynamodb_moto_server
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import Webhook, webhook_server
from tests.moto_server import FAKE_REGION, MotoServer, fake_aws_environment

S = RunStatus
DAY = "2026-03-01"
ENGINES = 3
REQUESTS = 12

StoreFactory = Callable[[], Store | None]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with dynamodb_moto_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "redis", "dynamodb"])
async def stores(request: pytest.FixtureRequest, harness: Harness,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StoreFactory]:
    """Makes one store object per engine, all on the same backend data (None: the project's file)."""
    if request.param == "sqlite":
        yield lambda: None
        return
    if request.param == "redis":
        prefix = f"burst-{uuid.uuid4().hex[:10]}:"
        made: list[RedisStore] = []

        def redis() -> Store:
            made.append(RedisStore(url=REDIS_URL, key_prefix=prefix, clock=harness.clock))
            return made[-1]

        try:
            yield redis
        finally:
            if made:
                await made[0].start()
                await made[0].purge()
        return
    server: MotoServer = request.getfixturevalue("moto_server")
    fake_aws_environment(monkeypatch, server)
    table = f"interlock-test-{uuid.uuid4().hex[:12]}"

    def dynamodb() -> Store:
        session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                   region_name=FAKE_REGION)
        return DynamoDBStore(table_name=table, endpoint=server.url, region=FAKE_REGION, create_table=True,
                             clock=harness.clock, session=session)

    yield dynamodb


def launches(hook: Webhook, day: str = DAY) -> int:
    """Jobs launched for ``day`` (the run key names the cycle)."""
    return sum(1 for r in hook.requests if f":{day}:" in r["headers"].get("Idempotency-Key", ""))


async def engines_on_one_store(harness: Harness, stores: StoreFactory, url: str) -> list[Engine]:
    harness.write([pipeline("p1", traits={}, trigger={"type": "http", "url": url})])
    engines = [await harness.engine(store=stores()) for _ in range(ENGINES)]
    for trait in ("freshness", "volume"):  # pushed: no evaluator process, the race is the requests'
        await engines[0].push_trait("p1", trait, "PASS")
    return engines


async def burst(engines: list[Engine], requests: int = REQUESTS) -> tuple[
        list[tuple[RerunRecord, RunOutcome | None]], list[ConflictError]]:
    accepted: list[tuple[RerunRecord, RunOutcome | None]] = []
    refused: list[ConflictError] = []

    async def ask(n: int) -> None:
        try:
            # forced: the cycle's inputs are unchanged, and this is about the burst, not the breaker
            accepted.append(await engines[n % len(engines)].request_rerun("p1", DAY, f"at once {n}", force=True))
        except (CycleBusy, RerunExists) as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        for n in range(requests):
            tg.start_soon(ask, n)
    return accepted, refused


async def test_simultaneous_reruns_record_and_launch_one(harness: Harness, stores: StoreFactory) -> None:
    with webhook_server() as hook:
        engines = await engines_on_one_store(harness, stores, hook.url)
        first = await engines[0].start_run("p1", date=DAY)
        assert first.run is not None
        await engines[0].complete_run(first.run.run_id, "success")
        assert launches(hook) == 1

        accepted, refused = await burst(engines)

        assert len(accepted) == 1 and len(refused) == REQUESTS - 1, (accepted, refused)
        [(record, outcome)] = accepted
        assert outcome is not None and outcome.outcome is Outcome.TRIGGERED
        assert launches(hook) == 2
        reruns = await engines[1].store.list_reruns("p1", 100)
        assert [r.rerun_id for r in reruns] == [record.rerun_id]  # the refused ones recorded nothing
        for exc in refused:
            assert exc.status_code == 409
        # nothing left over for a watcher: passes on every engine launch nothing more for the day
        for engine in engines:
            await Watcher(engine).run_once()
        assert launches(hook) == 2
        runs = await engines[2].store.list_runs("p1", 100)
        assert len([r for r in runs if r.date == DAY]) == 2


async def test_a_refused_rerun_records_nothing_and_the_next_one_after_it_ends_runs(
        harness: Harness, stores: StoreFactory) -> None:
    with webhook_server() as hook:
        engines = await engines_on_one_store(harness, stores, hook.url)
        first = await engines[0].start_run("p1", date=DAY)
        assert first.run is not None
        await engines[0].complete_run(first.run.run_id, "success")
        record, outcome = await engines[0].request_rerun("p1", DAY, "late data", force=True)
        assert outcome is not None and outcome.run is not None
        with pytest.raises((CycleBusy, RerunExists)):
            await engines[1].request_rerun("p1", DAY, "again", force=True)
        assert [r.rerun_id for r in await engines[2].store.list_reruns("p1", 100)] == [record.rerun_id]
        await engines[1].complete_run(outcome.run.run_id, "success")
        again, second = await engines[2].request_rerun("p1", DAY, "once more", force=True)  # the first one ended
        assert second is not None and second.outcome is Outcome.TRIGGERED
        assert launches(hook) == 3
        assert {r.rerun_id for r in await engines[0].store.list_reruns("p1", 100)} == {record.rerun_id,
                                                                                      again.rerun_id}


async def test_a_pending_rerun_holds_its_cycle(harness: Harness, stores: StoreFactory) -> None:
    """Not ready: the rerun stays PENDING and a second request for the cycle is refused, naming it;
    once it is cancelled, a new one may be recorded."""
    with webhook_server() as hook:
        engines = await engines_on_one_store(harness, stores, hook.url)
        await engines[0].push_trait("p1", "volume", "FAIL", reason="empty")
        record, outcome = await engines[0].request_rerun("p1", DAY, "late data")
        assert outcome is not None and outcome.outcome is Outcome.NOT_READY and record.status is S.PENDING
        with pytest.raises(RerunExists) as refused:
            await engines[1].request_rerun("p1", DAY, "again")
        assert refused.value.details["rerunId"] == record.rerun_id
        assert refused.value.details["rerunStatus"] == "PENDING"
        await engines[1].cancel_rerun(record.rerun_id)
        again, _ = await engines[2].request_rerun("p1", DAY, "once more")
        assert again.rerun_id != record.rerun_id and again.status is S.PENDING
        assert launches(hook) == 0



async def test_a_rerun_a_watcher_starts_while_its_requester_does_is_accepted_and_runs_once(
        harness: Harness, stores: StoreFactory) -> None:
    """The requester starts its rerun itself; a watcher that sees the PENDING record at that moment
    may start it first. The record runs once, and the request is answered as accepted, not refused."""
    with webhook_server() as hook:
        requester, watcher, _ = await engines_on_one_store(harness, stores, hook.url)
        start_run = requester.runs.start_run

        async def watcher_first(*args: Any, rerun: RerunRecord | None = None, **kwargs: Any) -> RunOutcome:
            assert rerun is not None
            started = await watcher.reruns.start_pending(rerun)
            assert started.outcome is Outcome.TRIGGERED
            return await start_run(*args, rerun=rerun, **kwargs)

        requester.runs.start_run = watcher_first  # type: ignore[method-assign]
        record, outcome = await requester.request_rerun("p1", DAY, "late data")
        assert outcome is not None and outcome.outcome is Outcome.TRIGGERED, outcome
        assert outcome.run is not None and record.rerun_run_id == outcome.run.run_id
        assert record.status is S.RUNNING and launches(hook) == 1
