"""The ``drop-folder`` alert sink: each alert becomes one JSON file in a folder (for a mail or
ticketing bridge that picks files up).

    alerts:
      - type: drop-folder
        folder: outgoing-alerts   # relative to the project directory
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from interlock_core.plugin_api import Alert, AlertDeliveryError, AlertSinkBase, ConfigModel, PluginContext

from .paths import folder_problem, project_folder


class DropFolderConfig(ConfigModel):
    folder: str = Field(min_length=1)

    @field_validator("folder")
    @classmethod
    def _inside_the_project(cls, value: str) -> str:
        problem = folder_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class DropFolderSink(AlertSinkBase):
    name: ClassVar[str] = "drop-folder"
    config_model: ClassVar[type[BaseModel]] = DropFolderConfig

    def __init__(self, config: DropFolderConfig, context: PluginContext) -> None:
        super().__init__(config, context)
        self.folder = project_folder(context.project_dir, config.folder)

    async def send(self, alert: Alert) -> None:
        # Written under a temporary name and renamed: a reader never sees half an alert.
        name = f"alert-{uuid.uuid4().hex}.json"
        partial = self.folder / f".{name}.partial"
        try:
            partial.write_text(alert.to_json() + "\n")
            partial.rename(self.folder / name)
        except OSError as exc:
            raise AlertDeliveryError(f"writing {name} into {self.folder}: {exc.strerror or exc}") from exc
