"""What the ``redis`` store promises beyond the conformance suite: retention TTLs, key layout,
native trait expiry, outage handling, and wake-ups over pub/sub between replicas."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from interlock_core.clock import FakeClock
from interlock_core.errors import StoreUnavailable, ValidationError
from interlock_core.model import (
    CascadeMarker,
    Event,
    EventKind,
    PipelineConfig,
    RerunRecord,
    RunLogEntry,
    RunState,
    RunStatus,
    TraitEvaluation,
)
from interlock_core.ports import Store, WakeUp
from interlock_plugins.stores.redis import RedisConfig, RedisStore
from interlock_plugins.stores.redis_notify import RedisNotifier
from tests.helpers.backends import REDIS_URL

pytestmark = pytest.mark.redis

WEEK = 7 * 24 * 3600
DAY = 24 * 3600
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _prefix() -> str:
    return f"interlock-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def raw() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"redis-server is not reachable at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def store(raw: aioredis.Redis) -> AsyncIterator[RedisStore]:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix(), clock=FakeClock())
    await store.start()
    yield store
    await store.purge()
    await store.close()


async def _keys(client: aioredis.Redis, prefix: str) -> set[str]:
    return {k async for k in client.scan_iter(match=prefix + "*", count=500)}


def _run(run_id: str, status: RunStatus, pipeline_id: str = "orders", version: int = 1) -> RunState:
    return RunState(run_id=run_id, pipeline_id=pipeline_id, status=status, version=version,
                    created_at=NOW, updated_at=NOW)


def _assert_ttl(pttl_ms: int, seconds: int) -> None:
    assert abs(pttl_ms / 1000 - seconds) < 10, f"TTL {pttl_ms / 1000:.0f}s, expected about {seconds}s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------------------ the contract


def test_satisfies_the_store_protocol() -> None:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix())
    assert isinstance(store, Store)


async def test_registered_as_the_redis_provider() -> None:
    from interlock_core.plugins import PluginContext, load_plugins

    assert load_plugins().stores.get("redis") is RedisStore
    assert RedisStore.config_model is RedisConfig
    config = RedisConfig.model_validate({"url": REDIS_URL, "keyPrefix": "p:", "retentionTtl": "1h"})
    store = RedisStore.create(config, PluginContext(clock=FakeClock()))
    assert store.config.retention_ttl == timedelta(hours=1)
    assert store.keys.prefix == "p:"
    await store.close()


async def test_a_burst_beyond_the_pool_waits_for_a_connection(raw: aioredis.Redis) -> None:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix(), pool_size=2)
    try:
        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(store.put_run, _run(f"r{i}", RunStatus.RUNNING))
        assert len(await store.list_runs("orders", limit=50)) == 30
    finally:
        await store.purge()
        await store.close()


# --------------------------------------------------------------------------- retention TTLs


async def test_terminal_run_keeps_retention_and_unfinished_run_a_day_more(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    await store.put_run(_run("done", RunStatus.COMPLETED))
    await store.put_run(_run("busy", RunStatus.RUNNING))
    _assert_ttl(await raw.pttl(store.keys.run("done")), WEEK)
    _assert_ttl(await raw.pttl(store.keys.run("busy")), WEEK + DAY)
    _assert_ttl(await raw.pttl(store.keys.runs("orders")), WEEK + DAY)


async def test_cas_sets_the_ttl_of_the_new_status(store: RedisStore, raw: aioredis.Redis) -> None:
    assert await store.create_run(_run("r1", RunStatus.RUNNING))
    _assert_ttl(await raw.pttl(store.keys.run("r1")), WEEK + DAY)
    assert await store.cas_run(_run("r1", RunStatus.COMPLETED, version=2), expected_version=1)
    _assert_ttl(await raw.pttl(store.keys.run("r1")), WEEK)


async def test_run_logs_reruns_events_and_markers_expire_after_retention(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    log = RunLogEntry(pipeline_id="orders", date="2026-03-02", status=RunStatus.COMPLETED,
                      started_at=NOW, updated_at=NOW)
    assert await store.cas_run_log(log, None)
    rerun = RerunRecord(rerun_id="rr1", pipeline_id="orders", original_date="2026-03-01", reason="late",
                        status=RunStatus.COMPLETED, requested_at=NOW)
    assert await store.cas_rerun(rerun, None)
    await store.append_event(Event(kind=EventKind.TRAIT_EVALUATED, pipeline_id="orders", timestamp=NOW))
    await store.write_cascade_marker(CascadeMarker(pipeline_id="orders", date="2026-03-02", source="raw",
                                                   timestamp=NOW))
    _assert_ttl(await raw.pttl(store.keys.run_log("orders", "2026-03-02", "daily")), WEEK)
    _assert_ttl(await raw.pttl(store.keys.rerun("rr1")), WEEK)
    _assert_ttl(await raw.pttl(store.keys.events("orders")), WEEK)
    _assert_ttl(await raw.pttl(store.keys.cascade("orders", "2026-03-02", "daily")), WEEK)


async def test_zero_retention_keeps_records_forever(raw: aioredis.Redis) -> None:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix(), retention_ttl=0)
    try:
        await store.put_run(_run("r1", RunStatus.COMPLETED))
        assert await raw.pttl(store.keys.run("r1")) == -1
        assert await raw.pttl(store.keys.runs("orders")) == -1
    finally:
        await store.purge()
        await store.close()


async def test_expired_runs_drop_out_of_the_run_list(raw: aioredis.Redis) -> None:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix(), retention_ttl=0.3)
    try:
        await store.put_run(_run("old", RunStatus.COMPLETED))
        await store.put_run(_run("live", RunStatus.RUNNING))  # retention + 24 h
        await anyio.sleep(0.45)
        assert [r.run_id for r in await store.list_runs("orders")] == ["live"]
        assert await store.get_run("old") is None
    finally:
        await store.purge()
        await store.close()


# ------------------------------------------------------------------------------- native TTL


async def test_trait_ttl_is_native_expiry(store: RedisStore, raw: aioredis.Redis) -> None:
    evaluation = TraitEvaluation(pipeline_id="orders", trait_type="freshness", status="PASS",
                                 evaluated_at=NOW)
    await store.put_trait(evaluation, ttl=0.3)
    assert 0 < await raw.pttl(store.keys.trait("orders", "freshness")) <= 300
    await store.put_trait(evaluation.model_copy(update={"trait_type": "schema"}), ttl=None)
    assert await raw.pttl(store.keys.trait("orders", "schema")) == -1
    await anyio.sleep(0.45)
    assert await store.get_trait("orders", "freshness") is None
    assert [t.trait_type for t in await store.list_traits("orders")] == ["schema"]


async def test_leases_expire_natively(store: RedisStore, raw: aioredis.Redis) -> None:
    assert await store.acquire_lease("cycle:orders", "a", 0.3)
    assert 0 < await raw.pttl(store.keys.lease("cycle:orders")) <= 300
    assert not await store.acquire_lease("cycle:orders", "b", 30)
    await anyio.sleep(0.45)
    assert await store.lease_owner("cycle:orders") is None
    assert await store.acquire_lease("cycle:orders", "b", 30)


# ------------------------------------------------------------------------------- key layout


async def test_every_key_lives_under_the_prefix_in_the_documented_layout(
    store: RedisStore, raw: aioredis.Redis
) -> None:
    p = store.keys.prefix
    await store.put_pipeline(PipelineConfig(name="orders", archetype="batch"))
    await store.put_trait(TraitEvaluation(pipeline_id="orders", trait_type="fresh", status="PASS",
                                          evaluated_at=NOW), ttl=60)
    await store.put_run(_run("r1", RunStatus.RUNNING))
    await store.put_run_log(RunLogEntry(pipeline_id="orders", date="2026-03-02", schedule_id="h14",
                                        status=RunStatus.RUNNING, started_at=NOW, updated_at=NOW))
    await store.put_rerun(RerunRecord(rerun_id="rr1", pipeline_id="orders", original_date="2026-03-01",
                                      reason="late", status=RunStatus.PENDING, requested_at=NOW))
    await store.append_event(Event(kind=EventKind.TRIGGER_FIRED, pipeline_id="orders", timestamp=NOW))
    await store.write_cascade_marker(CascadeMarker(pipeline_id="orders", date="2026-03-02", source="raw",
                                                   timestamp=NOW))
    await store.acquire_lease("cycle:orders:daily", "me", 60)
    assert await _keys(raw, p) == {
        f"{p}pipelines",
        f"{p}{{orders}}:trait:fresh",
        f"{p}{{orders}}:traits",
        f"{p}run:r1",
        f"{p}{{orders}}:runs",
        f"{p}{{orders}}:runlog:2026-03-02:h14",
        f"{p}{{orders}}:runlogs",
        f"{p}rerun:rr1",
        f"{p}{{orders}}:reruns",
        f"{p}reruns",
        f"{p}{{orders}}:events",
        f"{p}{{orders}}:cascade:2026-03-02:daily",
        f"{p}lease:cycle%3Aorders%3Adaily",
    }
    assert await raw.type(f"{p}pipelines") == "hash"
    assert await raw.type(f"{p}{{orders}}:events") == "stream"


async def test_list_pipelines_reads_the_pipelines_hash(store: RedisStore, raw: aioredis.Redis) -> None:
    """Pipelines are listed from one hash (no KEYS or SCAN); unreadable entries are skipped."""
    await store.put_pipeline(PipelineConfig(name="b-pipe", archetype="batch"))
    other = PipelineConfig(name="a-pipe", archetype="x")
    await raw.hset(store.keys.pipelines, "a-pipe", other.model_dump_json(by_alias=True))
    await raw.hset(store.keys.pipelines, "broken", "{not json")
    assert [p.name for p in await store.list_pipelines()] == ["a-pipe", "b-pipe"]
    assert await store.delete_pipeline("b-pipe")
    assert sorted(await raw.hkeys(store.keys.pipelines)) == ["a-pipe", "broken"]


async def test_ids_cannot_forge_hash_tags_or_other_keys(store: RedisStore, raw: aioredis.Redis) -> None:
    odd = "a:b{c}%"
    await store.put_run_log(RunLogEntry(pipeline_id=odd, date="2026:03", schedule_id="x:y",
                                        status=RunStatus.RUNNING, started_at=NOW, updated_at=NOW))
    p = store.keys.prefix
    assert f"{p}{{a%3Ab%7Bc%7D%25}}:runlog:2026%3A03:x%3Ay" in await _keys(raw, p)
    [entry] = await store.list_run_logs(odd)
    assert (entry.pipeline_id, entry.date, entry.schedule_id) == (odd, "2026:03", "x:y")


async def test_purge_removes_only_its_own_prefix(store: RedisStore, raw: aioredis.Redis) -> None:
    other = RedisStore(url=REDIS_URL, key_prefix=_prefix())
    try:
        await store.put_pipeline(PipelineConfig(name="mine", archetype="a"))
        await other.put_pipeline(PipelineConfig(name="theirs", archetype="a"))
        await store.purge()
        assert await _keys(raw, store.keys.prefix) == set()
        assert [p.name for p in await other.list_pipelines()] == ["theirs"]
    finally:
        await other.purge()
        await other.close()


async def test_a_bad_event_cursor_is_a_validation_error(store: RedisStore) -> None:
    with pytest.raises(ValidationError, match="cursor"):
        await store.read_events_since("orders", "not-a-cursor")


async def test_events_keep_the_newest_within_the_stream_bound(raw: aioredis.Redis) -> None:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix(), event_stream_max=10)
    try:
        for i in range(300):
            await store.append_event(Event(kind=EventKind.TRAIT_EVALUATED, pipeline_id="orders",
                                           trait_type=f"t{i}", timestamp=NOW))
        assert await raw.xlen(store.keys.events("orders")) < 300  # approximate trim
        recent = await store.list_events("orders", limit=3)
        assert [e.trait_type for e in recent] == ["t297", "t298", "t299"]
    finally:
        await store.purge()
        await store.close()


# --------------------------------------------------------------------------------- outages


async def test_a_closed_port_is_store_unavailable() -> None:
    port = _free_port()
    store = RedisStore(url=f"redis://127.0.0.1:{port}", key_prefix=_prefix(), connect_timeout=1)
    try:
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
            await store.start()
        with pytest.raises(StoreUnavailable) as caught:
            await store.get_run("r1")
        assert caught.value.status_code == 503
        with pytest.raises(StoreUnavailable):
            await store.cas_run(_run("r1", RunStatus.RUNNING, version=2), 1)
    finally:
        await store.close()
        await store.close()  # idempotent


async def test_wrong_credentials_are_store_unavailable(raw: aioredis.Redis) -> None:
    url = REDIS_URL.replace("redis://", "redis://no-such-user:not-the-password@")
    store = RedisStore(url=url, key_prefix=_prefix())
    try:
        with pytest.raises(StoreUnavailable):
            await store.start()
    finally:
        await store.close()


# ------------------------------------------------------------------------------- wake-ups


async def _wait_subscribed(raw: aioredis.Redis, channel: str, count: int = 1) -> None:
    with anyio.fail_after(5):
        while True:
            numsub: list[Any] = await raw.pubsub_numsub(channel)
            if numsub and numsub[0][1] >= count:
                return
            await anyio.sleep(0.02)


async def test_wake_ups_travel_between_two_notifiers(raw: aioredis.Redis) -> None:
    prefix = _prefix()
    listener = RedisNotifier(url=REDIS_URL, key_prefix=prefix)
    speaker = RedisNotifier(url=REDIS_URL, key_prefix=prefix)
    sent = WakeUp(pipeline_id="orders", reason="trait-pushed", schedule_id="h14", date="2026-03-02", at=NOW)
    try:
        async with aclosing(listener.subscribe()) as wakes:
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    async def speak() -> None:
                        await _wait_subscribed(raw, listener.channel)
                        await speaker.publish(WakeUp(pipeline_id="", reason="ignored"))  # skipped
                        await raw.publish(listener.channel, "not json")  # skipped
                        await speaker.publish(sent)

                    tg.start_soon(speak)
                    received = await anext(wakes)
        assert received == sent
        assert listener.channel == f"{prefix}wake"
    finally:
        await listener.close()
        await speaker.close()


async def test_subscription_survives_a_killed_connection(raw: aioredis.Redis) -> None:
    prefix = _prefix()
    name = f"interlock-test-{uuid.uuid4().hex[:12]}"
    listener = RedisNotifier(url=REDIS_URL, key_prefix=prefix, client_name=name, reconnect_initial=0.05)
    speaker = RedisNotifier(url=REDIS_URL, key_prefix=prefix)
    try:
        async with aclosing(listener.subscribe()) as wakes:
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    async def kill_then_publish() -> None:
                        await _wait_subscribed(raw, listener.channel)
                        clients = [c for c in await raw.client_list() if c.get("name") == name]
                        assert clients, "the subscriber connection is not visible in CLIENT LIST"
                        for client in clients:
                            await raw.client_kill_filter(_id=client["id"])
                        # messages published while it reconnects are lost; keep publishing
                        while True:
                            await speaker.publish(WakeUp(pipeline_id="orders", reason="after-kill"))
                            await anyio.sleep(0.05)

                    tg.start_soon(kill_then_publish)
                    received = await anext(wakes)
                    tg.cancel_scope.cancel()
        assert received.reason == "after-kill"
    finally:
        await listener.close()
        await speaker.close()


async def test_notifier_outage_publish_raises_and_subscribe_keeps_trying() -> None:
    notifier = RedisNotifier(url=f"redis://127.0.0.1:{_free_port()}", key_prefix=_prefix(),
                             connect_timeout=0.5, reconnect_initial=0.05, reconnect_max=0.1)
    try:
        with pytest.raises(StoreUnavailable):
            await notifier.publish(WakeUp(pipeline_id="orders", reason="x"))
        with anyio.move_on_after(0.5) as scope:
            async with aclosing(notifier.subscribe()) as wakes:
                async for _ in wakes:
                    pytest.fail("no wake-up can arrive from a closed port")
        assert scope.cancelled_caught
    finally:
        await notifier.close()


async def test_subscription_ends_when_the_notifier_closes(raw: aioredis.Redis) -> None:
    notifier = RedisNotifier(url=REDIS_URL, key_prefix=_prefix())
    received: list[WakeUp] = []

    async def consume() -> None:
        async for wake in notifier.subscribe():
            received.append(wake)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await _wait_subscribed(raw, notifier.channel)
            await notifier.close()
    assert received == []


async def test_a_shared_read_answers_the_kept_trait_records_while_their_rows_stand(store: RedisStore) -> None:
    """``read_pipeline(shared=True)``: each trait row the record kept for its text — the same object
    while the row is unchanged — where a plain read answers copies of the caller's own."""
    def result(status: str) -> TraitEvaluation:
        return TraitEvaluation(pipeline_id="orders", trait_type="freshness", status=status, evaluated_at=NOW)

    await store.put_trait(result("PASS"), None)
    first = await store.read_pipeline("orders", readiness=False, shared=True)
    again = await store.read_pipeline("orders", readiness=False, shared=True)
    assert again.traits["freshness"] is first.traits["freshness"]
    own = await store.read_pipeline("orders", readiness=False)
    assert own.traits["freshness"] is not first.traits["freshness"] and own.traits == first.traits
    await store.put_trait(result("FAIL"), None)
    changed = await store.read_pipeline("orders", readiness=False, shared=True)
    assert changed.traits["freshness"].status == "FAIL" and first.traits["freshness"].status == "PASS"


