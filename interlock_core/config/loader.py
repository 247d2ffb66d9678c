"""Load and validate a whole project. Nothing is half-loaded: any error fails the load, and the
error lists every problem found, each with its file, line and key."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from ..archetypes import ArchetypeRegistry, resolve_traits, unknown_traits
from ..calendars import CalendarRegistry
from ..errors import ConfigError, ConfigErrors, PluginError
from ..model import AlertSpec, Archetype, Calendar, PipelineConfig, PipelineOrigin, ProjectConfig
from ..outbox import SinkPolicy, sink_policies
from ..plugins import Plugins, load_plugins
from ..templating import RUN_VARIABLES, MissingVariable, expand, references
from .errors import located_errors
from .evaluators import EvaluatorCheck, builtin_config_problems, unresolved_evaluators
from .registration import evaluator_name_problems, header_problems, is_api
from .salvage import salvage
from .yamlsource import Located, dotted, read_yaml

CONFIG_FILENAMES = ("interlock.yaml", "interlock.yml")
_YAML_SUFFIXES = {".yaml", ".yml"}
_NAME_STAND_IN = {"name": "invalid-name"}
"""What a pipeline with a bad or missing name is cross-checked under (it is never registered)."""


@dataclass
class Project:
    """A loaded, validated project."""

    root: Path
    config_file: Path | None
    config: ProjectConfig
    store_config: BaseModel | None
    archetypes: ArchetypeRegistry
    calendars: CalendarRegistry
    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    pipeline_files: dict[str, Path] = field(default_factory=dict)
    alert_configs: list[tuple[str, BaseModel]] = field(default_factory=list)
    alert_policies: list[SinkPolicy] = field(default_factory=list)
    """How the alert outbox delivers to each of ``alert_configs`` (same order); a sink without
    one gets the defaults, under its type's name."""
    plugins: Plugins | None = None
    warnings: list[ConfigError] = field(default_factory=list)
    """Problems tolerated by a read-only load (``require_secrets=False``): unset secrets of triggers
    and alert sinks, which reading state never uses."""

    def path(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.root / candidate)

    @property
    def evaluator_dirs(self) -> list[Path]:
        return [self.path(d) for d in self.config.evaluator_dirs]

    @property
    def pipeline_dirs(self) -> list[Path]:
        return [self.path(d) for d in self.config.pipeline_dirs]


def find_config_file(path: str | os.PathLike[str] | None = None) -> Path:
    start = Path(path or ".").expanduser()
    if start.is_file():
        return start
    for name in CONFIG_FILENAMES:
        candidate = start / name
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no interlock.yaml in {start.resolve()} (run 'interlock init <project>' to create one)",
        file=str(start / CONFIG_FILENAMES[0]),
    )


def _env_lookup(env: Mapping[str, str]) -> Callable[[str], str | None]:
    return env.get


