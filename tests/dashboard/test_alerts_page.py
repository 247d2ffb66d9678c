"""The dashboard's alert page: dead letters and alerts on their way, masked, with a button that
sends a dead letter again (full key and the page's CSRF token only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlock_core.model import AlertLevel, AlertStatus
from interlock_core.outbox import SinkPolicy, outbox_records

from .conftest import Site
from .serving import FULL_KEY, READ_KEY
from .test_pages import ORIGIN, csrf_of, sign_in


async def dead_letter(site: Site, message: str) -> str:
    ctx = site.engine.ctx
    [record] = outbox_records(ctx.make_alert(AlertLevel.ERROR, message, "sales"), [SinkPolicy("ops-hook")],
                              ctx.clock.now())
    failed = record.model_copy(update={"status": AlertStatus.FAILED, "attempts": 8,
                                       "last_error": "webhook POST failed: https://hooks.example/x?token=s3cr3t"})
    await site.engine.store.record_alerts([failed])
    return record.id


async def test_dead_letters_are_shown_masked_and_sent_again(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site()
    alert_id = await dead_letter(site, "Pipeline sales completion SLA breached")
    await sign_in(site.client, READ_KEY)
    page = await site.client.get("/alerts")
    assert page.status_code == 200 and "Pipeline sales completion SLA breached" in page.text
    assert alert_id in page.text and "ops-hook" in page.text and "s3cr3t" not in page.text
    assert "Send again" not in page.text  # a read-only key sees, never acts
    refused = await site.client.post(f"/alerts/{alert_id}/retry", data={"csrf": csrf_of(page.text)},
                                     headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert refused.status_code == 403

    site.client.cookies.clear()
    await sign_in(site.client, FULL_KEY)
    page = await site.client.get("/alerts")
    assert "Send again" in page.text
    forged = await site.client.post(f"/alerts/{alert_id}/retry", data={"csrf": "0" * 32},
                                    headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert forged.status_code == 403
    sent = await site.client.post(f"/alerts/{alert_id}/retry", data={"csrf": csrf_of(page.text)},
                                  headers={"Origin": ORIGIN})
    assert sent.status_code == 303 and sent.headers["location"] == "/alerts"
    record = await site.engine.store.get_alert(alert_id)
    assert record is not None and record.status is AlertStatus.PENDING and record.retried == 1
    after = (await site.client.get("/alerts")).text
    assert "Nothing waiting." not in after and "None: every alert reached its sinks" in after
