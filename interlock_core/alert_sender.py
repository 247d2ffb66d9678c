"""The alert sender: delivers the alert outbox to the sinks, with retries and dead letters.

The engine writes every alert to the store (one record per sink) in the same transaction as the
event that raised it; nothing is held only in memory, so a crash or a restart loses nothing.
The sender works one sink at a time per process and one process at a time per sink: when a
sink has something due, it takes the sink's lane (a lease ``alert-sender:<sink>`` in the store,
renewed every few seconds while it works, released after the pass), reads the sink's pending
records oldest first and sends each one that is due:

* delivered: the record becomes DELIVERED;
* failed: it is tried again after the sink's backoff (doubling, at most 5 minutes) until its
  ``maxAttempts`` are spent, or at once when the sink says the failure is permanent; then it is a
  dead letter: FAILED, with an ``ALERT_FAILED`` event (same transaction) and
  ``interlock_alerts_dead_lettered_total``. ``retry`` sends it back;
* rate limited (the sink's ``retry_after``): the whole sink waits that long; the attempt does not
  count;
* grouped: when a sink has a ``groupWindow``, the first of identical alerts is due when its
  window closes; it then takes the identical ones raised inside the window along (GROUPED) and
  is delivered once, with their count.

Several replicas each run a sender: the lane lease makes each record go out once per sink (a
replica that dies mid-send leaves its lane to another after the lease, which sends again what
it had not recorded as sent: at least once). ``serve`` runs :meth:`AlertSender.run`; a one-shot
command calls :meth:`AlertSender.deliver_pending` on its way out.

Alerts the store could not take at all (it was unreachable) go to an in-memory
:class:`~interlock_core.alerts.AlertDispatcher` instead, the best that can be done for them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio

from .alerts import AlertDeliveryError, AlertDispatcher
from .clock import Clock
from .errors import StoreUnavailable
from .metrics import METRICS
from .model import Alert, AlertRecord, AlertStatus, Event, EventKind
from .outbox import SinkPolicy
from .ports import AlertSink, Store

log = logging.getLogger("interlock.alerts")

DEAD_LETTERED = "interlock_alerts_dead_lettered_total"
DELIVERIES = "interlock_alerts_total"
LANE_LEASE = 10.0
"""Seconds a sink's lane stays taken without a renewal: while a sender works the lane it renews
it every third of that, so a sender that died (or froze) leaves the lane to others this soon."""
BATCH = 200
"""Pending records read per sink and pass."""
FLUSH_PAUSE = 0.05
"""How long a flush waits for a lane another sender is working on before looking again."""

DeadLetterHook = Callable[[Alert, str, Exception], Awaitable[Mapping[str, Any] | None]]
"""Called with an alert, its sink and the last error when the alert is dead-lettered, before the
dead letter is recorded; what it returns joins the ``ALERT_FAILED`` event's details."""


@dataclass
class _Lane:
    policy: SinkPolicy
    sink: AlertSink
    paused_until: float = 0.0
    """Monotonic time before which the sink is left alone (it asked to be: a rate limit)."""
    held: bool = False
    busy: bool = False
    """A pass of this process works the lane now."""
    pending: int = 0
    """Records waiting for this sink as this process last read them (at most a batch)."""

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def lease_key(self) -> str:
        return f"alert-sender:{self.name}"


@dataclass
class _Pass:
    attempts: int = 0
    next_due: float | None = None
    """Seconds until the earliest record left pending becomes due (None: none)."""
    grouped: set[str] = field(default_factory=set)
    blocked: bool = False
    """A sink had something due while another sender worked its lane."""

    def later(self, seconds: float) -> None:
        self.next_due = seconds if self.next_due is None else min(self.next_due, seconds)


