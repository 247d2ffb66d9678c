"""The alert dispatcher with fake sinks: isolation between sinks, retries, flush, overflow."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import anyio
import pytest
from pydantic import BaseModel

from interlock_core.alerts import AlertDeliveryError, AlertDispatcher, alert_key
from interlock_core.clock import FakeClock
from interlock_core.model import Alert, AlertLevel


def make_alert(message: str = "Pipeline p blocked by: [t]", pipeline: str | None = "p") -> Alert:
    return Alert(level=AlertLevel.WARNING, pipeline_id=pipeline, message=message,
                 timestamp=FakeClock().now())


class RecordingSink:
    """Delivers at once; ``arrived`` is set once ``expect`` alerts have arrived."""

    name: ClassVar[str] = "recording"
    config_model: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, expect: int = 1) -> None:
        self.received: list[Alert] = []
        self.expect = expect
        self.arrived = anyio.Event()
        self.closed = False

    async def send(self, alert: Alert) -> None:
        self.received.append(alert)
        if len(self.received) >= self.expect:
            self.arrived.set()

    async def close(self) -> None:
        self.closed = True


class BlockedSink(RecordingSink):
    """Every send waits until ``release`` is set (a webhook that hangs)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()
        self.started = anyio.Event()

    async def send(self, alert: Alert) -> None:
        self.started.set()
        await self.release.wait()
        await super().send(alert)


