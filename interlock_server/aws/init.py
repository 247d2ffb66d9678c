"""What every Lambda handler shares: settings from the environment and one engine per container.

Environment (an empty value counts as unset):

=====================  =========================================================================
``TABLE_NAME``         the DynamoDB table (required by the engine handlers)
``AWS_REGION``         the region (required)
``SNS_TOPIC_ARN``      alerts are published to this topic (no SNS sink without it)
``ALERT_DLQ_URL``      an SQS queue for alerts that could not be published (dead_letters.py)
``ARCHETYPE_DIR``      extra archetype YAML files (default ``/opt/archetypes``; the starter
                       archetypes are built in; a missing directory is not an error)
``CALENDAR_DIR``       extra calendar YAML files (the starter calendars are built in)
``READINESS_TTL``      how long a readiness result is cached (default ``1h``)
``RETENTION_TTL``      how long runs, run logs, events and markers are kept (default ``168h``)
``EVALUATOR_BASE_URL`` base URL of HTTP evaluators named by a relative path
``AWS_ENDPOINT_URL``   a local AWS emulator (tests, DynamoDB Local)
=====================  =========================================================================

The engine lives on one event loop in a background thread, created on the first invocation and
reused by later ones. Handlers are synchronous (the Lambda runtime calls them on its thread, moto's
Step Functions interpreter on several threads at once for a Map state); each one hands a coroutine
to that loop and waits for it, so all engine work is serialised through one loop and the engine's
clients (aioboto3, httpx) stay bound to it. Alerts are delivered before the invocation returns:
Lambda freezes the container between invocations.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from interlock_core.archetypes import ArchetypeRegistry
from interlock_core.calendars import CalendarRegistry
from interlock_core.clock import Clock, SystemClock
from interlock_core.config import Project, read_yaml
from interlock_core.config.errors import located_errors
from interlock_core.durations import parse_duration
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine
from interlock_core.engine.steps import Steps
from interlock_core.errors import ConfigError, ConfigErrors
from interlock_core.model import Archetype, Calendar, EngineConfig, ProjectConfig
from interlock_core.outbox import SinkPolicy
from interlock_core.plugins import Plugins, load_plugins
from interlock_core.ports import Store

from ..telemetry import configure_telemetry, flush_telemetry
from .dead_letters import AlertDeadLetterQueue, keep_in, sink_policy

log = logging.getLogger("interlock.aws")
T = TypeVar("T")

DEFAULT_ARCHETYPE_DIR = "/opt/archetypes"
ALERT_FLUSH_SECONDS = 10.0


def env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def require_env(env: Mapping[str, str], name: str, what: str) -> str:
    value = env_value(env, name)
    if value is None:
        raise ConfigError(f"environment variable {name} is required ({what})", key=name)
    return value


def _duration(env: Mapping[str, str], name: str, default: str) -> timedelta:
    text = env_value(env, name) or default
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}: {exc}", key=name) from None


@dataclass(frozen=True)
class LambdaSettings:
    table_name: str
    region: str
    sns_topic_arn: str | None = None
    alert_dlq_url: str | None = None
    archetype_dir: Path = Path(DEFAULT_ARCHETYPE_DIR)
    calendar_dir: Path | None = None
    readiness_ttl: timedelta = timedelta(hours=1)
    retention_ttl: timedelta = timedelta(hours=168)
    evaluator_base_url: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LambdaSettings:
        env = os.environ if env is None else env
        calendar_dir = env_value(env, "CALENDAR_DIR")
        return cls(
            table_name=require_env(env, "TABLE_NAME", "the DynamoDB table of the Interlock stack"),
            region=require_env(env, "AWS_REGION", "the AWS region of the table"),
            sns_topic_arn=env_value(env, "SNS_TOPIC_ARN"),
            alert_dlq_url=env_value(env, "ALERT_DLQ_URL"),
            archetype_dir=Path(env_value(env, "ARCHETYPE_DIR") or DEFAULT_ARCHETYPE_DIR),
            calendar_dir=Path(calendar_dir) if calendar_dir else None,
            readiness_ttl=_duration(env, "READINESS_TTL", "1h"),
            retention_ttl=_duration(env, "RETENTION_TTL", "168h"),
            evaluator_base_url=env_value(env, "EVALUATOR_BASE_URL"),
            endpoint_url=env_value(env, "AWS_ENDPOINT_URL"),
        )


def _yaml_files(directory: Path | None) -> list[Path]:
    if directory is None or not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if not p.is_dir() and p.suffix in (".yaml", ".yml"))


def _builtin(kind: str) -> list[Path]:
    base = resources.files("interlock_config") / kind
    return sorted(Path(str(p)) for p in base.iterdir() if p.name.endswith((".yaml", ".yml")))


def _load(model: type[Any], files: list[Path], errors: list[ConfigError]) -> list[Any]:
    out = []
    for path in files:
        try:
            docs = read_yaml(path, str(path))
        except ConfigError as exc:
            errors.append(exc)
            continue
        for doc in docs:
            if doc.data is None:
                continue
            try:
                out.append(model.model_validate(doc.data))
            except pydantic.ValidationError as exc:
                errors.extend(located_errors(exc, doc))
    return out


def build_project(settings: LambdaSettings, plugins: Plugins | None = None) -> Project:
    """The project of a Lambda container: no ``interlock.yaml``; pipelines live in the table."""
    plugins = plugins or load_plugins()
    errors: list[ConfigError] = []
    archetypes = ArchetypeRegistry(_load(Archetype, [*_builtin("archetypes"), *_yaml_files(settings.archetype_dir)],
                                         errors))
    calendars = CalendarRegistry(_load(Calendar, [*_builtin("calendars"), *_yaml_files(settings.calendar_dir)],
                                       errors))
    store_cls = plugins.stores.get("dynamodb")
    alert_configs = []
    alert_policies: list[SinkPolicy] = []
    try:
        store_config = store_cls.config_model.model_validate({
            "tableName": settings.table_name, "region": settings.region, "endpoint": settings.endpoint_url,
            "readinessTtl": settings.readiness_ttl, "retentionTtl": settings.retention_ttl})
        if settings.sns_topic_arn:
            sink = plugins.alert_sinks.get("sns").config_model.model_validate(
                {"topicArn": settings.sns_topic_arn, "region": settings.region, "endpointURL": settings.endpoint_url})
            alert_configs.append(("sns", sink))
            alert_policies.append(sink_policy("sns"))
    except pydantic.ValidationError as exc:
        errors.extend(located_errors(exc, None))
    if errors:
        raise ConfigErrors(errors)
    config = ProjectConfig(provider="dynamodb", engine=EngineConfig(readiness_ttl=settings.readiness_ttl),
                           archetype_dirs=[], evaluator_dirs=[], pipeline_dirs=[], calendar_dirs=[], alerts=[])
    return Project(root=Path("/tmp"), config_file=None, config=config, store_config=store_config,
                   archetypes=archetypes, calendars=calendars, alert_configs=alert_configs,
                   alert_policies=alert_policies, plugins=plugins)


class LambdaRuntime:
    """One engine and its event loop, shared by every invocation of a container."""

    def __init__(self, settings: LambdaSettings, *, clock: Clock | None = None, store: Store | None = None,
                 project: Project | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._project = project
        self._store = store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="interlock-lambda", daemon=True)
        self._thread.start()
        self.engine: Engine | None = None
        self.steps: Steps | None = None
        self.dead_letters: AlertDeadLetterQueue | None = None
        try:
            self._submit(self._start())
        except BaseException:
            self.close()
            raise

    async def _start(self) -> None:
        configure_telemetry()  # on when the function's environment sets OTEL_* (and the layer has interlock[otel])
        project = self._project or build_project(self.settings)
        settings = self.settings
        queue = AlertDeadLetterQueue(settings.alert_dlq_url, region=settings.region,
                                     endpoint_url=settings.endpoint_url) if settings.alert_dlq_url else None
        engine = build_engine(project, clock=self.clock, store=self._store,
                              dead_letter=keep_in(queue) if queue is not None else None,
                              evaluator_options={"evaluator_base_url": settings.evaluator_base_url})
        try:
            await engine.ctx.store.start()
        except BaseException:
            await engine.aclose()
            if queue is not None:
                await queue.close()
            raise
        self.engine, self.dead_letters = engine, queue
        self.steps = Steps(engine)

    def _submit(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result()

    def run(self, step: Callable[[Steps], Awaitable[T]]) -> T:
        """Run ``step`` on the engine's loop, deliver the alerts it raised, return its result."""

        async def invoke() -> T:
            assert self.steps is not None
            try:
                return await step(self.steps)
            finally:
                await self.flush_alerts()

        try:
            return self._submit(invoke())
        finally:
            flush_telemetry()  # the container may be frozen as soon as the handler returns

    async def flush_alerts(self) -> None:
        flush = getattr(self.engine.ctx.alerts if self.engine else None, "flush", None)
        if flush is not None:
            try:
                if not await flush(ALERT_FLUSH_SECONDS):
                    log.warning("alerts still pending after %.0fs", ALERT_FLUSH_SECONDS)
            except Exception:
                log.exception("delivering alerts failed")

    def close(self) -> None:
        if self.engine is not None and self._loop.is_running():
            engine, self.engine, self.steps = self.engine, None, None
            queue, self.dead_letters = self.dead_letters, None
            try:
                self._submit(engine.aclose())
                if queue is not None:
                    self._submit(queue.close())
            except Exception:
                log.warning("closing the engine failed", exc_info=True)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()


_runtime: LambdaRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> LambdaRuntime:
    """The container's runtime, created from the environment on first use. A failed start is not
    cached: the next invocation tries again (and fails with the same clear error if it persists)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = LambdaRuntime(LambdaSettings.from_env())
        return _runtime


def install_runtime(instance: LambdaRuntime | None) -> LambdaRuntime | None:
    """Use ``instance`` for the following invocations (None: build from the environment again);
    returns the previous runtime, which the caller closes."""
    global _runtime
    with _runtime_lock:
        previous, _runtime = _runtime, instance
        return previous
