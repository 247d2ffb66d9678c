"""Reading the YAML documents of archetype, calendar and pipeline directories: every document
validated, every problem located (file, line, key), nothing skipped silently."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from ..errors import ConfigError
from .errors import located_errors
from .salvage import salvage
from .yamlsource import Located, read_yaml

_YAML_SUFFIXES = {".yaml", ".yml"}


def _yaml_files(directory: Path, display: str, errors: list[ConfigError]) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` entry but subdirectories: a dangling link, a special file or one
    that cannot be read is reported when it is read, never skipped silently."""
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        errors.append(ConfigError(f"cannot list directory: {exc.strerror or exc}", file=display))
        return []
    return [p for p in entries if p.suffix in _YAML_SUFFIXES and not p.is_dir()]


def single_mapping(path: Path, display: str, errors: list[ConfigError], kind: str) -> list[Located]:
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


def display_name(path: Path) -> str:
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
class Item:
    """One document of an archetype, calendar or pipeline directory."""

    value: Any
    doc: Located
    path: Path
    valid: bool = True
    """False for what :func:`salvage` kept of a document that failed validation."""


def load_dir_items(
    dirs: list[tuple[Path, bool]], model: type[Any], kind: str, errors: list[ConfigError],
    builtin: list[Path], source: Located, *, salvaged: bool = False, stand_ins: Mapping[str, Any] | None = None,
) -> list[Item]:
    """Validate every document of every YAML file in ``dirs``. With ``salvaged``, a document that
    failed also yields what :func:`salvage` kept of it (``valid=False``), for the cross-file checks."""
    out: list[Item] = []
    files: list[tuple[Path, str]] = [(p, f"<builtin>/{kind}s/{p.name}") for p in builtin]
    for directory, explicit in dirs:
        if not directory.is_dir():
            if explicit:
                errors.append(source.error(f"{kind} directory does not exist: {directory}", (f"{kind}Dirs",)))
            continue
        files += [(p, display_name(p)) for p in _yaml_files(directory, display_name(directory), errors)]
    for path, display in files:
        for doc in single_mapping(path, display, errors, kind):
            try:
                out.append(Item(model.model_validate(doc.data), doc, path))
            except pydantic.ValidationError as exc:
                errors.extend(located_errors(exc, doc))
                partial = salvage(model, doc.data, exc, stand_ins) if salvaged else None
                if partial is not None:
                    out.append(Item(partial, doc, path, valid=False))
    return out