class FlakySink(RecordingSink):
    """Fails the first ``failures`` sends (``failures=-1``: always)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        if self.failures < 0 or self.calls <= self.failures:
            raise AlertDeliveryError(f"boom {self.calls}")
        await super().send(alert)


class FailureLog:
    def __init__(self) -> None:
        self.calls: list[tuple[Alert, str, Exception]] = []

    async def __call__(self, alert: Alert, sink: str, exc: Exception) -> None:
        self.calls.append((alert, sink, exc))


def dispatcher(sinks: list[tuple[str, Any]], **kwargs: Any) -> AlertDispatcher:
    kwargs.setdefault("backoff", 0)
    return AlertDispatcher(sinks, clock=FakeClock(), **kwargs)


async def test_slow_sink_does_not_delay_fast_one() -> None:
    slow, fast = BlockedSink(), RecordingSink(expect=3)
    d = dispatcher([("slow", slow), ("fast", fast)])
    async with anyio.create_task_group() as tg:
        tg.start_soon(d.run)
        for i in range(3):
            d.submit(make_alert(f"alert {i}"))
        with anyio.fail_after(5):
            await fast.arrived.wait()
            await slow.started.wait()
        assert [a.message for a in fast.received] == ["alert 0", "alert 1", "alert 2"]
        assert slow.received == []
        assert not await d.flush(0.01)
        slow.release.set()
        assert await d.flush(5)
        assert len(slow.received) == 3
        await d.aclose()
    stats = d.stats
    assert stats["delivered"] == 6 and stats["failed"] == 0 and stats["pending"] == 0
    assert stats["sinks"]["slow"]["delivered"] == 3
    assert slow.closed and fast.closed


async def test_failing_sink_is_retried_then_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    bad, good = FlakySink(failures=-1), RecordingSink()
    failures = FailureLog()
    d = dispatcher([("bad", bad), ("good", good)], retries=3, on_failure=failures)
    alert = make_alert()
    caplog.set_level(logging.DEBUG, logger="interlock.alerts")
    async with anyio.create_task_group() as tg:
        tg.start_soon(d.run)
        d.submit(alert)
        assert await d.flush(5)
        await d.aclose()
    assert bad.calls == 3
    assert len(failures.calls) == 1
    failed_alert, sink_name, exc = failures.calls[0]
    assert failed_alert == alert and sink_name == "bad"
    assert isinstance(exc, AlertDeliveryError) and "boom 3" in str(exc)
    assert good.received == [alert]
    errors = [r for r in caplog.records if r.name == "interlock.alerts" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "bad" in errors[0].getMessage() and "3 attempts" in errors[0].getMessage()
    stats = d.stats
    assert stats["failed"] == 1 and stats["delivered"] == 1
    assert stats["sinks"]["bad"]["retries"] == 2
    assert "boom 3" in stats["sinks"]["bad"]["lastError"]
    assert stats["sinks"]["bad"]["lastErrorAt"] == "2026-03-02T12:00:00Z"


async def test_transient_failure_recovers_without_reporting() -> None:
    flaky = FlakySink(failures=2)
    failures = FailureLog()
    d = dispatcher([("flaky", flaky)], retries=3, on_failure=failures)
    d.submit(make_alert())
    await d.deliver_pending()
    assert flaky.calls == 3 and len(flaky.received) == 1
    assert failures.calls == []
    assert d.stats["delivered"] == 1 and d.stats["sinks"]["flaky"]["retries"] == 2


async def test_backoff_is_exponential(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(anyio, "sleep", fake_sleep)
    d = AlertDispatcher([("bad", FlakySink(failures=-1))], clock=FakeClock(), retries=4, backoff=0.5)
    d.submit(make_alert())
    await d.deliver_pending()
    assert waits == [0.5, 1.0, 2.0]


async def test_flush_without_worker_drains_inline() -> None:
    sink = RecordingSink()
    d = dispatcher([("console", sink)])
    d.submit(make_alert("a"))
    d.submit(make_alert("b"))
    assert await d.flush(5)
    assert [a.message for a in sink.received] == ["a", "b"]
    assert await d.flush(5)  # nothing queued: immediately true


async def test_flush_times_out_and_close_records_the_rest_as_failed() -> None:
    stuck = BlockedSink()
    failures = FailureLog()
    d = dispatcher([("stuck", stuck)], on_failure=failures)
    d.submit(make_alert("first"))
    d.submit(make_alert("second"))
    assert not await d.flush(0.05)
    assert d.stats["pending"] == 2  # the interrupted send went back to the queue
    await d.aclose()
    assert [a.message for a, _, _ in failures.calls] == ["first", "second"]
    assert all("closed before delivery" in str(exc) for _, _, exc in failures.calls)
    assert d.stats["failed"] == 2 and d.stats["pending"] == 0


async def test_cancelled_worker_keeps_the_alert_for_close() -> None:
    stuck = BlockedSink()
    failures = FailureLog()
    d = dispatcher([("stuck", stuck)], on_failure=failures)
    async with anyio.create_task_group() as tg:
        tg.start_soon(d.run)
        d.submit(make_alert())
        with anyio.fail_after(5):
            await stuck.started.wait()
        tg.cancel_scope.cancel()
    await d.aclose()
    assert len(failures.calls) == 1 and d.stats["failed"] == 1


async def test_send_timeout_counts_as_failure() -> None:
    failures = FailureLog()
    d = dispatcher([("stuck", BlockedSink())], retries=1, send_timeout=0.05, on_failure=failures)
    d.submit(make_alert())
    await d.deliver_pending()
    assert len(failures.calls) == 1
    assert "did not answer within 0.05s" in str(failures.calls[0][2])


async def test_queue_overflow_drops_the_oldest_and_counts() -> None:
    sink = RecordingSink()
    d = dispatcher([("console", sink)], queue_size=2)
    for i in range(5):
        d.submit(make_alert(f"alert {i}"))
    assert d.stats["dropped"] == 3 and d.stats["pending"] == 2
    await d.deliver_pending()
    assert [a.message for a in sink.received] == ["alert 3", "alert 4"]
    assert d.stats["submitted"] == 5 and d.stats["delivered"] == 2


def test_submit_never_raises_even_without_an_event_loop() -> None:
    d = dispatcher([("console", RecordingSink())], queue_size=1)
    d.submit(make_alert())
    d.submit(make_alert())
    AlertDispatcher([], clock=FakeClock()).submit(make_alert())
    assert d.stats["pending"] == 1 and d.stats["dropped"] == 1


async def test_submit_after_close_is_dropped_not_raised() -> None:
    sink = RecordingSink()
    d = dispatcher([("console", sink)])
    await d.aclose()
    await d.aclose()  # idempotent
    d.submit(make_alert())
    assert d.stats["dropped"] == 1 and sink.received == []


async def test_failure_hook_errors_do_not_stop_delivery(caplog: pytest.LogCaptureFixture) -> None:
    async def broken_hook(alert: Alert, sink: str, exc: Exception) -> None:
        raise RuntimeError("store down")

    bad = FlakySink(failures=1)
    d = dispatcher([("bad", bad)], retries=1, on_failure=broken_hook)
    d.submit(make_alert("lost"))
    d.submit(make_alert("kept"))
    await d.deliver_pending()
    assert [a.message for a in bad.received] == ["kept"]
    assert any("store down" in r.getMessage() for r in caplog.records)


async def test_duplicate_sink_names_are_made_unique() -> None:
    d = dispatcher([("webhook", RecordingSink()), ("webhook", RecordingSink())])
    assert d.sink_names == ["webhook", "webhook#2"]


def test_alert_key_is_stable_and_unambiguous() -> None:
    key = alert_key("sla", "orders", "h09", "2026-03-02", "evaluation")
    assert key == "sla:orders:h09:2026-03-02:evaluation"
    assert alert_key("a:b", "c") != alert_key("a", "b:c")
    assert alert_key("trait", None) == "trait:-"
