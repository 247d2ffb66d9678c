"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against the real app
served by hypercorn on an ephemeral port over a real engine (SQLite, subprocess evaluators, a
real webhook as the orchestrator).

The screenshots the README shows (``docs/screenshots/overview.png`` and
``docs/screenshots/blocked-pipeline.png``) are taken here: into a tmp directory on every run, into
``docs/screenshots`` only on purpose (``scripts/screenshots.sh``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from ..server.support import webhook_server
from .conftest import TIMEZONE, VIEWPORT
from .scenario import BATCH_ARCHETYPE, ORCHESTRATOR_SECRET, morning_pipelines, play_morning
from .serving import FULL_KEY, READ_KEY, Served, served_project

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_MS = 10_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def morning(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """The morning scenario, read-only: the tests here only look at it."""
    with webhook_server() as hook:
        root = tmp_path_factory.mktemp("morning")
        async with served_project(root, pipelines=morning_pipelines(hook.url), archetypes=[BATCH_ARCHETYPE]) as served:
            await play_morning(served.engine, served.clock)
            yield served


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(tmp_path: Path) -> AsyncIterator[Served]:
    """A project of its own, for a test that acts."""
    with webhook_server() as hook:
        pipelines = [
            {"name": "ledger", "archetype": "gate", "description": "Acts in the browser tests.",
             "traits": {"source-ready": {"evaluator": "scripted", "config": {
                 "status": "FAIL", "reason": "ledger_raw has no partition for today", "failureCategory": "TRANSIENT"}}},
             "trigger": {"type": "http", "method": "POST", "url": hook.url}},
            {"name": "billing", "archetype": "gate", "traits": {"source-ready": {"evaluator": "pass"}},
             "trigger": {"type": "http", "method": "POST", "url": hook.url}},
        ]
        async with served_project(tmp_path / "fresh", pipelines=pipelines) as served:
            yield served


@asynccontextmanager
async def viewer(browser: Browser, served: Served, key: str | None = FULL_KEY, *,
                 header: bool = False) -> AsyncIterator[Page]:
    """A browser tab of its own (own cookies) with ``key``: signed in through the login form, or
    sent as the ``X-API-Key`` header on every request (as a proxy in front would)."""
    context = await browser.new_context(viewport=VIEWPORT, timezone_id=TIMEZONE, locale="en-GB",
                                        base_url=served.url,
                                        extra_http_headers={"X-API-Key": key} if header and key else None)
    try:
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        if header:
            await page.goto("/")
        elif key is not None:
            await page.goto("/login")
            await page.get_by_label("API key", exact=True).fill(key)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name="Pipelines", exact=True)).to_be_visible()
        yield page
    finally:
        await context.close()


async def live(page: Page) -> None:
    """Wait until the page follows the server's live feed."""
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "on")


# ---------------------------------------------------------------------------------- looking


async def test_overview_shows_every_pipeline_with_counts_and_local_times(browser: Browser, morning: Served,
                                                                         screenshots: Path) -> None:
    async with viewer(browser, morning, header=True) as page:
        await live(page)
        counts = page.get_by_role("region", name="Summary", exact=True)
        for text in ("8 pipelines", "1 done", "1 running", "0 ready", "2 not ready", "1 stale", "0 failed",
                     "1 retrying", "1 waiting", "1 excluded", "1 SLA at risk", "1 SLA breached"):
            await expect(counts).to_contain_text(re.compile(r"\s*".join(map(re.escape, text.split(" ")))))
        rows = page.locator("tbody tr")
        await expect(rows).to_have_count(8)
        await expect(rows.first).to_have_attribute("data-pipeline", "finance-revenue-report")  # blocked first
        finance = page.locator('tr[data-pipeline="finance-revenue-report"]')
        await expect(finance).to_contain_text("NOT READY")
        await expect(finance).to_contain_text("fx_rates has 0 rows for 2026-03-02")
        await expect(finance).to_contain_text("breached")
        agg = page.locator('tr[data-pipeline="orders-daily-agg"]')
        await expect(agg).to_contain_text("RUNNING")
        await expect(agg).to_contain_text("at risk")
        # one state per pipeline, in the words of `interlock status` and the API
        for name, state in (("raw-orders-ingest", "COMPLETED"), ("orders-daily-agg", "RUNNING"),
                            ("marketing-attribution", "NOT_READY"), ("inventory-snapshot", "STALE"),
                            ("customer-360", "WAITING"), ("weekend-digest", "EXCLUDED"),
                            ("payments-reconcile", "RETRYING")):
            await expect(page.locator(f'tr[data-pipeline="{name}"]')).to_have_attribute("data-state", state)
        await expect(page.locator('tr[data-pipeline="weekend-digest"]')).to_contain_text("EXCLUDED")
        await expect(page.locator('tr[data-pipeline="customer-360"]')).to_contain_text("WAITING")
        await expect(page.locator('tr[data-pipeline="inventory-snapshot"]')).to_contain_text("STALE")
        done = page.locator('tr[data-pipeline="raw-orders-ingest"]')
        await expect(done.locator(".blockers")).to_have_count(0)
        # 09:00 UTC is 10:00 in Berlin; UTC on hover
        deadline = agg.locator("time").last
        await expect(deadline).to_contain_text("10:00")
        await expect(deadline).to_have_attribute("title", "2026-03-02 09:00:00 UTC")
        assert ORCHESTRATOR_SECRET not in await page.content()
        await page.screenshot(path=str(screenshots / "overview.png"), full_page=True)


