"""Hook specifications of the ``interlock`` plugin system.

Every hook is a synchronous *registration* hook: it returns classes (or factories), and the
async work happens in the objects those classes create. Instead of a class, a hook may return a
:class:`interlock_core.plugins.LazyPlugin` (its name and ``"package.module:Class"``): the class is
imported the first time a registry hands it out, so registering costs no import (the built-in
stores, trigger types and alert sinks do this: redis-py, boto and httpx are imported only by a
project that uses them). Built-ins are registered through the same
entry-point group (``interlock``) as third-party packages (core names none of them), so
``pip install interlock-trigger-foo`` works exactly like a built-in. A name registered twice is a
start-up error.

Plugin authors import ``hookimpl`` and everything else they need from
:mod:`interlock_core.plugin_api`; ``docs/plugins.md`` walks through writing one.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "interlock"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def interlock_register_stores() -> list[Any]:
    """Return store classes.

    Each class has ``name: ClassVar[str]`` (the ``provider:`` value and the name of its
    ``interlock.yaml`` section), ``config_model: ClassVar[type[BaseModel]]`` (validates that
    section) and a ``create(config, context: PluginContext)`` classmethod returning an object that
    satisfies :class:`interlock_core.ports.Store`.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_evaluator_runners() -> list[Any]:
    """Return evaluator runner classes.

    Each class has ``name``, ``priority`` (higher is asked first), a constructor taking a
    :class:`interlock_core.ports.RunnerContext`, ``handles(evaluator) -> bool`` and an async
    ``run(evaluator, request) -> EvaluatorOutput`` as in :class:`interlock_core.ports.EvaluatorRunner`.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_trigger_types() -> list[Any]:
    """Return trigger type classes.

    Each class has ``name`` (the ``trigger.type`` value), ``config_model`` (validates the
    ``trigger:`` section), ``pollable`` and ``api_registrable`` flags, a constructor taking a
    :class:`interlock_core.plugins.PluginContext`, and async ``launch``/``poll``/``close`` as in
    :class:`interlock_core.ports.TriggerType`.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_alert_sinks() -> list[Any]:
    """Return alert sink classes.

    Each class has ``name`` (the ``alerts[].type`` value), ``config_model`` (validates the entry),
    a constructor ``(config, context: PluginContext)`` and async ``send(alert)``/``close()`` as in
    :class:`interlock_core.ports.AlertSink`. ``send`` raises
    :class:`~interlock_core.alerts.AlertDeliveryError` on failure (``permanent=True``: no retry
    can help; ``retry_after=seconds``: the sink asked to be left alone): the alert outbox's sender
    retries, pauses and dead-letters. ``context.state`` keeps a little memory in the store
    (:class:`~interlock_core.ports.SinkState`, e.g. the Slack sink's threads); ``context.public_url``
    is ``server.publicURL``.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_builtin_evaluators() -> list[Any]:
    """Return in-process evaluators for ``builtin:<name>``.

    Each item has ``name`` and an async ``evaluate(request, context) -> EvaluatorOutput``. An item
    may also have ``config_model`` (a pydantic model): the loader validates the trait's resolved
    ``config`` with it, reporting problems at ``traits.<type>.config.<key>`` of the pipeline file.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_archives() -> list[Any]:
    """Return long-term archive classes (what the archiver copies history into).

    Each class has ``name`` (``serve`` asks for ``postgres``) and a ``from_config(config)``
    classmethod taking the :class:`~interlock_core.model.ArchiverConfig` (``archiver:`` in
    ``interlock.yaml``) and returning an object that satisfies
    :class:`interlock_core.archiver.Archive`.
    """
    return []  # specification only: pluggy never runs this body


@hookspec
def interlock_register_starter_content() -> list[Any]:
    """Return directories of starter content every project gets.

    Each is a directory (a :class:`~pathlib.Path` or an ``importlib.resources`` traversable)
    holding ``archetypes/*.yaml`` and ``calendars/*.yaml``; a project's own directories add to them
    and errors name these files ``<builtin>/archetypes/<file>``.
    """
    return []  # specification only: pluggy never runs this body