class AlertSender:
    """Delivers the outbox of ``store`` to ``sinks`` (each with its policy)."""

    def __init__(self, store: Store, sinks: Sequence[tuple[SinkPolicy, AlertSink]], *, clock: Clock,
                 owner: str | None = None, send_timeout: float = 15.0, poll_interval: float = 2.0,
                 lane_lease: float = LANE_LEASE, fallback: AlertDispatcher | None = None,
                 dead_letter: DeadLetterHook | None = None) -> None:
        self.store = store
        self.dead_letter = dead_letter
        self.clock = clock
        self.owner = owner or f"sender-{uuid.uuid4().hex[:12]}"
        self.send_timeout = send_timeout
        self.poll_interval = poll_interval
        self.lane_lease = lane_lease
        self._lanes = [_Lane(policy, sink) for policy, sink in sinks]
        self._fallback = fallback or AlertDispatcher([(p.name, s) for p, s in sinks], clock=clock)
        self._wake = anyio.Event()
        self._closed = False
        for lane in self._lanes:  # the series exist from the start (a rate of 0 is an answer)
            METRICS.inc(DEAD_LETTERED, 0, sink=lane.name)

    @property
    def sink_names(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    @property
    def stats(self) -> dict[str, Any]:
        """What ``/metrics`` shows of the outbox: the records each sink has waiting, as this process
        last read them (``interlock_alerts_pending``), and the memory fallback's own queue."""
        fallback = self._fallback.stats.get("sinks", {})
        return {"sinks": {lane.name: {"pending": lane.pending + int(fallback.get(lane.name, {}).get("pending", 0))}
                          for lane in self._lanes}}

    # ------------------------------------------------------------------------------ producer side
    def submit(self, alert: Alert) -> None:
        """The store holds a new alert: look at the outbox now rather than at the next poll."""
        self.wake()

    def submit_unrecorded(self, alert: Alert) -> None:
        """An alert the store could not take: delivered from memory (lost if the process dies)."""
        self._fallback.submit(alert)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------------------ driving
    async def run(self) -> None:
        """Deliver until cancelled: at once when woken, else when the next record is due or every
        ``poll_interval`` (records written by other processes)."""
        await self._report_strays()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._fallback.run)
            while True:
                self._wake = anyio.Event()
                try:
                    done = await self.deliver_due()
                    wait = self.poll_interval if done.next_due is None else min(self.poll_interval, done.next_due)
                except Exception:  # never takes `serve` down: the outbox keeps everything for the next pass
                    log.exception("alert delivery pass failed; trying again")
                    wait = self.poll_interval
                with anyio.move_on_after(max(wait, 0.01)):
                    await self._wake.wait()

    async def deliver_due(self) -> _Pass:
        """One pass over every sink: send what is due now."""
        done = _Pass()
        async with anyio.create_task_group() as tg:
            for lane in self._lanes:
                tg.start_soon(self._serve, lane, done)
        return done

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bound, not a cancel deadline
        """Send everything due now (each once; a lane another sender is working on, once it is
        free), and the memory fallback's queue, within ``timeout`` seconds; False when time ran
        out first."""
        finished = False
        with anyio.move_on_after(timeout):
            while True:
                done = await self.deliver_due()
                if done.attempts == 0 and not done.blocked:
                    break
                if done.attempts == 0:
                    await anyio.sleep(FLUSH_PAUSE)
            finished = await self._fallback.flush(timeout)
        return finished

    async def deliver_pending(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """What a one-shot command does on its way out (:meth:`flush`)."""
        await self.flush(timeout)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._release_lanes()
            await self._fallback.aclose()

    # ------------------------------------------------------------------------------ one sink
    async def _serve(self, lane: _Lane, done: _Pass) -> None:
        if lane.paused_until > self.clock.monotonic():
            done.later(lane.paused_until - self.clock.monotonic())
            return
        if lane.busy:  # this process works the lane already (serve's loop and its last flush)
            done.blocked = True
            return
        lane.busy = True
        try:
            await self._serve_lane(lane, done)
        except StoreUnavailable as exc:
            log.warning("alert outbox of sink %s unreachable: %s", lane.name, exc.message)
        finally:
            lane.busy = False

    async def _serve_lane(self, lane: _Lane, done: _Pass) -> None:
        try:
            records = await self.store.pending_alerts(lane.name, BATCH)
            lane.pending = len(records)
            now = self.clock.now()
            if not any(record.due(now) for record in records):  # idle: a read, no write
                for record in records:
                    done.later((record.next_attempt_at - now).total_seconds())
                return
            if not await self._hold(lane):
                done.blocked = True
                return
        except StoreUnavailable as exc:
            log.warning("alert outbox of sink %s unreachable: %s", lane.name, exc.message)
            return
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep, lane, tg.cancel_scope)
                try:
                    await self._work(lane, done)
                except StoreUnavailable as exc:
                    log.warning("alert outbox of sink %s unreachable mid-pass: %s", lane.name, exc.message)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._release(lane)

    async def _keep(self, lane: _Lane, work: anyio.CancelScope) -> None:
        """Renew the lane while its pass runs; a lane lost meanwhile (this process froze past the
        lease and another sender took it) ends the pass."""
        while True:
            await anyio.sleep(self.lane_lease / 3)
            try:
                if not await self._hold(lane):
                    log.warning("alert lane %s was taken over by another sender; leaving it", lane.name)
                    work.cancel()
                    return
            except StoreUnavailable as exc:
                log.warning("could not renew alert lane %s: %s", lane.name, exc.message)

    async def _work(self, lane: _Lane, done: _Pass) -> None:
        records = await self.store.pending_alerts(lane.name, BATCH)  # as the lane's holder sees them
        for record in records:
            if record.id in done.grouped:
                continue
            now = self.clock.now()
            if not record.due(now):
                done.later((record.next_attempt_at - now).total_seconds())
                continue
            if lane.paused_until > self.clock.monotonic():
                return
            gathered = await self._gather(lane, record, records, done)
            if gathered is None:
                continue
            done.attempts += 1
            await self._attempt(lane, gathered, done)

    async def _hold(self, lane: _Lane) -> bool:
        """Take or renew the sink's lane; False when another sender holds it."""
        lane.held = await self.store.acquire_lease(lane.lease_key, self.owner, self.lane_lease)
        return lane.held

    async def _release(self, lane: _Lane) -> None:
        if not lane.held:
            return
        lane.held = False
        try:
            await self.store.release_lease(lane.lease_key, self.owner)
        except Exception as exc:  # it expires by itself
            log.debug("could not release alert lane %s: %s", lane.name, exc)

    async def _release_lanes(self) -> None:
        for lane in self._lanes:
            await self._release(lane)

    async def _gather(self, lane: _Lane, leader: AlertRecord, records: Sequence[AlertRecord],
                      done: _Pass) -> AlertRecord | None:
        """A grouped sink's first alert of a window takes the identical ones of its window along."""
        window = leader.group_window
        if not window or leader.attempts or leader.count > 1 or leader.retried:
            return leader
        closes = leader.created_at + timedelta(seconds=window)
        members = [r for r in records if r.id > leader.id and r.group_key == leader.group_key
                   and r.created_at < closes and r.attempts == 0 and r.id not in done.grouped]
        if not members:
            return leader
        now = self.clock.now()
        taken = 0
        for member in members:
            grouped = member.model_copy(update={"status": AlertStatus.GROUPED, "grouped_into": leader.id,
                                                "updated_at": now, "version": member.version + 1})
            if await self.store.cas_alert(grouped, member.version):
                taken += 1
            done.grouped.add(member.id)
        counted = leader.model_copy(update={"count": leader.count + taken, "updated_at": now,
                                            "version": leader.version + 1})
        if not await self.store.cas_alert(counted, leader.version):
            log.info("alert %s changed while grouping; left for the next pass", leader.id)
            return None
        return counted

    async def _attempt(self, lane: _Lane, record: AlertRecord, done: _Pass) -> None:
        alert = record.alert.model_copy(update={"id": record.id, "count": record.count if record.count > 1 else None})
        error: Exception | None = None
        try:
            with anyio.fail_after(self.send_timeout):
                await lane.sink.send(alert)
        except TimeoutError:
            error = AlertDeliveryError(f"sink did not answer within {self.send_timeout:g}s")
        except Exception as exc:
            error = exc
        now = self.clock.now()
        policy = lane.policy
        update: dict[str, object] = {"updated_at": now, "version": record.version + 1,
                                     "max_attempts": policy.max_attempts}
        event: Event | None = None
        if error is None:
            update.update(status=AlertStatus.DELIVERED, delivered_at=now, attempts=record.attempts + 1,
                          last_error=None)
            outcome = "delivered"
        elif isinstance(error, AlertDeliveryError) and error.retry_after is not None:
            wait = max(1.0, error.retry_after)
            lane.paused_until = self.clock.monotonic() + wait
            done.later(wait)
            update.update(next_attempt_at=now + timedelta(seconds=wait), last_error=_describe(error))
            outcome = "rate_limited"
            log.warning("alert sink %s asked to wait %gs (%s)", lane.name, wait, _describe(error))
        else:
            attempts = record.attempts + 1
            permanent = isinstance(error, AlertDeliveryError) and error.permanent
            update.update(attempts=attempts, last_error=_describe(error))
            if permanent or attempts >= policy.max_attempts:
                update.update(status=AlertStatus.FAILED, failed_at=now)
                kept = await self._dead_letter(alert, lane.name, error)
                event = self._dead_letter_event(record, lane.name, error, attempts, permanent, kept)
                outcome = "dead_lettered"
            else:
                wait = policy.wait_after(attempts)
                done.later(wait)
                update.update(next_attempt_at=now + timedelta(seconds=wait))
                outcome = "retried"
                log.info("alert %s to sink %s failed (attempt %d/%d), next in %gs: %s", record.id, lane.name,
                         attempts, policy.max_attempts, wait, _describe(error))
        settled = record.model_copy(update=update)
        with anyio.CancelScope(shield=True):  # what was sent is recorded as sent
            try:
                recorded = await self.store.cas_alert(settled, record.version, event=event)
            except StoreUnavailable as exc:
                log.error("could not record the delivery of alert %s to %s: %s", record.id, lane.name, exc.message)
                return
        if not recorded:
            log.warning("alert %s to sink %s changed meanwhile (%s not recorded)", record.id, lane.name, outcome)
            return
        METRICS.inc(DELIVERIES, sink=lane.name, outcome=outcome)
        if outcome in ("delivered", "dead_lettered"):
            lane.pending = max(0, lane.pending - 1)
        if outcome == "dead_lettered":
            METRICS.inc(DEAD_LETTERED, sink=lane.name)
            log.error("alert %s to sink %s dead-lettered after %d attempts: %s (alert: %s%s)", record.id, lane.name,
                      settled.attempts, _describe(error or Exception()),
                      f"[{record.pipeline_id}] " if record.pipeline_id else "", record.alert.message)

    async def _dead_letter(self, alert: Alert, sink: str, error: Exception) -> dict[str, Any]:
        """Hand a dead letter to the ``dead_letter`` hook (AWS mode's SQS queue, say): what it says
        of it joins the ``ALERT_FAILED`` event; a hook that fails is logged, never fatal."""
        if self.dead_letter is None:
            return {}
        try:
            with anyio.fail_after(self.send_timeout):
                return dict(await self.dead_letter(alert, sink, error) or {})
        except Exception:
            log.exception("the dead-letter hook could not keep alert %s to %s", alert.id, sink)
            return {}

    def _dead_letter_event(self, record: AlertRecord, sink: str, error: Exception, attempts: int,
                           permanent: bool, kept: dict[str, Any]) -> Event | None:
        if not record.pipeline_id:
            return None
        why = "refused for good" if permanent else f"failed {attempts} times"
        return Event(kind=EventKind.ALERT_FAILED, pipeline_id=record.pipeline_id, timestamp=self.clock.now(),
                     message=f"alert to {sink} {why}: {_describe(error)}",
                     details={"sink": sink, "alertId": record.id, "alert": record.alert.message,
                              "attempts": attempts, **kept},
                     schedule_id=record.alert.schedule_id, date=record.alert.date)

    async def _report_strays(self) -> None:
        """Pending records of a sink no longer configured wait for it: say so once."""
        try:
            pending = await self.store.list_alerts(AlertStatus.PENDING, limit=1000)
        except StoreUnavailable:
            return
        strays: dict[str, int] = {}
        for record in pending:
            if record.sink not in self.sink_names:
                strays[record.sink] = strays.get(record.sink, 0) + 1
        for sink, count in sorted(strays.items()):
            log.warning("%d pending alerts wait for sink %r, which is not configured (alerts[].name)", count, sink)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
