"""Load and validate a whole project. Nothing is half-loaded: any error fails the load, and the
error lists every problem found, each with its file, line and key."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

import pydantic

from ..archetypes import ArchetypeRegistry
from ..calendars import CalendarRegistry
from ..errors import ConfigError, ConfigErrors, PluginError
from ..model import Archetype, Calendar, PipelineConfig, PipelineOrigin, ProjectConfig
from ..plugins import Plugins, load_plugins
from .cross_checks import validate_pipeline
from .documents import display_name, load_dir_items, single_mapping
from .errors import located_errors
from .evaluators import EvaluatorCheck, unresolved_evaluators
from .plugin_sections import validate_alerts, validate_store_section
from .project import CONFIG_FILENAMES, Project, find_config_file
from .salvage import salvage
from .variables import UnsetVariable, expand_environment, tolerate_alert_secrets
from .yamlsource import Located

__all__ = ["CONFIG_FILENAMES", "Project", "UnsetVariable", "find_config_file", "load_project", "reload_pipelines",
           "validate_pipeline"]

_NAME_STAND_IN = {"name": "invalid-name"}
"""What a pipeline with a bad or missing name is cross-checked under (it is never registered)."""


def load_project(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    plugins: Plugins | None = None,
    load_pipelines: bool = True,
    require_secrets: bool = True,
    secrets_for: Collection[str] | None = None,
    evaluator_check: EvaluatorCheck | None = None,
) -> Project:
    """Load ``interlock.yaml`` and everything it points to. Raises :class:`ConfigErrors` listing
    every problem of the project at once (schema, references, environment, evaluators).

    With ``require_secrets=False`` (commands that only read state), an unset ``${VAR}`` in a
    pipeline's trigger or in an alert sink is a warning (``Project.warnings``) and such an alert
    sink is left out; everywhere else (the store, above all) it is still an error.
    ``secrets_for`` (commands that act on one pipeline or on a run): only these pipelines'
    trigger variables are required; an unset one in any other pipeline's trigger is a warning.

    ``evaluator_check`` (``interlock validate``) also reports every trait evaluator that resolves
    nowhere, at its pipeline file's ``traits.<type>.evaluator``."""
    env = os.environ if env is None else env
    try:
        plugins = plugins or load_plugins()
    except PluginError as exc:
        raise ConfigErrors([ConfigError(exc.message)]) from None
    config_file = find_config_file(path)
    root = config_file.absolute().parent
    display = display_name(config_file) if config_file.is_absolute() else str(config_file)
    errors: list[ConfigError] = []

    docs = single_mapping(config_file, display, errors, "project")
    if errors:
        raise ConfigErrors(errors)
    source = docs[0] if docs else Located(data={}, file=display)
    if len(docs) > 1:
        raise ConfigErrors([source.error("interlock.yaml must hold a single YAML document")])
    data = expand_environment(source, dict(source.data), (), env, errors)
    warnings: list[ConfigError] = []
    if not require_secrets:
        tolerate_alert_secrets(data, errors, warnings)
    provider, store_config = validate_store_section(source, data, plugins, errors)
    alert_specs, alert_configs, alert_policies = validate_alerts(source, data, plugins, errors)
    explicit = {k for k in ("archetypeDirs", "pipelineDirs", "calendarDirs", "evaluatorDirs") if k in data}
    try:
        config = ProjectConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        errors.extend(located_errors(exc, source))
        # the rest of the project is still checked, with what the file says correctly (defaults for
        # the rest): every problem is reported in one load, not one file after the other
        config = salvage(ProjectConfig, data, exc) or ProjectConfig()
    config.provider = provider
    if alert_specs is not None:
        config.alerts = alert_specs

    project = Project(
        root=root,
        config_file=config_file,
        config=config,
        store_config=store_config,
        archetypes=ArchetypeRegistry(),
        calendars=CalendarRegistry(),
        alert_configs=alert_configs,
        alert_policies=alert_policies,
        plugins=plugins,
        warnings=warnings,
    )

    def dirs(key: str, values: list[str]) -> list[tuple[Path, bool]]:
        return [(project.path(v), key in explicit) for v in values]

    for item in load_dir_items(dirs("archetypeDirs", config.archetype_dirs), Archetype, "archetype", errors,
                                plugins.starter_files("archetypes"), source):
        if item.valid:
            project.archetypes.register(item.value)
    for item in load_dir_items(dirs("calendarDirs", config.calendar_dirs), Calendar, "calendar", errors,
                                plugins.starter_files("calendars"), source):
        if item.valid:
            project.calendars.register(item.value)
    for directory, was_explicit in dirs("evaluatorDirs", config.evaluator_dirs):
        if was_explicit and not directory.is_dir():
            message = f"evaluator directory does not exist: {directory}"
            errors.append(source.error(message, ("evaluatorDirs",)))
    if load_pipelines:
        _load_pipelines(project, dirs("pipelineDirs", config.pipeline_dirs), source, env, errors,
                        require_secrets=require_secrets, secrets_for=secrets_for,
                        evaluator_check=evaluator_check)
    if errors:
        raise ConfigErrors(_in_file_order(errors))
    return project


