"""A settled cycle reads as done: once today's runs completed and their trait results expired, the
overview counts them done (not stale), lists no blocking traits, the page shows no "waiting for
fresh results" banner, and "Last run" is the current cycle's run, a run of another date labelled."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ..server.support import Webhook, webhook_server
from .conftest import Site
from .serving import FULL_KEY
from .test_pages import gated

MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
HEADERS = {"X-API-Key": FULL_KEY}


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


async def run_to_completion(site: Site, name: str, date: str | None = None) -> str:
    outcome = await site.engine.start_run(name, None, date)
    assert outcome.run is not None, outcome.message
    await site.engine.complete_run(outcome.run.run_id, "success")
    return outcome.run.run_id


def count(page: str, state: str) -> int:
    match = re.search(rf'data-count="{state}"><span class="n">(\d+)</span>', page)
    return int(match.group(1)) if match else 0


def row_of(page: str, name: str) -> str:
    match = re.search(rf'<tr data-pipeline="{name}" data-state="(\w+)">(.*?)</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


async def test_completed_cycles_read_as_done_after_their_trait_results_expire(
        make_site: Callable[..., Any], hook: Webhook) -> None:
    names = [f"job-{i}" for i in range(3)]
    site: Site = await make_site(pipelines=[gated(name, hook.url) for name in names])
    site.clock.set(MORNING)
    for name in names:
        await run_to_completion(site, name)
    site.clock.advance(timedelta(hours=3))  # every trait's 300 s TTL has lapsed

    page = (await site.client.get("/", headers=HEADERS)).text
    assert count(page, "COMPLETED") == 3
    assert count(page, "STALE") == 0 and count(page, "READY") == 0 and count(page, "NOT_READY") == 0
    for name in names:
        row = row_of(page, name)
        assert 'data-state="COMPLETED"' in row
        assert 'class="blockers"' not in row  # no blocking traits on a done cycle
        assert "another date" not in row

    detail = (await site.client.get("/pipelines/job-0", headers=HEADERS)).text
    assert "Waiting for fresh results" not in detail and "Blocked" not in detail
    assert "Done: 2026-03-02 completed at 2026-03-02 06:00 UTC" in detail
    assert "Trait results are STALE now; that blocks nothing until the next cycle." in detail
    trait_row = re.search(r'<tr data-trait="source-ready">.*?</tr>', detail, re.S)
    assert trait_row and "STALE" in trait_row.group(0) and "blocking" not in trait_row.group(0)

    site.clock.set(datetime(2026, 3, 3, 6, 0, tzinfo=UTC))  # the next day's cycle has not run
    tomorrow = (await site.client.get("/", headers=HEADERS)).text
    assert count(tomorrow, "STALE") == 3 and count(tomorrow, "COMPLETED") == 0


async def test_last_run_is_the_current_cycles_and_a_backfill_is_labelled(
        make_site: Callable[..., Any], hook: Webhook) -> None:
    site: Site = await make_site(pipelines=[gated("daily", hook.url), gated("backfilled", hook.url)])
    site.clock.set(MORNING)
    today = await run_to_completion(site, "daily")
    site.clock.advance(timedelta(hours=1))
    backfill = await run_to_completion(site, "daily", "2026-01-15")  # newer than today's run
    other = await run_to_completion(site, "backfilled", "2026-01-20")

    page = (await site.client.get("/", headers=HEADERS)).text
    daily = row_of(page, "daily")
    assert 'data-state="COMPLETED"' in daily and "2026-03-02" in daily
    assert "2026-01-15" not in daily and "another date" not in daily
    backfilled = row_of(page, "backfilled")
    assert 'data-state="READY"' in backfilled  # today's cycle has not run: readiness decides
    assert "another date: 2026-01-20, not this cycle" in backfilled

    detail = (await site.client.get("/pipelines/daily", headers=HEADERS)).text
    last = re.search(r"Last run: (.*?)</p>", detail, re.S)
    assert last and "2026-03-02" in last.group(1) and "another date" not in last.group(1)
    assert today in detail and backfill in detail and other not in detail  # the runs table lists both
