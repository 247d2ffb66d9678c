"""``interlock backfill``: every cycle of a date range through the run lifecycle, a few at a time,
with a progress bar and a summary table. The backfill itself is the engine's
(:mod:`interlock_core.engine.backfill`); this draws it and turns Ctrl-C into a clean stop."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TextIO

import anyio
import anyio.abc

from interlock_core.engine import BackfillCycle, BackfillReport, BackfillResult

from .output import EXIT_BLOCKED, EXIT_INTERRUPTED, EXIT_OK, Out
from .session import open_engine

R = BackfillResult
BAR_WIDTH = 30
WORDS = {R.COMPLETED: "completed", R.FAILED: "failed", R.RUNNING: "running", R.ALREADY_COMPLETED: "already completed",
         R.ALREADY_RUNNING: "already running", R.NOT_READY: "not ready", R.EXCLUDED: "excluded",
         R.REFUSED: "refused", R.ERROR: "error", R.DRY_RUN: "dry run (would trigger)", R.NOT_STARTED: "not started"}


class Progress:
    """A one-line progress bar on standard error, redrawn as cycles settle (a terminal only)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.drawn = False

    def __call__(self, cycle: BackfillCycle, done: int, total: int) -> None:
        if not self.enabled:
            return
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        self.stream.write(f"\r\033[K{bar} {done}/{total}  {cycle.cycle} {WORDS[cycle.result]}")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False

    def say(self, text: str) -> None:
        self.clear()
        print(text, file=self.stream, flush=True)


async def cmd_backfill(args: argparse.Namespace, out: Out) -> int:
    progress = Progress(sys.stderr, enabled=not out.json_mode and sys.stderr.isatty())
    stop = anyio.Event()
    report: BackfillReport | None = None

    async def on_interrupt(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                if not stop.is_set():
                    stop.set()
                    progress.say("interrupted: no new cycle starts; cycles already starting are launched and "
                                 "recorded first (runs being followed go on)")
                    continue
                progress.say("still launching the cycles already starting; Ctrl-C once more leaves them as they "
                             "are (a claim left unrecorded is taken over once its lease lapses)")
                return  # the next Ctrl-C is Python's own: it ends the command at once

    async with open_engine(args.project, secrets_for=(args.pipeline,)) as (_, engine):
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(on_interrupt)
                try:
                    report = await engine.backfill(args.pipeline, since=args.since, until=args.until,
                                                   schedule_id=args.schedule, force=args.force,
                                                   concurrency=args.concurrency, wait=args.wait, stop=stop,
                                                   on_cycle=progress)
                finally:
                    progress.clear()
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # the engine's own error (a bad date …), as every command reports it
            raise _first(group) from None
    assert report is not None
    if out.json_mode:
        out.json({**report.to_json_dict(), "interrupted": stop.is_set()})
    else:
        show(out, report, interrupted=stop.is_set())
    if stop.is_set():
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_BLOCKED


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


def _paint(out: Out, result: BackfillResult, text: str) -> str:
    if result in (R.COMPLETED, R.ALREADY_COMPLETED, R.DRY_RUN):
        return out.green(text)
    if result in (R.FAILED, R.NOT_READY, R.REFUSED, R.ERROR):
        return out.red(text)
    if result in (R.EXCLUDED, R.NOT_STARTED):
        return out.dim(text)
    return out.cyan(text)


def show(out: Out, report: BackfillReport, *, interrupted: bool = False) -> None:
    mode = " --force" if report.force else ""
    out.line(out.bold(f"Backfill: {report.pipeline_id}") + f"  {report.from_date} … {report.to_date}  "
             + out.dim(f"(schedule {report.schedule_id}; {report.concurrency} at a time{mode})"))
    out.line()
    out.line(out.dim(f"  {'Cycle':<18} {'Result':<24} {'Run':<36} Detail"))
    for cycle in report.cycles:
        word = WORDS[cycle.result] + (" (forced)" if cycle.forced else "")
        run = f"{cycle.run_id} #{cycle.attempt}" if cycle.run_id else "—"
        if cycle.result is R.NOT_READY and cycle.blocking:
            detail = f"blocked by {', '.join(cycle.blocking)}"
        elif cycle.result is R.COMPLETED and not cycle.forced:
            detail = ""
        elif cycle.result is R.ALREADY_COMPLETED:
            detail = "completed before: not run again (a rerun runs it again)"
        elif cycle.forced:
            detail = f"launched although {', '.join(cycle.blocking)} did not pass; {cycle.message}"
        else:
            detail = cycle.message
        out.line(f"  {cycle.cycle:<18} {_paint(out, cycle.result, f'{word:<24}')} {run:<36} {out.dim(detail)}")
    out.line()
    counts = ", ".join(f"{n} {WORDS[R(result)]}" for result, n in report.counts.items())
    total = len(report.cycles)
    verdict = out.green("✓") if report.ok and not interrupted else out.red("✗")
    out.line(f"{verdict} {total} cycle{'s' if total != 1 else ''}: {counts}")
    if interrupted:
        out.line(out.yellow("  interrupted: run the same command again to backfill what was not started"))
    elif not report.ok:
        out.line("  fix what failed or blocked, then run the same command again: completed cycles are skipped")
