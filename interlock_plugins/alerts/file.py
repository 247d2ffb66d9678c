"""The ``file`` alert sink: one JSON line per alert, appended to a file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from interlock_core.alerts import AlertDeliveryError
from interlock_core.errors import ConfigError
from interlock_core.model import Alert, ConfigModel
from interlock_core.plugins import PluginContext


class FileSinkConfig(ConfigModel):
    path: str = Field(min_length=1)


class FileSink:
    """``path`` is relative to the project directory. The file is opened per write (so log
    rotation just works); writes are serialised and run in a worker thread."""

    name: ClassVar[str] = "file"
    config_model: ClassVar[type[BaseModel]] = FileSinkConfig

    def __init__(self, config: FileSinkConfig, context: PluginContext) -> None:
        self.config = config
        self.context = context
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else Path(context.project_dir) / path
        self._lock = anyio.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError(f"file alert sink cannot append to {self.path}: {reason}", key="path") from None

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    async def send(self, alert: Alert) -> None:
        line = alert.to_json() + "\n"
        async with self._lock:
            try:
                await anyio.to_thread.run_sync(self._append, line)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise AlertDeliveryError(f"appending alert to {self.path}: {reason}") from exc

    async def close(self) -> None:
        return None
