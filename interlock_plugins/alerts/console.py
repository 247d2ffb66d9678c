"""The ``console`` alert sink: one line per alert on stdout (or stderr). Control characters an
alert carries (ESC sequences that would drive the terminal, line breaks, bidi overrides) are
written escaped (``\x1b``), never raw: only the sink's own colour codes reach the terminal."""

from __future__ import annotations

import os
import re
import sys
from typing import ClassVar, Literal, TextIO

from pydantic import BaseModel

from interlock_core.model import Alert, AlertLevel, ConfigModel
from interlock_core.plugins import PluginContext

_TAGS = {AlertLevel.ERROR: "[ERROR]", AlertLevel.WARNING: "[WARN]", AlertLevel.INFO: "[INFO]"}
_COLOURS = {AlertLevel.ERROR: "\033[31m", AlertLevel.WARNING: "\033[33m", AlertLevel.INFO: "\033[36m"}
_RESET = "\033[0m"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escaped(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


class ConsoleSinkConfig(ConfigModel):
    stream: Literal["stdout", "stderr"] = "stdout"


def format_line(alert: Alert, *, colour: bool) -> str:
    """``[ERROR] [<pipelineId>] <message>`` (`` (x3)`` for three identical alerts grouped); the tag
    is coloured when ``colour``."""
    tag = _TAGS.get(alert.level, "[INFO]")
    if colour:
        tag = f"{_COLOURS.get(alert.level, _COLOURS[AlertLevel.INFO])}{tag}{_RESET}"
    where = f" [{escaped(alert.pipeline_id)}]" if alert.pipeline_id else ""
    message = escaped(" ".join(alert.message.splitlines()))  # one alert, one line
    count = f" (x{alert.count})" if alert.count and alert.count > 1 else ""
    return f"{tag}{where} {message}{count}"


class ConsoleSink:
    name: ClassVar[str] = "console"
    config_model: ClassVar[type[BaseModel]] = ConsoleSinkConfig

    def __init__(self, config: ConsoleSinkConfig, context: PluginContext) -> None:
        self.config = config
        self.context = context

    def _stream(self) -> TextIO:
        # Looked up at send time: the process (or a test) may have replaced sys.stdout.
        return sys.stderr if self.config.stream == "stderr" else sys.stdout

    async def send(self, alert: Alert) -> None:
        stream = self._stream()
        colour = not os.environ.get("NO_COLOR") and _isatty(stream)
        stream.write(format_line(alert, colour=colour) + "\n")
        stream.flush()

    async def close(self) -> None:
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
