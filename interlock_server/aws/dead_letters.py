"""The alert dead-letter queue of AWS mode: an alert the functions could not publish is kept.

Every engine function (and the watchdog) publishes the alerts a step raised to the SNS topic before
the invocation returns (see init.py). The dispatcher retries a failed publish a few times; when the
attempts are spent, and ``ALERT_DLQ_URL`` names the stack's alert dead-letter queue, the alert is sent
there before the ``ALERT_FAILED`` event is recorded (the event says whether it was kept):

* message body: the alert JSON, exactly what the topic would have carried, so a redrive is a
  ``sns publish --message file://body.json`` (or the queue's own redrive to another queue);
* message attributes: ``sink`` (``sns``), ``error`` (why the last attempt failed, at most 1000
  characters), ``level`` and, for a pipeline's alert, ``pipelineId``.

The stack alarms on the queue's depth. Without ``ALERT_DLQ_URL`` the engine's own dispatcher is used
unchanged (the failure is only the ``ALERT_FAILED`` event and a log line).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio

from interlock_core.alerts import AlertDispatcher
from interlock_core.clock import Clock
from interlock_core.config import Project
from interlock_core.engine.context import EngineContext
from interlock_core.model import Alert, EventKind
from interlock_core.outbound import HostPolicy
from interlock_core.plugins import PluginContext, load_plugins

log = logging.getLogger("interlock.aws.dead_letters")

ERROR_LIMIT = 1000
# The dispatcher's wait before the second attempt (doubled before each further one).
ALERT_RETRY_BACKOFF_SECONDS = 0.5


class AlertDeadLetterQueue:
    """Sends alerts to one SQS queue. The aioboto3 session and client are made on first use (an
    invocation that publishes every alert never pays for them) and kept until :meth:`close`."""

    def __init__(self, queue_url: str, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.queue_url = queue_url
        self.region = region
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._exit = contextlib.AsyncExitStack()
        self._lock = anyio.Lock()

    async def _sqs(self) -> Any:
        async with self._lock:
            if self._client is None:
                import aioboto3  # only once an alert failed: the stream-router never imports it
                from botocore.config import Config

                retries: Any = {"max_attempts": 3, "mode": "standard"}
                client = aioboto3.Session().client(
                    "sqs", region_name=self.region, endpoint_url=self.endpoint_url,
                    config=Config(connect_timeout=5, read_timeout=10, retries=retries),
                )
                self._client = await self._exit.enter_async_context(client)
            return self._client

    async def send(self, alert: Alert, sink: str, error: BaseException) -> None:
        """Keep ``alert``; raises when the queue cannot be reached."""
        reason = (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:ERROR_LIMIT]
        attributes = {
            "sink": {"DataType": "String", "StringValue": sink},
            "error": {"DataType": "String", "StringValue": reason},
            "level": {"DataType": "String", "StringValue": alert.level.value},
        }
        if alert.pipeline_id:
            attributes["pipelineId"] = {"DataType": "String", "StringValue": alert.pipeline_id}
        client = await self._sqs()
        await client.send_message(QueueUrl=self.queue_url, MessageBody=alert.to_json(), MessageAttributes=attributes)

    async def close(self) -> None:
        async with self._lock:
            self._client = None
            await self._exit.aclose()


class DeadLetteringAlerts:
    """The alert dispatcher of a Lambda container with an alert dead-letter queue: the project's
    sinks as the engine would build them; an alert a sink gave up on goes to the queue, then the
    ``ALERT_FAILED`` event is recorded. Hand :attr:`dispatcher` to ``build_engine(alerts=...)``,
    then :meth:`bind` the engine's context; :meth:`aclose` before the engine's own close."""

    def __init__(self, project: Project, *, clock: Clock, queue: AlertDeadLetterQueue) -> None:
        plugins = project.plugins or load_plugins()
        outbound = HostPolicy(project.config.outbound.allow_hosts, project.config.outbound.deny_hosts)
        context = PluginContext(project_dir=project.root, clock=clock, outbound=outbound)
        self.queue = queue
        self.sinks = [(name, plugins.alert_sinks.get(name)(config, context)) for name, config in project.alert_configs]
        self.dispatcher = AlertDispatcher(
            self.sinks, clock=clock, backoff=ALERT_RETRY_BACKOFF_SECONDS, on_failure=self._failed
        )
        self._ctx: EngineContext | None = None

    def bind(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def _failed(self, alert: Alert, sink: str, error: Exception) -> None:
        kept = True
        try:
            await self.queue.send(alert, sink, error)
            log.warning("alert to %s kept in the dead-letter queue: %s", sink, alert.message)
        except Exception:
            kept = False
            log.exception("alert to %s is lost: the dead-letter queue %s is unreachable", sink, self.queue.queue_url)
        if alert.pipeline_id and self._ctx is not None:
            details: dict[str, Any] = {"sink": sink, "alert": alert.message}
            if kept:
                details["deadLetterQueue"] = self.queue.queue_url
            try:
                await self._ctx.emit(EventKind.ALERT_FAILED, alert.pipeline_id,
                                     message=f"alert to {sink} failed: {error}", details=details)
            except Exception:
                log.warning("could not record failed alert", exc_info=True)

    async def aclose(self) -> None:
        """Stop the dispatcher (alerts still queued are dead-lettered), close the sinks and the queue."""
        await self.dispatcher.aclose()
        await self.queue.close()