async def test_a_shared_read_of_an_unchanged_answer_is_the_records_of_the_last(store: RedisStore) -> None:
    """``read_pipeline(shared=True)`` answers the records of the last shared read of the same asking
    while the script answers the same (the same object); a changed row, another asking, or a plain
    read gets records of their own."""
    def result(trait: str, status: str) -> TraitEvaluation:
        return TraitEvaluation(pipeline_id="orders", trait_type=trait, status=status, evaluated_at=NOW)

    cycles = [("2026-03-02", "daily")]
    await store.put_trait(result("freshness", "PASS"), None)
    first = await store.read_pipeline("orders", cycles, readiness=False, shared=True)
    assert await store.read_pipeline("orders", cycles, readiness=False, shared=True) is first
    other_cycle = await store.read_pipeline("orders", [("2026-03-03", "daily")], readiness=False, shared=True)
    assert other_cycle is not first and other_cycle.traits == first.traits
    own = await store.read_pipeline("orders", cycles, readiness=False)
    assert own is not first and own == first
    await store.put_trait(result("volume", "FAIL"), None)
    changed = await store.read_pipeline("orders", cycles, readiness=False, shared=True)
    assert changed is not first and sorted(changed.traits) == ["freshness", "volume"]
    assert list(first.traits) == ["freshness"], "the records answered before are left as they were"
    assert changed.traits["freshness"] is first.traits["freshness"], "the unchanged row's record is kept"
    assert await store.read_pipeline("orders", cycles, readiness=False, shared=True) is changed
