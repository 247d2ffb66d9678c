"""The ``sns`` alert sink: publish the alert JSON to an SNS topic."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import aioboto3
import anyio
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AliasChoices, BaseModel, Field, field_validator

from interlock_core.alerts import AlertDeliveryError
from interlock_core.model import Alert, ConfigModel
from interlock_core.plugins import PluginContext

SUBJECT_LIMIT = 100


class SNSSinkConfig(ConfigModel):
    topic_arn: str = Field(min_length=1, validation_alias=AliasChoices("topicArn", "topicARN", "topic_arn"))
    region: str | None = None
    endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("endpointURL", "endpointUrl", "endpoint_url"))

    @field_validator("topic_arn")
    @classmethod
    def _sns_arn(cls, value: str) -> str:
        parts = value.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[5]:
            raise ValueError("SNS topic ARN must look like arn:aws:sns:<region>:<account>:<topic>")
        return value


def subject_for(alert: Alert) -> str:
    """``[<level>] <pipelineId>``: printable ASCII on one line, at most 100 characters (SNS rules)."""
    text = f"[{alert.level.value}] {alert.pipeline_id or 'system'}"
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return text[:SUBJECT_LIMIT].rstrip()


class SNSSink:
    """One aioboto3 session per sink; the SNS client is opened on first send and kept until
    :meth:`close`. The region defaults to the topic ARN's."""

    name: ClassVar[str] = "sns"
    config_model: ClassVar[type[BaseModel]] = SNSSinkConfig

    def __init__(self, config: SNSSinkConfig, context: PluginContext) -> None:
        self.config = config
        self.context = context
        self.region = config.region or config.topic_arn.split(":")[3] or None
        self._session = aioboto3.Session()
        self._client: Any = None
        self._exit = contextlib.AsyncExitStack()
        self._lock = anyio.Lock()

    async def _sns(self) -> Any:
        async with self._lock:
            if self._client is None:
                client_cm = self._session.client(
                    "sns", region_name=self.region, endpoint_url=self.config.endpoint_url,
                    config=BotoConfig(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
                )
                self._client = await self._exit.enter_async_context(client_cm)
            return self._client

    async def send(self, alert: Alert) -> None:
        try:
            client = await self._sns()
            await client.publish(TopicArn=self.config.topic_arn, Subject=subject_for(alert),
                                 Message=alert.to_json())
        except (BotoCoreError, ClientError) as exc:
            raise AlertDeliveryError(f"publishing to SNS: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            self._client = None
            await self._exit.aclose()
