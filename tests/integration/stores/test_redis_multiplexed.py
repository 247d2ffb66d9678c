"""The Redis store's hot reads pipelined on one connection (``multiplexed.py``): the same answers as
through redis-py's pool, each to its own request however many are in flight, and every way the
connection can fail a ``StoreUnavailable`` that the next request recovers from by itself."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from interlock_core.errors import StoreUnavailable
from interlock_core.model import TraitEvaluation
from interlock_plugins.stores.redis import RedisStore
from interlock_plugins.stores.redis.multiplexed import MultiplexedReads, command, error_of
from tests.helpers.backends import REDIS_ADDR, REDIS_URL
from tests.helpers.served import free_port
from tests.outage.support import PrivateRedis, running_private_redis

pytestmark = pytest.mark.redis

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PIPELINES = [f"pipe-{n}" for n in range(6)]


def _prefix() -> str:
    return f"interlock-test:{uuid.uuid4().hex}:"


def _trait(pipeline: str, trait: str, status: str = "PASS") -> TraitEvaluation:
    return TraitEvaluation(pipeline_id=pipeline, trait_type=trait, status=status, evaluated_at=NOW,
                           reason=f"{pipeline}/{trait}")


async def _fill(store: RedisStore) -> None:
    """Each pipeline its own traits: ``pipe-n`` has n + 1 of them."""
    for n, pipeline in enumerate(PIPELINES):
        for t in range(n + 1):
            await store.put_trait(_trait(pipeline, f"t{t}", "PASS" if t % 2 == 0 else "FAIL"), 0)


def _traits(records: object) -> dict[str, str]:
    traits: dict[str, TraitEvaluation] = records.traits  # type: ignore[attr-defined]
    return {name: str(t.reason) for name, t in traits.items()}


def _expected(pipeline: str) -> dict[str, str]:
    n = PIPELINES.index(pipeline)
    return {f"t{t}": f"{pipeline}/t{t}" for t in range(n + 1)}


@pytest.fixture
async def store() -> AsyncIterator[RedisStore]:
    store = RedisStore(url=REDIS_URL, key_prefix=_prefix())
    await _fill(store)
    try:
        yield store
    finally:
        await store.purge()
        await store.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with running_private_redis(tmp_path / "redis") as server:
        yield server


# ------------------------------------------------------------------------------------ answers


async def test_reads_answer_what_the_pool_answers(store: RedisStore) -> None:
    assert store._reads is not None
    through_pool = RedisStore(url=REDIS_URL, key_prefix=store.keys.prefix, multiplex_reads=False)
    try:
        assert through_pool._reads is None
        for pipeline in PIPELINES:
            multiplexed = await store.read_pipeline(pipeline, [("2026-03-02", "daily")], config=True, history=5)
            pooled = await through_pool.read_pipeline(pipeline, [("2026-03-02", "daily")], config=True, history=5)
            assert multiplexed == pooled
            assert _traits(multiplexed) == _expected(pipeline)
        assert store._reads._wire is not None, "the reads went over the multiplexed connection"
    finally:
        await through_pool.close()


async def test_many_reads_in_flight_each_get_their_own_answer(store: RedisStore) -> None:
    rng = random.Random(7)
    asked = [rng.choice(PIPELINES) for _ in range(300)]
    assert set(asked) == set(PIPELINES)
    answers = await asyncio.gather(*(store.read_pipeline(p) for p in asked))
    assert [_traits(a) for a in answers] == [_expected(p) for p in asked]


async def test_a_request_that_gives_up_leaves_the_others_their_answers(store: RedisStore) -> None:
    assert store._reads is not None
    await store.read_pipeline(PIPELINES[0])  # connected
    wire = store._reads._wire
    assert wire is not None
    for _ in range(20):
        abandoned = asyncio.create_task(store.read_pipeline(PIPELINES[1]))
        for _ in range(100):  # until it is written, its reply not yet read
            if wire.waiting:
                break
            await asyncio.sleep(0)
        assert wire.waiting and store._reads._wire is wire, "the request went out on the same connection"
        following = asyncio.create_task(store.read_pipeline(PIPELINES[2]))
        abandoned.cancel()
        assert _traits(await following) == _expected(PIPELINES[2])
        with pytest.raises(asyncio.CancelledError):
            await abandoned
    assert store._reads._wire is wire, "cancelling a request does not cost the connection"


async def test_a_script_the_server_does_not_know_is_loaded() -> None:
    reads = MultiplexedReads.for_pool(aioredis.Redis.from_url(REDIS_URL).connection_pool)
    assert reads is not None
    script = f"return {{KEYS[1], ARGV[1], '{uuid.uuid4().hex}'}}"
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    sha = client.register_script(script).sha
    try:
        assert await client.script_exists(sha) == [False]
        answer = await reads.evalsha(sha, script, ["k"], [42])
        assert answer[:2] == ["k", "42"]
        assert await client.script_exists(sha) == [True]
    finally:
        await reads.close()
        await client.aclose()


def test_error_replies_raise_as_redis_py_raises_them() -> None:
    def raised(text: str) -> redis_errors.RedisError:
        return error_of(redis_errors.ResponseError(text))

    assert isinstance(raised("NOSCRIPT No matching script."), redis_errors.NoScriptError)
    assert isinstance(raised("READONLY You can't write against a read only replica."), redis_errors.ReadOnlyError)
    assert isinstance(raised("LOADING Redis is loading the dataset in memory"), redis_errors.BusyLoadingError)
    assert isinstance(raised("WRONGPASS invalid username-password pair"), redis_errors.AuthenticationError)
    other = raised("ERR unknown command 'NOPE'")
    assert type(other) is redis_errors.ResponseError and "unknown command" in str(other)


def test_commands_are_encoded_as_redis_py_encodes_them() -> None:
    assert command(["EVALSHA", "abc", 1, "k", 2.5, b"\x00raw", "é"]) == (
        b"*7\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$1\r\nk\r\n$3\r\n2.5\r\n$4\r\n\x00raw\r\n$2\r\n\xc3\xa9\r\n")
    with pytest.raises(redis_errors.DataError):
        command(["SET", "k", None])  # type: ignore[list-item]


# ------------------------------------------------------------------------- which connections


def test_only_plain_tcp_connections_are_multiplexed() -> None:
    def reads(url: str, **options: object) -> MultiplexedReads | None:
        return RedisStore(url=url, key_prefix=_prefix(), **options)._reads

    assert reads(REDIS_URL) is not None
    assert reads(f"redis://user:secret@{REDIS_ADDR}/3") is not None
    assert reads(f"rediss://{REDIS_ADDR}/0") is None  # TLS: redis-py's connection
    assert MultiplexedReads.for_pool(aioredis.Redis.from_url("unix:///tmp/redis.sock").connection_pool) is None
    assert reads(REDIS_URL, multiplex_reads=False) is None


async def test_credentials_and_database_are_those_of_the_pool() -> None:
    admin = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    user, password = f"interlock-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
                            commands=["+@all"])
    store = RedisStore(url=f"redis://{user}:{password}@{REDIS_ADDR}/5", key_prefix=_prefix())
    wrong = RedisStore(url=f"redis://{user}:not-{password}@{REDIS_ADDR}/5", key_prefix=_prefix())
    try:
        await store.put_trait(_trait("p", "t0"), 0)  # through the pool, as that user, in database 5
        assert _traits(await store.read_pipeline("p")) == {"t0": "p/t0"}
        assert store._reads is not None and store._reads._wire is not None
        assert await store._reads.call("CLIENT", "GETNAME") == "interlock"
        with pytest.raises(StoreUnavailable):
            await wrong.read_pipeline("p")
    finally:
        await store.purge()
        await store.close()
        await wrong.close()
        await admin.acl_deluser(user)
        await admin.aclose()


# ------------------------------------------------------------------------------- failures


async def test_a_connection_dropped_between_requests_is_made_again(store: RedisStore) -> None:
    assert store._reads is not None
    await store.read_pipeline(PIPELINES[0])
    connection_id = await store._reads.call("CLIENT", "ID")
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert await admin.client_kill_filter(_id=connection_id) == 1
    finally:
        await admin.aclose()
    assert _traits(await store.read_pipeline(PIPELINES[3])) == _expected(PIPELINES[3])
    assert await store._reads.call("CLIENT", "ID") != connection_id


async def test_a_server_gone_is_unavailable_until_it_is_back(private_redis: PrivateRedis) -> None:
    store = RedisStore(url=f"redis://{private_redis.addr}/0", key_prefix=_prefix(), connect_timeout=1)
    try:
        await _fill(store)
        assert _traits(await store.read_pipeline(PIPELINES[1])) == _expected(PIPELINES[1])
        private_redis.kill()
        for _ in range(3):
            with pytest.raises(StoreUnavailable, match="unavailable"):
                await store.read_pipeline(PIPELINES[1])
        private_redis.start()  # the same port, its data kept
        assert _traits(await store.read_pipeline(PIPELINES[1])) == _expected(PIPELINES[1])
    finally:
        await store.close()


@pytest.mark.parametrize("answers_set_up", [False, True])
async def test_a_server_that_does_not_answer_times_out(answers_set_up: bool) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        if answers_set_up:  # CLIENT SETNAME is answered, then nothing more
            await reader.readuntil(b"interlock\r\n")
            writer.write(b"+OK\r\n")

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore(url=f"redis://127.0.0.1:{port}/0", key_prefix=_prefix(), socket_timeout=0.2)
    try:
        for _ in range(2):  # and again: a request never waits on a connection that stopped answering
            requests = [asyncio.create_task(store.read_pipeline(p)) for p in PIPELINES[:3]]
            for request in requests:
                with pytest.raises(StoreUnavailable, match=r"no reply from redis within 0\.2s"):
                    await request
            assert store._reads is not None
            wire = store._reads._wire
            assert (wire is not None and not wire.open) if answers_set_up else wire is None
        assert len(accepted) == 2, "each round connected once"
    finally:
        await store.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_nothing_listening_is_unavailable_at_once() -> None:
    store = RedisStore(url=f"redis://127.0.0.1:{free_port()}/0", key_prefix=_prefix(), connect_timeout=1)
    try:
        with pytest.raises(StoreUnavailable, match="cannot connect"):
            await store.read_pipeline("p")
    finally:
        await store.close()


def test_reads_used_on_a_new_event_loop_connect_on_it() -> None:
    reads = MultiplexedReads.for_pool(aioredis.Redis.from_url(REDIS_URL).connection_pool)
    assert reads is not None

    async def ping() -> object:
        return await reads.call("PING")

    assert asyncio.run(ping()) == "PONG"
    assert asyncio.run(ping()) == "PONG"  # the first loop, and its connection, are gone


async def test_a_late_reply_fails_the_connection_though_the_ones_before_it_came_in_time() -> None:
    """One timer watches the oldest request waiting: armed by a request answered in time, it waits
    on for the next one's limit, and fails the connection when that one's reply is late."""
    answered = 0

    async def answers_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        try:
            while await reader.readuntil(b"PING\r\n"):
                if answered == 0:  # the first PING is answered, then nothing more
                    answered += 1
                    writer.write(b"+PONG\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answers_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reads = MultiplexedReads.for_pool(aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0",
                                                              socket_timeout=0.3).connection_pool)
    assert reads is not None
    try:
        assert await reads.call("PING") == "PONG"
        wire = reads._wire
        assert wire is not None and wire._watch is not None, "the first request armed the watch"
        with pytest.raises(redis_errors.TimeoutError, match=r"no reply from redis within 0\.3s"):
            await reads.call("PING")
        assert not wire.open and wire._watch is None and not wire.waiting
    finally:
        await reads.close()
        server.close()
        await server.wait_closed()
