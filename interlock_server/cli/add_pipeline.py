"""``interlock add-pipeline``: write a pipeline file from flags (or copy one) and register it.

A pipeline added from flags lists every trait its archetype requires: with the evaluator of the
project's evaluator directories made for it (the examples ``interlock init`` wrote, or an
executable named ``check-<trait>``), or with none, which makes it a pushed trait. What a newcomer
must do next (replace example evaluators, push results) is said when the pipeline is added."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import pydantic
import yaml

from interlock_core.archetypes import resolve_traits
from interlock_core.config import Project, read_yaml
from interlock_core.config.errors import located_errors
from interlock_core.errors import ConfigError, ConfigErrors
from interlock_core.model import PipelineConfig

from .output import EXIT_ERROR, EXIT_OK, Out
from .scaffold import EXAMPLE_EVALUATORS
from .session import open_engine

SHELL_OPERATORS = frozenset({"|", "||", "&&", "&", ";", ">", ">>", "<", "<<", "2>", "2>&1", "$(", "`"})
"""Words that only mean something to a shell: a command holding one needs ``--shell``."""


def _command_trigger(args: argparse.Namespace) -> dict[str, Any]:
    if not args.trigger_command:
        raise ConfigError("a command trigger needs --trigger-command (the program to run and its arguments), "
                          "or choose another --trigger-type", key="--trigger-command")
    trigger: dict[str, Any] = {"type": "command", "command": args.trigger_command}
    if args.shell:
        trigger["shell"] = True
        return trigger
    try:
        words = shlex.split(args.trigger_command)
    except ValueError as exc:
        raise ConfigError(f"--trigger-command cannot be split into words: {exc}", key="--trigger-command") \
            from None
    operators = [w for w in words if w in SHELL_OPERATORS or w.startswith(("$(", "`"))]
    if operators:
        raise ConfigError(f"shell syntax ({', '.join(operators)}) in a command that runs without a shell: "
                          "pass --shell to run it with sh -c", key="--trigger-command")
    return trigger


def pipeline_from_args(args: argparse.Namespace) -> tuple[PipelineConfig, str | None]:
    """The pipeline ``--file`` holds (and its text, written as is), or the one the flags describe."""
    if args.file:
        docs = read_yaml(Path(args.file))
        if len(docs) != 1 or not isinstance(docs[0].data, dict):
            raise ConfigError("expected one pipeline mapping", file=args.file)
        try:
            return PipelineConfig.model_validate(docs[0].data), Path(args.file).read_text()
        except pydantic.ValidationError as exc:
            raise ConfigErrors(located_errors(exc, docs[0])) from None
    if not args.name:
        raise ConfigError("either --file or --name is required", key="--name")
    flags = {"--trigger-command": (args.trigger_command, ("command",)), "--shell": (args.shell, ("command",)),
             "--trigger-url": (args.trigger_url, ("http", "airflow", "databricks")),
             "--dag-id": (args.dag_id, ("airflow",)), "--job-id": (args.job_id, ("databricks",))}
    for flag, (value, types) in flags.items():
        if value and args.trigger_type not in types:
            raise ConfigError(f"{flag} applies to trigger type {' or '.join(types)}, not {args.trigger_type!r}",
                              key=flag)
    needed = {"http": ("--trigger-url",), "airflow": ("--trigger-url", "--dag-id"),
              "databricks": ("--trigger-url", "--job-id")}.get(args.trigger_type, ())
    missing = [flag for flag in needed if not flags[flag][0]]
    if missing:
        raise ConfigError(f"a {args.trigger_type} trigger needs {' and '.join(missing)}", key=missing[0])
    trigger: dict[str, Any] = {"type": args.trigger_type}
    if args.trigger_type == "command":
        trigger = _command_trigger(args)
    if args.trigger_type == "http":
        trigger.update({"url": args.trigger_url, "method": "POST"})
    if args.trigger_type == "airflow":
        trigger.update({"url": args.trigger_url, "dagID": args.dag_id})
    if args.trigger_type == "databricks":
        trigger.update({"workspaceURL": args.trigger_url, "jobID": args.job_id})
    data = {"name": args.name, "archetype": args.archetype, "tier": args.tier, "trigger": trigger}
    try:
        return PipelineConfig.model_validate(data), None
    except pydantic.ValidationError as exc:
        raise ConfigErrors(located_errors(exc, None)) from None


def _evaluator_for(trait_type: str, project: Project) -> str | None:
    """The executable of the project's evaluator directories made for ``trait_type``, if any."""
    from interlock_plugins.evaluators.subprocess import resolve_evaluator

    for name in dict.fromkeys((EXAMPLE_EVALUATORS.get(trait_type), f"check-{trait_type}")):
        if name and resolve_evaluator(name, tuple(project.evaluator_dirs), anywhere=False).path is not None:
            return name
    return None


