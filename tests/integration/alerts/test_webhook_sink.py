"""The webhook sink against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest

from interlock_core.alerts import AlertDeliveryError, AlertDispatcher
from interlock_core.clock import FakeClock
from interlock_core.model import Alert
from interlock_core.plugins import PluginContext
from interlock_plugins.alerts.webhook import WebhookSink, WebhookSinkConfig


def sink(**options: Any) -> WebhookSink:
    return WebhookSink(WebhookSinkConfig.model_validate(options), PluginContext(project_dir=Path.cwd()))


async def test_posts_the_alert_json(webhook_peer: Any, make_alert: Callable[..., Alert]) -> None:
    webhook = sink(url=webhook_peer.url)
    alert = make_alert()
    await webhook.send(alert)
    await webhook.close()
    (request,) = webhook_peer.requests
    assert request["path"] == "/alerts"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == json.loads(alert.to_json())
    assert request["body"]["pipelineId"] == "orders" and request["body"]["details"] == {"attempts": 3}


async def test_error_status_raises(webhook_peer: Any, make_alert: Callable[..., Alert]) -> None:
    webhook_peer.statuses = [500]
    webhook = sink(url=webhook_peer.url)
    with pytest.raises(AlertDeliveryError, match="webhook returned status 500"):
        await webhook.send(make_alert())
    await webhook.close()


async def test_500_then_200_is_retried_by_the_dispatcher(webhook_peer: Any,
                                                         make_alert: Callable[..., Alert]) -> None:
    webhook_peer.statuses = [500, 200]
    failures: list[str] = []

    async def on_failure(alert: Alert, sink_name: str, exc: Exception) -> None:
        failures.append(sink_name)

    dispatcher = AlertDispatcher([("webhook", sink(url=webhook_peer.url))], clock=FakeClock(),
                                 backoff=0, on_failure=on_failure)
    dispatcher.submit(make_alert())
    assert await dispatcher.flush(10)
    await dispatcher.aclose()
    assert len(webhook_peer.requests) == 2
    assert failures == []
    stats = dispatcher.stats["sinks"]["webhook"]
    assert (stats["delivered"], stats["failed"], stats["retries"], stats["pending"]) == (1, 0, 1, 0)


async def test_500_every_time_is_recorded_as_failed(webhook_peer: Any,
                                                    make_alert: Callable[..., Alert]) -> None:
    webhook_peer.statuses = [500, 500, 500]
    failures: list[Exception] = []

    async def on_failure(alert: Alert, sink_name: str, exc: Exception) -> None:
        failures.append(exc)

    dispatcher = AlertDispatcher([("webhook", sink(url=webhook_peer.url))], clock=FakeClock(),
                                 backoff=0, on_failure=on_failure)
    dispatcher.submit(make_alert())
    assert await dispatcher.flush(10)
    await dispatcher.aclose()
    assert len(webhook_peer.requests) == 3
    assert len(failures) == 1 and "500" in str(failures[0])


async def test_header_variables_expand_at_send_time(webhook_peer: Any, monkeypatch: pytest.MonkeyPatch,
                                                   make_alert: Callable[..., Alert]) -> None:
    monkeypatch.delenv("ALERT_TEST_TOKEN", raising=False)
    webhook = sink(url=webhook_peer.url,
                   headers={"Authorization": "Bearer ${ALERT_TEST_TOKEN}", "X-Team": "${ALERT_TEAM:-data}"})
    with pytest.raises(AlertDeliveryError, match="ALERT_TEST_TOKEN") as info:
        await webhook.send(make_alert())
    assert webhook_peer.requests == []
    assert "Bearer" not in str(info.value)
    monkeypatch.setenv("ALERT_TEST_TOKEN", "s3cret")
    await webhook.send(make_alert())
    headers = webhook_peer.requests[0]["headers"]
    assert headers["Authorization"] == "Bearer s3cret" and headers["X-Team"] == "data"
    await webhook.close()


async def test_connection_refused_raises(make_alert: Callable[..., Alert]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook = sink(url=f"http://127.0.0.1:{port}/hook?token=secret")
    with pytest.raises(AlertDeliveryError, match="webhook POST failed") as info:
        await webhook.send(make_alert())
    assert "secret" not in str(info.value)
    await webhook.close()


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError, match="url"):
        WebhookSinkConfig.model_validate({})
    with pytest.raises(pydantic.ValidationError, match="http"):
        WebhookSinkConfig.model_validate({"url": "ftp://example.com"})
    with pytest.raises(pydantic.ValidationError):
        WebhookSinkConfig.model_validate({"url": "http://example.com", "method": "PUT"})
    with pytest.raises(pydantic.ValidationError):
        WebhookSinkConfig.model_validate({"url": "http://example.com", "timeout": 0})
    config = WebhookSinkConfig.model_validate({"url": "https://example.com/x", "timeout": 2.5})
    assert config.timeout == 2.5 and config.headers == {}
