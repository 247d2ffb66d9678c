"""Built-in alert sinks: console, webhook, file, sns."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl


@hookimpl
def interlock_register_alert_sinks() -> list[Any]:
    from .console import ConsoleSink
    from .file import FileSink
    from .sns import SNSSink
    from .webhook import WebhookSink

    return [ConsoleSink, WebhookSink, FileSink, SNSSink]