def with_archetype_traits(pipeline: PipelineConfig, project: Project) -> PipelineConfig:
    """``pipeline`` listing every trait its archetype requires, each with the evaluator the project
    has for it or none (pushed)."""
    if pipeline.archetype not in project.archetypes:
        return pipeline  # registering reports the unknown archetype
    required = project.archetypes.get(pipeline.archetype).required_traits
    found = {t.type: _evaluator_for(t.type, project) for t in required}
    traits = {trait_type: {"evaluator": evaluator} if evaluator else {} for trait_type, evaluator in found.items()}
    return PipelineConfig.model_validate({**pipeline.to_json_dict(), "traits": traits})


def _existing(pipeline: PipelineConfig, project: Project, default: Path) -> Path | None:
    """The file already defining a pipeline of this name (or the one this would write), if any."""
    defined = project.pipeline_files.get(pipeline.name)
    if defined is not None:
        return defined
    return default if default.exists() else None


def _next_steps(pipeline: PipelineConfig, project: Project, path: Path) -> list[str]:
    """What stands between the new pipeline and a first READY, in the newcomer's terms."""
    traits = resolve_traits(project.archetypes.get(pipeline.archetype), pipeline) \
        if pipeline.archetype in project.archetypes else []
    pushed = [t.type for t in traits if t.pushed]
    examples = sorted({t.evaluator for t in traits if t.evaluator in EXAMPLE_EVALUATORS.values()})
    lines = []
    if examples:
        lines.append(f"{', '.join(examples)}: the example evaluator{'s' if len(examples) > 1 else ''} "
                     "`interlock init` wrote; make them check your sources (see evaluators/)")
    if len(pushed) == 1:
        lines.append(f"{pushed[0]} has no evaluator: it is a pushed trait, STALE (so blocking) until a result is "
                     f"pushed (POST /api/pipelines/{pipeline.name}/traits/{pushed[0]} while `interlock serve` "
                     f"runs); or give it one in {path} (traits.{pushed[0]}.evaluator)")
    elif pushed:
        lines.append(f"{', '.join(pushed)} have no evaluator: they are pushed traits, STALE (so blocking) until "
                     f"results are pushed (POST /api/pipelines/{pipeline.name}/traits/<trait> while `interlock "
                     f"serve` runs); or give them one in {path} (traits.<trait>.evaluator)")
    return lines


async def cmd_add_pipeline(args: argparse.Namespace, out: Out) -> int:
    pipeline, text = pipeline_from_args(args)
    async with open_engine(args.project, secrets_for=()) as (project, engine):
        if text is None:
            pipeline = with_archetype_traits(pipeline, project)
        directory = project.pipeline_dirs[0]
        existing = _existing(pipeline, project, directory / f"{pipeline.name}.yaml")
        stored = await engine.store.get_pipeline(pipeline.name)
        if (existing is not None or stored is not None) and not args.force:
            where = f"in {existing}" if existing is not None else "registered over the API"
            message = (f"pipeline {pipeline.name!r} already exists ({where}); nothing was written. Pass --force to "
                       "replace it")
            if out.json_mode:
                out.json({"error": message, "pipelineId": pipeline.name,
                          **({"file": str(existing)} if existing else {})})
            else:
                print(f"error: {message}", file=sys.stderr)
            return EXIT_ERROR
        await engine.register_pipeline(pipeline)
        path = existing or directory / f"{pipeline.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        written = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
        path.write_text(text or yaml.safe_dump({"name": pipeline.name, "archetype": pipeline.archetype, **written},
                                               sort_keys=False))
        hints = _next_steps(pipeline, project, path)
    if out.json_mode:
        out.json({"pipelineId": pipeline.name, "file": str(path), "replaced": bool(existing or stored),
                  "pipeline": pipeline.to_json_dict(), "nextSteps": hints})
        return EXIT_OK
    out.line(out.green(f'Pipeline "{pipeline.name}" {"replaced" if existing or stored else "registered"} with '
                       f'archetype "{pipeline.archetype}"') + out.dim(f"  ({path})"))
    for hint in hints:
        out.line(f"  next: {hint}")
    return EXIT_OK
