"""The smaller items of the third security round: lone surrogates, bodies that never arrive or are
cut off, wrong keys, odd Host headers, ``nosniff``, and registration limits (``builtin:`` names,
``tier``)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest
from starlette.types import Message

from interlock_core.metrics import METRICS
from interlock_server.browser_guard import host_name
from interlock_server.logging import configure_logging
from interlock_server.metrics import HTTP_LATENCY

from .conftest import Api
from .support import http_pipeline

KEY = "k-round3-1"


# ------------------------------------------------------------------------------ lone surrogates

@pytest.mark.parametrize(("body", "field"), [
    ('{"name": "a\\ud800b", "archetype": "gate"}', "name"),
    ('{"name": "ok", "archetype": "gate", "description": "x\\udfff"}', "description"),
    ('{"name": "ok", "archetype": "gate", "traits": {"source-ready": {"config": {"k": ["x", "\\ud83d"]}}}}',
     "traits.source-ready.config.k.1"),
    ('{"name": "ok", "archetype": "gate", "traits": {"\\ud800": {}}}', "traits"),
])
async def test_a_lone_surrogate_is_a_400_naming_the_field(api: Api, body: str, field: str) -> None:
    response = await api.client.post("/api/pipelines", content=body.encode(),
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert "surrogate" in response.json()["error"]


async def test_a_lone_surrogate_in_a_pushed_result_or_a_rerun_reason(api: Api) -> None:
    await api.register("sales")
    for path, body, field in (
            ("/api/pipelines/sales/traits/signal", '{"status": "PASS", "reason": "\\ud800"}', "reason"),
            ("/api/pipelines/sales/rerun", '{"originalDate": "2026-03-02", "reason": "\\udc00"}', "reason")):
        response = await api.client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field


# ------------------------------------------------------------------------------ bodies in transit

def post_scope(path: str, content_type: bytes = b"application/json") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"localhost"), (b"content-type", content_type), (b"content-length", b"100")],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 3000)}


async def call(app: Any, scope: dict[str, Any], messages: list[Message]) -> list[Message]:
    """Drive the app with ``messages`` as the client's side; then the client hangs (sends nothing)."""
    sent: list[Message] = []
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_of(sent: list[Message]) -> int | None:
    return next((m["status"] for m in sent if m["type"] == "http.response.start"), None)


@pytest.mark.parametrize("path", ["/api/pipelines", "/login"])
async def test_a_body_that_never_arrives_is_answered_408(make_api: Callable[..., Any], path: str) -> None:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "readTimeout": "0.2s", "apiKey": KEY}})
    scope = post_scope(path, b"application/json" if path.startswith("/api") else
                       b"application/x-www-form-urlencoded")
    scope["headers"].append((b"x-api-key", KEY.encode()))
    with anyio.fail_after(30):  # a bound on a hang, not a measurement
        sent = await call(api.app, scope, [{"type": "http.request", "body": b'{"na', "more_body": True}])
    assert status_of(sent) == 408


async def test_the_sign_in_form_answers_a_throttled_client_before_reading_its_body(
        make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY}})
    for _ in range(5):
        await api.client.post("/login", data={"key": "wrong"})
    scope = post_scope("/login", b"application/x-www-form-urlencoded")
    scope["client"] = ("127.0.0.1", 123)  # the address the in-process client uses
    with anyio.fail_after(30):
        sent = await call(api.app, scope, [])  # not a byte of body: it is never read
    assert status_of(sent) == 429


async def test_a_client_that_goes_away_mid_body_is_no_error(api: Api) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    before = _latency_count("499")
    try:
        with anyio.fail_after(30):
            sent = await call(api.app, post_scope("/api/pipelines"),
                              [{"type": "http.request", "body": b'{"na', "more_body": True},
                               {"type": "http.disconnect"}])
    finally:
        logging.getLogger().handlers.clear()
    assert status_of(sent) is None  # nobody left to answer
    text = stream.getvalue()
    assert "Traceback" not in text and "ClientDisconnect" not in text and '"level": "error"' not in text
    assert "client disconnected" in text and '"status": 499' in text
    assert _latency_count("499") == before + 1


def _latency_count(status: str) -> int:
    return sum(h.count for name, labels, h in METRICS.iter_histograms()
               if name == HTTP_LATENCY and ("status", status) in labels and ("route", "/api/pipelines") in labels)


# ------------------------------------------------------------------------------ wrong keys

async def test_wrong_api_keys_are_throttled_per_client_address(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY}})
    for _ in range(5):
        assert (await api.client.get("/api/pipelines", headers={"X-API-Key": "guess"})).status_code == 401
    for key in ("guess", KEY):  # the right key too: a lucky guess is not confirmed
        limited = await api.client.get("/api/pipelines", headers={"X-API-Key": key})
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 61
    login = await api.client.post("/login", data={"key": KEY})
    assert login.status_code == 429  # one budget with the sign-in form
    assert (await api.client.get("/api/health")).status_code == 200
    api.clock.advance(timedelta(seconds=61))
    assert (await api.client.get("/api/pipelines", headers={"X-API-Key": KEY})).status_code == 200


# ------------------------------------------------------------------------------ Host, nosniff

@pytest.mark.parametrize("host", ["localhost:3301@evil.com", "localhost:evil", "127.0.0.1:80:80", "localhost/x",
                                  "localhost:3301 evil.com", "[::1]@evil.com", "", "localhost:99999999"])
async def test_a_host_that_is_no_name_and_port_is_refused(api: Api, host: str) -> None:
    response = await api.client.get("/api/pipelines", headers={"Host": host})
    assert response.status_code == 421, (host, response.status_code)
    assert host_name(host) == ""


async def test_every_answer_says_nosniff(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY}})
    headers = {"X-API-Key": KEY}
    for method, path in (("GET", "/api/pipelines"), ("GET", "/api/nowhere"), ("GET", "/static/dashboard.css"),
                         ("GET", "/"), ("POST", "/api/pipelines"), ("GET", "/api/health")):
        response = await api.client.request(method, path, headers=headers)
        assert response.headers.get("x-content-type-options") == "nosniff", (path, response.status_code)
    assert (await api.client.get("/api/pipelines")).headers["x-content-type-options"] == "nosniff"  # a 401 too


# ------------------------------------------------------------------------------ registration limits

@pytest.mark.parametrize("evaluator", ["builtin:../x", "builtin:", "builtin:a/b", "builtin: x", "builtin:.hidden"])
async def test_builtin_names_are_bare_names(api: Api, evaluator: str) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("odd", api.hook.url, evaluator=evaluator))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "traits.source-ready.evaluator"


@pytest.mark.parametrize("tier", [10**21, -1, 1001])
async def test_tier_is_a_small_number(api: Api, tier: int) -> None:
    response = await api.client.post("/api/pipelines", json=http_pipeline("tiered", api.hook.url, tier=tier))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "tier"
    assert (await api.client.post("/api/pipelines", json=http_pipeline("tiered", api.hook.url, tier=2))).status_code \
        == 201
