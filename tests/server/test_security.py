"""API tokens, the request body limit, and secrets kept out of responses and logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import structlog

from interlock_core.model import ServerConfig
from interlock_server.auth import Tokens, presented_token, resolve_tokens
from interlock_server.logging import configure_logging
from interlock_server.redaction import MASK, redact

from .conftest import Api

KEY = "k-3f9a1c"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def secured(make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY,
                                                 "readOnlyApiKeys": ["reader-1"]}})
    return api


async def test_api_key_valid_invalid_missing(secured: Api) -> None:
    ok = await secured.client.get("/api/pipelines", headers={"X-API-Key": KEY})
    assert ok.status_code == 200
    bearer = await secured.client.get("/api/pipelines", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    for headers in ({"X-API-Key": "wrong"}, {}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer"}):
        denied = await secured.client.get("/api/pipelines", headers=headers)
        assert denied.status_code == 401
        assert denied.json() == {"error": "unauthorized"}
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert "x-request-id" in denied.headers


async def test_auth_covers_writes_metrics_and_openapi(secured: Api) -> None:
    for method, path in (("POST", "/api/pipelines"), ("GET", "/metrics"), ("GET", "/api/openapi.json"),
                         ("POST", "/api/runs/x/complete"), ("GET", "/api/nowhere")):
        assert (await secured.client.request(method, path)).status_code == 401, path


async def test_health_is_open(secured: Api) -> None:
    response = await secured.client.get("/api/health")
    assert response.status_code == 200
    assert (await secured.client.head("/api/health")).status_code == 200


async def test_read_only_key_reads_but_cannot_write(secured: Api) -> None:
    headers = {"X-API-Key": "reader-1"}
    assert (await secured.client.get("/api/pipelines", headers=headers)).status_code == 200
    denied = await secured.client.post("/api/pipelines", headers=headers, json={})
    assert denied.status_code == 403
    assert denied.json() == {"error": "this API key may only read"}


async def test_key_from_the_environment(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(env={"INTERLOCK_API_KEY": "from-env"})
    assert (await api.client.get("/api/pipelines")).status_code == 401
    assert (await api.client.get("/api/pipelines", headers={"X-API-Key": "from-env"})).status_code == 200


def test_tokens_resolution() -> None:
    server = ServerConfig(api_key="a", api_keys=["b", "a"], read_only_api_keys=["r"])
    tokens = resolve_tokens(server, {"INTERLOCK_API_KEY": "c"})
    assert tokens == Tokens(full=(b"a", b"b", b"c"), read_only=(b"r",))
    assert not resolve_tokens(ServerConfig(), {}).enabled
    assert presented_token([(b"authorization", b"bearer  tok ")]) == b"tok"
    assert presented_token([(b"x-api-key", b" k ")]) == b"k"
    assert presented_token([(b"authorization", b"Basic dXNlcg==")]) is None


@pytest.fixture
async def small_body(make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "maxRequestBody": 50}})
    return api


async def test_body_limit_declared_length(small_body: Api) -> None:
    response = await small_body.client.post("/api/pipelines", content=b"{" + b" " * 198 + b"}", headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"error": "request body larger than 50 bytes", "limit": 50}


async def test_body_limit_streamed_without_length(small_body: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 20

    response = await small_body.client.post("/api/pipelines", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["limit"] == 50
    small = await small_body.client.post("/api/pipelines", content=b"{}", headers=JSON)
    assert small.status_code == 400  # within the limit: parsed, then validated


def test_redact_masks_credential_keys_at_any_depth() -> None:
    data = {"trigger": {"headers": {"Authorization": "Bearer x", "X-Auth-Token": "t", "Accept": "json"},
                        "password": "p", "clientSecret": "s", "apiKey": "k", "tokenUrl": "https://idp"},
            "list": [{"api-key": "k2"}], "empty": {"token": ""}}
    masked = redact(data)
    assert masked["trigger"]["headers"] == {"Authorization": MASK, "X-Auth-Token": MASK, "Accept": "json"}
    assert (masked["trigger"]["password"], masked["trigger"]["clientSecret"], masked["trigger"]["apiKey"]) == (
        MASK, MASK, MASK)
    assert masked["trigger"]["tokenUrl"] == "https://idp"
    assert masked["list"] == [{"api-key": MASK}]
    assert masked["empty"] == {"token": ""}


def test_log_lines_mask_secrets() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        structlog.get_logger("interlock.test").info("calling", headers={"Authorization": "Bearer abc"},
                                                    password="hunter2")
        logging.getLogger("interlock.test.stdlib").warning("plain %s", "line")
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["headers"] == {"Authorization": MASK}
    assert lines[0]["password"] == MASK
    assert "abc" not in stream.getvalue() and "hunter2" not in stream.getvalue()
    assert lines[1]["event"] == "plain line"
    assert lines[1]["level"] == "warning"
