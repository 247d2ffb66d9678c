"""Build an engine from a loaded project: store, runners, triggers, alert sinks, wake-ups (the
store's own notifier when its backend reaches other processes: SQLite, Redis)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..alert_sender import AlertSender, DeadLetterHook
from ..clock import Clock, SystemClock
from ..config import Project, validate_pipeline
from ..config.registration import expanded_values
from ..errors import ConfigErrors
from ..expanded import EXPANDED
from ..model import Alert, Event, EventKind, PipelineConfig
from ..notify import LocalNotifier
from ..outbound import HostPolicy
from ..outbox import SinkPolicy, sink_policies
from ..plugins import PluginContext, Plugins, load_plugins
from ..ports import EvaluatorRunner, Notifier, RunnerContext, Store, WakeUpStore
from ..sink_state import StoreSinkState
from .context import EngineContext, TriggerRegistry
from .engine import Engine
from .runner_list import RunnerList

log = logging.getLogger("interlock.engine")


def create_store(project: Project, clock: Clock, plugins: Plugins) -> Store:
    store_cls = plugins.stores.get(project.config.provider)
    context = PluginContext(project_dir=project.root, clock=clock)
    store: Store = store_cls.create(project.store_config or store_cls.config_model(), context)
    return store


def build_engine(
    project: Project,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    notifier: Notifier | None = None,
    alerts: Any = None,
    evaluator_options: dict[str, Any] | None = None,
    callback_base_url: str | None = None,
    dead_letter: DeadLetterHook | None = None,
) -> Engine:
    """Wire an :class:`Engine` for ``project``. Call ``await engine_start(engine, project)`` next.
    ``dead_letter``: told of every alert the sender dead-letters (AWS mode keeps them in SQS)."""
    clock = clock or SystemClock()
    plugins = project.plugins or load_plugins()
    store = store or create_store(project, clock, plugins)
    outbound = HostPolicy(project.config.outbound.allow_hosts, project.config.outbound.deny_hosts)
    context = PluginContext(project_dir=project.root, clock=clock, outbound=outbound)
    runner_context = RunnerContext(
        evaluator_dirs=tuple(Path(d) for d in project.evaluator_dirs), store=store, clock=clock,
        options={"builtins": _LazyBuiltins(plugins), "outbound": outbound,
                 "evaluator_env": tuple(project.config.evaluator_env), "calendars": project.calendars,
                 **(evaluator_options or {})},
    )

    def build_runners() -> list[EvaluatorRunner]:
        runner_classes = sorted((cls for _, cls in plugins.evaluator_runners.items()),
                                key=lambda c: -int(getattr(c, "priority", 0)))
        return [cls(runner_context) for cls in runner_classes]

    runners = RunnerList(build_runners)
    triggers = TriggerRegistry(classes=plugins.trigger_types.view(), factory=lambda cls: cls(context))
    closers: list[Any] = [runners.close]
    policies = _policies(project)
    if alerts is None:
        alerts = _sender(project, plugins, store, clock, policies, context, closers, dead_letter)
    # wake-ups reach the other processes on the store; a store class says so itself (a proxy wrapping a
    # store, as fault-injection tests use, keeps wake-ups in-process)
    if notifier is None and isinstance(store, WakeUpStore) and hasattr(type(store), "wake_up_notifier"):
        notifier = store.wake_up_notifier()
        close = getattr(notifier, "close", None)
        if close is not None:
            closers.append(close)
    ctx = EngineContext(
        store=store, clock=clock, archetypes=project.archetypes, calendars=project.calendars, runners=runners,
        triggers=triggers, alerts=alerts, notifier=notifier or LocalNotifier(), config=project.config.engine,
        watcher=project.config.watcher, callback_base_url=callback_base_url,
        api_allowed_env=frozenset(project.config.api.allowed_env), evaluator_dirs=runner_context.evaluator_dirs,
        outbound=outbound, alert_sinks=tuple(policies),
    )

    def validate(pipeline: PipelineConfig) -> None:
        errors = validate_pipeline(pipeline, project.archetypes, project.calendars, plugins)
        if errors:
            raise ConfigErrors(errors)

    return Engine(ctx, validate_pipeline=validate, closers=closers)


class _LazyBuiltins(Mapping[str, Any]):
    """The builtin evaluators by name (the ``builtins`` runner option), every one imported the
    first time any is asked for: the builtin runner copies them all when it is built."""

    def __init__(self, plugins: Plugins) -> None:
        self._plugins = plugins
        self._items: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        if self._items is None:
            self._items = dict(self._plugins.builtin_evaluators.items())
        return self._items

    def __getitem__(self, name: str) -> Any:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _policies(project: Project) -> list[SinkPolicy]:
    """The outbox policy of each configured sink (a project built by hand may have none: defaults)."""
    if len(project.alert_policies) == len(project.alert_configs):
        return list(project.alert_policies)
    return sink_policies((name, None) for name, _ in project.alert_configs)


def _sender(project: Project, plugins: Plugins, store: Store, clock: Clock, policies: list[SinkPolicy],
            context: PluginContext, closers: list[Any], dead_letter: DeadLetterHook | None) -> AlertSender:
    """The alert sender over the store's outbox, and the memory fallback for alerts the store
    could not take (an ``ALERT_FAILED`` event when those fail too)."""
    from ..alerts import AlertDispatcher

    sink_context = replace(context, state=StoreSinkState(store), public_url=project.config.server.public_url)
    sinks = [(policy, plugins.alert_sinks.get(name)(cfg, sink_context))
             for policy, (name, cfg) in zip(policies, project.alert_configs, strict=True)]

    async def on_failure(alert: Alert, sink: str, exc: Exception) -> None:
        if not alert.pipeline_id:
            return
        event = Event(kind=EventKind.ALERT_FAILED, pipeline_id=alert.pipeline_id, timestamp=clock.now(),
                      message=f"alert to {sink} failed: {exc}", details={"sink": sink, "alert": alert.message})
        try:
            await store.append_event(event)
        except Exception:
            log.warning("could not record failed alert", exc_info=True)

    fallback = AlertDispatcher([(policy.name, sink) for policy, sink in sinks], clock=clock, on_failure=on_failure)
    sender = AlertSender(store, sinks, clock=clock, fallback=fallback, dead_letter=dead_letter)
    closers.append(sender.aclose)
    closers.extend(sink.close for _, sink in sinks if hasattr(sink, "close"))
    return sender


async def start_engine(engine: Engine, project: Project, *, sync_pipelines: bool = True,
                       read_only: bool = False) -> Engine:
    """Start the store and make it follow the project's pipeline files (files are the source of
    truth: a pipeline whose file was deleted is retired, see :mod:`.pipeline_files`).

    ``read_only`` (commands that only read state): the store is opened as it is — nothing created,
    migrated or registered (a store offering ``start_read_only`` raises
    :class:`~interlock_core.errors.StoreMissing` when there is none; one without it just starts)."""
    store = engine.ctx.store
    if read_only:
        start = getattr(store, "start_read_only", None)
        await (start() if start is not None else store.start())
        return engine
    await store.start()
    if sync_pipelines:
        from .pipeline_files import sync_pipeline_files  # a read-only start syncs nothing

        await sync_pipeline_files(engine, project.pipelines)
        for stored in await engine.ctx.store.list_pipelines():
            # masked from the start (a completion callback may come before any launch or poll)
            EXPANDED.remember(stored.name, expanded_values(stored, engine.ctx.api_allowed_env))
    return engine
