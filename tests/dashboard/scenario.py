"""A morning at a data team, played through the real engine: what the screenshots show.

Eight pipelines on one archetype, each trait answered by the ``scripted`` evaluator (a real
subprocess that answers what its trait config says). The clock is fake: the story runs from
06:00 to 08:40 UTC on Monday 2 March 2026, with runs launched through a real webhook and
completed or failed through the engine's callbacks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from interlock_core.clock import FakeClock
from interlock_core.engine import Engine
from interlock_core.model import FailureCategory

DASHBOARD_EVALUATORS = Path(__file__).with_name("fixtures") / "evaluators"
DAY = "2026-03-02"  # a Monday
MORNING = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 8, 40, tzinfo=UTC)
ORCHESTRATOR_SECRET = "s3cr3t-orchestrator-token"
"""Written into every trigger: the pages must never show it."""

BATCH_ARCHETYPE = {
    "name": "batch",
    "description": "A daily batch job: fresh sources, finished upstreams, enough rows.",
    "requiredTraits": [
        {"type": "source-freshness", "defaultTtl": 7200, "defaultTimeout": 10},
        {"type": "upstream-complete", "defaultTtl": 7200, "defaultTimeout": 10},
        {"type": "row-count", "defaultTtl": 7200, "defaultTimeout": 10},
    ],
    "optionalTraits": [{"type": "schema-contract", "defaultTtl": 86400}],
    "readinessRule": {"type": "all-required-pass"},
}


def _trait(status: str = "PASS", reason: str | None = None, value: dict[str, Any] | None = None,
           category: str | None = None, upstream: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"status": status}
    if reason:
        config["reason"] = reason
    if value is not None:
        config["value"] = value
    if category:
        config["failureCategory"] = category
    if upstream:
        config["upstreamPipeline"] = upstream
    return {"evaluator": "scripted", "config": config}


def _pipeline(name: str, description: str, hook_url: str, *, tier: int = 2, deadline: str | None = None,
              after: str | None = None, traits: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    fresh = _trait(value={"lagMinutes": 12, "limitMinutes": 120})
    schedule: dict[str, Any] = {"name": "daily"}
    if deadline:
        schedule["deadline"] = deadline
    if after:
        schedule["after"] = after
    data: dict[str, Any] = {
        "name": name, "archetype": "batch", "description": description, "tier": tier,
        "traits": {"source-freshness": fresh, "upstream-complete": _trait(reason="no upstream"),
                   "row-count": _trait(value={"rows": 48210, "min": 1000}), **(traits or {})},
        "trigger": {"type": "http", "method": "POST", "url": hook_url, "body": {"pipeline": name},
                    "headers": {"Authorization": f"Bearer {ORCHESTRATOR_SECRET}"}},
        "retry": {"maxAttempts": 3, "backoffSeconds": 1800},
        "schedules": [schedule],
    }
    data.update(extra)
    return data


def morning_pipelines(hook_url: str) -> list[dict[str, Any]]:
    return [
        _pipeline("raw-orders-ingest", "Loads yesterday's orders from the shop database.", hook_url, tier=1,
                  deadline="07:00"),
        _pipeline("orders-daily-agg", "Orders per day, region and channel.", hook_url, tier=1, deadline="09:00",
                  traits={"upstream-complete": _trait(reason="raw-orders-ingest completed for 2026-03-02",
                                                      upstream="raw-orders-ingest")}),
        _pipeline("finance-revenue-report", "Daily revenue report for the finance team.", hook_url, deadline="08:30",
                  traits={
                      "upstream-complete": _trait(
                          "FAIL", "orders-daily-agg has not completed for 2026-03-02 (RUNNING since 06:15 UTC)",
                          {"upstream": "orders-daily-agg", "status": "RUNNING"}, upstream="orders-daily-agg"),
                      "row-count": _trait("FAIL", "fx_rates has 0 rows for 2026-03-02 (expected at least 150)",
                                          {"table": "fx_rates", "rows": 0, "min": 150}, "TRANSIENT")}),
        _pipeline("marketing-attribution", "Multi-touch attribution over the click stream.", hook_url,
                  deadline="12:00",
                  traits={"source-freshness": _trait(
                      "FAIL", "events.clickstream was last loaded 7 h ago (limit: 2 h)",
                      {"table": "events.clickstream", "lagMinutes": 420, "limitMinutes": 120}, "TRANSIENT")}),
        _pipeline("inventory-snapshot", "Nightly stock levels per warehouse.", hook_url, tier=3),
        _pipeline("customer-360", "Customer profile tables for the CRM.", hook_url, deadline="14:00", after="10:00"),
        _pipeline("weekend-digest", "Weekly digest, built on weekdays only.", hook_url, tier=3,
                  exclusions={"days": ["Monday"]}),
        _pipeline("payments-reconcile", "Matches payouts against bank statements.", hook_url, tier=1,
                  deadline="10:00"),
    ]


async def play_morning(engine: Engine, clock: FakeClock) -> None:
    """06:00 to 08:40: the runs, callbacks and evaluations behind the overview."""
    clock.set(MORNING)
    ingest = await engine.start_run("raw-orders-ingest")
    assert ingest.run is not None, ingest.message
    clock.advance(timedelta(minutes=12))
    await engine.complete_run(ingest.run.run_id, "success")
    clock.advance(timedelta(minutes=3))
    agg = await engine.start_run("orders-daily-agg")  # 06:15, still running at 08:40
    assert agg.run is not None, agg.message

    clock.set(MORNING + timedelta(hours=1))  # 07:00: payments fails twice
    first = await engine.start_run("payments-reconcile")
    assert first.run is not None, first.message
    clock.advance(timedelta(minutes=5))
    await engine.fail_run(first.run.run_id, "Spark executor lost on worker 7", FailureCategory.TRANSIENT)
    clock.advance(timedelta(minutes=35))
    second = await engine.start_run("payments-reconcile")
    assert second.run is not None, second.message
    clock.advance(timedelta(minutes=10))
    await engine.fail_run(second.run.run_id, "bank statement file not yet delivered (sftp: no such file)",
                          FailureCategory.TRANSIENT)

    clock.set(NOW - timedelta(minutes=5))  # fresh verdicts for everyone but inventory-snapshot
    for name in ("raw-orders-ingest", "orders-daily-agg", "finance-revenue-report", "marketing-attribution",
                 "customer-360", "weekend-digest"):
        await engine.evaluate(name)
    await engine.push_trait("finance-revenue-report", "schema-contract", "PASS", reason="contract v12 matches")
    clock.set(NOW)
    finance = await engine.get_pipeline("finance-revenue-report")
    schedule = finance.resolved_schedules()[0]
    await engine.sla.check_completion(finance, schedule, DAY, await engine.store.get_run_log(finance.name, DAY,
                                                                                              "daily"))
