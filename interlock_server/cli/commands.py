"""The CLI commands. Each is a thin adapter over the engine: no lifecycle logic lives here."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from interlock_core.config import CONFIG_FILENAMES, load_project
from interlock_core.errors import InterlockError, NotFoundError
from interlock_core.model import (
    DEFAULT_SCHEDULE_ID,
    Event,
    EventKind,
    RunState,
    RunStatus,
    TraitEvaluation,
)
from interlock_core.pipeline_state import PipelineState, PipelineStateView

from .output import EXIT_BLOCKED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Out
from .pipeline_view import RETIRED, ListedPipeline, known, listing, show_unregistered
from .scaffold import scaffold
from .session import open_engine

if TYPE_CHECKING:
    from interlock_core.engine import RunOutcome


def _check_init_target(target: Path, force: bool) -> None:
    """Refuse a target that is a file or already holds a project (unless ``force``): nothing is written."""
    if target.exists() and not target.is_dir():
        raise InterlockError(f"{target} is a file, not a directory: nothing was written. Name a new directory "
                             "(or an existing one) for the project", path=str(target))
    existing = [target / name for name in CONFIG_FILENAMES if (target / name).exists()]
    existing += [p for p in (target / "pipelines").glob("*.y*ml")] if (target / "pipelines").is_dir() else []
    if existing and not force:
        raise InterlockError(
            f"{target} already holds an Interlock project ({', '.join(str(p) for p in existing[:3])}"
            f"{' …' if len(existing) > 3 else ''}); nothing was written. Pass --force to write over it "
            "(interlock.yaml and the example files are replaced; other pipelines are kept).", path=str(target))


async def cmd_init(args: argparse.Namespace, out: Out) -> int:
    target = Path(args.name)
    _check_init_target(target, getattr(args, "force", False))
    try:
        written = scaffold(target, store=args.store)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise InterlockError(f"cannot write the project to {target}: {exc.strerror or exc}{where}",
                             path=str(target)) from None
    if out.json_mode:
        out.json({"project": str(target), "store": args.store, "files": [str(p) for p in written]})
        return EXIT_OK
    out.line(out.bold(f"Initializing Interlock project: {args.name}"))
    out.line(out.green("  ✓ Project scaffolded") + out.dim(f" ({args.store} store)"))
    out.line()
    out.line("Next steps:")
    out.line(f"  cd {args.name}")
    out.line("  interlock evaluate example     # check readiness")
    out.line("  interlock run example          # evaluate + trigger, once per day")
    out.line("  interlock serve                # HTTP API + watcher on 127.0.0.1:3000")
    return EXIT_OK


def _evaluator_check() -> Any:
    """How ``validate`` tells an evaluator that resolves nowhere: as the evaluator runners resolve it."""
    from interlock_core.plugins import load_plugins
    from interlock_plugins.evaluators.check import unresolved

    builtins = load_plugins().builtin_evaluators.names()
    return lambda evaluator, evaluator_dirs: unresolved(evaluator, evaluator_dirs, builtins)


async def cmd_validate(args: argparse.Namespace, out: Out) -> int:
    project = load_project(args.dir or args.project, evaluator_check=_evaluator_check())
    summary = {
        "configFile": str(project.config_file),
        "provider": project.config.provider,
        "archetypes": project.archetypes.names(),
        "calendars": project.calendars.names(),
        "pipelines": sorted(project.pipelines),
        "alerts": [name for name, _ in project.alert_configs],
    }
    if out.json_mode:
        out.json({"valid": True, **summary})
        return EXIT_OK
    out.line(out.green("✓ configuration is valid") + f"  {summary['configFile']}")
    out.line(f"  store:      {summary['provider']}")
    out.line(f"  archetypes: {', '.join(summary['archetypes']) or '-'}")
    out.line(f"  calendars:  {', '.join(summary['calendars']) or '-'}")
    out.line(f"  pipelines:  {', '.join(summary['pipelines']) or '-'}")
    out.line(f"  alerts:     {', '.join(summary['alerts']) or '-'}")
    return EXIT_OK


def _live_traits(out: Out, pipeline_id: str) -> Any:
    """On a terminal, print each trait's result the moment it arrives."""
    if out.json_mode or not out.color:
        return None

    async def on_event(event: Event) -> None:
        if event.kind is EventKind.TRAIT_EVALUATED and event.pipeline_id == pipeline_id:
            ev = TraitEvaluation(pipeline_id=pipeline_id, trait_type=event.trait_type or "?",
                                 status=event.status or "?", reason=event.message, evaluated_at=event.timestamp)
            out.line(out.dim("  … ") + out.trait_line(ev, indent="").strip())

    return on_event


