"""Catch-up after downtime: cycles whose fire time passed while no watcher looked at the schedule.

Each pass remembers, per pipeline × schedule, the last cycle it looked at (a mark in the store, so
a restarted watcher or another replica knows it). When the current cycle is several fire times past
that mark, the cycles in between — within ``catchUpWindow`` (default the look-back of 7 days) —
passed unseen, and the schedule's ``catchUp`` policy decides:

* ``latest`` (default): only the current cycle runs; the others are skipped;
* ``all``: every one of them runs, oldest first and one at a time, beside the current one (each
  gated like any run); the mark moves on only once they all ran, so a watcher stopped again
  mid-way catches the rest up when it is back;
* ``none``: none runs, the current one included; the next fire time runs as usual.

Every skipped cycle is recorded as ``onDeadline: skip`` records one — its run log SKIPPED (a CAS
on an empty run log: a cycle that ran meanwhile is left alone) and a ``CYCLE_SKIPPED`` event — so
``status``, the dashboard, backfill and reruns treat both alike (a rerun runs it); every caught-up
one is recorded too (``CYCLE_CAUGHT_UP``), and the catch-up raises one alert naming how many
cycles it skipped and ran — nothing is ever started silently in a burst. Cycles older than the window (or than the
latest ``MAX_RECORDED``) are mentioned in that alert, neither run nor recorded one by one. A
pipeline seen for the first time (no mark) has nothing to catch up. Named daily windows (no
``cron``) take part only when ``catchUp`` is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from ..cycles import cycle_day, is_sub_daily_key
from ..model import AlertLevel, EventKind, PipelineConfig, RunLogEntry, RunStatus, ScheduleConfig
from ..schedule import cycle_opens, cycles_between, excluded
from .context import EngineContext

log = logging.getLogger("interlock.watcher")

MAX_RECORDED = 1000
"""At most this many of the latest missed cycles are skipped or caught up one by one (and read from
the store to see whether they ran anyway); older ones count as beyond the window."""

MARK_TTL = timedelta(days=400)
"""How long a schedule's last-seen mark is kept (any gap longer is a first sight)."""

SKIPPED = "|skipped"


@dataclass
class Plan:
    """What a pass does about the cycles it did not see: start ``run`` (oldest first) before the
    current cycle; ``skip_current``: the current cycle passed unseen too and ``catchUp: none``."""

    run: list[str] = field(default_factory=list)
    skip_current: bool = False


def takes_part(schedule: ScheduleConfig) -> bool:
    return bool(schedule.cron) or schedule.catch_up is not None


def window_of(schedule: ScheduleConfig, lookback_days: int) -> timedelta:
    return schedule.catch_up_window or timedelta(days=lookback_days)


def _span(keys: list[str]) -> str:
    return f"{len(keys)} ({keys[0]})" if len(keys) == 1 else f"{len(keys)} ({keys[0]} .. {keys[-1]})"


