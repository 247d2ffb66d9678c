"""The alert outbox, the :class:`~interlock_core.store_roles.AlertOutboxStore` slice of the store
conformance suite (see ``suite.py``): an alert is written in one transaction with the event that
raised it and its "alert once" claim; records change state by version; lists are newest first and
page by id; each sink's pending records come oldest first."""

from __future__ import annotations

import anyio

from interlock_core.model import Alert, AlertClaim, AlertLevel, AlertRecord, AlertStatus, EventKind
from interlock_core.ports import Store
from interlock_core.store_roles import AlertOutboxStore

from .records import Advance, OpenStore, at, event

RACERS = 6


def record(alert_id: str, sink: str = "webhook", message: str = "Pipeline p blocked by: [t]",
           pipeline: str | None = "ct-alert-pipe", **fields: object) -> AlertRecord:
    alert = Alert(level=AlertLevel.WARNING, message=message, pipeline_id=pipeline, timestamp=at(),
                  details={"blocking": ["t"]}, key="blocked:p", schedule_id="daily", date="2026-03-02")
    data: dict[str, object] = {"id": alert_id, "sink": sink, "alert": alert, "created_at": at(), "updated_at": at(),
                               "next_attempt_at": at(), "max_attempts": 4, "group_key": "g1", "group_window": 60.0}
    data.update(fields)
    return AlertRecord.model_validate(data)


def ident(n: int, ms: int = 1_772_452_800_000) -> str:
    """An id as ``new_alert_id`` makes them (time, counter, random), ordered by ``n``."""
    return f"{ms:013d}-{n:08d}-00000{n % 10}"


