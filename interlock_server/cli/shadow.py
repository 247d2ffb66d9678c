"""``interlock shadow-report``: a dry-run pipeline's evidence, cycle by cycle — when Interlock would have
triggered, when the scheduler in place ran, the difference and the SLA projection. The report is
computed in core (:mod:`interlock_core.engine.shadow_report`); this only prints it. Only reads."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from interlock_core.durations import format_duration
from interlock_core.engine.shadow_report import ShadowReport, ShadowRow, SlaCheck
from interlock_core.model import PipelineConfig

from .output import EXIT_OK, Out
from .session import open_engine


async def cmd_shadow_report(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, read_only=True) as (_, engine):
        pipeline = await engine.get_pipeline(args.pipeline)
        report = await engine.shadow_report(pipeline.name, since=args.since, until=args.until,
                                            schedule_id=args.schedule)
    if out.json_mode:
        out.json(report.to_json_dict())
        return EXIT_OK
    show(out, pipeline, report)
    return EXIT_OK


def show(out: Out, pipeline: PipelineConfig, report: ShadowReport) -> None:
    trigger = pipeline.trigger.type if pipeline.trigger else "none"
    source = f"looked up through the {trigger} trigger" if report.lookup else "pushed (POST .../scheduler-runs)"
    mode = "dry run" if report.dry_run else out.yellow("not in dry run now")
    out.line(out.bold(f"Shadow report: {report.pipeline_id}") + f"  {report.from_date} … {report.to_date}  "
             + out.dim(f"({mode}; scheduler runs {source}; times UTC)"))
    out.line()
    header = f"  {'Cycle':<22} {'Would trigger':<14} {'Scheduler ran':<22} {'SLA':<32} Difference"
    out.line(out.dim(header))
    for row in report.cycles:
        cycle = f"{row.date} {row.schedule_id}" + (" (excl.)" if row.excluded else "")
        would = _time(row.would_trigger_at, row.date) if row.would_trigger_at else "—"
        out.line(f"  {cycle:<22} {would:<14} {_scheduler(row):<22} {_sla(row):<32} {_difference(out, row)}")
        extra = [f"{n} {what}" for n, what in ((row.would_retries, "would-retry"), (row.would_reruns, "would-rerun"))
                 if n]
        if row.late_data_at is not None:
            extra.append(f"late data at {_time(row.late_data_at, row.date)}")
        if extra:
            out.line(out.dim(f"  {'':<22} {', '.join(extra)}"))
    s = report.summary
    median = f" · median lead {_lead(s.median_lead_seconds)}" if s.median_lead_seconds is not None else ""
    out.line()
    out.line(f"{s.cycles} cycles · {s.earlier} earlier · {s.same} same · {s.later} later · {s.held} held · "
             f"{s.not_run} not run by the scheduler · SLA held {s.sla_held}, missed {s.sla_missed}{median}")


def _time(value: datetime, day: str) -> str:
    """HH:MM (UTC) on the cycle's date, else MM-DD HH:MM."""
    text = value.strftime("%Y-%m-%d %H:%M")
    return text[11:] if text.startswith(day[:10]) else text[5:]


def _scheduler(row: ShadowRow) -> str:
    run = row.scheduler
    if run is None:
        return "—"
    started = _time(run.started_at, row.date) if run.started_at else "?"
    ended = f"–{_time(run.finished_at, row.date)}" if run.finished_at else ""
    more = f" ×{run.runs}" if run.runs > 1 else ""
    mark = {"succeeded": " ok", "failed": " failed", "running": " running"}.get(run.outcome or "", "")
    return f"{started}{ended}{mark}{more}"


def _sla(row: ShadowRow) -> str:
    """Would the SLA have held under Interlock (plain text: the column is padded)."""
    if row.sla.held is None:
        return "open" if row.sla.checks and row.evaluated and not row.excluded else "—"
    if row.sla.held:
        return "held"
    missed: list[SlaCheck] = [c for c in row.sla.checks if c.interlock_met is False]
    return f"missed ({', '.join(c.kind for c in missed)})"


def _difference(out: Out, row: ShadowRow) -> str:
    if row.verdict.value == "earlier":
        return out.green(row.difference)
    if row.verdict.value in ("later", "held"):
        return out.yellow(row.difference)
    return row.difference


def _lead(seconds: float) -> str:
    text = format_duration(timedelta(seconds=round(abs(seconds))))
    return f"{text} {'earlier' if seconds >= 0 else 'later'}"
