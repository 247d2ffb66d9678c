"""The durable alert outbox at engine level, with a fake clock: an alert is written with the event
that raised it (or neither is), the sender delivers each sink's records in order, retries with
backoff, honours a sink's "slow down", dead-letters (``ALERT_FAILED``), groups identical alerts,
and a retried dead letter goes out again. What one engine wrote, another delivers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from interlock_core.alert_sender import DEAD_LETTERED, AlertSender
from interlock_core.alerts import AlertDeliveryError
from interlock_core.engine import Engine
from interlock_core.errors import ConflictError, StoreUnavailable
from interlock_core.metrics import METRICS
from interlock_core.model import Alert, AlertLevel, AlertStatus, EventKind
from interlock_core.outbox import SinkPolicy
from interlock_core.ports import Store
from interlock_plugins.stores.redis import RedisStore
from interlock_plugins.stores.sqlite import SQLiteStore
from tests.helpers.backends import REDIS_URL
from tests.helpers.project import Harness, pipeline

K = EventKind


class Sink:
    """Keeps what it was sent; ``failures`` makes the next sends raise (each an exception or a count)."""

    name = "memory"

    def __init__(self) -> None:
        self.received: list[Alert] = []
        self.failures: list[Exception] = []

    async def send(self, alert: Alert) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.received.append(alert)

    async def close(self) -> None:
        return None

    def messages(self) -> list[str]:
        return [a.message for a in self.received]


def boom(n: int = 1) -> list[Exception]:
    return [AlertDeliveryError(f"webhook returned status 500 ({i + 1})") for i in range(n)]


def with_sender(engine: Engine, harness: Harness, sinks: dict[str, Sink], **policy: Any) -> AlertSender:
    """Deliver ``engine``'s alerts to these sinks through a sender on its store."""
    policies = [SinkPolicy(name, **policy) for name in sinks]
    sender = AlertSender(engine.store, [(p, sinks[p.name]) for p in policies], clock=harness.clock)
    engine.ctx.alert_sinks = tuple(policies)
    engine.ctx.alerts = sender
    return sender


async def raise_alert(engine: Engine, message: str, pipeline_id: str = "p1") -> None:
    await engine.ctx.emit(K.SLA_BREACHED, pipeline_id, message="breached",
                          alert=engine.ctx.make_alert(AlertLevel.ERROR, message, pipeline_id))


