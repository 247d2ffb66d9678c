"""``/api/alerts``: the outbox as the API shows it (paged, redacted), and a dead letter sent again
(full key only, never from another site)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlock_core.model import AlertLevel, AlertStatus, EventKind
from interlock_core.outbox import outbox_records
from tests.helpers.served import free_port

from .alerting import KEY, READER, AlertingApi
from .support import http_pipeline

FULL = {"X-API-Key": KEY}


async def alerting(make_alerting_api: Callable[..., Any]) -> AlertingApi:
    """File sink, and a webhook that nothing answers, tried once."""
    dead_end = {"type": "webhook", "name": "ops-hook", "url": f"http://127.0.0.1:{free_port()}/alerts",
                "maxAttempts": 1}
    made: AlertingApi = await make_alerting_api([http_pipeline("sales", "http://127.0.0.1:9/")],
                                                alerts=[{"type": "file", "path": "alerts.log"}, dead_end])
    return made


async def test_dead_letters_are_listed_paged_and_sent_again(make_alerting_api: Callable[..., Any]) -> None:
    api = await alerting(make_alerting_api)
    ctx = api.engine.ctx
    for n in range(3):
        await ctx.emit(EventKind.SLA_BREACHED, "sales", message="late",
                       alert=ctx.make_alert(AlertLevel.ERROR, f"Pipeline sales completion SLA breached ({n})", "sales"))
    assert "completion SLA breached (2)" in await api.alerts()  # flushed: the file has them, the webhook failed
    failed = (await api.client.get("/api/alerts?status=failed", headers=FULL)).json()
    assert [(r["sink"], r["status"], r["attempts"]) for r in failed] == [("ops-hook", "failed", 1)] * 3
    assert [r["alert"]["message"][-3:] for r in failed] == ["(2)", "(1)", "(0)"]  # newest first
    assert "ConnectError" in failed[0]["lastError"] or "failed" in failed[0]["lastError"]
    assert (await api.client.get("/api/alerts?status=pending", headers=FULL)).json() == []
    delivered = (await api.client.get("/api/alerts?status=delivered", headers={"X-API-Key": READER})).json()
    assert {r["sink"] for r in delivered} == {"file"}
    events = (await api.client.get("/api/pipelines/sales/events", headers=FULL)).json()
    dead = [e for e in events if e["kind"] == "ALERT_FAILED"]
    assert len(dead) == 3 and {e["details"]["alertId"] for e in dead} == {r["id"] for r in failed}

    first = await api.client.get("/api/alerts?status=failed&limit=2", headers=FULL)
    assert [r["id"] for r in first.json()] == [r["id"] for r in failed[:2]]
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and f"before={failed[1]['id']}" in link
    following = await api.client.get(link[1:link.index(">")], headers=FULL)
    assert [r["id"] for r in following.json()] == [failed[2]["id"]] and "Link" not in following.headers

    target = failed[0]["id"]
    refused = await api.client.post(f"/api/alerts/{target}/retry", headers={"X-API-Key": READER})
    assert refused.status_code == 403
    forged = await api.client.post(f"/api/alerts/{target}/retry", headers={**FULL, "Origin": "https://evil.example"})
    assert forged.status_code == 403
    retried = await api.client.post(f"/api/alerts/{target}/retry", headers=FULL)
    assert retried.status_code == 200 and retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    assert retried.json()["retried"] == 1
    assert (await api.client.get(f"/api/alerts/{target}", headers=FULL)).json()["status"] == "pending"
    assert [r["id"] for r in (await api.client.get("/api/alerts?status=pending", headers=FULL)).json()] == [target]


async def test_bad_requests_name_the_field_and_outputs_are_redacted(make_alerting_api: Callable[..., Any]) -> None:
    api = await alerting(make_alerting_api)
    for query, field in (("status=lost", "status"), ("before=1%27%20OR%201", "before"), ("limit=0", "limit")):
        response = await api.client.get(f"/api/alerts?{query}", headers=FULL)
        assert response.status_code == 400 and response.json()["field"] == field, query
    assert (await api.client.get("/api/alerts/nope", headers=FULL)).status_code == 404
    assert (await api.client.post("/api/alerts/1772452800000-00000001-abcdef/retry", headers=FULL)).status_code == 404
    # a record written by an older version, or by hand, holding a secret: the API masks it all the same
    ctx = api.engine.ctx
    alert = ctx.make_alert(AlertLevel.ERROR, "x", "sales").model_copy(update={
        "message": "login failed: password=hunter2", "details": {"apiToken": "tok-123", "url": "https://u:p@h/x"}})
    [record, _] = outbox_records(alert, ctx.alert_sinks, ctx.clock.now())
    await api.engine.store.record_alerts([record])
    shown = (await api.client.get(f"/api/alerts/{record.id}", headers=FULL)).text
    listed = (await api.client.get("/api/alerts", headers=FULL)).text
    for text in (shown, listed):
        assert "hunter2" not in text and "tok-123" not in text and "u:p@" not in text
    assert (await api.engine.store.get_alert(record.id)) is not None
    assert AlertStatus.PENDING.value in shown
