"""Interlock's starter content: the archetypes and calendars every project gets.

It registers itself through the ``interlock`` entry-point group, like every plugin, so every
project gets these archetypes and calendars (core names no package that ships content)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from interlock_core.hookspecs import hookimpl


@hookimpl
def interlock_register_starter_content() -> list[Traversable]:
    return [resources.files(__name__)]
