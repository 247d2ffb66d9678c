"""Late data (LATE_DATA_ARRIVAL, onLateData: rerun, an upstream that re-ran) and numeric drift
(POST_RUN_DRIFT against the baseline at completion), through watcher passes on a fake clock."""

from __future__ import annotations

from typing import Any

from interlock_core.engine import Engine
from interlock_core.model import DriftRule, EventKind, RerunSource, RunStatus
from interlock_core.model.monitoring import parse_threshold
from interlock_core.watcher import Watcher
from tests.helpers.project import Harness, MemoryAlerts, pipeline

S = RunStatus
DAY = "2026-03-02"


async def events(engine: Engine, kind: EventKind, name: str = "p1") -> list[dict[str, Any]]:
    return [e.to_json_dict() for e in await engine.store.list_events(name, 500) if e.kind is kind]


async def ran(engine: Engine, watcher: Watcher, name: str = "p1", rows: int = 10) -> None:
    await engine.push_trait(name, "freshness", "PASS", value={"lagSeconds": 30})
    await engine.push_trait(name, "volume", "PASS", value={"rows": rows})
    await watcher.run_once()
    entry = await engine.store.get_run_log(name, DAY, "daily")
    assert entry is not None and entry.status in (S.COMPLETED, S.COMPLETED_MONITORING), entry


async def test_late_data_is_recorded_and_alerted_once_per_cycle_and_trait(harness: Harness) -> None:
    harness.write([pipeline("p1", traits={})])
    alerts = MemoryAlerts()
    engine = await harness.engine(alerts=alerts)
    watcher = Watcher(engine)
    await ran(engine, watcher)
    run_id = (await engine.store.get_run_log("p1", DAY, "daily")).run_id  # type: ignore[union-attr]
    assert await engine.late_data.detect(await engine.get_pipeline("p1"), "daily", DAY) is None

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 11})  # after the run completed
    found = await engine.late_data.detect(await engine.get_pipeline("p1"), "daily", DAY)  # reads only
    assert found is not None and [c.trait_type for c in found.changes] == ["volume"]
    assert await events(engine, EventKind.LATE_DATA_ARRIVAL) == []
    await watcher.run_once()
    [late] = await events(engine, EventKind.LATE_DATA_ARRIVAL)
    assert (late["traitType"], late["runId"], late["date"], late["status"]) == ("volume", run_id, DAY, "VALUE")
    assert late["details"]["value"] == {"rows": 11} and late["details"]["arrivedAfterCompletion"] is True
    assert "no rerun (watch.onLateData: alert)" in late["message"]
    assert len([m for m in alerts.messages() if "late data" in m]) == 1

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 12})  # again: alerted once per trait
    await watcher.run_once()
    assert len(await events(engine, EventKind.LATE_DATA_ARRIVAL)) == 1
    await engine.push_trait("p1", "freshness", "PASS", value={"lagSeconds": 5})  # another trait
    harness.clock.advance(60)
    await watcher.run_once()
    assert [e["traitType"] for e in await events(engine, EventKind.LATE_DATA_ARRIVAL)] == ["volume", "freshness"]
    assert len([m for m in alerts.messages() if "late data" in m]) == 2
    assert await engine.store.list_reruns("p1") == []


async def test_on_late_data_rerun_asks_through_the_budget_and_the_breaker(harness: Harness) -> None:
    harness.write([pipeline("p1", traits={}, watch={"onLateData": "rerun"}, retry={"maxDriftReruns": 1})])
    alerts = MemoryAlerts()
    engine = await harness.engine(alerts=alerts)
    watcher = Watcher(engine)
    await ran(engine, watcher)

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 11})
    await watcher.run_once()  # late data, a rerun requested and started in the same pass
    [record] = await engine.store.list_reruns("p1")
    assert record.source is RerunSource.LATE_DATA and record.status is S.COMPLETED, record
    [late] = await events(engine, EventKind.LATE_DATA_ARRIVAL)
    assert late["details"]["rerunId"] == record.rerun_id and "requested" in late["details"]["action"]
    [accepted] = await events(engine, EventKind.RERUN_ACCEPTED)
    assert (accepted["details"]["source"], accepted["details"]["budget"]) == ("late-data", "maxDriftReruns")
    rerun_run = await engine.store.get_run(record.rerun_run_id or "")
    assert rerun_run is not None and rerun_run.inputs is not None

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 12})  # late again: the budget is spent
    await watcher.run_once()
    assert len(await engine.store.list_reruns("p1")) == 1
    [rejected] = await events(engine, EventKind.RERUN_REJECTED)
    assert (rejected["details"]["reason"], rejected["details"]["budget"], rejected["details"]["used"]) == (
        "budget exhausted", "maxDriftReruns", 1)
    second = (await events(engine, EventKind.LATE_DATA_ARRIVAL))[-1]
    assert second["runId"] == rerun_run.run_id and second["details"]["action"] == "rerun rejected: budget exhausted"
    assert [m for m in alerts.messages() if "retry.maxDriftReruns" in m]