async def test_a_blocked_pipeline_shows_its_blocking_traits_and_reasons(browser: Browser, morning: Served,
                                                                        screenshots: Path) -> None:
    async with viewer(browser, morning, header=True) as page:
        await page.locator('tr[data-pipeline="finance-revenue-report"] a').click()
        await expect(page).to_have_url(re.compile(r"/pipelines/finance-revenue-report$"))
        await live(page)
        blocked = page.get_by_role("region", name="State", exact=True)
        await expect(blocked).to_contain_text("Blocked: 2 traits hold this pipeline")
        await expect(blocked).to_contain_text("upstream-complete")
        await expect(blocked).to_contain_text("orders-daily-agg has not completed for 2026-03-02")
        await expect(blocked).to_contain_text("TRANSIENT")
        row_count = page.locator('tr[data-trait="row-count"]')
        for text in ("FAIL", "blocking", "fx_rates has 0 rows", '"rows": 0', "TRANSIENT", "5 min ago", "2 h"):
            await expect(row_count).to_contain_text(text)
        cascade = page.get_by_role("region", name="Cascade", exact=True)
        await expect(cascade.get_by_role("link", name="orders-daily-agg")).to_be_visible()
        await expect(page.get_by_role("region", name="Events", exact=True)).to_contain_text("SLA breached")
        await expect(page.get_by_role("region", name="Today", exact=True)).to_contain_text("breached")
        await page.get_by_text("Show the pipeline's configuration").click()
        await expect(page.locator("pre.config")).to_contain_text('"Authorization": "***"')
        assert ORCHESTRATOR_SECRET not in await page.content()
        await page.get_by_text("Show the pipeline's configuration").click()
        await page.screenshot(path=str(screenshots / "blocked-pipeline.png"), full_page=True)


async def test_filter_and_sort_without_a_reload(browser: Browser, morning: Served) -> None:
    async with viewer(browser, morning, key=READ_KEY, header=True) as page:
        await live(page)
        await page.evaluate("window.__sameDocument = true")
        rows = page.locator("tbody tr")
        await page.get_by_label("Filter", exact=True).fill("orders")
        await expect(rows).to_have_count(3)  # two by name, one by a blocking reason
        await expect(page).to_have_url(re.compile(r"[?&]q=orders"))
        await page.get_by_label("Filter", exact=True).fill("")
        await page.get_by_label("State", exact=True).select_option("NOT_READY")
        await expect(rows).to_have_count(2)
        await page.get_by_label("State", exact=True).select_option("")
        await page.get_by_label("SLA", exact=True).select_option("at risk")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-pipeline", "orders-daily-agg")
        await page.get_by_label("SLA", exact=True).select_option("")
        await page.get_by_label("Sort by", exact=True).select_option("name")
        await expect(rows).to_have_count(8)
        await expect(rows.first).to_have_attribute("data-pipeline", "customer-360")
        await page.get_by_label("Order", exact=True).select_option("desc")
        await expect(rows.first).to_have_attribute("data-pipeline", "weekend-digest")
        assert await page.evaluate("window.__sameDocument") is True
        # the column headers sort too (a plain link) and the counts filter
        await page.get_by_role("link", name=re.compile("^Last run")).click()
        await expect(page.locator("th[aria-sort]")).to_contain_text("Last run")
        await expect(rows.first).to_have_attribute("data-pipeline", "payments-reconcile")
        await page.get_by_role("link", name=re.compile(r"1\s*stale")).click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-pipeline", "inventory-snapshot")


