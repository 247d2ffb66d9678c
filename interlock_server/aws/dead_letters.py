"""The alert dead-letter queue of AWS mode: an alert the functions could not publish is kept.

Every engine function (and the watchdog) writes the alerts a step raised to the table's alert
outbox with the events that raised them, and delivers what is due to the SNS topic before the
invocation returns (see init.py); a publish that fails is tried again (:func:`sink_policy`), in that
invocation or a later one of any function. When the attempts are spent the sender dead-letters the
alert, and when ``ALERT_DLQ_URL`` names the stack's alert dead-letter queue the alert is sent there
first (:func:`keep_in`; the ``ALERT_FAILED`` event says whether it was kept):

* message body: the alert JSON, exactly what the topic would have carried, so a redrive is a
  ``sns publish --message file://body.json`` (or the queue's own redrive to another queue);
* message attributes: ``sink`` (``sns``), ``error`` (why the last attempt failed, at most 1000
  characters), ``level`` and, for a pipeline's alert, ``pipelineId``.

The stack alarms on the queue's depth. Without ``ALERT_DLQ_URL`` a dead letter is only the outbox's
FAILED record, the ``ALERT_FAILED`` event and a log line.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio

from interlock_core.alert_sender import DeadLetterHook
from interlock_core.model import Alert
from interlock_core.outbox import SinkPolicy

log = logging.getLogger("interlock.aws.dead_letters")

ERROR_LIMIT = 1000
ALERT_ATTEMPTS = 3
# The wait before the second attempt (doubled before each further one).
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


def keep_in(queue: AlertDeadLetterQueue) -> DeadLetterHook:
    """The sender's dead-letter hook of a Lambda container with an alert dead-letter queue: the
    alert goes to the queue, and the ``ALERT_FAILED`` event the sender records says it was kept
    (``details.deadLetterQueue``); an unreachable queue is logged (the event then names no queue)."""

    async def keep(alert: Alert, sink: str, error: Exception) -> dict[str, Any]:
        try:
            await queue.send(alert, sink, error)
        except Exception:
            log.exception("alert to %s is lost: the dead-letter queue %s is unreachable", sink, queue.queue_url)
            return {}
        log.warning("alert to %s kept in the dead-letter queue: %s", sink, alert.message)
        return {"deadLetterQueue": queue.queue_url}

    return keep


def sink_policy(sink: str) -> SinkPolicy:
    """How a Lambda function delivers to ``sink``: a few quick attempts, since a function publishes
    its alerts before it returns (what is still due waits in the outbox for the next invocation of
    any function, which delivers it or, once its attempts are spent, dead-letters it)."""
    return SinkPolicy(sink, max_attempts=ALERT_ATTEMPTS, backoff=ALERT_RETRY_BACKOFF_SECONDS)