def _expand_env(source: Located, value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                errors: list[ConfigError]) -> Any:
    if isinstance(value, str):
        try:
            return expand(value, _env_lookup(env))
        except MissingVariable as exc:
            located = source.error(f"environment variable {exc.name!r} is not set", path)
            errors.append(UnsetVariable(located.reason, file=located.file, line=located.line, key=located.key))
            return value
    if isinstance(value, dict):
        return {k: _expand_env(source, v, (*path, k), env, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(source, v, (*path, i), env, errors) for i, v in enumerate(value)]
    return value


class UnsetVariable(ConfigError):
    """A ``${VAR}`` whose environment variable is not set."""


def _tolerate_alert_secrets(data: dict[str, Any], errors: list[ConfigError], warnings: list[ConfigError]) -> None:
    """Move the unset-variable errors of ``alerts:`` entries to ``warnings`` and leave those entries out."""
    skipped: set[int] = set()
    for problem in list(errors):
        key = problem.key or ""
        if isinstance(problem, UnsetVariable) and key.startswith("alerts["):
            errors.remove(problem)
            warnings.append(problem)
            skipped.add(int(key[len("alerts["):key.index("]")]))
    entries = data.get("alerts")
    if skipped and isinstance(entries, list):
        data["alerts"] = [entry for i, entry in enumerate(entries) if i not in skipped]


def _yaml_files(directory: Path, display: str, errors: list[ConfigError]) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` entry but subdirectories: a dangling link, a special file or one
    that cannot be read is reported when it is read, never skipped silently."""
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        errors.append(ConfigError(f"cannot list directory: {exc.strerror or exc}", file=display))
        return []
    return [p for p in entries if p.suffix in _YAML_SUFFIXES and not p.is_dir()]


def _single_mapping(path: Path, display: str, errors: list[ConfigError], kind: str) -> list[Located]:
    try:
        docs = read_yaml(path, display)
    except ConfigError as exc:
        errors.append(exc)
        return []
    out = []
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            errors.append(doc.error(f"a {kind} file must be a YAML mapping, not {type(doc.data).__name__}"))
            continue
        out.append(doc)
    return out


def _display(path: Path) -> str:
    """How a file is named in errors: relative to the working directory when under it, else absolute
    (a link is named as such, not as the file it points to)."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except ValueError:
        pass
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path.absolute())


@dataclass
class _Item:
    """One document of an archetype, calendar or pipeline directory."""

    value: Any
    doc: Located
    path: Path
    valid: bool = True
    """False for what :func:`salvage` kept of a document that failed validation."""


def _load_dir_items(
    dirs: list[tuple[Path, bool]], model: type[Any], kind: str, errors: list[ConfigError],
    builtin: list[Path], source: Located, *, salvaged: bool = False, stand_ins: Mapping[str, Any] | None = None,
) -> list[_Item]:
    """Validate every document of every YAML file in ``dirs``. With ``salvaged``, a document that
    failed also yields what :func:`salvage` kept of it (``valid=False``), for the cross-file checks."""
    out: list[_Item] = []
    files: list[tuple[Path, str]] = [(p, f"<builtin>/{kind}s/{p.name}") for p in builtin]
    for directory, explicit in dirs:
        if not directory.is_dir():
            if explicit:
                errors.append(source.error(f"{kind} directory does not exist: {directory}", (f"{kind}Dirs",)))
            continue
        files += [(p, _display(p)) for p in _yaml_files(directory, _display(directory), errors)]
    for path, display in files:
        for doc in _single_mapping(path, display, errors, kind):
            try:
                out.append(_Item(model.model_validate(doc.data), doc, path))
            except pydantic.ValidationError as exc:
                errors.extend(located_errors(exc, doc))
                partial = salvage(model, doc.data, exc, stand_ins) if salvaged else None
                if partial is not None:
                    out.append(_Item(partial, doc, path, valid=False))
    return out


def validate_pipeline(
    pipeline: PipelineConfig,
    archetypes: ArchetypeRegistry,
    calendars: CalendarRegistry,
    plugins: Plugins,
    source: Located | None = None,
    env: Mapping[str, str] | None = None,
) -> list[ConfigError]:
    """Cross-checks a single pipeline against the archetypes, calendars and plugins."""
    env = os.environ if env is None else env

    def err(message: str, path: tuple[str | int, ...]) -> ConfigError:
        if source is not None:
            return source.error(message, path)
        return ConfigError(message, key=dotted(path) or None)

    errors: list[ConfigError] = []
    if pipeline.archetype not in archetypes:
        known = ", ".join(archetypes.names()) or "none"
        errors.append(err(f"unknown archetype {pipeline.archetype!r} (known: {known})", ("archetype",)))
    else:
        archetype = archetypes.get(pipeline.archetype)
        for trait in unknown_traits(archetype, pipeline):
            message = f"trait {trait!r} is not defined by archetype {archetype.name!r}"
            errors.append(err(message, ("traits", trait)))
        errors.extend(builtin_config_problems(pipeline, archetype, plugins.builtin_evaluators, err))
        drift_trait = pipeline.monitoring.drift_trait if pipeline.watch is not None else None
        if drift_trait is not None:
            names = [t.type for t in resolve_traits(archetype, pipeline)]
            if drift_trait not in names:
                errors.append(err(f"driftTrait {drift_trait!r} is not one of the pipeline's traits "
                                  f"({', '.join(names) or 'none'})", ("watch", "monitoring", "driftTrait")))
    for section, listing in (("exclusions", pipeline.exclusions), ("include", pipeline.include)):
        if listing is None:
            continue
        named: list[tuple[str, tuple[str | int, ...]]] = [
            *([(listing.calendar, (section, "calendar"))] if listing.calendar else []),
            *[(name, (section, "calendars", i)) for i, name in enumerate(listing.calendars)],
        ]
        for name, where in named:
            if name not in calendars:
                known = ", ".join(calendars.names()) or "none"
                errors.append(err(f"unknown calendar {name!r} (known: {known})", where))
    if pipeline.trigger is not None:
        spec = pipeline.trigger
        if spec.type not in plugins.trigger_types:
            known = ", ".join(plugins.trigger_types.names())
            errors.append(err(f"unknown trigger type {spec.type!r} (known: {known})", ("trigger", "type")))
        else:
            try:
                trigger_cls = plugins.trigger_types.get(spec.type)
                trigger_cls.config_model.model_validate(spec.options())
            except PluginError as exc:  # a lazily registered type whose library is not installed
                errors.append(err(exc.message, ("trigger", "type")))
            except pydantic.ValidationError as exc:
                if source is not None:
                    errors.extend(located_errors(exc, source, ("trigger",)))
                else:
                    errors.extend(located_errors(exc, None, ("trigger",)))
        if not is_api(pipeline):  # an API pipeline's references are checked on registration
            errors.extend(_check_env_refs(spec.options(), ("trigger",), env, err))
    errors.extend(evaluator_name_problems(pipeline, err))
    errors.extend(header_problems(pipeline, err))
    return errors


def _check_env_refs(value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                    err: Callable[[str, tuple[str | int, ...]], ConfigError]) -> list[ConfigError]:
    out: list[ConfigError] = []
    if isinstance(value, str):
        for name, has_default in references(value):
            if name not in RUN_VARIABLES and not has_default and name not in env:
                located = err(f"environment variable {name!r} is not set", path)
                out.append(UnsetVariable(located.reason, file=located.file, line=located.line, key=located.key))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += _check_env_refs(v, (*path, k), env, err)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _check_env_refs(v, (*path, i), env, err)
    return out


def _validate_store_section(
    source: Located, data: dict[str, Any], plugins: Plugins, errors: list[ConfigError]
) -> tuple[str, BaseModel | None]:
    provider = data.get("provider", "sqlite")
    if not isinstance(provider, str):
        errors.append(source.error("provider must be a string", ("provider",)))
        data.pop("provider", None)
        return "sqlite", None
    store_config: BaseModel | None = None
    sections: set[str] = set()
    for name in plugins.stores.names():
        if name not in data:
            continue
        sections.add(name)
        section = data.pop(name)
        try:
            model = plugins.stores.get(name).config_model.model_validate(section or {})
        except PluginError as exc:  # a lazily registered store whose library is not installed
            errors.append(source.error(exc.message, (name,)))
            continue
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, (name,)))
            continue
        if name == provider:
            store_config = model
    if provider not in plugins.stores:
        known = ", ".join(plugins.stores.names())
        errors.append(source.error(f"unknown store provider {provider!r} (known: {known})", ("provider",)))
    elif store_config is None and provider not in sections:
        try:
            store_config = plugins.stores.get(provider).config_model.model_validate({})
        except PluginError as exc:
            errors.append(source.error(exc.message, ("provider",)))
        except pydantic.ValidationError:
            errors.append(source.error(f"a '{provider}:' section is required when provider is {provider}",
                                       ("provider",)))
    return provider, store_config


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
    display = _display(config_file) if config_file.is_absolute() else str(config_file)
    errors: list[ConfigError] = []

    docs = _single_mapping(config_file, display, errors, "project")
    if errors:
        raise ConfigErrors(errors)
    source = docs[0] if docs else Located(data={}, file=display)
    if len(docs) > 1:
        raise ConfigErrors([source.error("interlock.yaml must hold a single YAML document")])
    data = _expand_env(source, dict(source.data), (), env, errors)
    warnings: list[ConfigError] = []
    if not require_secrets:
        _tolerate_alert_secrets(data, errors, warnings)
    provider, store_config = _validate_store_section(source, data, plugins, errors)
    alert_specs, alert_configs, alert_policies = _validate_alerts(source, data, plugins, errors)
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

    for item in _load_dir_items(dirs("archetypeDirs", config.archetype_dirs), Archetype, "archetype", errors,
                                plugins.starter_files("archetypes"), source):
        if item.valid:
            project.archetypes.register(item.value)
    for item in _load_dir_items(dirs("calendarDirs", config.calendar_dirs), Calendar, "calendar", errors,
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


def _validate_alerts(
    source: Located, data: dict[str, Any], plugins: Plugins, errors: list[ConfigError]
) -> tuple[list[AlertSpec] | None, list[tuple[str, BaseModel]], list[SinkPolicy]]:
    """Check the ``alerts:`` entries (taken out of ``data``) against the alert sink plugins, even
    when the rest of the file has errors. Without an ``alerts:`` key the project default applies.
    Also the outbox's delivery policy of each sink (two sinks may not share a ``name``)."""
    raw = data.pop("alerts") if "alerts" in data else None
    given = raw is not None
    entries: list[Any] = raw if isinstance(raw, list) else []
    if given and not isinstance(raw, list):
        errors.append(source.error(f"alerts must be a list (got {type(raw).__name__})", ("alerts",)))
    if not given:
        entries = [spec.model_dump(by_alias=True) for spec in ProjectConfig().alerts]
    specs: list[AlertSpec] = []
    configs: list[tuple[str, BaseModel]] = []
    delivered: list[AlertSpec] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            spec = AlertSpec.model_validate(entry)
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, ("alerts", index)))
            continue
        specs.append(spec)
        if spec.name is not None and spec.name in names:
            errors.append(source.error(f"two alert sinks are named {spec.name!r}", ("alerts", index, "name")))
        names.add(spec.name or "")
        if spec.type not in plugins.alert_sinks:
            known = ", ".join(plugins.alert_sinks.names())
            message = f"unknown alert type {spec.type!r} (known: {known})"
            errors.append(source.error(message, ("alerts", index, "type")))
            continue
        try:
            sink_config = plugins.alert_sinks.get(spec.type).config_model.model_validate(spec.options())
            configs.append((spec.type, sink_config))
            delivered.append(spec)
        except PluginError as exc:  # a lazily registered sink whose library is not installed
            errors.append(source.error(exc.message, ("alerts", index, "type")))
        except pydantic.ValidationError as exc:
            errors.extend(located_errors(exc, source, ("alerts", index)))
    policies = sink_policies((spec.type, spec) for spec in delivered)
    return (specs if given else None), configs, policies


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

    for item in _load_dir_items(dirs, PipelineConfig, "pipeline", errors, [], source, salvaged=True,
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
    shown = _display(project.config_file) if project.config_file is not None else CONFIG_FILENAMES[0]
    errors: list[ConfigError] = []
    _load_pipelines(fresh, [(d, True) for d in project.pipeline_dirs], Located(data={}, file=shown), env, errors,
                    require_secrets=require_secrets)
    return fresh, _in_file_order(errors)