class AlertOutboxStoreConformance:
    async def test_is_a_alert_outbox_store(self, store: AlertOutboxStore) -> None:
        assert isinstance(store, AlertOutboxStore)

    async def test_alerts_are_written_with_the_event_that_raised_them(self, store: Store) -> None:
        first = record(ident(1))
        cursor = await store.append_event(event("ct-alert-pipe", EventKind.SLA_BREACHED, message="late"), [first])
        assert cursor
        assert await store.get_alert(first.id) == first
        assert [e.message for e in await store.list_events("ct-alert-pipe")] == ["late"]
        second = record(ident(2), sink="console")
        assert await store.record_alerts([second], event=event("ct-alert-pipe", message="blocked")) is True
        assert await store.get_alert(second.id) == second
        assert [e.message for e in await store.list_events("ct-alert-pipe")] == ["late", "blocked"]
        third = record(ident(3), pipeline=None)  # an alert of no pipeline, with no event
        assert await store.record_alerts([third]) is True
        assert await store.get_alert(third.id) == third
        assert await store.get_alert(ident(99)) is None

    async def test_an_alert_once_claim_writes_nothing_while_it_is_held(self, store: Store, advance: Advance) -> None:
        claim = AlertClaim("sla:evaluation:ct-claim:daily:2026-03-02", ttl=1)
        raised = event("ct-claim", EventKind.SLA_BREACHED)
        assert await store.record_alerts([record(ident(1))], event=raised, claim=claim) is True
        assert await store.record_alerts([record(ident(2))], event=raised, claim=claim) is False
        assert await store.get_alert(ident(2)) is None
        assert len(await store.list_events("ct-claim")) == 1
        assert await store.lease_owner(claim.lease_key) is not None  # the claim is a lease like any other
        await advance(1.5)
        assert await store.record_alerts([record(ident(3))], event=raised, claim=claim) is True
        assert len(await store.list_events("ct-claim")) == 2
        # with no alert to write (no sink configured), the claim and the event are still written
        other = AlertClaim("trait-failed:ct-claim", ttl=60)
        assert await store.record_alerts([], event=raised, claim=other) is True
        assert await store.record_alerts([], event=raised, claim=other) is False
        assert len(await store.list_events("ct-claim")) == 3

    async def test_one_of_many_racers_takes_a_claim(self, store: Store, open_store: OpenStore) -> None:
        stores = [store, *[await open_store() for _ in range(RACERS - 1)]]
        claim = AlertClaim("blocked:ct-race", ttl=60)
        won: list[int] = []

        async def race(n: int, racer: Store) -> None:
            if await racer.record_alerts([record(ident(n))], event=event("ct-race"), claim=claim):
                won.append(n)

        async with anyio.create_task_group() as tg:
            for n, racer in enumerate(stores):
                tg.start_soon(race, n, racer)
        assert len(won) == 1
        assert [r.id for r in await store.list_alerts()] == [ident(won[0])]
        assert len(await store.list_events("ct-race")) == 1

    async def test_a_stored_record_is_never_overwritten_by_its_first_write_again(self, store: Store) -> None:
        original = record(ident(1))
        assert await store.record_alerts([original])
        assert await store.cas_alert(original.model_copy(update={"status": AlertStatus.DELIVERED, "version": 2}), 1)
        await store.record_alerts([original, record(ident(2))])  # a write retried after a lost answer
        stored = await store.get_alert(original.id)
        assert stored is not None and stored.status is AlertStatus.DELIVERED and stored.version == 2
        assert await store.get_alert(ident(2)) is not None

    async def test_lists_are_newest_first_and_page_by_id(self, store: Store) -> None:
        await store.record_alerts([record(ident(n)) for n in range(1, 8)])
        delivered = (await store.get_alert(ident(3)))
        assert delivered is not None
        assert await store.cas_alert(delivered.model_copy(update={"status": AlertStatus.DELIVERED, "version": 2}), 1)
        failed = await store.get_alert(ident(5))
        assert failed is not None
        assert await store.cas_alert(failed.model_copy(update={"status": AlertStatus.FAILED, "version": 2}), 1)
        assert [r.id for r in await store.list_alerts()] == [ident(n) for n in range(7, 0, -1)]
        assert [r.id for r in await store.list_alerts(limit=3)] == [ident(7), ident(6), ident(5)]
        assert [r.id for r in await store.list_alerts(limit=3, before=ident(5))] == [ident(4), ident(3), ident(2)]
        assert [r.id for r in await store.list_alerts(AlertStatus.PENDING)] == [ident(n) for n in (7, 6, 4, 2, 1)]
        assert [r.id for r in await store.list_alerts(AlertStatus.PENDING, limit=2, before=ident(6))] == \
            [ident(4), ident(2)]
        assert [r.id for r in await store.list_alerts(AlertStatus.FAILED)] == [ident(5)]
        assert [r.id for r in await store.list_alerts(AlertStatus.DELIVERED)] == [ident(3)]
        assert await store.list_alerts(AlertStatus.GROUPED) == []
        assert await store.list_alerts(limit=0) == []

    async def test_pending_alerts_of_a_sink_come_oldest_first(self, store: Store) -> None:
        await store.record_alerts([record(ident(n), sink="slack" if n % 2 else "webhook") for n in range(1, 9)])
        done = await store.get_alert(ident(3))
        assert done is not None
        assert await store.cas_alert(done.model_copy(update={"status": AlertStatus.DELIVERED, "version": 2}), 1)
        assert [r.id for r in await store.pending_alerts("slack")] == [ident(1), ident(5), ident(7)]
        assert [r.id for r in await store.pending_alerts("slack", limit=2)] == [ident(1), ident(5)]
        assert [r.id for r in await store.pending_alerts("webhook")] == [ident(n) for n in (2, 4, 6, 8)]
        assert await store.pending_alerts("nobody") == []
        back = await store.get_alert(ident(3))
        assert back is not None  # a dead letter sent back for delivery is pending again
        assert await store.cas_alert(back.model_copy(update={"status": AlertStatus.PENDING, "version": 3}), 2)
        assert [r.id for r in await store.pending_alerts("slack")] == [ident(n) for n in (1, 3, 5, 7)]

    async def test_cas_alert_changes_state_with_its_event(self, store: Store) -> None:
        original = record(ident(1))
        await store.record_alerts([original])
        failed = original.model_copy(update={"status": AlertStatus.FAILED, "attempts": 4, "version": 2,
                                             "last_error": "webhook returned status 500", "failed_at": at(30)})
        dead = event("ct-alert-pipe", EventKind.ALERT_FAILED, message="alert to webhook failed")
        assert await store.cas_alert(failed, 1, event=dead) is True
        assert await store.get_alert(original.id) == failed
        assert [e.kind for e in await store.list_events("ct-alert-pipe")] == [EventKind.ALERT_FAILED]
        assert await store.cas_alert(failed.model_copy(update={"version": 3}), 1, event=dead) is False
        assert len(await store.list_events("ct-alert-pipe")) == 1  # a lost swap appends nothing
        assert await store.cas_alert(record(ident(2)), 1) is False  # nothing stored under that id

    async def test_one_of_many_racers_wins_a_state_change(self, store: Store, open_store: OpenStore) -> None:
        stores = [store, *[await open_store() for _ in range(RACERS - 1)]]
        original = record(ident(1))
        await store.record_alerts([original])
        won: list[int] = []

        async def race(n: int, racer: Store) -> None:
            changed = original.model_copy(update={"attempts": n, "version": 2})
            if await racer.cas_alert(changed, 1):
                won.append(n)

        async with anyio.create_task_group() as tg:
            for n, racer in enumerate(stores):
                tg.start_soon(race, n, racer)
        assert len(won) == 1
        stored = await store.get_alert(original.id)
        assert stored is not None and stored.attempts == won[0]
