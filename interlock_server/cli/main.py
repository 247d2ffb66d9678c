"""``interlock``: STAMP-based safety gate for data pipelines."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import anyio

import interlock_core.engine as core_engine  # its refusals are imported when one is raised
from interlock_core.dates import run_date_problem
from interlock_core.errors import ConfigError, ConfigErrors, ConflictError, InterlockError, NextStep, PipelineRetired
from interlock_core.model import RunStatus

from .. import __version__
from ..telemetry import configure_telemetry, shutdown_telemetry
from . import alerts, backfill_parser, plugins
from .deferred_parser import DeferredParser
from .output import EXIT_BLOCKED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Out

EPILOG = """\
exit codes: 0 success / READY / launched, 1 blocked or refused (NOT_READY, duplicate, failed run, a
            rerun while a run or another rerun of the cycle is unfinished, a rerun rejected by its
            budget or as no new data, `run --wait` timed out, a backfill with a cycle failed or not ready,
            completing or cancelling a run that already ended, a retired pipeline, a refused
            `remove-pipeline`), 2 error (bad configuration, unknown pipeline, store unavailable or
            missing, `init` over an existing project), 130 interrupted

Start with:  interlock init demo && cd demo && interlock run example
"""


def run_date(value: str) -> str:
    """``--date``/``--cycle``: a cycle key — a real calendar date written YYYY-MM-DD, or a fire time
    YYYY-MM-DDTHH:MM (argparse exits 2 with the reason)."""
    problem = run_date_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def positive_seconds(value: str) -> float:
    """``--timeout``: a number of seconds above zero (argparse exits 2 with the reason)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: the timeout must be more than 0 seconds")
    return seconds


