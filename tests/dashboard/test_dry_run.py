"""The dashboard shows a dry-run pipeline: a badge on the overview and on its page, and the
would-trigger among its events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from interlock_core.model import SchedulerRun

from .conftest import Site


def gated(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "archetype": "gate", "traits": {"source-ready": {"evaluator": "scripted",
                                                                           "config": {"status": "PASS"}}},
            "trigger": {"type": "http", "method": "POST", "url": "http://127.0.0.1:9/never"}, **extra}


async def test_a_dry_run_pipeline_has_a_badge_and_its_would_trigger_event(make_site: Callable[..., Any]) -> None:
    site: Site = await make_site(auth=False, pipelines=[gated("shadow", dryRun=True), gated("live")])
    outcome = await site.engine.start_run("shadow")
    assert outcome.outcome.value == "dry_run"

    overview = (await site.client.get("/")).text
    shadow_row = overview[overview.index('data-pipeline="shadow"'):]
    shadow_row = shadow_row[:shadow_row.index("</tr>")]
    live_row = overview[overview.index('data-pipeline="live"'):]
    live_row = live_row[:live_row.index("</tr>")]
    assert "dry run</span>" in shadow_row and "dry run</span>" not in live_row

    page = (await site.client.get("/pipelines/shadow")).text
    head = page[page.index("<h1>"):page.index("</h1>")]
    assert "dry run</span>" in head
    assert "Dry run: would trigger" in page
    assert "dry run</span>" not in (await site.client.get("/pipelines/live")).text.split("</h1>")[0]


async def test_a_dry_run_pipeline_page_shows_its_shadow_report(make_site: Callable[..., Any]) -> None:
    sla = {"completionDeadline": "14:00", "timezone": "UTC"}
    site: Site = await make_site(auth=False, pipelines=[gated("shadow", dryRun=True, sla=sla), gated("live")])
    await site.engine.start_run("shadow")  # 2026-03-02 12:00: it would trigger
    await site.engine.report_scheduler_run("shadow", "2026-03-02", SchedulerRun(
        run_id="scheduled__1", state="succeeded", started_at=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
        finished_at=datetime(2026, 3, 2, 13, 20, tzinfo=UTC)))

    page = (await site.client.get("/pipelines/shadow")).text
    section = page[page.index('id="shadow"'):]
    section = section[:section.index("</section>")]
    assert "Shadow report" in section and "2026-02-24 – 2026-03-02" in section
    today = section[section.index('data-cycle="2026-03-02:daily"'):]
    today = today[:today.index("</tr>")]
    assert 'data-verdict="earlier"' in today and "Interlock 1h0m0s earlier" in today
    assert 'datetime="2026-03-02T12:00:00Z"' in today and 'datetime="2026-03-02T13:00:00Z"' in today
    assert ">held</span>" in today  # 12:00 + the scheduler's 20 min, before 14:00
    assert section.count("<tr data-cycle=") == 7 and "pushed to POST /api/pipelines/shadow/scheduler-runs" in section
    assert 'id="shadow"' not in (await site.client.get("/pipelines/live")).text
