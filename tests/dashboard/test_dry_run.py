"""The dashboard shows a dry-run pipeline: a badge on the overview and on its page, and the
would-trigger among its events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
