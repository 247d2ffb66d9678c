"""The shadow report of a dry-run pipeline: for each cycle of a date range, when Interlock would have
triggered, when the scheduler in place actually ran, the difference, and whether the SLA would
have held — the evidence a team needs before it switches the gate on. Computed here, once, from
the cycles' shadow records (:class:`~interlock_core.model.ShadowCycle`); ``interlock
shadow-report``, ``GET /api/pipelines/{id}/shadow-report`` and the dashboard only render it.

The difference compares the would-trigger with the start of the scheduler's first run of the cycle
(``leadSeconds``: positive when Interlock would have been earlier). The SLA is projected from the
pipeline's deadlines (:func:`interlock_core.schedule.deadlines`): the evaluation deadline holds when
the cycle would have triggered by it; the completion deadline when the would-trigger plus the
scheduler's run time (its successful run's, when known; nothing added otherwise) is by it. A cycle
that never would have triggered misses every deadline already past.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from ..cycles import cycle_day, is_sub_daily_key
from ..dates import parse_run_date
from ..durations import format_duration
from ..errors import InterlockError, ValidationError
from ..model import PipelineConfig, Record, ScheduleConfig, SchedulerRun, ShadowCycle, Timestamp
from ..model.base import empty_list
from ..schedule import cycle_date, cycles_between, deadlines, excluded, local_midnight, schedule_zone
from .context import EngineContext

MAX_REPORT_DAYS = 92
"""The longest range one report covers (the store keeps shadow records for its retention anyway)."""
DEFAULT_REPORT_DAYS = 7
MAX_REPORT_CYCLES = 2000
"""The most rows one report holds for a sub-daily schedule (a default range keeps the latest ones)."""


class Verdict(StrEnum):
    EARLIER = "earlier"              # Interlock would have triggered before the scheduler ran
    SAME = "same"
    LATER = "later"                  # the scheduler ran before the data was ready
    HELD = "held"                    # never ready, yet the scheduler ran
    NOT_RUN = "not_run"              # Interlock would have triggered; no scheduler run seen
    NOT_READY = "not_ready"          # never ready, and the scheduler did not run either
    NOT_EVALUATED = "not_evaluated"  # the scheduler ran; Interlock never evaluated the cycle
    NO_DATA = "no_data"


class SlaCheck(Record):
    kind: str
    """``evaluation`` or ``completion``."""
    deadline: Timestamp
    label: str
    interlock_at: Timestamp | None = None
    """The would-trigger (evaluation) or the projected completion."""
    interlock_met: bool | None = None
    """None: not decided yet (the deadline is ahead and the cycle has not become ready)."""
    scheduler_at: Timestamp | None = None
    """The scheduler's first start (evaluation) or its successful run's end (completion)."""
    scheduler_met: bool | None = None


class ShadowSla(Record):
    held: bool | None = None
    """Whether every deadline would have held under Interlock (None: no deadline, or not decided yet)."""
    checks: list[SlaCheck] = Field(default_factory=empty_list)


class ShadowSchedulerRun(Record):
    run_id: str
    state: str
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    source: str
    runs: int = 1
    """How many runs the scheduler made of the cycle (retries and reruns included)."""
    outcome: str | None = None
    """How the cycle ended for the scheduler: ``succeeded`` when any run did, else the last run's state."""


class ShadowRow(Record):
    date: str
    schedule_id: str
    excluded: bool = False
    evaluated: bool = False
    would_trigger_at: Timestamp | None = None
    blocking: list[str] = Field(default_factory=empty_list)
    scheduler: ShadowSchedulerRun | None = None
    verdict: Verdict
    lead_seconds: float | None = None
    difference: str
    sla: ShadowSla
    would_retries: int = 0
    would_reruns: int = 0
    late_data_at: Timestamp | None = None


class ShadowSummary(Record):
    cycles: int = 0
    earlier: int = 0
    later: int = 0
    same: int = 0
    held: int = 0
    not_run: int = 0
    sla_held: int = 0
    sla_missed: int = 0
    median_lead_seconds: float | None = None


class ShadowReport(Record):
    pipeline_id: str
    dry_run: bool
    from_date: str
    to_date: str
    schedule_id: str | None = None
    lookup: bool
    """Whether the pipeline's trigger looks up the scheduler's runs itself (else they are pushed)."""
    generated_at: Timestamp
    summary: ShadowSummary
    cycles: list[ShadowRow]