async def cmd_evaluate(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, secrets_for=()) as (_, engine):  # evaluating triggers nothing
        engine.ctx.on_event = _live_traits(out, args.pipeline)
        if engine.ctx.on_event is not None:
            out.line(out.dim(f"evaluating {args.pipeline} …"))
        result = await engine.evaluate(args.pipeline, schedule_id=args.schedule, date=args.date)
    if out.json_mode:
        out.json(result.to_json_dict())
    else:
        out.readiness(result)
    return EXIT_OK if result.ready and not result.excluded else EXIT_BLOCKED


def _describe(out: Out, outcome: RunOutcome, *, polled: bool = False, forced: bool = False) -> None:
    from interlock_core.engine import Outcome  # imported by the commands that run: status needs none

    run = outcome.run
    if outcome.readiness is not None:
        out.readiness(outcome.readiness)
    if outcome.outcome is Outcome.TRIGGERED and run is not None:
        out.line(f"Run {out.bold(run.run_id)}  attempt {run.attempt}  {outcome.schedule_id}/{outcome.date}: "
                 f"{out.status_word(run.status.value)}")
        if run.status is RunStatus.RUNNING:
            for hint in _running_hints(run, polled):
                out.line(f"  {hint}")
        if run.failure_message:
            out.line(out.red(f"  {run.failure_message}"))
        tail = run.metadata.get("outputTail")
        if tail:
            out.line(out.dim("  output: " + str(tail).strip().replace("\n", "\n          ")))
    elif outcome.outcome is not Outcome.NOT_READY:
        out.line(out.yellow(f"{outcome.outcome.value}: ") + outcome.message)
        hint = _next_step(outcome, forced)
        if hint:
            out.line(f"  next: {hint}")


def _running_hints(run: RunState, polled: bool) -> list[str]:
    """What happens to a RUNNING run now, and what the user can do about it."""
    if polled:
        return [f"{run.trigger_type} reports when the job ends: `interlock serve` (its watcher) polls it, "
                f"or follow it here with `interlock run {run.pipeline_id} --date {run.date} --wait`"]
    return [f"awaiting completion: POST /api/runs/{run.run_id}/complete "
            f"or `interlock complete {run.run_id} --status success`"]


def _next_step(outcome: RunOutcome, forced: bool) -> str | None:
    """The command that moves a refused cycle on, when there is one."""
    from interlock_core.engine import Outcome

    p, d = outcome.pipeline_id, outcome.date
    schedule = f" --schedule {outcome.schedule_id}" if outcome.schedule_id not in ("", DEFAULT_SCHEDULE_ID) else ""
    rerun = f'interlock rerun {p} --date {d}{schedule} --reason "..."'
    if outcome.outcome is Outcome.DUPLICATE and not forced:
        return f"to run it again anyway: interlock run {p} --date {d}{schedule} --force"
    if outcome.outcome in (Outcome.EXHAUSTED, Outcome.NON_RETRYABLE):
        return f"fix the cause, then run the date again as a rerun: {rerun}"
    if outcome.outcome is Outcome.IN_PROGRESS and outcome.run is not None:
        return (f"follow it: interlock run {p} --date {d}{schedule} --wait; "
                f"or cancel it: interlock cancel {outcome.run.run_id}")
    if outcome.outcome is Outcome.BACKOFF and outcome.retry_at is not None:
        return f"the next attempt may start after {outcome.retry_at.isoformat()} (`interlock serve` starts it)"
    if outcome.outcome is Outcome.EXCLUDED:
        return f"to run the excluded date anyway: {rerun}"
    if outcome.outcome is Outcome.SKIPPED:
        return f"the cycle was skipped (onDeadline: skip, or catch-up after downtime); to run it: {rerun}"
    return None


def _exit_for(outcome: RunOutcome) -> int:
    from interlock_core.engine import Outcome

    if outcome.outcome is Outcome.DRY_RUN:
        return EXIT_OK  # ready: it would have triggered
    if outcome.outcome is Outcome.TRIGGERED and outcome.run is not None:
        return EXIT_BLOCKED if outcome.run.status in (RunStatus.FAILED, RunStatus.CANCELLED) else EXIT_OK
    return EXIT_BLOCKED


