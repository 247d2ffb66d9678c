"""The event log: the :class:`~interlock_core.store_roles.EventStore` slice of the store
conformance suite (see ``suite.py``)."""

from __future__ import annotations

from datetime import timedelta, timezone

import anyio

from interlock_core.model import EventKind
from interlock_core.store_roles import EventStore

from .records import at, event


class EventStoreConformance:
    async def test_is_a_event_store(self, store: EventStore) -> None:
        assert isinstance(store, EventStore)

    async def test_event_round_trip(self, store: EventStore) -> None:
        original = event(
            "ct-ev-rt",
            EventKind.RUN_STATE_CHANGED,
            run_id="ct-run-1",
            trait_type="freshness",
            status="RUNNING",
            message="trigger lock acquired",
            details={"attempt": 2, "blocking": ["a", "b"], "nested": {"x": None}},
            schedule_id="morning",
            date="2026-03-02",
            timestamp=at().astimezone(timezone(timedelta(hours=-3))),
        )
        await store.append_event(original)
        assert await store.list_events("ct-ev-rt") == [original]
        records = await store.read_events_since("ct-ev-rt", None)
        assert [r.event for r in records] == [original]

    async def test_event_append_and_list(self, store: EventStore) -> None:
        for i in range(5):
            await store.append_event(event("ct-event-al", seconds=i, trait_type=f"trait-{i}"))
        await store.append_event(event("ct-event-other", trait_type="elsewhere"))
        listed = await store.list_events("ct-event-al", 10)
        assert [e.trait_type for e in listed] == [f"trait-{i}" for i in range(5)]
        recent = await store.list_events("ct-event-al", 3)
        assert [e.trait_type for e in recent] == ["trait-2", "trait-3", "trait-4"]
        assert len(await store.list_events("ct-event-al")) == 5

    async def test_read_events_since(self, store: EventStore) -> None:
        for i in range(5):
            await store.append_event(
                event("ct-ev-since", EventKind.RUN_STATE_CHANGED, i, run_id=f"ct-ev-run-{i}")
            )
        records = await store.read_events_since("ct-ev-since", "", 100)
        assert [r.event.run_id for r in records] == [f"ct-ev-run-{i}" for i in range(5)]
        assert len({r.stream_id for r in records}) == 5
        after = await store.read_events_since("ct-ev-since", records[1].stream_id, 100)
        assert [r.event.run_id for r in after] == ["ct-ev-run-2", "ct-ev-run-3", "ct-ev-run-4"]
        assert [r.stream_id for r in after] == [r.stream_id for r in records[2:]]
        assert len(await store.read_events_since("ct-ev-since", "0-0", 100)) == 5
        assert len(await store.read_events_since("ct-ev-since", None)) == 5
        assert len(await store.read_events_since("ct-ev-since", None, 2)) == 2
        assert await store.read_events_since("ct-ev-since", records[-1].stream_id) == []

    async def test_append_event_returns_the_cursor(self, store: EventStore) -> None:
        first = await store.append_event(event("ct-ev-cursor", message="one"))
        second = await store.append_event(event("ct-ev-cursor", message="two"))
        assert first != second
        records = await store.read_events_since("ct-ev-cursor", None)
        assert [r.stream_id for r in records] == [first, second]
        assert [r.event.message for r in await store.read_events_since("ct-ev-cursor", first)] == ["two"]

    async def test_event_cursors_never_skip_or_repeat(self, store: EventStore) -> None:
        """Paging with cursors sees every event once, in order, even with identical timestamps
        and events appended between reads."""
        pipeline_id = "ct-ev-page"
        appended: list[str] = []

        async def append(n: int) -> None:
            for _ in range(n):
                message = f"m{len(appended)}"
                await store.append_event(event(pipeline_id, message=message))
                await store.append_event(event("ct-ev-page-other", message=message))
                appended.append(message)

        seen: list[str] = []
        cursors: list[str] = []
        cursor: str | None = None

        async def page() -> int:
            nonlocal cursor
            records = await store.read_events_since(pipeline_id, cursor, 3)
            seen.extend(r.event.message or "" for r in records)
            cursors.extend(r.stream_id for r in records)
            if records:
                cursor = records[-1].stream_id
            return len(records)

        await append(7)
        assert await page() == 3
        assert await page() == 3
        await append(2)
        assert await page() == 3
        assert await page() == 0
        await append(1)
        assert await page() == 1
        assert await page() == 0
        assert seen == appended == [f"m{i}" for i in range(10)]
        assert len(set(cursors)) == len(cursors)
        assert [e.message for e in await store.list_events(pipeline_id, 4)] == ["m6", "m7", "m8", "m9"]

    async def test_concurrent_appends_are_all_kept(self, store: EventStore) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(store.append_event, event("ct-ev-conc", message=f"m{i}"))
        records = await store.read_events_since("ct-ev-conc", None)
        assert sorted(r.event.message or "" for r in records) == sorted(f"m{i}" for i in range(20))
        assert len({r.stream_id for r in records}) == 20
