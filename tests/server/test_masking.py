"""Masking beyond key names: URL credentials, query values and custom header values never reach a
reader of the API (a read-only key included), the dashboard or the logs."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from interlock_server.redaction import MASK, mask_urls, redact, redact_event

from .conftest import Api

READER = "reader-mask-1"
KEY = "full-mask-1"
SECRETS = ["u-s3cr3t", "p-s3cr3t", "q-s3cr3t", "h-s3cr3t", "sig-s3cr3t", "ev-s3cr3t", "alert-s3cr3t"]


def leaky(hook_url: str) -> dict[str, Any]:
    base = hook_url.replace("http://", "http://u-s3cr3t:p-s3cr3t@", 1)
    return {
        "name": "leaky", "archetype": "gate",
        "traits": {"source-ready": {"evaluator": "pass", "config": {
            "endpoint": "https://db.example/check?access=ev-s3cr3t&date=${date}"}}},
        "trigger": {"type": "http", "method": "POST", "url": f"{base}?apiToken=q-s3cr3t&day=${{date}}",
                    "headers": {"X-Signature": "sig-s3cr3t", "Private-Hdr": "h-s3cr3t",
                                "Content-Type": "application/json", "User-Agent": "interlock"},
                    "body": {"note": "see https://wiki.example/page?ticket=alert-s3cr3t"}},
    }


async def test_read_only_key_sees_no_url_credentials_query_values_or_header_values(
        make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(config={"server": {"addr": "127.0.0.1:0", "apiKey": KEY, "readOnlyApiKeys": [READER]}})
    registered = await api.client.post("/api/pipelines", json=leaky(api.hook.url), headers={"X-API-Key": KEY})
    assert registered.status_code == 201, registered.text
    for key in (READER, KEY):
        for path in ("/api/pipelines", "/api/pipelines/leaky"):
            text = (await api.client.get(path, headers={"X-API-Key": key})).text
            assert not [s for s in SECRETS if s in text], (key, path, text)
    shown = (await api.client.get("/api/pipelines/leaky", headers={"X-API-Key": READER})).json()
    trigger = shown["trigger"]
    assert trigger["headers"] == {"X-Signature": MASK, "Private-Hdr": MASK, "Content-Type": "application/json",
                                  "User-Agent": "interlock"}
    assert "://***@" in trigger["url"] and "apiToken=***" in trigger["url"] and "day=${date}" in trigger["url"]
    page = html.unescape((await api.client.get("/pipelines/leaky", headers={"X-API-Key": READER})).text)
    assert not [s for s in SECRETS if s in page]
    assert "X-Signature" in page


def test_log_lines_mask_url_credentials() -> None:
    line = {"event": "calling https://u:pw@h/x?k=v", "url": "https://h/?token=t", "headers": {"X-Sig": "s"}}
    masked = redact_event(None, "info", dict(line))
    assert masked == {"event": "calling https://***@h/x?k=***", "url": "https://h/?token=***",
                      "headers": {"X-Sig": MASK}}  # the header is named, its value is not shown


async def test_the_stored_pipeline_keeps_what_was_written(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api()
    await api.client.post("/api/pipelines", json=leaky(api.hook.url))
    stored = await api.engine.get_pipeline("leaky")
    assert stored.trigger is not None and stored.trigger.options()["headers"]["X-Signature"] == "sig-s3cr3t"


def test_mask_urls_in_any_string() -> None:
    assert mask_urls("curl https://bob:pw@h.example:8443/a?x=1&token=abc#frag") == \
        "curl https://***@h.example:8443/a?x=***&token=***#frag"
    assert mask_urls("postgresql://app:pw@db:5432/interlock") == "postgresql://***@db:5432/interlock"
    assert mask_urls("https://h.example/a/b") == "https://h.example/a/b"
    assert mask_urls("no url here ?a=b") == "no url here ?a=b"
    assert mask_urls("s3://bucket/key?versionId=${date}") == "s3://bucket/key?versionId=${date}"


def test_header_values_outside_the_safe_list_are_masked_in_every_form() -> None:
    masked = redact({"headers": {"Accept": "text/plain", "X-Custom": "c"}, "extraHeaders": ["X-A: 1", "Accept: a/b"],
                     "alerts": [{"type": "webhook", "headers": [{"name": "X-B", "value": "2"},
                                                                {"name": "Content-Type", "value": "a/json"}]}]})
    assert masked["headers"] == {"Accept": "text/plain", "X-Custom": MASK}
    assert masked["extraHeaders"] == [f"X-A: {MASK}", "Accept: a/b"]
    assert masked["alerts"][0]["headers"] == [{"name": "X-B", "value": MASK},
                                              {"name": "Content-Type", "value": "a/json"}]