def _everywhere(parser: argparse.ArgumentParser, sub: Any) -> None:
    """The options of the whole command line work after the subcommand too (``interlock status -v``);
    given there they win, left out they keep what came before the subcommand."""
    for command in sub.choices.values():
        command.add_argument("-C", "--project", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log what the engine does")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interlock", description="STAMP-based safety framework for data pipeline reliability: "
        "evaluate a pipeline's readiness traits, then trigger it exactly once.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"interlock {__version__}")
    parser.add_argument("-C", "--project", metavar="DIR", default=None,
                        help="project directory holding interlock.yaml (default: current directory)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    # each subcommand's parser is built when it is used: a command line builds its own only
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=DeferredParser)

    p = sub.add_parser("init", help="create a ready-to-run project")
    p.add_argument("name", help="directory to create")
    p.add_argument("--store", choices=["sqlite", "redis"], default="sqlite",
                   help="store to configure (default: sqlite, embedded, nothing to start)")
    p.add_argument("--force", action="store_true",
                   help="write over an existing project (its interlock.yaml and example files are replaced)")
    p.add_argument("--skip-valkey", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("validate", help="load a project and report what it holds, or every error")
    p.add_argument("dir", nargs="?", default=None)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("add-pipeline", help="register a pipeline (from a YAML file or flags)",
                       description="Write pipelines/<name>.yaml and register it. From flags, the file lists "
                       "every trait the archetype requires, with the project's evaluator for it when there is "
                       "one (a trait without is pushed); the command says what is left to do.")
    p.add_argument("--file", "-f", help="pipeline YAML file to add")
    p.add_argument("--name")
    p.add_argument("--archetype", default="batch-ingestion")
    p.add_argument("--tier", type=int, default=3)
    p.add_argument("--trigger-type", default="command",
                   help="command, http, airflow, databricks, ... (default: command)")
    p.add_argument("--trigger-command", metavar="COMMAND",
                   help="command trigger: the program and its arguments, split into words like a shell does "
                   "but run without a shell (no pipes, redirections, && or $VAR expansion; see --shell)")
    p.add_argument("--shell", action="store_true",
                   help="command trigger: run --trigger-command with sh -c (writes `shell: true`)")
    p.add_argument("--force", action="store_true", help="replace a pipeline of that name (its file is rewritten)")
    p.add_argument("--trigger-url", help="http: the URL to POST; airflow: the Airflow base URL; "
                   "databricks: the workspace URL")
    p.add_argument("--dag-id", help="airflow trigger: the DAG to run")
    p.add_argument("--job-id", help="databricks trigger: the job to run")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove-pipeline", help="remove a pipeline registered over the API (history is kept)",
                       description="Remove a pipeline registered over the API; its runs, run logs, reruns and "
                       "events are kept. A pipeline defined in a pipeline file is refused: delete its file "
                       "instead (the pipeline is then retired). Exit 0 removed, 1 refused (a pipeline file's, "
                       "or a run is under way), 2 unknown pipeline.")
    p.add_argument("pipeline")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("evaluate", help="evaluate a pipeline's readiness now (runs its evaluators)")
    p.add_argument("pipeline")
    p.add_argument("--schedule")
    p.add_argument("--date", "--cycle", dest="date", type=run_date,
                   help="the cycle: a date YYYY-MM-DD, or a fire time YYYY-MM-DDTHH:MM for a sub-daily cron schedule "
                   "(default: the current cycle in the schedule's zone)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("run", help="evaluate and, when ready, trigger the pipeline (once per cycle)")
    p.add_argument("pipeline")
    p.add_argument("--schedule")
    p.add_argument("--date", "--cycle", dest="date", type=run_date,
                   help="the cycle: a date YYYY-MM-DD, or a fire time YYYY-MM-DDTHH:MM for a sub-daily cron schedule "
                   "(default: the current cycle in the schedule's zone)")
    p.add_argument("--wait", action="store_true", help="follow the run until it ends")
    p.add_argument("--timeout", type=positive_seconds, default=3600,
                   help="seconds to wait with --wait (default 3600); when it expires the run keeps going "
                   "and the command exits 1")
    p.add_argument("--force", action="store_true",
                   help="run a cycle that already completed again, as a recorded rerun (even without new data; "
                   "retry.maxManualReruns still applies)")
    p.add_argument("--reason", default="forced from the command line", help="reason recorded with --force")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="show pipelines, or one pipeline's traits, runs and run logs")
    p.add_argument("pipeline", nargs="?")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("shadow-report", help="a dry-run pipeline's evidence: would-trigger vs the scheduler's runs",
                       description="For each cycle from --from to --to (one per date, or per fire time of a sub-daily "
                       "schedule): when Interlock would have triggered, when "
                       "the scheduler in place ran (looked up through the trigger, or pushed), the difference, and "
                       "whether the SLA would have held. Only reads.")
    p.add_argument("pipeline")
    p.add_argument("--from", dest="since", type=run_date, metavar="DATE",
                   help="first cycle date YYYY-MM-DD, or a sub-daily schedule's fire time YYYY-MM-DDTHH:MM "
                        "(default: 6 days before --to)")
    p.add_argument("--to", dest="until", type=run_date, metavar="DATE",
                   help="last cycle date YYYY-MM-DD, or fire time YYYY-MM-DDTHH:MM (default: today)")
    p.add_argument("--schedule", help="only this schedule's cycles (default: every schedule)")
    p.add_argument("--json", action="store_true")

    backfill_parser.add_parser(sub, run_date)

    p = sub.add_parser("rerun", help="run a date again through the same lifecycle (warns when it never ran)")
    p.add_argument("pipeline")
    p.add_argument("--date", "--cycle", dest="date", type=run_date, required=True,
                   help="the cycle to run again: YYYY-MM-DD, or YYYY-MM-DDTHH:MM for a sub-daily cron schedule")
    p.add_argument("--reason", required=True)
    p.add_argument("--schedule")
    p.add_argument("--force", action="store_true",
                   help="run it even when its inputs are unchanged since its last run (the no-new-data breaker); "
                   "the rerun budget (retry.maxManualReruns) still applies")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("complete", help="report a run's outcome (what an orchestrator callback does)")
    p.add_argument("run_id")
    p.add_argument("--status", choices=["success", "failed"], required=True)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("cancel", help="cancel an active run (the orchestrator's job is not stopped)")
    p.add_argument("run_id")
    p.add_argument("--reason", default="cancelled from the command line")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("cancel-rerun", help="cancel a PENDING rerun before it starts")
    p.add_argument("rerun_id")
    p.add_argument("--reason", default="cancelled from the command line")
    p.add_argument("--json", action="store_true")

    alerts.add_parser(sub)
    plugins.add_parser(sub)

    p = sub.add_parser("serve", help="start the HTTP API, the watcher and the archiver")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--insecure", action="store_true",
                   help="allow listening beyond loopback without an API key")
    p.add_argument("--no-watcher", action="store_true", help="serve the API only")
    p.add_argument("--json", action="store_true",
                   help="JSON lines on standard output (listening, signals, stopped) and JSON log lines")
    _everywhere(parser, sub)
    return parser


HANDLER_MODULES = {"add-pipeline": "add_pipeline", "alerts": "alerts", "backfill": "backfill",
                   "plugins": "plugins", "remove-pipeline": "remove", "shadow-report": "shadow"}
"""The module of a command's handler (``cmd_<command>``) when it is not :mod:`.commands`: only the
command that runs is imported."""


