"""``${VAR}`` in a project: expanded from the environment in ``interlock.yaml``, checked (not
expanded: a run expands them) in a pipeline's trigger. An unset one is an :class:`UnsetVariable`,
which a read-only load may tolerate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError
from ..templating import RUN_VARIABLES, MissingVariable, expand, references
from .yamlsource import Located


class UnsetVariable(ConfigError):
    """A ``${VAR}`` whose environment variable is not set."""


def _env_lookup(env: Mapping[str, str]) -> Callable[[str], str | None]:
    return env.get


def expand_environment(source: Located, value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                errors: list[ConfigError]) -> Any:
    if isinstance(value, str):
        try:
            return expand(value, _env_lookup(env))
        except MissingVariable as exc:
            located = source.error(f"environment variable {exc.name!r} is not set", path)
            errors.append(UnsetVariable(located.reason, file=located.file, line=located.line, key=located.key))
            return value
    if isinstance(value, dict):
        return {k: expand_environment(source, v, (*path, k), env, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_environment(source, v, (*path, i), env, errors) for i, v in enumerate(value)]
    return value


def unset_references(value: Any, path: tuple[str | int, ...], env: Mapping[str, str],
                    err: Callable[[str, tuple[str | int, ...]], ConfigError]) -> list[ConfigError]:
    out: list[ConfigError] = []
    if isinstance(value, str):
        for name, has_default in references(value):
            if name not in RUN_VARIABLES and not has_default and name not in env:
                located = err(f"environment variable {name!r} is not set", path)
                out.append(UnsetVariable(located.reason, file=located.file, line=located.line, key=located.key))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += unset_references(v, (*path, k), env, err)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += unset_references(v, (*path, i), env, err)
    return out


def tolerate_alert_secrets(data: dict[str, Any], errors: list[ConfigError], warnings: list[ConfigError]) -> None:
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
