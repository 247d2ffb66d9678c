"""A loaded project (:class:`Project`) and where its ``interlock.yaml`` is found."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..archetypes import ArchetypeRegistry
from ..calendars import CalendarRegistry
from ..errors import ConfigError
from ..model import PipelineConfig, ProjectConfig
from ..outbox import SinkPolicy
from ..plugins import Plugins

CONFIG_FILENAMES = ("interlock.yaml", "interlock.yml")


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
