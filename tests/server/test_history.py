"""Run logs and events."""

from __future__ import annotations

from .conftest import Api


async def test_run_logs(api: Api) -> None:
    await api.register("sales")
    assert (await api.client.get("/api/pipelines/sales/runlogs")).json() == []
    for day in ("2026-02-28", "2026-03-01"):
        await api.client.post("/api/pipelines/sales/run", json={"date": day})
    logs = (await api.client.get("/api/pipelines/sales/runlogs")).json()
    assert [e["date"] for e in logs] == ["2026-03-01", "2026-02-28"]
    assert len((await api.client.get("/api/pipelines/sales/runlogs?limit=1")).json()) == 1
    one = await api.client.get("/api/pipelines/sales/runlogs/2026-02-28")
    assert one.status_code == 200
    assert (one.json()["status"], one.json()["attemptNumber"]) == ("RUNNING", 1)
    scheduled = await api.client.get("/api/pipelines/sales/runlogs/2026-02-28?schedule=daily")
    assert scheduled.json() == one.json()
    other_schedule = await api.client.get("/api/pipelines/sales/runlogs/2026-02-28?schedule=hourly")
    assert other_schedule.status_code == 404
    missing = await api.client.get("/api/pipelines/sales/runlogs/2020-01-01")
    assert missing.status_code == 404
    assert missing.json()["error"] == "run log not found"
    bad = await api.client.get("/api/pipelines/sales/runlogs/yesterday")
    assert bad.status_code == 400
    assert bad.json()["field"] == "date"
    assert (await api.client.get("/api/pipelines/ghost/runlogs")).status_code == 404
    assert (await api.client.get("/api/pipelines/ghost/runlogs/2026-03-01")).status_code == 404


async def test_events_chronological_most_recent_n(api: Api) -> None:
    await api.register("sales")
    assert (await api.client.get("/api/pipelines/sales/events")).json() == []
    await api.client.post("/api/pipelines/sales/evaluate")  # TRAIT_EVALUATED, READINESS_CHECKED
    await api.client.post("/api/pipelines/sales/traits/signal", json={"status": "PASS"})  # TRAIT_PUSHED
    events = (await api.client.get("/api/pipelines/sales/events")).json()
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "TRAIT_PUSHED"
    assert kinds.index("TRAIT_EVALUATED") < kinds.index("READINESS_CHECKED") < kinds.index("TRAIT_PUSHED")
    last_two = (await api.client.get("/api/pipelines/sales/events?limit=2")).json()
    assert last_two == events[-2:]
    assert (await api.client.get("/api/pipelines/sales/events?limit=501")).status_code == 400
    assert (await api.client.get("/api/pipelines/sales/events?limit=500")).status_code == 200
    assert (await api.client.get("/api/pipelines/ghost/events")).status_code == 404
