"""The public API for plugin authors: everything a trigger type, alert sink, evaluator runner,
store or builtin evaluator needs, from one module.

A plugin package depends on ``interlock`` and imports only from here::

    from interlock_core.plugin_api import AlertSinkBase, LaunchRequest, LaunchResult, TriggerBase, hookimpl

and declares its module in the ``interlock`` entry-point group of its own ``pyproject.toml``
(see ``docs/plugins.md`` and the example package in ``examples/``). The names below are pinned by
``tests/unit/test_plugin_api.py``: removing or renaming one is a breaking change for every plugin.

The layering: plugins depend on core; core never imports a plugin (it finds them through the
entry points and the hooks in :mod:`interlock_core.hookspecs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from .alerts import AlertDeliveryError
from .archiver import Archive
from .clock import Clock, FakeClock, SystemClock
from .errors import ConfigError, PluginError, TriggerError
from .hookspecs import PROJECT_NAME as ENTRY_POINT_GROUP
from .hookspecs import hookimpl
from .model import Alert, AlertLevel, ArchiverConfig, ConfigModel, FailureCategory, SchedulerRun
from .outbound import HostPolicy
from .plugins import LazyPlugin, PluginContext
from .ports import (
    AlertOutboxStore,
    AlertSink,
    BatchStore,
    CycleWindow,
    EvaluatorInput,
    EvaluatorOutput,
    EvaluatorRunner,
    EvaluatorRunnerFactory,
    EventStore,
    LaunchRequest,
    LaunchResult,
    LeaseStore,
    MarkerStore,
    PipelineStore,
    PollResult,
    RerunStore,
    RunnerContext,
    RunStore,
    SchedulerRunLookup,
    ShadowStore,
    SinkState,
    Store,
    StoreConnection,
    TraitStore,
    TriggerType,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Alert",
    "AlertDeliveryError",
    "AlertLevel",
    "AlertOutboxStore",
    "AlertSink",
    "AlertSinkBase",
    "Archive",
    "ArchiverConfig",
    "BatchStore",
    "BuiltinEvaluator",
    "Clock",
    "ConfigError",
    "ConfigModel",
    "CycleWindow",
    "EvaluatorInput",
    "EvaluatorOutput",
    "EvaluatorRunner",
    "EvaluatorRunnerFactory",
    "EventStore",
    "FailureCategory",
    "FakeClock",
    "HostPolicy",
    "LaunchRequest",
    "LaunchResult",
    "LazyPlugin",
    "LeaseStore",
    "MarkerStore",
    "PipelineStore",
    "PluginContext",
    "PluginError",
    "PollResult",
    "RerunStore",
    "RunStore",
    "RunnerContext",
    "SchedulerRun",
    "SchedulerRunLookup",
    "ShadowStore",
    "SinkState",
    "Store",
    "StoreConnection",
    "StoreFactory",
    "SystemClock",
    "TraitStore",
    "TriggerBase",
    "TriggerError",
    "TriggerType",
    "hookimpl",
]


# --------------------------------------------------------------------- protocols core has no port for


@runtime_checkable
class BuiltinEvaluator(Protocol):
    """An in-process evaluator, used in a pipeline as ``evaluator: builtin:<name>``.

    Registered with ``interlock_register_builtin_evaluators``. It may set ``config_model`` (a
    pydantic model) to have the trait's ``config`` validated at load time. Never raises for bad
    data: answer ``EvaluatorOutput(status="FAIL", reason=...)``."""

    @property
    def name(self) -> str: ...

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput: ...


class StoreFactory(Protocol):
    """What ``interlock_register_stores`` returns: a class named by the ``provider:`` value whose
    ``config_model`` validates the store's ``interlock.yaml`` section and whose ``create`` builds
    the store. The store itself satisfies :class:`Store` — every role of
    :mod:`interlock_core.store_roles` (``PipelineStore``, ``TraitStore``, ``RunStore`` …) — and
    passes ``tests/conformance``, one slice per role."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    @classmethod
    def create(cls, config: Any, context: PluginContext) -> Store: ...


# ------------------------------------------------------------------------------------ base classes


class TriggerBase:
    """A convenient base for a trigger type (it satisfies :class:`TriggerType`).

    Set ``name`` (the ``trigger.type`` value) and ``config_model``; implement :meth:`launch`. A job
    that ends inside ``launch`` returns ``LaunchResult(state="succeeded")`` (or ``"failed"``); one
    that keeps running returns ``state="running"`` with the ids it needs in ``metadata`` and either
    sets ``pollable = True`` and implements :meth:`poll`, or waits for the completion callback.
    ``api_registrable = True`` lets pipelines registered over the HTTP API use the type: only set
    it when the type reaches nothing a caller could abuse (no local commands, no arbitrary hosts
    outside ``context.outbound``)."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    pollable: ClassVar[bool] = False
    api_registrable: ClassVar[bool] = False

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        raise NotImplementedError

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        raise TriggerError(f"trigger type {self.name!r} cannot be polled", category=FailureCategory.PERMANENT)

    async def close(self) -> None:
        return None


class AlertSinkBase:
    """A convenient base for an alert sink (it satisfies :class:`AlertSink`).

    Set ``name`` (the ``alerts[].type`` value) and ``config_model``; implement :meth:`send`, raising
    :class:`AlertDeliveryError` when the alert did not get through (the outbox retries it)."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    def __init__(self, config: Any, context: PluginContext) -> None:
        self.config = config
        self.context = context

    async def send(self, alert: Alert) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None