def report_range(today: str, since: str | None, until: str | None) -> tuple[str, str]:
    """The report's dates: ``until`` defaults to today, ``since`` to six days before ``until``."""
    end = parse_run_date(until, "to") if until else Date.fromisoformat(today)
    start = parse_run_date(since, "from") if since else \
        end - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    if start > end:
        raise ValidationError(f"from ({start}) is after to ({end})", field="from")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise ValidationError(f"a report covers at most {MAX_REPORT_DAYS} days ({start} to {end} is "
                              f"{(end - start).days + 1})", field="from")
    return start.isoformat(), end.isoformat()


async def shadow_report(ctx: EngineContext, pipeline: PipelineConfig, *, since: str | None = None,
                        until: str | None = None, schedule_id: str | None = None, lookup: bool = False) -> ShadowReport:
    """The report over ``since``..``until`` (see :func:`report_range`), every schedule or one."""
    schedules = pipeline.resolved_schedules()
    if schedule_id is not None:
        chosen = pipeline.schedule(schedule_id)
        if chosen is None:
            raise ValidationError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}", field="schedule")
        schedules = [chosen]
    now = ctx.clock.now()
    start, end = report_range(cycle_date(now, schedule_zone(pipeline, schedules[0])), since, until)
    # (the end of the last day: its sub-daily cycles, keyed YYYY-MM-DDTHH:MM, sort after its date)
    records = {(r.date, r.schedule_id): r
               for r in await ctx.store.list_shadow_cycles(pipeline.name, start, f"{end}T23:59")}
    cycles = [(key, n, schedule) for n, schedule in enumerate(schedules)
              for key in _cycles(pipeline, schedule, start, end, since, until)]
    cycles.sort(key=lambda cycle: (cycle[0][:10], cycle[1], cycle[0]))  # by day, then schedule, then fire time
    rows = [_row(ctx, pipeline, schedule, key, records.get((key, schedule.name)), now) for key, _, schedule in cycles]
    return ShadowReport(pipeline_id=pipeline.name, dry_run=pipeline.dry_run, from_date=start, to_date=end,
                        schedule_id=schedule_id, lookup=lookup, generated_at=now, summary=_summary(rows),
                        cycles=rows)


def _cycles(pipeline: PipelineConfig, schedule: ScheduleConfig, start: str, end: str, since: str | None,
            until: str | None) -> list[str]:
    """The report's cycles of ``schedule``: each date from ``start`` to ``end``, or for a sub-daily
    schedule each fire time on those dates, from ``since`` and to ``until`` when they are fire times
    themselves — at most :data:`MAX_REPORT_CYCLES` (a range given with ``from`` that holds more is
    refused; the default range keeps the latest ones)."""
    first, last = Date.fromisoformat(start), Date.fromisoformat(end)
    if not (schedule.cron and schedule.sub_daily):
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    tz = schedule_zone(pipeline, schedule)
    opens = local_midnight(first, tz) - timedelta(microseconds=1)  # (opens, closes]: midnight of `first` included
    closes = local_midnight(last + timedelta(days=1), tz) - timedelta(microseconds=1)
    keys = [k for k, _ in cycles_between(pipeline, schedule, opens, closes)
            if (since is None or not is_sub_daily_key(since) or k >= since)
            and (until is None or not is_sub_daily_key(until) or k <= until)]
    if len(keys) > MAX_REPORT_CYCLES:
        if since is not None:
            raise ValidationError(f"a report covers at most {MAX_REPORT_CYCLES} cycles of schedule {schedule.name} "
                                  f"({since} to {end} holds more); narrow from and to", field="from")
        keys = keys[-MAX_REPORT_CYCLES:]
    return keys


def compare(record: ShadowCycle | None) -> tuple[Verdict, timedelta | None, str]:
    """The verdict on one cycle, Interlock's lead over the scheduler's first start, and a sentence."""
    would = record.would_trigger_at if record else None
    first = record.first_scheduler_run if record else None
    started = first.started_at if first else None
    if would is not None and started is not None:
        lead = started - would
        if lead > timedelta(0):
            return Verdict.EARLIER, lead, f"Interlock {_span(lead)} earlier"
        if lead < timedelta(0):
            return Verdict.LATER, lead, (f"Interlock {_span(lead)} later: the scheduler ran on data Interlock "
                                         "considered not ready")
        return Verdict.SAME, lead, "at the same time"
    blocked = f" (blocked by {', '.join(record.blocking)})" if record and record.blocking else ""
    if started is not None:
        if record is not None and record.first_evaluated_at is not None:
            return Verdict.HELD, None, (f"Interlock would have held it: not ready{blocked}; the scheduler ran on "
                                        "data Interlock considered not ready")
        return Verdict.NOT_EVALUATED, None, "the scheduler ran; Interlock did not evaluate this cycle"
    if would is not None:
        return Verdict.NOT_RUN, None, "Interlock would have triggered; no scheduler run seen"
    if record is not None and record.first_evaluated_at is not None:
        return Verdict.NOT_READY, None, f"not ready{blocked}; no scheduler run seen either"
    return Verdict.NO_DATA, None, "no evaluation and no scheduler run recorded"