def command_handler(command: str) -> Any:
    module = importlib.import_module(f".{HANDLER_MODULES.get(command, 'commands')}", __package__)
    return getattr(module, "cmd_" + command.replace("-", "_"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    out = Out(json_mode=getattr(args, "json", False))
    handler = command_handler(args.command)
    telemetry = configure_telemetry()  # reads the environment only; OpenTelemetry is imported when asked for
    try:
        with _json_only_on_stdout(out):
            return _run(handler, args, out)
    finally:
        if telemetry is not None:
            shutdown_telemetry()  # what the command traced is exported before the process ends


@contextlib.contextmanager
def _json_only_on_stdout(out: Out) -> Iterator[None]:
    """With ``--json``, standard output holds the JSON document alone: whatever else would print
    there (a console alert sink, a plugin's own print) goes to standard error meanwhile."""
    if not out.json_mode:
        yield
        return
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout = stdout


def _run(handler: Any, args: argparse.Namespace, out: Out) -> int:
    try:
        code: int = anyio.run(handler, args, out)
        return code
    except ConfigErrors as exc:
        _report_config(out, exc.errors)
    except ConfigError as exc:
        _report_config(out, [exc])
    except PipelineRetired as exc:  # a refusal like a duplicate, not an error
        if out.json_mode:
            out.json(exc.to_json())
        else:
            print(f"refused: {exc.message}", file=sys.stderr)
        return EXIT_BLOCKED
    except core_engine.CycleBusy as exc:  # a refusal like a duplicate, not an error
        if out.json_mode:
            out.json(exc.to_json())
        else:
            print(f"refused: {exc.message}", file=sys.stderr)
            print(f"  follow it:  interlock run {exc.run.pipeline_id} --date {exc.run.date} --wait\n"
                  f"  cancel it:  interlock cancel {exc.run.run_id}", file=sys.stderr)
        return EXIT_BLOCKED
    except core_engine.RerunRejected as exc:  # the budget or the no-new-data breaker: a refusal, naming why
        if out.json_mode:
            out.json({**exc.to_json(), "error": exc.described(cli_step)})
        else:
            print(f"refused: {exc.message}", file=sys.stderr)
            from interlock_core.engine.budgets import BUDGET_SPENT

            verdict = exc.verdict
            if verdict.reason == BUDGET_SPENT:
                print(f"  budget:  retry.{verdict.budget} ({verdict.used} of {verdict.limit} used for "
                      f"{verdict.date}/{verdict.schedule_id})", file=sys.stderr)
            else:
                print(f"  run it anyway:  interlock rerun {verdict.pipeline_id} --date {verdict.date} "
                      f"--schedule {verdict.schedule_id} --reason \"...\" --force", file=sys.stderr)
        return EXIT_BLOCKED
    except core_engine.RerunExists as exc:  # one rerun of a cycle at a time: a refusal too
        if out.json_mode:
            out.json(exc.to_json())
        else:
            print(f"refused: {exc.message}", file=sys.stderr)
            if exc.rerun is not None and exc.rerun.status is RunStatus.PENDING:
                print(f"  cancel it:  interlock cancel-rerun {exc.rerun_id}", file=sys.stderr)
        return EXIT_BLOCKED
    except ConflictError as exc:  # the state refuses the action (a run already ended …): exit 1, like a refusal
        if out.json_mode:
            out.json({**exc.to_json(), "error": exc.described(cli_step)})
        else:
            print(f"refused: {exc.described(cli_step)}", file=sys.stderr)
        return EXIT_BLOCKED
    except InterlockError as exc:
        if out.json_mode:
            out.json({**exc.to_json(), "error": exc.described(cli_step)})
        else:
            print(f"error: {exc.described(cli_step)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and closed early
        return EXIT_OK
    return EXIT_ERROR


CLI_STEPS = {"cancel-run": "interlock cancel {target}", "force-rerun": "interlock rerun {target} … --force"}
"""A core error's next step (:class:`~interlock_core.errors.NextStep`) as a command to type."""


def cli_step(step: NextStep) -> str | None:
    command = CLI_STEPS.get(step.action)
    return command.format(target=step.target) if command else None


def _report_config(out: Out, errors: list[ConfigError]) -> None:
    if out.json_mode:
        out.json({"error": "invalid configuration", "errors": [e.to_json() for e in errors]})
        return
    print(f"error: invalid configuration ({len(errors)} problem{'s' if len(errors) != 1 else ''}):",
          file=sys.stderr)
    for err in errors:
        print(f"  {err.message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