async def test_an_upstream_that_ran_again_is_late_data_and_reruns_downstream(harness: Harness) -> None:
    upstream_trait = {"evaluator": "builtin:upstream-job-log", "config": {"upstreamPipeline": "up"}}
    harness.write([pipeline("up", traits={}),
                   pipeline("down", traits={"freshness": upstream_trait}, watch={"onLateData": "rerun"})])
    engine = await harness.engine()
    watcher = Watcher(engine)
    for name, trait in (("up", "freshness"), ("up", "volume"), ("down", "volume")):
        await engine.push_trait(name, trait, "PASS", value={"n": 1})
    await watcher.run_once()
    await watcher.run_once()
    down = await engine.store.get_run_log("down", DAY, "daily")
    up = await engine.store.get_run_log("up", DAY, "daily")
    assert down is not None and up is not None and down.status is S.COMPLETED
    first = await engine.store.get_run(down.run_id or "")
    assert first is not None and first.inputs is not None and first.inputs.upstream_runs == {"freshness": up.run_id}

    rerun, outcome = await engine.request_rerun("up", DAY, "reloaded upstream", force=True)
    assert outcome is not None and rerun.status is S.COMPLETED  # its cascade marker wakes down
    await watcher.run_once()
    [late] = await events(engine, EventKind.LATE_DATA_ARRIVAL, "down")
    assert (late["traitType"], late["status"], late["details"]["after"]) == ("freshness", "UPSTREAM",
                                                                             rerun.rerun_run_id)
    [cascaded] = await engine.store.list_reruns("down")
    assert cascaded.source is RerunSource.CASCADE and cascaded.status is S.COMPLETED
    again = await engine.store.get_run(cascaded.rerun_run_id or "")
    assert again is not None and again.inputs is not None
    assert again.inputs.upstream_runs == {"freshness": rerun.rerun_run_id}


async def test_numeric_drift_beyond_the_threshold_reruns_within_it_is_tolerated(harness: Harness) -> None:
    monitoring = {"enabled": True, "duration": "1h", "driftTrait": "volume", "driftField": "$.rows",
                  "driftThreshold": "10%"}
    harness.write([pipeline("p1", traits={}, watch={"monitoring": monitoring})])
    alerts = MemoryAlerts()
    engine = await harness.engine(alerts=alerts)
    watcher = Watcher(engine)
    await ran(engine, watcher, rows=1000)
    entry = await engine.store.get_run_log("p1", DAY, "daily")
    run = await engine.store.get_run(entry.run_id or "")  # type: ignore[union-attr]
    assert run is not None and run.status is S.COMPLETED_MONITORING
    assert run.drift_baseline is not None and (run.drift_baseline.value, run.drift_baseline.field) == (1000, "$.rows")

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 1050})  # 5%: within the threshold
    await watcher.run_once()
    assert await events(engine, EventKind.POST_RUN_DRIFT) == []
    assert await events(engine, EventKind.LATE_DATA_ARRIVAL) == []  # the drift trait is judged by its number
    assert (await engine.store.get_run(run.run_id)).status is S.COMPLETED_MONITORING  # type: ignore[union-attr]

    await engine.push_trait("p1", "volume", "PASS", value={"rows": 1500})  # 50%
    await watcher.run_once()
    [drift] = await events(engine, EventKind.POST_RUN_DRIFT)
    details = drift["details"]
    assert (details["baseline"], details["current"], details["threshold"], drift["traitType"]) == (
        1000, 1500, "10%", "volume")
    [record] = await engine.store.list_reruns("p1")
    assert record.source is RerunSource.DRIFT and details["rerunId"] == record.rerun_id
    assert record.original_run_id == run.run_id and record.status is S.COMPLETED_MONITORING  # it ran
    assert (await engine.store.get_run(run.run_id)).status is S.COMPLETED  # type: ignore[union-attr]
    assert [m for m in alerts.messages() if "drifted from 1000 to 1500" in m]


def test_drift_thresholds_absolute_and_relative() -> None:
    from interlock_core.jsonpath import parse_path

    absolute = DriftRule("volume", parse_path("$.rows"), *parse_threshold(500))
    assert not absolute.beyond(1000, 1500) and absolute.beyond(1000, 1500.5) and absolute.beyond(1000, 499)
    relative = DriftRule("volume", parse_path("$.rows"), *parse_threshold("10%"))
    assert not relative.beyond(-1000, -1100) and relative.beyond(-1000, -1101)
    assert relative.beyond(0, 1) and not relative.beyond(0, 0)