def _in_file_order(errors: list[ConfigError]) -> list[ConfigError]:
    """Problems grouped by file, top to bottom (the checks find them in another order)."""
    return sorted(errors, key=lambda e: (e.file or "", e.line or 0))


def _load_pipelines(project: Project, dirs: list[tuple[Path, bool]], source: Located, env: Mapping[str, str],
                    errors: list[ConfigError], *, require_secrets: bool = True,
                    secrets_for: Collection[str] | None = None,
                    evaluator_check: EvaluatorCheck | None = None) -> None:
    """Load every pipeline file; a pipeline with any problem is not registered (and the load fails).
    Without ``require_secrets`` (or for a pipeline not in ``secrets_for``), an unset variable in a
    trigger is a warning only."""
    plugins = project.plugins or load_plugins()
    first_seen: dict[str, str] = {}

    def cross_check(pipeline: PipelineConfig, doc: Located) -> list[ConfigError]:
        problems = validate_pipeline(pipeline, project.archetypes, project.calendars, plugins, doc, env)
        if evaluator_check is not None:
            problems += unresolved_evaluators(pipeline, project.archetypes, project.evaluator_dirs, doc,
                                              evaluator_check)
        if require_secrets and (secrets_for is None or pipeline.name in secrets_for):
            return problems
        tolerated = [p for p in problems if isinstance(p, UnsetVariable) and (p.key or "").startswith("trigger")]
        project.warnings.extend(tolerated)
        return [p for p in problems if p not in tolerated]

    def unique(name: str, doc: Located) -> bool:
        if name in first_seen:
            message = f"duplicate pipeline name {name!r} (also defined in {first_seen[name]})"
            errors.append(doc.error(message, ("name",)))
            return False
        first_seen[name] = doc.file
        return True

    for item in load_dir_items(dirs, PipelineConfig, "pipeline", errors, [], source, salvaged=True,
                                stand_ins=_NAME_STAND_IN):
        pipeline: PipelineConfig = item.value
        named = pipeline.name == item.doc.data.get("name")  # not the stand-in of a bad name
        if (named and not unique(pipeline.name, item.doc)) or not item.valid:
            errors.extend(cross_check(pipeline, item.doc))
            continue
        problems = cross_check(pipeline, item.doc)
        if pipeline.retired_at is not None:
            problems.append(item.doc.error("retiredAt is set by Interlock when a pipeline's file is deleted, never "
                                           "in a pipeline file: remove it", ("retiredAt",)))
        if problems:
            errors.extend(problems)
            continue
        pipeline.origin = PipelineOrigin.FILE
        project.pipelines[pipeline.name] = pipeline
        project.pipeline_files[pipeline.name] = item.path


def reload_pipelines(project: Project, *, env: Mapping[str, str] | None = None,
                     require_secrets: bool = True) -> tuple[Project, list[ConfigError]]:
    """Read ``project``'s pipeline files again, as they are now (a running server follows them).
    Returns a copy of the project holding every pipeline that loaded, and every problem found: a
    pipeline with a problem is left out. A pipeline directory that no longer exists is a problem
    (a vanished directory is more likely an unmounted volume than a decision)."""
    env = os.environ if env is None else env
    fresh = replace(project, pipelines={}, pipeline_files={}, warnings=[])
    shown = display_name(project.config_file) if project.config_file is not None else CONFIG_FILENAMES[0]
    errors: list[ConfigError] = []
    _load_pipelines(fresh, [(d, True) for d in project.pipeline_dirs], Located(data={}, file=shown), env, errors,
                    require_secrets=require_secrets)
    return fresh, _in_file_order(errors)