def _span(value: timedelta) -> str:
    return format_duration(timedelta(seconds=round(abs(value.total_seconds()))))


def _row(ctx: EngineContext, pipeline: PipelineConfig, schedule: ScheduleConfig, key: str,
         record: ShadowCycle | None, now: datetime) -> ShadowRow:
    verdict, lead, text = compare(record)
    try:
        is_excluded = excluded(pipeline, cycle_day(key), ctx.calendars)
    except InterlockError:  # an unknown calendar excludes nothing (the loader reports it)
        is_excluded = False
    judged = not is_excluded and record is not None and record.first_evaluated_at is not None
    return ShadowRow(
        date=key, schedule_id=schedule.name, excluded=is_excluded,
        evaluated=record is not None and record.first_evaluated_at is not None,
        would_trigger_at=record.would_trigger_at if record else None,
        blocking=list(record.blocking) if record and record.would_trigger_at is None else [],
        scheduler=_scheduler(record), verdict=verdict,
        lead_seconds=lead.total_seconds() if lead is not None else None, difference=text,
        sla=_sla(pipeline, schedule, key, record, now, judged=judged),
        would_retries=record.would_retries if record else 0, would_reruns=record.would_reruns if record else 0,
        late_data_at=record.late_data_at if record else None)


def _scheduler(record: ShadowCycle | None) -> ShadowSchedulerRun | None:
    first = record.first_scheduler_run if record else None
    if record is None or first is None:
        return None
    succeeded = record.succeeded_run
    last = record.scheduler_runs[-1]
    return ShadowSchedulerRun(run_id=first.run_id, state=first.state, started_at=first.started_at,
                              finished_at=first.finished_at, source=first.source, runs=len(record.scheduler_runs),
                              outcome="succeeded" if succeeded is not None else last.state)


def _duration(run: SchedulerRun | None) -> timedelta | None:
    if run is None or run.started_at is None or run.finished_at is None:
        return None
    return max(run.finished_at - run.started_at, timedelta(0))


def _met(at: datetime | None, deadline: datetime, now: datetime) -> bool | None:
    if at is not None:
        return at <= deadline
    return False if now > deadline else None


def _sla(pipeline: PipelineConfig, schedule: ScheduleConfig, day: str, record: ShadowCycle | None,
         now: datetime, *, judged: bool) -> ShadowSla:
    """``judged``: Interlock evaluated the cycle (an excluded day, or one it never looked at, is
    not held against it: its side of every check is None)."""
    d = deadlines(pipeline, schedule, day)
    would = record.would_trigger_at if record else None
    first = record.first_scheduler_run if record else None
    succeeded = record.succeeded_run if record else None
    checks = []
    if d.evaluation is not None:
        checks.append(SlaCheck(
            kind="evaluation", deadline=d.evaluation, label=d.evaluation_label or "", interlock_at=would,
            interlock_met=_met(would, d.evaluation, now) if judged else None,
            scheduler_at=first.started_at if first else None,
            scheduler_met=_met(first.started_at if first else None, d.evaluation, now)))
    if d.completion is not None:
        took = _duration(succeeded) or _duration(first)
        projected = would + took if would is not None and took is not None else would
        done = succeeded.finished_at if succeeded else None
        checks.append(SlaCheck(
            kind="completion", deadline=d.completion, label=d.completion_label or "", interlock_at=projected,
            interlock_met=_met(projected, d.completion, now) if judged else None, scheduler_at=done,
            scheduler_met=_met(done, d.completion, now)))
    verdicts = [c.interlock_met for c in checks]
    held = False if False in verdicts else None if not checks or None in verdicts else True
    return ShadowSla(held=held, checks=checks)


def _summary(rows: list[ShadowRow]) -> ShadowSummary:
    counts = {v: sum(1 for r in rows if r.verdict is v) for v in Verdict}
    leads = sorted(r.lead_seconds for r in rows if r.lead_seconds is not None)
    median = None
    if leads:
        middle = len(leads) // 2
        median = leads[middle] if len(leads) % 2 else (leads[middle - 1] + leads[middle]) / 2
    return ShadowSummary(
        cycles=len(rows), earlier=counts[Verdict.EARLIER], later=counts[Verdict.LATER], same=counts[Verdict.SAME],
        held=counts[Verdict.HELD], not_run=counts[Verdict.NOT_RUN],
        sla_held=sum(1 for r in rows if r.sla.held is True), sla_missed=sum(1 for r in rows if r.sla.held is False),
        median_lead_seconds=median)