def _polled(engine: Any, outcome: RunOutcome) -> bool:
    """Whether the run's trigger type reports the job's end itself when polled (its ``pollable``)."""
    kind = outcome.run.trigger_type if outcome.run is not None else None
    if not kind:
        return False
    try:
        return bool(getattr(engine.ctx.triggers.cls(kind), "pollable", False))
    except Exception:  # an unknown trigger type: fall back to the completion hint
        return False


class _Stop:
    """Why following a run stopped before it ended."""

    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


async def _wait(engine: Any, out: Out, run_id: str, limit: float) -> tuple[Any, str | None]:
    """Follow a run until it ends, ``limit`` seconds pass (``timeout``) or Ctrl-C (``interrupted``).
    Stopping to wait never touches the run: an interrupt is honoured between two steps."""
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    stop = anyio.Event()
    started = anyio.current_time()

    async def on_interrupt(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                stop.set()
                return

    stopped: str | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(on_interrupt)  # Ctrl-C is ours from here on: the message below promises it
        print(f"waiting for run {run_id} to end (up to {limit:g}s; Ctrl-C stops waiting, not the run) …",
              file=sys.stderr, flush=True)
        run = await engine.advance_run(run_id)
        while not run.status.is_terminal:
            waited = anyio.current_time() - started
            if stop.is_set():
                stopped = _Stop.INTERRUPTED
                break
            if waited >= limit:
                stopped = _Stop.TIMEOUT
                break
            if out.color:
                sys.stdout.write(f"\r{spinner[int(waited * 4) % len(spinner)]} {run_id} {run.status.value} "
                                 f"{waited:5.0f}s")
                sys.stdout.flush()
            with anyio.move_on_after(min(1.0, max(limit - waited, 0.0))):
                await stop.wait()
            if not stop.is_set():
                run = await engine.advance_run(run_id)
        tg.cancel_scope.cancel()
    if out.color:
        sys.stdout.write("\r\033[K")
    return run, stopped


def _stopped_waiting(out: Out, run: RunState, why: str, limit: float, polled: bool) -> None:
    head = (f"timed out after {limit:g}s" if why == _Stop.TIMEOUT else "interrupted") + \
        f": run {run.run_id} is still {run.status.value} (stopping to wait did not stop it)"
    lines = [head]
    if polled:
        lines.append("  `interlock serve` keeps polling it until it ends")
    lines += [f"  complete it: interlock complete {run.run_id} --status success|failed",
              f"  cancel it:   interlock cancel {run.run_id}"]
    for text in lines:
        print(text, file=sys.stderr)


async def cmd_run(args: argparse.Namespace, out: Out) -> int:
    from interlock_core.engine import Outcome

    stopped: str | None = None
    async with open_engine(args.project, secrets_for=(args.pipeline,)) as (_, engine):
        outcome = await engine.start_run(args.pipeline, args.schedule, args.date)
        if outcome.outcome is Outcome.DUPLICATE and args.force:
            _, rerun_outcome = await engine.request_rerun(args.pipeline, outcome.date, args.reason,
                                                          schedule_id=outcome.schedule_id, force=True)
            assert rerun_outcome is not None
            outcome = rerun_outcome
        polled = _polled(engine, outcome)
        if args.wait and outcome.run is not None and not outcome.run.status.is_terminal:
            outcome.run, stopped = await _wait(engine, out, outcome.run.run_id, args.timeout)
    if out.json_mode:
        out.json({**outcome.to_json(), **({"waitStopped": stopped} if stopped else {})})
    else:
        _describe(out, outcome, polled=polled and not stopped, forced=args.force)
    if stopped and outcome.run is not None:
        _stopped_waiting(out, outcome.run, stopped, args.timeout, polled)
        return EXIT_INTERRUPTED if stopped == _Stop.INTERRUPTED else EXIT_BLOCKED
    return _exit_for(outcome)


async def cmd_rerun(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, secrets_for=(args.pipeline,)) as (_, engine):
        record, outcome = await engine.request_rerun(args.pipeline, args.date, args.reason,
                                                     schedule_id=args.schedule, force=args.force)
        polled = _polled(engine, outcome) if outcome else False
    if record.warning:
        print(f"warning: {record.warning}", file=sys.stderr)
    if out.json_mode:
        out.json({"rerun": record.to_json_dict(), **({"outcome": outcome.to_json()} if outcome else {})})
    else:
        out.line(f"Rerun {out.bold(record.rerun_id)} for {record.original_date}: {out.status_word(record.status)}")
        if outcome is not None:
            _describe(out, outcome, polled=polled, forced=True)
            if record.status is RunStatus.PENDING:
                out.line(f"  `interlock serve` starts it once ready; to drop it: interlock cancel-rerun "
                         f"{record.rerun_id}")
    return _exit_for(outcome) if outcome else EXIT_OK


async def cmd_cancel(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, secrets_for=()) as (_, engine):  # no trigger is called
        run = await engine.cancel_run(args.run_id, args.reason)
    if out.json_mode:
        out.json(run.to_json_dict())
    else:
        out.line(f"Run {run.run_id}: {out.status_word(run.status.value)}"
                 + out.dim("  (the orchestrator's job itself is not stopped)"))
    return EXIT_OK


async def cmd_cancel_rerun(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, secrets_for=()) as (_, engine):
        record = await engine.cancel_rerun(args.rerun_id, args.reason)
    if out.json_mode:
        out.json(record.to_json_dict())
    else:
        out.line(f"Rerun {record.rerun_id}: {out.status_word(record.status.value)}")
    return EXIT_OK


async def cmd_complete(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project, secrets_for=()) as (_, engine):  # no trigger is called
        run = await engine.complete_run(args.run_id, args.status)
    if out.json_mode:
        out.json(run.to_json_dict())
    else:
        out.line(f"Run {run.run_id}: {out.status_word(run.status.value)}")
    return EXIT_OK


DRY_RUN_MARK = "DRY-RUN"


def _last_run_text(out: Out, view: PipelineStateView) -> str:
    """The last run: the current cycle's, or another date's run labelled as such."""
    run = view.last_run
    if run is None:
        return out.dim("no runs")
    text = f"{run.run_id} {out.status_word(run.status.value)}"
    return text if view.last_run_current else text + out.yellow(f" (another date: {run.date or '?'}, not this cycle)")


def _state_json(view: PipelineStateView) -> dict[str, Any]:
    """The state fields of ``status --json``: the API's ``/state`` words."""
    body = view.to_json_dict()
    return {"state": body["state"], "stateMessage": body["message"], "blockers": body["blockers"],
            "readiness": body.get("readiness"), "lastRun": body.get("lastRun"),
            "lastRunCurrent": body["lastRunCurrent"]}


async def cmd_status(args: argparse.Namespace, out: Out) -> int:
    """Only reads (never creates the store, registers or retires nothing): files beside the store."""
    async with open_engine(args.project, read_only=True) as (project, engine):
        if not args.pipeline:
            rows: list[tuple[ListedPipeline, PipelineStateView | None]] = []
            for item in listing(await engine.list_pipelines(), project.pipelines):
                view = await engine.pipeline_state(item.pipeline, retired=item.state == RETIRED) \
                    if item.registered else None
                rows.append((item, view))
            if out.json_mode:
                out.json([{"pipelineId": i.name, "archetype": i.pipeline.archetype, "tier": i.pipeline.tier,
                           "dryRun": i.pipeline.dry_run,
                           **(_state_json(view) if view else {"state": i.word, "readiness": None, "lastRun": None}),
                           **i.fields()} for i, view in rows])
                return EXIT_OK
            if not rows:
                out.line("No pipelines registered.")
                return EXIT_OK
            out.line(out.bold("Registered Pipelines:"))
            out.line()
            for item, view in rows:
                p = item.pipeline
                word = view.state.value if view else item.word
                last = _last_run_text(out, view) if view else out.dim("no runs")
                mode = f"  {out.yellow(DRY_RUN_MARK)}" if p.dry_run else ""
                out.line(f"  {p.name:<30} {out.status_word(word):<15} archetype={p.archetype:<22} "
                         f"tier={p.tier if p.tier is not None else '-'}  last run: {last}{mode}")
                note = item.note() or (view.message if view else "")
                if note:
                    out.line(out.dim(f"  {'':<30} {note}"))
            out.line()
            return EXIT_OK
        item = known(args.pipeline, await engine.store.get_pipeline(args.pipeline), project.pipelines)
        if not item.registered:
            return show_unregistered(out, item)
        pipeline = item.pipeline
        view = await engine.pipeline_state(pipeline, retired=item.state == RETIRED)
        readiness = view.readiness_result
        runs = await engine.store.list_runs(pipeline.name, 10)
        logs = await engine.store.list_run_logs(pipeline.name, 10)
        reruns = await engine.store.list_reruns(pipeline.name, 10)
        would = [e for e in await engine.store.list_events(pipeline.name, 200)
                 if e.kind is EventKind.DRY_RUN_WOULD_TRIGGER] if pipeline.dry_run else []
    if out.json_mode:
        out.json({"pipeline": pipeline.to_json_dict(), "state": view.to_json_dict(),
                  "readiness": readiness.to_json_dict() if readiness else None,
                  "runs": [r.to_json_dict() for r in runs], "runLogs": [e.to_json_dict() for e in logs],
                  "reruns": [r.to_json_dict() for r in reruns], **item.fields()})
        return EXIT_OK
    out.line(out.bold(f"Pipeline: {pipeline.name}")
             + (f"  {out.status_word(item.word)}" if item.state == RETIRED else ""))
    if item.note():
        out.line(f"  {item.note()}")
    out.line(f"  Archetype: {pipeline.archetype}")
    out.line(f"  Tier:      {pipeline.tier if pipeline.tier is not None else '-'}")
    if pipeline.trigger:
        out.line(f"  Trigger:   {pipeline.trigger.type}")
    if pipeline.dry_run:
        out.line(f"  Mode:      {out.yellow(DRY_RUN_MARK)} (shadow: evaluates, never triggers)")
        for e in would[-3:]:
            out.line(f"    would trigger {e.date} {e.schedule_id or '-'} at {e.timestamp.isoformat()}")
    out.line(f"  State:     {out.status_word(view.state.value)}  {view.message}")
    for cycle in view.cycles if len(view.cycles) > 1 else []:
        out.line(f"    {cycle.schedule_id:<10} {out.status_word(cycle.state.value):<12} {cycle.message}")
    for cycle in view.cycles:
        if cycle.sla is not None:
            which = f"{cycle.schedule_id} " if len(view.cycles) > 1 else ""
            due = f" (deadline {cycle.sla.deadline_label}: {cycle.sla.deadline.isoformat()})" \
                if cycle.sla.deadline is not None else ""
            out.line(f"  SLA:       {which}{out.status_word(cycle.sla.state.value)}{due}")
    if view.blockers:
        out.line(f"  Blocked by: {', '.join(b.trait for b in view.blockers)}")
    if view.readiness is not None and view.readiness is not view.state:
        matters = "" if view.blockers or view.readiness is PipelineState.READY else \
            out.dim("  (blocks nothing until the next cycle)" if view.settled else "")
        out.line(f"  Readiness: {out.status_word(view.readiness.value)}{matters}")
    out.line(f"  Last run:  {_last_run_text(out, view)}")
    out.line()
    out.line("  Traits:")
    for ev in readiness.traits if readiness else []:
        out.line(out.trait_line(ev, indent="    "))
    if logs:
        out.line()
        out.line("  Run logs:")
        for e in logs:
            extra = f"  {e.failure_category.value}: {e.failure_message}" if e.failure_category else ""
            out.line(f"    {e.date} {e.schedule_id:<10} {out.status_word(e.status.value):<12} attempt "
                     f"{e.attempt_number}  run {e.run_id or '-'}{extra}")
    if runs:
        out.line()
        out.line("  Recent runs:")
        for r in runs:
            out.line(f"    {r.run_id}  {out.status_word(r.status.value)}  {r.updated_at.isoformat()}")
    if reruns:
        out.line()
        out.line("  Reruns:")
        for rr in reruns:
            out.line(f"    {rr.rerun_id}  {rr.original_date}  {out.status_word(rr.status.value)}  {rr.reason}")
    out.line()
    return EXIT_OK


async def cmd_serve(args: argparse.Namespace, out: Out) -> int:
    try:
        from ..serve import serve
    except ImportError:
        raise NotFoundError("the HTTP server is not available in this build") from None
    return await serve(args, out)


__all__ = ["EXIT_ERROR"]