async def test_the_login_form_and_a_read_only_key(browser: Browser, morning: Served) -> None:
    async with viewer(browser, morning, key=None) as page:
        await page.goto("/pipelines/payments-reconcile")
        await expect(page).to_have_url(re.compile(r"/login\?next=%2Fpipelines%2Fpayments-reconcile$"))
        await page.get_by_label("API key", exact=True).fill("not-a-key")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("That is not an API key of this server.")
        await page.get_by_label("API key", exact=True).fill(READ_KEY)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(re.compile(r"/pipelines/payments-reconcile$"))
        await expect(page.get_by_role("heading", name="payments-reconcile")).to_be_visible()
        await expect(page.get_by_text("Read-only")).to_be_visible()
        await expect(page.get_by_role("button", name="Evaluate now")).to_have_count(0)
        await expect(page.get_by_role("button", name="Run")).to_have_count(0)
        cookies = {c["name"]: c for c in await page.context.cookies()}
        session = cookies["interlock_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict" and READ_KEY not in session["value"]
        assert await page.evaluate("document.cookie") == ""  # out of reach of scripts
        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(re.compile(r"/login$"))
        await page.goto("/")
        await expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))


# ---------------------------------------------------------------------------------- acting


async def test_the_evaluate_button_works_with_a_key_and_is_absent_without_one(browser: Browser,
                                                                              fresh: Served) -> None:
    async with viewer(browser, fresh, key=READ_KEY, header=True) as page:
        await page.goto("/pipelines/ledger")
        await expect(page.get_by_role("heading", name="ledger")).to_be_visible()
        await expect(page.get_by_role("button", name="Evaluate now")).to_have_count(0)
    async with viewer(browser, fresh) as page:
        await page.goto("/pipelines/ledger")
        await live(page)
        await page.evaluate("window.__sameDocument = true")
        await expect(page.locator("#headline-badge")).to_have_text("STALE")
        await page.get_by_role("button", name="Evaluate now").click()
        await expect(page.locator("#notice")).to_have_text("Evaluated ledger: NOT READY, blocked by source-ready")
        await expect(page.locator("#headline-badge")).to_have_text("NOT READY")
        trait = page.locator('tr[data-trait="source-ready"]')
        await expect(trait).to_contain_text("ledger_raw has no partition for today")
        await expect(trait).to_contain_text("TRANSIENT")
        await expect(page.get_by_role("region", name="Events", exact=True)).to_contain_text("Readiness checked")
        assert await page.evaluate("window.__sameDocument") is True
    readiness = await fresh.engine.store.get_readiness("ledger")
    assert readiness is not None and readiness.blocking == ["source-ready"]


async def test_a_run_completed_through_the_api_appears_without_a_reload(browser: Browser, fresh: Served) -> None:
    async with viewer(browser, fresh) as page, fresh.api() as api:
        await page.goto("/pipelines/billing")
        await live(page)
        await page.evaluate("window.__sameDocument = true")
        await page.get_by_role("button", name="Run", exact=True).click()
        await expect(page.locator("#notice")).to_contain_text("started for")
        runs = page.get_by_role("region", name="Runs", exact=True)
        await expect(runs.locator("tbody tr")).to_have_count(1)
        await expect(runs.locator("tbody tr").first).to_contain_text("RUNNING")
        run_id = await runs.locator("tbody tr").first.get_attribute("data-run")

        overview = await page.context.new_page()
        await overview.goto("/")
        await live(overview)
        await overview.evaluate("window.__sameDocument = true")
        row = overview.locator('tr[data-pipeline="billing"]')
        await expect(row).to_contain_text("RUNNING")

        completed = await api.post(f"/api/runs/{run_id}/complete", json={"status": "success"})
        assert completed.status_code == 200, completed.text
        await expect(runs.locator("tbody tr").first).to_contain_text("COMPLETED")
        await expect(page.get_by_role("region", name="Run logs", exact=True)).to_contain_text("COMPLETED")
        await expect(row).to_contain_text("COMPLETED")
        await expect(overview.locator("#counts")).to_contain_text(re.compile(r"0\s*running"))
        assert await page.evaluate("window.__sameDocument") is True
        assert await overview.evaluate("window.__sameDocument") is True

        await page.get_by_text("Rerun…").click()
        await page.get_by_label("Reason", exact=True).fill("late bank file replaced")
        await page.get_by_label("Even without new data").check()  # nothing changed since the run
        await page.get_by_role("button", name="Request rerun").click()
        await expect(page.locator("#notice")).to_contain_text("Rerun")
        await expect(page.get_by_role("region", name="Reruns", exact=True)).to_contain_text("late bank file replaced")
