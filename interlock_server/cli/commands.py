"""The CLI commands. Each is a thin adapter over the engine: no lifecycle logic lives here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio
import yaml

from interlock_core.config import load_project, read_yaml
from interlock_core.engine import Outcome, RunOutcome
from interlock_core.errors import ConfigError, ConfigErrors, NotFoundError
from interlock_core.model import Event, EventKind, PipelineConfig, RunStatus, TraitEvaluation

from .output import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, Out
from .scaffold import scaffold
from .session import open_engine


async def cmd_init(args: argparse.Namespace, out: Out) -> int:
    target = Path(args.name)
    out.line(out.bold(f"Initializing Interlock project: {args.name}"))
    scaffold(target, store=args.store)
    out.line(out.green("  ✓ Project scaffolded") + out.dim(f" ({args.store} store)"))
    out.line()
    out.line("Next steps:")
    out.line(f"  cd {args.name}")
    out.line("  interlock evaluate example     # check readiness")
    out.line("  interlock run example          # evaluate + trigger, once per day")
    out.line("  interlock serve                # HTTP API + watcher on 127.0.0.1:3000")
    return EXIT_OK


async def cmd_validate(args: argparse.Namespace, out: Out) -> int:
    project = load_project(args.dir or args.project)
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


def _pipeline_from_args(args: argparse.Namespace) -> tuple[PipelineConfig, str | None]:
    if args.file:
        docs = read_yaml(Path(args.file))
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise ConfigError("expected one pipeline mapping", file=args.file)
        from interlock_core.config.errors import located_errors

        try:
            return PipelineConfig.model_validate(docs[0].data), Path(args.file).read_text()
        except Exception as exc:
            import pydantic

            if isinstance(exc, pydantic.ValidationError):
                raise ConfigErrors(located_errors(exc, docs[0])) from None
            raise
    if not args.name:
        raise ConfigError("either --file or --name is required", key="--name")
    trigger: dict[str, Any] = {"type": args.trigger_type}
    if args.trigger_type == "command" and args.trigger_command:
        trigger["command"] = args.trigger_command
    if args.trigger_type == "http":
        trigger.update({"url": args.trigger_url, "method": "POST"})
    data = {"name": args.name, "archetype": args.archetype, "tier": args.tier, "trigger": trigger}
    import pydantic

    try:
        return PipelineConfig.model_validate(data), None
    except pydantic.ValidationError as exc:
        from interlock_core.config.errors import located_errors

        raise ConfigErrors(located_errors(exc, None)) from None


async def cmd_add_pipeline(args: argparse.Namespace, out: Out) -> int:
    pipeline, text = _pipeline_from_args(args)
    async with open_engine(args.project) as (project, engine):
        await engine.register_pipeline(pipeline)
        directory = project.pipeline_dirs[0]
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{pipeline.name}.yaml"
        path.write_text(text or yaml.safe_dump(pipeline.to_json_dict(), sort_keys=False))
    if out.json_mode:
        out.json({"registered": pipeline.name, "file": str(path)})
    else:
        out.line(out.green(f'Pipeline "{pipeline.name}" registered with archetype "{pipeline.archetype}"')
                 + out.dim(f"  ({path})"))
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
    async with open_engine(args.project) as (_, engine):
        engine.ctx.on_event = _live_traits(out, args.pipeline)
        if engine.ctx.on_event is not None:
            out.line(out.dim(f"evaluating {args.pipeline} …"))
        result = await engine.evaluate(args.pipeline, schedule_id=args.schedule, date=args.date)
    if out.json_mode:
        out.json(result.to_json_dict())
    else:
        out.readiness(result)
    return EXIT_OK if result.ready else EXIT_BLOCKED


def _describe(out: Out, outcome: RunOutcome) -> None:
    run = outcome.run
    if outcome.readiness is not None:
        out.readiness(outcome.readiness)
    if outcome.outcome is Outcome.TRIGGERED and run is not None:
        out.line(f"Run {out.bold(run.run_id)}  attempt {run.attempt}  {outcome.schedule_id}/{outcome.date}: "
                 f"{out.status_word(run.status.value)}")
        if run.status is RunStatus.RUNNING:
            out.line(f"  awaiting completion: POST /api/runs/{run.run_id}/complete "
                     f"or `interlock complete {run.run_id} --status success`")
        if run.failure_message:
            out.line(out.red(f"  {run.failure_message}"))
        tail = run.metadata.get("outputTail")
        if tail:
            out.line(out.dim("  output: " + str(tail).strip().replace("\n", "\n          ")))
    elif outcome.outcome is not Outcome.NOT_READY:
        out.line(out.yellow(f"{outcome.outcome.value}: ") + outcome.message)


def _exit_for(outcome: RunOutcome) -> int:
    if outcome.outcome is Outcome.DRY_RUN:
        return EXIT_OK  # ready: it would have triggered
    if outcome.outcome is Outcome.TRIGGERED and outcome.run is not None:
        return EXIT_BLOCKED if outcome.run.status in (RunStatus.FAILED, RunStatus.CANCELLED) else EXIT_OK
    return EXIT_BLOCKED


async def _wait(engine: Any, out: Out, run_id: str, limit: float) -> Any:
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    waited = 0.0
    run = await engine.advance_run(run_id)
    while not run.status.is_terminal and waited < limit:
        if out.color:
            sys.stdout.write(f"\r{spinner[int(waited * 4) % len(spinner)]} {run_id} {run.status.value} "
                             f"{waited:5.0f}s")
            sys.stdout.flush()
        await anyio.sleep(1.0)
        waited += 1.0
        run = await engine.advance_run(run_id)
    if out.color:
        sys.stdout.write("\r\033[K")
    return run


async def cmd_run(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project) as (_, engine):
        outcome = await engine.start_run(args.pipeline, args.schedule, args.date)
        if outcome.outcome is Outcome.DUPLICATE and args.force:
            _, rerun_outcome = await engine.request_rerun(args.pipeline, outcome.date, args.reason,
                                                          schedule_id=outcome.schedule_id)
            assert rerun_outcome is not None
            outcome = rerun_outcome
        if args.wait and outcome.run is not None and not outcome.run.status.is_terminal:
            outcome.run = await _wait(engine, out, outcome.run.run_id, args.timeout)
    if out.json_mode:
        out.json(outcome.to_json())
    else:
        _describe(out, outcome)
    return _exit_for(outcome)


async def cmd_rerun(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project) as (_, engine):
        record, outcome = await engine.request_rerun(args.pipeline, args.date, args.reason,
                                                     schedule_id=args.schedule)
    if out.json_mode:
        out.json({"rerun": record.to_json_dict(), **({"outcome": outcome.to_json()} if outcome else {})})
    else:
        out.line(f"Rerun {out.bold(record.rerun_id)} for {record.original_date}: {out.status_word(record.status)}")
        if outcome is not None:
            _describe(out, outcome)
    return _exit_for(outcome) if outcome else EXIT_OK


async def cmd_complete(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project) as (_, engine):
        run = await engine.complete_run(args.run_id, args.status)
    if out.json_mode:
        out.json(run.to_json_dict())
    else:
        out.line(f"Run {run.run_id}: {out.status_word(run.status.value)}")
    return EXIT_OK


DRY_RUN_MARK = "DRY-RUN"


async def cmd_status(args: argparse.Namespace, out: Out) -> int:
    async with open_engine(args.project) as (_, engine):
        if not args.pipeline:
            pipelines = await engine.list_pipelines()
            rows = []
            for p in pipelines:
                cached = await engine.store.get_readiness(p.name)
                runs = await engine.store.list_runs(p.name, 1)
                rows.append((p, cached.status.value if cached else "UNKNOWN", runs[0] if runs else None))
            if out.json_mode:
                out.json([{"pipeline": p.name, "archetype": p.archetype, "tier": p.tier, "readiness": r,
                           "dryRun": p.dry_run, "lastRun": run.to_json_dict() if run else None}
                          for p, r, run in rows])
                return EXIT_OK
            if not rows:
                out.line("No pipelines registered.")
                return EXIT_OK
            out.line(out.bold("Registered Pipelines:"))
            out.line()
            for p, readiness, run in rows:
                last = f"{run.run_id} {out.status_word(run.status.value)}" if run else out.dim("no runs")
                mode = f"  {out.yellow(DRY_RUN_MARK)}" if p.dry_run else ""
                out.line(f"  {p.name:<30} {out.status_word(readiness):<15} archetype={p.archetype:<22} "
                         f"tier={p.tier if p.tier is not None else '-'}  last run: {last}{mode}")
            out.line()
            return EXIT_OK
        pipeline = await engine.get_pipeline(args.pipeline)
        readiness = await engine.check_readiness(pipeline.name)
        runs = await engine.store.list_runs(pipeline.name, 10)
        logs = await engine.store.list_run_logs(pipeline.name, 10)
        reruns = await engine.store.list_reruns(pipeline.name, 10)
        would = [e for e in await engine.store.list_events(pipeline.name, 200)
                 if e.kind is EventKind.DRY_RUN_WOULD_TRIGGER] if pipeline.dry_run else []
    if out.json_mode:
        out.json({"pipeline": pipeline.to_json_dict(), "readiness": readiness.to_json_dict(),
                  "runs": [r.to_json_dict() for r in runs], "runLogs": [e.to_json_dict() for e in logs],
                  "reruns": [r.to_json_dict() for r in reruns]})
        return EXIT_OK
    out.line(out.bold(f"Pipeline: {pipeline.name}"))
    out.line(f"  Archetype: {pipeline.archetype}")
    out.line(f"  Tier:      {pipeline.tier if pipeline.tier is not None else '-'}")
    if pipeline.trigger:
        out.line(f"  Trigger:   {pipeline.trigger.type}")
    if pipeline.dry_run:
        out.line(f"  Mode:      {out.yellow(DRY_RUN_MARK)} (shadow: evaluates, never triggers)")
        for e in would[-3:]:
            out.line(f"    would trigger {e.date} {e.schedule_id or '-'} at {e.timestamp.isoformat()}")
    out.line(f"  Readiness: {out.status_word(readiness.status.value)}"
             + (f"  blocked by {', '.join(readiness.blocking)}" if readiness.blocking else ""))
    out.line()
    out.line("  Traits:")
    for ev in readiness.traits:
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
