"""An example Interlock plugin: the ``inbox`` trigger type and the ``drop-folder`` alert sink.

Interlock finds this module through the ``interlock`` entry-point group (see ``pyproject.toml``)
and calls its hook implementations once at start-up. They return :class:`LazyPlugin` entries, so
the classes are imported only when a project uses them."""

from __future__ import annotations

from typing import Any

from interlock_core.plugin_api import LazyPlugin, hookimpl

__version__ = "0.1.0"


@hookimpl
def interlock_register_trigger_types() -> list[Any]:
    return [LazyPlugin("inbox", "interlock_inbox.trigger:InboxTrigger")]


@hookimpl
def interlock_register_alert_sinks() -> list[Any]:
    return [LazyPlugin("drop-folder", "interlock_inbox.sink:DropFolderSink")]
