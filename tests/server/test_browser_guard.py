"""CSRF and DNS rebinding: a web page in a browser cannot register or run pipelines on a server
without an API key (the default of ``interlock init``), nor read it under a foreign host name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from interlock_server.browser_guard import host_name, is_loopback_name

from .conftest import Api
from .support import http_pipeline

KEY = "k-guard-1"


def pipeline_text(api: Api, name: str = "sales") -> str:
    return json.dumps(http_pipeline(name, api.hook.url))


async def test_a_text_plain_post_cannot_register_a_pipeline(api: Api) -> None:
    # what <form enctype="text/plain"> or fetch(no-cors) sends without a preflight
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await api.client.post("/api/pipelines", content=pipeline_text(api), headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert response.json()["field"] == "Content-Type"
    assert (await api.client.get("/api/pipelines")).json() == []
    ok = await api.client.post("/api/pipelines", content=pipeline_text(api),
                               headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 201, ok.text


async def test_a_bodyless_write_needs_no_content_type(api: Api) -> None:
    await api.register("sales")
    response = await api.client.post("/api/pipelines/sales/evaluate")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:8080"},  # another site on this machine: another origin
    {"Sec-Fetch-Site": "cross-site"},
])
async def test_cross_site_writes_are_refused(api: Api, headers: dict[str, str]) -> None:
    await api.register("sales")
    run = await api.client.post("/api/pipelines/sales/run", json={}, headers=headers)
    assert run.status_code == 403, run.text
    assert "cross-site" in run.json()["error"]
    delete = await api.client.delete("/api/pipelines/sales", headers=headers)
    assert delete.status_code == 403
    assert len(api.hook.requests) == 0


async def test_same_origin_and_reads_pass(api: Api) -> None:
    await api.register("sales")
    same = await api.client.post("/api/pipelines/sales/evaluate", json={},
                                 headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200, same.text
    read = await api.client.get("/api/pipelines", headers={"Origin": "http://evil.example"})
    assert read.status_code == 200  # a read cannot change anything (and CORS keeps the answer from the page)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "192.168.1.20:3000", "localhost.evil.example"])
async def test_without_a_key_only_loopback_host_names_are_answered(api: Api, host: str) -> None:
    for method, path in (("GET", "/api/pipelines"), ("GET", "/"), ("POST", "/api/pipelines"), ("GET", "/metrics")):
        response = await api.client.request(method, path, headers={"Host": host}, json={} if method == "POST" else None)
        assert response.status_code == 421, (method, path, response.status_code)
        assert response.json()["field"] == "Host"
    assert (await api.client.get("/api/health", headers={"Host": host})).status_code == 200


@pytest.mark.parametrize("host", ["localhost", "localhost:3000", "127.0.0.1", "127.0.0.1:3000", "[::1]",
                                  "[::1]:3000", "LOCALHOST:3000"])
async def test_loopback_host_names_are_answered(api: Api, host: str) -> None:
    assert (await api.client.get("/api/pipelines", headers={"Host": host})).status_code == 200


async def test_allowed_hosts_and_api_keys_lift_the_host_check(make_api: Callable[..., Any]) -> None:
    listed: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "allowedHosts": ["gate.internal"]}})
    assert (await listed.client.get("/api/pipelines", headers={"Host": "gate.internal:3000"})).status_code == 200
    assert (await listed.client.get("/api/pipelines", headers={"Host": "other.internal"})).status_code == 421
    keyed: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY}})
    headers = {"Host": "gate.example", "X-API-Key": KEY}
    assert (await keyed.client.get("/api/pipelines", headers=headers)).status_code == 200
    foreign = await keyed.client.post("/api/pipelines", json={}, headers={**headers, "Origin": "https://evil.example"})
    assert foreign.status_code == 403  # cross-site checks hold with a key too


def test_host_names() -> None:
    assert host_name("[::1]:3000") == "::1" and host_name("LocalHost:80") == "localhost"
    assert host_name("::1") == "::1" and host_name("127.0.0.1") == "127.0.0.1"
    assert all(is_loopback_name(n) for n in ("localhost", "127.0.0.1", "127.9.9.9", "::1", "app.localhost"))
    assert not any(is_loopback_name(n) for n in ("", "0.0.0.0", "10.0.0.1", "localhost.evil.example", "evil"))


async def test_the_openapi_document_lists_the_guard_answers(api: Api) -> None:
    doc = (await api.client.get("/api/openapi.json")).json()
    run = doc["paths"]["/api/pipelines/{id}/run"]["post"]["responses"]
    assert {"403", "415", "421"} <= set(run)


async def test_a_dns_rebinding_page_cannot_read_the_dashboard(api: Api) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://rebind.evil") as page:
        assert (await page.get("/")).status_code == 421
