"""The in-memory alert dispatcher: the fallback for alerts the store could not take.

Alerts are durable: the engine writes each one to the store's alert outbox with the event that
raised it, and :mod:`interlock_core.alert_sender` delivers them from there. Only when that write
failed (the store unreachable) does an alert come here, to be delivered at least from memory —
lost if the process dies before. This module also holds :class:`AlertDeliveryError`, what a sink
raises, and :func:`alert_key`.

``submit`` never blocks and never raises: it puts the alert on one in-memory lane per sink and
returns. Each lane is served on its own, so a slow or failing sink never delays the others (nor
any evaluation). A failing send is retried with exponential backoff; when the attempts are spent
the dispatcher calls ``on_failure`` (the engine records an ``ALERT_FAILED`` event) and logs one
line. Every alert given to ``submit`` is therefore delivered, recorded as failed, or — when a lane
overflows — dropped and counted.

Two ways to drive it:

* a long-lived process runs :meth:`AlertDispatcher.run` in its task group and calls
  :meth:`AlertDispatcher.flush` then :meth:`AlertDispatcher.aclose` on the way out;
* a one-shot command calls :meth:`AlertDispatcher.deliver_pending` (or ``flush``, which drains
  inline when no worker runs) in its own task.

``submit`` is meant to be called from the event loop's thread (or before the loop starts).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio

from .clock import Clock
from .errors import InterlockError
from .metrics import METRICS
from .model import Alert, format_timestamp
from .ports import AlertSink
from .tracing import span

logger = logging.getLogger("interlock.alerts")

FailureHook = Callable[[Alert, str, Exception], Awaitable[None]]


class AlertDeliveryError(InterlockError):
    """A sink could not deliver an alert (raised by sinks; the sender retries).

    ``permanent``: trying again cannot help (a channel that does not exist, a token refused): the
    alert is dead-lettered at once. ``retry_after``: the sink asked to be left alone that many
    seconds (a rate limit): the sender pauses the whole sink, and the attempt does not count."""

    status_code = 502

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.permanent = permanent
        self.retry_after = retry_after


def alert_key(*parts: object) -> str:
    """A stable identity for an alert condition, e.g. ``alert_key("sla", pipeline, schedule, date, kind)``.

    Parts are joined with ``:``; each part is percent-encoded so the key is unambiguous.
    ``None`` becomes ``-``."""
    return ":".join("-" if part is None else quote(str(part), safe="") for part in parts)


@dataclass
class _Item:
    seq: int
    alert: Alert


@dataclass
class _Lane:
    """One sink, its queue and its counters."""

    name: str
    sink: AlertSink
    queue: deque[_Item] = field(default_factory=deque)
    in_flight: _Item | None = None
    busy: bool = False
    wakeup: anyio.Event | None = None
    last_seq: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    last_error: str | None = None
    last_error_at: str | None = None

    def settled_through(self, seq: int) -> bool:
        """Whether every item up to ``seq`` is delivered, given up or dropped."""
        if self.in_flight is not None and self.in_flight.seq <= seq:
            return False
        return not self.queue or self.queue[0].seq > seq

    def counters(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped,
            "retries": self.retries,
            "pending": len(self.queue) + (self.in_flight is not None),
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
        }


class AlertDispatcher:
    """Fans alerts out to sinks without ever blocking the caller.

    ``retries`` is the number of attempts per (alert, sink), at least one; the waits between them
    are ``backoff``, ``2*backoff``, ``4*backoff`` … seconds. ``queue_size`` bounds each sink's lane:
    when it is full the oldest alert of that lane is dropped and counted. ``send_timeout`` bounds
    one attempt. Counters count (alert, sink) deliveries."""

    def __init__(
        self,
        sinks: Sequence[tuple[str, AlertSink]],
        *,
        clock: Clock,
        retries: int = 3,
        backoff: float = 0.5,
        queue_size: int = 10_000,
        on_failure: FailureHook | None = None,
        send_timeout: float = 15.0,
    ) -> None:
        self._clock = clock
        self._attempts = max(1, retries)
        self._backoff = max(0.0, backoff)
        self._queue_size = max(1, queue_size)
        self._on_failure = on_failure
        self._send_timeout = send_timeout
        self._lanes: list[_Lane] = []
        seen: set[str] = set()
        for name, sink in sinks:
            unique, n = name, 1
            while unique in seen:  # two sinks of one type: "webhook", "webhook#2"
                n += 1
                unique = f"{name}#{n}"
            seen.add(unique)
            self._lanes.append(_Lane(unique, sink))
        self._seq = 0
        self._progress: anyio.Event | None = None
        self._worker: anyio.CancelScope | None = None
        self._worker_stopped: anyio.Event | None = None
        self._closed = False

    # ------------------------------------------------------------------------------ producer side

    @property
    def sink_names(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    def submit(self, alert: Alert) -> None:
        """Queue ``alert`` for every sink. Never blocks, never raises."""
        try:
            if self._closed:
                for lane in self._lanes:
                    lane.dropped += 1
                    METRICS.inc("interlock_alerts_total", sink=lane.name, outcome="dropped")
                logger.warning("alert dropped, dispatcher closed: %s", alert.message)
                return
            self._seq += 1
            for lane in self._lanes:
                if len(lane.queue) >= self._queue_size:
                    old = lane.queue.popleft()
                    lane.dropped += 1
                    METRICS.inc("interlock_alerts_total", sink=lane.name, outcome="dropped")
                    if lane.dropped == 1 or lane.dropped % 1000 == 0:
                        logger.warning("alert queue of sink %s is full (%d): dropped %d so far, latest: %s",
                                       lane.name, self._queue_size, lane.dropped, old.alert.message)
                lane.queue.append(_Item(self._seq, alert))
                lane.last_seq = self._seq
                if lane.wakeup is not None:
                    lane.wakeup.set()
            self._signal_progress()
        except Exception:  # pragma: no cover - submit must never take the caller down
            logger.exception("alert submit failed")

    # ------------------------------------------------------------------------------ consumer side

    async def run(self) -> None:
        """Serve every sink's lane until cancelled or :meth:`aclose` is called."""
        if self._worker is not None:
            raise RuntimeError("AlertDispatcher.run is already running")
        self._worker_stopped = anyio.Event()
        try:
            with anyio.CancelScope() as scope:
                self._worker = scope
                if self._closed:
                    scope.cancel()
                async with anyio.create_task_group() as tg:
                    for lane in self._lanes:
                        tg.start_soon(self._serve, lane)
        finally:
            self._worker = None
            self._worker_stopped.set()

    async def _serve(self, lane: _Lane) -> None:
        while True:
            lane.wakeup = anyio.Event()
            if lane.queue and not lane.busy:
                await self._drain(lane)
                continue
            await lane.wakeup.wait()

    async def deliver_pending(self) -> None:
        """Deliver everything queued so far in the caller's task (inline mode)."""
        targets = self._targets()
        async with anyio.create_task_group() as tg:
            for lane in self._lanes:
                if not lane.busy:
                    tg.start_soon(self._drain, lane)
        await self._wait_settled(targets)

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bound, not a cancel deadline
        """Wait until everything queued so far is delivered or given up; False on timeout.

        Without a running worker the queue is drained here, in the caller's task."""
        targets = self._targets()
        with anyio.move_on_after(timeout):
            if self._worker is None:
                await self.deliver_pending()
            await self._wait_settled(targets)
        return self._settled(targets)

    async def aclose(self) -> None:
        """Stop the worker, record what is still queued as failed, close the sinks. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(self._send_timeout * 2):
            if self._worker is not None and self._worker_stopped is not None:
                self._worker.cancel()
                await self._worker_stopped.wait()
            for lane in self._lanes:
                abandoned = list(lane.queue)
                lane.queue.clear()
                if abandoned:
                    logger.error("%d alerts for sink %s abandoned at shutdown", len(abandoned), lane.name)
                for item in abandoned:
                    error = AlertDeliveryError("dispatcher closed before delivery")
                    self._count_failure(lane, error)
                    await self._report_failure(lane, item.alert, error)
            self._signal_progress()
            for lane in self._lanes:
                try:
                    with anyio.fail_after(self._send_timeout):
                        await lane.sink.close()
                except Exception as exc:
                    logger.warning("closing alert sink %s failed: %s", lane.name, _describe(exc))

    @property
    def stats(self) -> dict[str, Any]:
        sinks = {lane.name: lane.counters() for lane in self._lanes}
        return {
            "submitted": self._seq,
            "delivered": sum(lane.delivered for lane in self._lanes),
            "failed": sum(lane.failed for lane in self._lanes),
            "dropped": sum(lane.dropped for lane in self._lanes),
            "pending": sum(s["pending"] for s in sinks.values()),
            "sinks": sinks,
        }

    # ------------------------------------------------------------------------------ internals

    async def _drain(self, lane: _Lane) -> None:
        if lane.busy:
            return
        lane.busy = True
        try:
            while lane.queue:
                item = lane.in_flight = lane.queue.popleft()
                try:
                    await self._deliver(lane, item.alert)
                except BaseException:
                    lane.queue.appendleft(item)  # cancelled mid-send: aclose or a later drain takes it
                    raise
                finally:
                    lane.in_flight = None
                    self._signal_progress()
        finally:
            lane.busy = False
            if lane.queue and lane.wakeup is not None:
                lane.wakeup.set()  # left over after a cancelled inline drain: the worker takes it

    async def _deliver(self, lane: _Lane, alert: Alert) -> None:
        with span("interlock.alert.deliver", "producer", **{
                "interlock.sink": lane.name, "interlock.alert.level": str(alert.level),
                "interlock.pipeline": alert.pipeline_id, "interlock.alert.key": alert.key}) as traced:
            attempts = await self._attempt(lane, alert)
            traced.set(**{"interlock.attempts": attempts})
            if attempts > self._attempts:
                traced.error(f"dead-lettered after {self._attempts} attempts: {lane.last_error}")

    async def _attempt(self, lane: _Lane, alert: Alert) -> int:
        """Deliver with retries; the number of attempts made, or one more when the alert is dead-lettered."""
        error: Exception = AlertDeliveryError("not attempted")
        for attempt in range(1, self._attempts + 1):
            try:
                with anyio.move_on_after(self._send_timeout) as attempt_scope:
                    await lane.sink.send(alert)
            except Exception as exc:
                error = exc
                if isinstance(exc, AlertDeliveryError) and exc.permanent:
                    break
            else:
                if not attempt_scope.cancelled_caught:
                    lane.delivered += 1
                    METRICS.inc("interlock_alerts_total", sink=lane.name, outcome="delivered")
                    return attempt
                error = AlertDeliveryError(f"sink did not answer within {self._send_timeout:g}s")
            if attempt < self._attempts:
                lane.retries += 1
                logger.debug("alert to sink %s failed (attempt %d/%d): %s",
                             lane.name, attempt, self._attempts, _describe(error))
                await anyio.sleep(self._backoff * 2 ** (attempt - 1))
        self._count_failure(lane, error)
        logger.error("alert to sink %s failed after %d attempts: %s (alert: %s%s)", lane.name,
                     self._attempts, _describe(error),
                     f"[{alert.pipeline_id}] " if alert.pipeline_id else "", alert.message)
        with anyio.CancelScope(shield=True):  # bounded by send_timeout; the failure is recorded once
            await self._report_failure(lane, alert, error)
        return self._attempts + 1

    def _count_failure(self, lane: _Lane, error: Exception) -> None:
        """An alert given up on for ``lane``'s sink: dead-lettered (``ALERT_FAILED``)."""
        METRICS.inc("interlock_alerts_total", sink=lane.name, outcome="failed")
        METRICS.inc("interlock_alerts_dead_lettered_total", sink=lane.name)
        lane.failed += 1
        lane.last_error = _describe(error)
        lane.last_error_at = format_timestamp(self._clock.now())

    async def _report_failure(self, lane: _Lane, alert: Alert, error: Exception) -> None:
        if self._on_failure is None:
            return
        try:
            with anyio.fail_after(self._send_timeout):
                await self._on_failure(alert, lane.name, error)
        except Exception as exc:
            logger.error("recording the failed alert for sink %s failed: %s", lane.name, _describe(exc))

    def _targets(self) -> list[int]:
        return [lane.last_seq for lane in self._lanes]

    def _settled(self, targets: list[int]) -> bool:
        return all(lane.settled_through(t) for lane, t in zip(self._lanes, targets, strict=True))

    async def _wait_settled(self, targets: list[int]) -> None:
        while not self._settled(targets):
            if self._progress is None:
                self._progress = anyio.Event()
            await self._progress.wait()

    def _signal_progress(self) -> None:
        if self._progress is not None:
            self._progress.set()
            self._progress = None


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