class CatchUp:
    def __init__(self, ctx: EngineContext, lookback_days: int) -> None:
        self.ctx = ctx
        self.lookback_days = lookback_days
        self._seen: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], set[str]] = {}

    def pending(self, pipeline_id: str, schedule_id: str) -> set[str]:
        """The caught-up cycles still to start or to become ready (``catchUp: all``)."""
        return self._pending.get((pipeline_id, schedule_id), set())

    async def done(self, pipeline: PipelineConfig, schedule: ScheduleConfig, key: str) -> None:
        """``key`` ran (or left the window); once the last caught-up cycle did, the store's mark
        moves on to the current cycle (until then it stays where the outage began, so a watcher that
        stops again mid-way catches the rest up when it is back)."""
        cid = (pipeline.name, schedule.name)
        cycles = self._pending.get(cid)
        if cycles is None:
            return
        cycles.discard(key)
        if not cycles:
            del self._pending[cid]
            await self._mark(pipeline, schedule, self._seen.get(cid))

    async def _mark(self, pipeline: PipelineConfig, schedule: ScheduleConfig, value: str | None) -> None:
        if value is None:
            return
        key = self.mark_key(pipeline, schedule)
        mark = await self.ctx.store.lease_owner(key)
        if mark == value:
            return
        if mark is not None:
            await self.ctx.store.release_lease(key, mark)
        await self.ctx.store.acquire_lease(key, value, MARK_TTL.total_seconds())

    @staticmethod
    def mark_key(pipeline: PipelineConfig, schedule: ScheduleConfig) -> str:
        return f"catchup:{pipeline.name}:{schedule.name}"

    async def plan(self, pipeline: PipelineConfig, schedule: ScheduleConfig, today: str) -> Plan:
        """Called on each pass with the current cycle ``today``; costs one store read per cycle
        change (none while the cycle stays the same)."""
        cid = (pipeline.name, schedule.name)
        if not takes_part(schedule):
            return Plan()
        seen = self._seen.get(cid)
        if seen is not None and seen.split("|")[0] == today:
            return Plan(skip_current=seen.endswith(SKIPPED))
        if cid in self._pending:  # catching up: a cycle that fires meanwhile is seen, not missed
            self._seen[cid] = today
            return Plan()
        key = self.mark_key(pipeline, schedule)
        mark = await self.ctx.store.lease_owner(key)
        last = mark.split("|")[0] if mark else None
        if last == today:
            self._seen[cid] = mark or today
            return Plan(skip_current=bool(mark and mark.endswith(SKIPPED)))
        plan = Plan()
        if last is not None and is_sub_daily_key(last) == is_sub_daily_key(today) and last < today:
            plan = await self._catch_up(pipeline, schedule, last, today)
        value = today + (SKIPPED if plan.skip_current else "")
        self._seen[cid] = value
        if plan.run:  # the mark moves on once they ran (see done)
            self._pending.setdefault(cid, set()).update(plan.run)
        else:
            if mark is not None:
                await self.ctx.store.release_lease(key, mark)
            await self.ctx.store.acquire_lease(key, value, MARK_TTL.total_seconds())
        return plan

    async def _catch_up(self, pipeline: PipelineConfig, schedule: ScheduleConfig, last: str, today: str) -> Plan:
        now = self.ctx.clock.now()
        floor = now - window_of(schedule, self.lookback_days)
        since = cycle_opens(pipeline, schedule, last)
        beyond = since < floor - timedelta(seconds=1)  # cycles before the window: neither run nor recorded
        passed = [k for k, _ in cycles_between(pipeline, schedule, max(since, floor - timedelta(seconds=1)), now)
                  if last < k <= today and not excluded(pipeline, cycle_day(k), self.ctx.calendars)]
        if not beyond and (not passed or passed == [today]):
            return Plan()
        in_window = passed[-MAX_RECORDED:]
        beyond = beyond or len(in_window) < len(passed)
        policy = schedule.catch_up or "latest"
        run: list[str] = []
        skipped: list[str] = []
        if policy == "all":
            run = [k for k in in_window if k != today]
        elif policy == "latest" and in_window:
            run = [in_window[-1]] if in_window[-1] != today else []
            skipped = in_window[:-1]
        else:
            skipped = list(in_window)
        skip_current = policy == "none" and today in in_window
        reason = f"passed while no watcher ran; catchUp: {policy}"
        # a cycle that ran meanwhile (an API trigger during the outage) was neither missed nor skipped
        run = [k for k in run if await self.ctx.store.get_run_log(pipeline.name, k, schedule.name) is None]
        skipped = [k for k in skipped if await self._record_skipped(pipeline, schedule, k, reason)]
        for k in skipped:
            await self.ctx.emit(EventKind.CYCLE_SKIPPED, pipeline.name, schedule_id=schedule.name, date=k,
                                status="SKIPPED", message=f"cycle {k} {reason}; request a rerun to run it",
                                details={"scheduleId": schedule.name, "date": k, "catchUp": policy})
        for k in run:
            await self.ctx.emit(EventKind.CYCLE_CAUGHT_UP, pipeline.name, schedule_id=schedule.name, date=k,
                                message=f"cycle {k} {reason}: run now",
                                details={"scheduleId": schedule.name, "date": k, "catchUp": policy})
        if skipped or run or beyond:
            running = run + ([today] if today in in_window and not skip_current else [])
            parts = [f"{verb} {_span(keys)}" for verb, keys in (("skipped", skipped), ("running", running)) if keys]
            if beyond:
                parts.append(f"older ones (before {in_window[0] if in_window else today}) neither run nor recorded "
                             f"(catchUpWindow, at most {MAX_RECORDED})")
            details = {"scheduleId": schedule.name, "catchUp": policy, "lastSeen": last, "current": today,
                       "skipped": len(skipped), "caughtUp": len(run), "beyondWindow": beyond,
                       **({"firstSkipped": skipped[0], "lastSkipped": skipped[-1]} if skipped else {}),
                       **({"firstCaughtUp": run[0], "lastCaughtUp": run[-1]} if run else {})}
            count = f"{'over ' if beyond else ''}{len(passed)}"
            await self.ctx.alert_once(
                f"catchup:{pipeline.name}:{schedule.name}:{last}:{today}", AlertLevel.WARNING,
                f"Pipeline {pipeline.name}: {count} cycle(s) of schedule {schedule.name} fired while no watcher "
                f"ran (last seen {last}); catchUp {policy}: " + "; ".join(parts), pipeline.name,
                details=details, schedule_id=schedule.name, date=today)
            log.warning("catch-up of %s/%s after %s: %s", pipeline.name, schedule.name, last, "; ".join(parts))
        return Plan(run=run, skip_current=skip_current)

    async def _record_skipped(self, pipeline: PipelineConfig, schedule: ScheduleConfig, key: str,
                              reason: str) -> bool:
        """Record ``key`` SKIPPED in its run log, as ``onDeadline: skip`` does (a CAS on an empty run
        log: a cycle that ran meanwhile, or that another watcher recorded first, is left as it is).
        False when something is recorded for it already. A dry-run pipeline writes no run log."""
        if pipeline.dry_run:
            return await self.ctx.store.get_run_log(pipeline.name, key, schedule.name) is None
        now = self.ctx.clock.now()
        entry = RunLogEntry(pipeline_id=pipeline.name, date=key, schedule_id=schedule.name, status=RunStatus.SKIPPED,
                            failure_message=f"skipped: {reason}", alert_sent=True, started_at=now, updated_at=now,
                            completed_at=now)
        return await self.ctx.store.cas_run_log(entry, None)
