"""Built-in alert sinks: console, webhook, file, sns, slack.

Registered lazily (:class:`~interlock_core.plugins.LazyPlugin`): httpx and boto are imported only
when a configured sink needs them."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import LazyPlugin


@hookimpl
def interlock_register_alert_sinks() -> list[Any]:
    return [
        LazyPlugin("console", "interlock_plugins.alerts.console:ConsoleSink"),
        LazyPlugin("webhook", "interlock_plugins.alerts.webhook:WebhookSink"),
        LazyPlugin("file", "interlock_plugins.alerts.file:FileSink"),
        LazyPlugin("sns", "interlock_plugins.alerts.sns:SNSSink"),
        LazyPlugin("slack", "interlock_plugins.alerts.slack:SlackSink"),
    ]
