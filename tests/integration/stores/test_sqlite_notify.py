"""Wake-ups between processes sharing one SQLite file, on a real file: what one store's notifier
publishes, a notifier on another connection to the file reads (through ``PRAGMA data_version``);
its own wake-ups reach its subscribers once, in memory; old rows are purged. (The same across real
processes — a CLI command next to ``interlock serve`` — is in tests/e2e/test_cross_process_wake_ups.py.)"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest

from interlock_core.clock import FakeClock
from interlock_core.ports import WakeUp
from interlock_plugins.stores.sqlite import PURGE_INTERVAL, SQLiteStore
from interlock_plugins.stores.sqlite_notify import WAKE_UP_TTL, SQLiteNotifier

WAIT = 10.0


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, SQLiteStore]]:
    clock = FakeClock()
    first = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    second = SQLiteStore(tmp_path / "interlock.db", clock=clock)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def collect(notifier: SQLiteNotifier, count: int, got: list[WakeUp], ready: anyio.Event) -> None:
    async with aclosing(notifier.subscribe()) as wakes:  # type: ignore[type-var]
        ready.set()
        async for wake in wakes:
            got.append(wake)
            if len(got) == count:
                return


def rows(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM wake_ups").fetchone()[0])


async def test_a_wake_up_reaches_the_notifier_on_another_connection(
        stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    writer, reader = stores
    speaker, listener = SQLiteNotifier(writer), SQLiteNotifier(reader, poll_interval=0.05)
    await speaker.publish(WakeUp("before", "not replayed"))
    got: list[WakeUp] = []
    ready = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect, listener, 3, got, ready)
            await ready.wait()
            await anyio.sleep(0.2)  # the subscription has looked at the file once
            await speaker.publish(WakeUp("gold", "cascade", schedule_id="daily", date="2026-12-05"))
            await listener.publish(WakeUp("own", "trait-pushed"))
            await speaker.publish(WakeUp("silver", "run-completed", schedule_id="daily", date="2026-12-06"))
    assert sorted((w.pipeline_id, w.reason, w.schedule_id, w.date) for w in got) == [
        ("gold", "cascade", "daily", "2026-12-05"),
        ("own", "trait-pushed", None, None),  # once: in memory, not again from the file
        ("silver", "run-completed", "daily", "2026-12-06"),
    ]


async def test_close_ends_every_subscription(stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    notifier = SQLiteNotifier(stores[0], poll_interval=0.05)
    got: list[WakeUp] = []
    ready = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect, notifier, 99, got, ready)
            await ready.wait()
            await notifier.close()
    assert got == []


async def test_old_wake_ups_are_purged(stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    store = stores[0]
    notifier = SQLiteNotifier(store)
    for n in range(5):
        await notifier.publish(WakeUp(f"p{n}", "cascade"))
    assert rows(store.path) == 5
    clock = store._clock
    assert isinstance(clock, FakeClock)
    clock.advance(WAKE_UP_TTL + PURGE_INTERVAL + 1)
    await notifier.publish(WakeUp("fresh", "cascade"))  # any write purges expired rows now and then
    assert rows(store.path) == 1


async def test_an_unreadable_file_is_retried_not_fatal(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "interlock.db")
    await store.start()
    try:
        notifier = SQLiteNotifier(store, poll_interval=0.05)
        with sqlite3.connect(store.path) as conn:
            conn.execute("ALTER TABLE wake_ups RENAME TO wake_ups_away")
        got: list[WakeUp] = []
        ready = anyio.Event()
        other = SQLiteStore(tmp_path / "interlock.db")
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(collect, notifier, 1, got, ready)
                await ready.wait()
                await anyio.sleep(0.2)  # the subscription fails to read the table, and keeps trying
                with sqlite3.connect(store.path) as conn:
                    conn.execute("ALTER TABLE wake_ups_away RENAME TO wake_ups")
                await other.start()
                speaker = SQLiteNotifier(other)
                while not got:
                    await speaker.publish(WakeUp("back", "cascade"))
                    await anyio.sleep(0.1)
        assert got[0].pipeline_id == "back"
        await other.close()
    finally:
        await store.close()