async def test_an_alert_is_written_with_its_event_or_not_at_all(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    harness.sensors.ready("p1")
    engine = await harness.engine()
    with_sender(engine, harness, {"webhook": Sink(), "console": Sink()})
    await engine.evaluate("p1")
    harness.sensors.set("p1.volume", "FAIL empty")
    await engine.evaluate("p1")  # turns blocked: the trait and the pipeline alert, once each
    records = await engine.store.list_alerts()
    assert sorted((r.sink, r.alert.message) for r in records) == sorted(
        (sink, message) for sink in ("webhook", "console")
        for message in ("Trait volume failed for p1: empty", "Pipeline p1 blocked by: [volume]"))
    assert {r.status for r in records} == {AlertStatus.PENDING}
    assert all(r.alert.schedule_id == "daily" and r.alert.date == "2026-03-02" for r in records)
    await engine.evaluate("p1")  # still blocked: no new alert
    assert len(await engine.store.list_alerts()) == 4

    # the write of an event and its alert fails: neither is kept, the alert goes out from memory
    store = engine.store
    fallback: list[Alert] = []
    engine.ctx.alerts.submit_unrecorded = fallback.append  # type: ignore[union-attr]

    async def outage(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("injected outage")

    engine.ctx.store = type("Down", (), {"__getattr__": lambda self, name: getattr(store, name),
                                         "record_alerts": staticmethod(outage)})()
    events_before = len(await store.list_events("p1", 500))
    with pytest.raises(StoreUnavailable):
        await engine.ctx.alert_once("sla:completion:p1:daily:2026-03-02", AlertLevel.ERROR, "late", "p1",
                                    event=engine.ctx.event(K.SLA_BREACHED, "p1", message="late"))
    engine.ctx.store = store
    assert [a.message for a in fallback] == ["late"]
    assert len(await store.list_events("p1", 500)) == events_before
    assert len(await store.list_alerts()) == 4


async def test_the_sender_delivers_each_sink_in_order_and_records_it(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    a, b = Sink(), Sink()
    sender = with_sender(engine, harness, {"a": a, "b": b})
    for i in range(5):
        await raise_alert(engine, f"alert {i}")
    async with anyio.create_task_group() as tg:  # serve's loop and its last flush at once: no double send
        tg.start_soon(sender.deliver_due)
        tg.start_soon(sender.flush, 10)
    assert a.messages() == b.messages() == [f"alert {i}" for i in range(5)]
    assert all(alert.id and alert.count is None for alert in a.received)
    assert {r.status for r in await engine.store.list_alerts()} == {AlertStatus.DELIVERED}
    assert (await sender.deliver_due()).attempts == 0
    assert len(a.received) == 5


async def test_a_failing_sink_is_retried_then_dead_lettered_and_a_retry_sends_it(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    bad, good = Sink(), Sink()
    sender = with_sender(engine, harness, {"bad": bad, "good": good}, max_attempts=3, backoff=10)
    dead_before = METRICS.value(DEAD_LETTERED, sink="bad")
    bad.failures = boom(99)
    await raise_alert(engine, "Pipeline p1 completion SLA breached")
    await sender.deliver_due()
    assert good.messages() == ["Pipeline p1 completion SLA breached"]  # the other sink is not held up
    [record] = await engine.store.list_alerts(AlertStatus.PENDING)
    assert record.sink == "bad" and record.attempts == 1 and "status 500 (1)" in (record.last_error or "")
    assert (await sender.deliver_due()).attempts == 0  # not due before its backoff
    harness.clock.advance(10)
    await sender.deliver_due()
    harness.clock.advance(19)
    assert (await sender.deliver_due()).attempts == 0  # the backoff doubled
    harness.clock.advance(1)
    await sender.deliver_due()
    [dead] = await engine.store.list_alerts(AlertStatus.FAILED)
    assert dead.id == record.id and dead.attempts == 3 and dead.failed_at == harness.clock.now()
    [event] = [e for e in await engine.store.list_events("p1") if e.kind is K.ALERT_FAILED]
    assert event.details is not None and event.details["alertId"] == dead.id and event.details["sink"] == "bad"
    assert METRICS.value(DEAD_LETTERED, sink="bad") == dead_before + 1
    assert (await sender.deliver_due()).attempts == 0  # a dead letter stays put

    bad.failures = []
    retried = await engine.retry_alert(dead.id)
    assert retried.status is AlertStatus.PENDING and retried.attempts == 0 and retried.retried == 1
    await sender.deliver_due()
    assert bad.messages() == ["Pipeline p1 completion SLA breached"]
    delivered = await engine.store.get_alert(dead.id)
    assert delivered is not None and delivered.status is AlertStatus.DELIVERED
    with pytest.raises(ConflictError):
        await engine.retry_alert(dead.id)


async def test_a_refusal_for_good_is_dead_lettered_at_once_and_a_rate_limit_pauses_the_sink(
        harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    refusing, limited = Sink(), Sink()
    sender = with_sender(engine, harness, {"refusing": refusing, "limited": limited}, max_attempts=5)
    refusing.failures = [AlertDeliveryError("channel_not_found", permanent=True)]
    limited.failures = [AlertDeliveryError("ratelimited", retry_after=30)] * 3
    await raise_alert(engine, "first")
    await raise_alert(engine, "second")
    await sender.deliver_due()
    failed = await engine.store.list_alerts(AlertStatus.FAILED)
    assert [(r.sink, r.alert.message, r.attempts) for r in failed] == [("refusing", "first", 1)]
    assert refusing.messages() == ["second"]
    pending = await engine.store.pending_alerts("limited")
    assert [(r.alert.message, r.attempts) for r in pending] == [("first", 0), ("second", 0)]  # "second" waited
    assert len(limited.failures) == 2  # one ask to slow down, then the sink was left alone
    harness.clock.advance(30)
    limited.failures = []
    await sender.deliver_due()
    assert limited.messages() == ["first", "second"]


async def test_identical_alerts_inside_the_group_window_are_delivered_once_with_a_count(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    engine = await harness.engine()
    sink = Sink()
    sender = with_sender(engine, harness, {"grouped": sink}, group_window=60)
    for _ in range(3):
        await raise_alert(engine, "Trait volume failed for p1: empty")
        harness.clock.advance(10)
    await raise_alert(engine, "Pipeline p1 blocked by: [volume]")
    assert (await sender.deliver_due()).attempts == 0  # the window is open
    harness.clock.advance(40)  # 70 s after the first
    await raise_alert(engine, "Trait volume failed for p1: empty")  # after the window: its own group
    await sender.deliver_due()
    assert [(a.message, a.count) for a in sink.received] == [("Trait volume failed for p1: empty", 3)]
    grouped = await engine.store.list_alerts(AlertStatus.GROUPED)
    assert len(grouped) == 2 and {r.grouped_into for r in grouped} == {sink.received[0].id}
    harness.clock.advance(60)
    await sender.deliver_due()
    assert [(a.message, a.count) for a in sink.received] == [
        ("Trait volume failed for p1: empty", 3), ("Pipeline p1 blocked by: [volume]", None),
        ("Trait volume failed for p1: empty", None)]


async def test_what_a_dead_engine_left_undelivered_the_next_one_delivers(harness: Harness) -> None:
    harness.write([pipeline("p1")])
    first = await harness.engine()
    with_sender(first, harness, {"webhook": Sink()})
    await raise_alert(first, "raised before the crash")
    harness.engines.remove(first)
    await first.store.close()  # gone without delivering (as a kill -9 leaves it)
    second = await harness.engine()
    sink = Sink()
    sender = with_sender(second, harness, {"webhook": sink})
    await sender.deliver_due()
    assert sink.messages() == ["raised before the crash"]


@pytest.fixture(params=["sqlite", "redis"])
async def shared_stores(request: pytest.FixtureRequest, harness: Harness) -> AsyncIterator[list[Store]]:
    """Three stores on one backend (three replicas)."""
    if request.param == "sqlite":
        stores: list[Any] = [SQLiteStore(harness.root / "shared.db", clock=harness.clock) for _ in range(3)]
    else:
        prefix = f"outbox-{uuid.uuid4().hex[:10]}:"
        stores = [RedisStore(url=REDIS_URL, key_prefix=prefix, clock=harness.clock)
                  for _ in range(3)]
    for store in stores:
        await store.start()
    try:
        yield stores
    finally:
        if request.param == "redis":
            await stores[0].purge()
        for store in stores:
            await store.close()


async def test_several_senders_deliver_each_alert_once_per_sink(harness: Harness, shared_stores: list[Store]) -> None:
    harness.write([pipeline("p1")])
    engines = [await harness.engine(store=store) for store in shared_stores]
    sinks = [{"a": Sink(), "b": Sink()} for _ in engines]
    senders = [with_sender(engine, harness, replica) for engine, replica in zip(engines, sinks, strict=True)]
    for i in range(30):
        await raise_alert(engines[i % 3], f"alert {i}")

    async def deliver(sender: AlertSender) -> None:
        for _ in range(4):
            await sender.deliver_due()

    async with anyio.create_task_group() as tg:
        for sender in senders:
            tg.start_soon(deliver, sender)
    await senders[0].flush(10)
    for name in ("a", "b"):
        delivered = sorted(m for replica in sinks for m in replica[name].messages())
        assert delivered == sorted(f"alert {i}" for i in range(30)), name
    assert {r.status for r in await engines[0].store.list_alerts(limit=100)} == {AlertStatus.DELIVERED}
