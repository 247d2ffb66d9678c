"""The ``webhook`` alert sink: POST the alert JSON to a URL."""

from __future__ import annotations

import os
from typing import ClassVar

import httpx
from pydantic import BaseModel, Field, field_validator

from interlock_core.alerts import AlertDeliveryError
from interlock_core.model import Alert, ConfigModel
from interlock_core.plugins import PluginContext
from interlock_core.templating import MissingVariable, expand


class WebhookSinkConfig(ConfigModel):
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("webhook URL must start with http:// or https://")
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"invalid webhook URL: {exc}") from None
        if not url.host:
            raise ValueError("webhook URL has no host")
        return value


class WebhookSink:
    """Header values may reference ``${VAR}``: they are expanded from the environment at send time,
    so secrets never sit in the loaded configuration. Errors never echo the URL or header values
    (webhook URLs often carry a token)."""

    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseModel]] = WebhookSinkConfig

    def __init__(self, config: WebhookSinkConfig, context: PluginContext,
                 *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.context = context
        self._client = httpx.AsyncClient(timeout=config.timeout, transport=transport,
                                         follow_redirects=False)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        for key, value in self.config.headers.items():
            try:
                headers[key] = expand(value, os.environ.get)
            except MissingVariable as exc:
                raise AlertDeliveryError(
                    f"webhook header {key!r} references unset environment variable {exc.name!r}"
                ) from None
        return headers

    async def send(self, alert: Alert) -> None:
        headers = self._headers()
        try:
            response = await self._client.post(self.config.url, content=alert.to_json(), headers=headers)
        except httpx.TimeoutException as exc:
            raise AlertDeliveryError(f"webhook POST timed out after {self.config.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"webhook POST failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise AlertDeliveryError(f"webhook returned status {response.status_code}",
                                     upstreamStatus=response.status_code)

    async def close(self) -> None:
        await self._client.aclose()
