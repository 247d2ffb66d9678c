"""Readiness: evaluate (real subprocess evaluators), stored readiness, trait results, pushed traits."""

from __future__ import annotations

import anyio
import anyio.lowlevel

from interlock_plugins.stores.sqlite_notify import SQLiteNotifier

from .conftest import Api


async def test_evaluate_runs_the_evaluators(api: Api) -> None:
    await api.register("sales")
    response = await api.client.post("/api/pipelines/sales/evaluate")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "READY"
    assert body["blocking"] == []
    assert [(t["traitType"], t["status"]) for t in body["traits"]] == [("source-ready", "PASS")]
    readiness = (await api.client.get("/api/pipelines/sales/readiness")).json()
    assert readiness["status"] == "READY"


async def test_evaluate_not_ready_names_the_blocking_trait(api: Api) -> None:
    await api.register("blocked", evaluator="fail")
    body = (await api.client.post("/api/pipelines/blocked/evaluate")).json()
    assert body["status"] == "NOT_READY"
    assert body["blocking"] == ["source-ready"]
    assert body["traits"][0]["reason"] == "deliberate test failure"


async def test_evaluate_on_an_excluded_day_says_the_calendar_excludes_it(api: Api) -> None:
    await api.register("weekdays", exclusions={"days": ["Saturday", "Sunday"]})
    saturday = await api.client.post("/api/pipelines/weekdays/evaluate", json={"date": "2026-03-07"})
    body = saturday.json()
    assert (saturday.status_code, body["status"]) == (200, "READY")  # the traits pass …
    assert body["excluded"].startswith("2026-03-07 is excluded by weekdays's calendar")  # … but it does not run
    monday = (await api.client.post("/api/pipelines/weekdays/evaluate", json={"date": "2026-03-09"})).json()
    assert monday["status"] == "READY" and "excluded" not in monday


async def test_evaluate_takes_a_cycle_and_validates_it(api: Api) -> None:
    await api.register("sales")
    ok = await api.client.post("/api/pipelines/sales/evaluate", json={"scheduleId": "daily", "date": "2026-03-01"})
    assert ok.status_code == 200
    assert ok.json()["date"] == "2026-03-01"
    bad = await api.client.post("/api/pipelines/sales/evaluate", json={"date": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "date"
    unknown = await api.client.post("/api/pipelines/sales/evaluate", json={"scheduleId": "hourly"})
    assert unknown.status_code == 404


async def test_evaluate_and_readiness_of_unknown_pipeline_are_404(api: Api) -> None:
    for response in (await api.client.post("/api/pipelines/ghost/evaluate"),
                     await api.client.get("/api/pipelines/ghost/readiness"),
                     await api.client.get("/api/pipelines/ghost/traits"),
                     await api.client.get("/api/pipelines/ghost/traits/source-ready")):
        assert response.status_code == 404
        assert response.json()["error"] == "pipeline 'ghost' not found"


async def test_traits_list_is_empty_then_filled(api: Api) -> None:
    await api.register("sales")
    assert (await api.client.get("/api/pipelines/sales/traits")).json() == []
    missing = await api.client.get("/api/pipelines/sales/traits/source-ready")
    assert missing.status_code == 404
    assert missing.json()["error"] == "trait not found or expired"
    await api.client.post("/api/pipelines/sales/evaluate")
    traits = (await api.client.get("/api/pipelines/sales/traits")).json()
    assert [t["traitType"] for t in traits] == ["source-ready"]
    one = await api.client.get("/api/pipelines/sales/traits/source-ready")
    assert one.status_code == 200
    assert one.json()["status"] == "PASS"


async def test_push_trait_stores_it_and_wakes_the_pipeline(api: Api) -> None:
    await api.register("sales")
    notifier = api.engine.ctx.notifier
    assert isinstance(notifier, SQLiteNotifier)  # the project's store is a SQLite file
    woken: list[str] = []
    subscribed = anyio.Event()

    async def listen() -> None:
        stream = notifier.subscribe()
        subscribed.set()
        async for wake in stream:
            woken.append(wake.pipeline_id)
            return

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        await subscribed.wait()
        await anyio.lowlevel.checkpoint()
        response = await api.client.post("/api/pipelines/sales/traits/signal",
                                         json={"status": "PASS", "value": {"rows": 10}, "reason": "landed",
                                               "ttl": 0})
        with anyio.fail_after(5):
            while not woken:
                await anyio.sleep(0.01)
    assert response.status_code == 201
    body = response.json()
    assert (body["traitType"], body["status"], body["value"], body["source"]) == ("signal", "PASS", {"rows": 10},
                                                                                  "pushed")
    assert "expiresAt" not in body
    assert woken == ["sales"]
    stored = (await api.client.get("/api/pipelines/sales/traits/signal")).json()
    assert stored["reason"] == "landed"
    events = (await api.client.get("/api/pipelines/sales/events")).json()
    assert events[-1]["kind"] == "TRAIT_PUSHED"


async def test_pushed_required_trait_makes_a_pipeline_ready(api: Api) -> None:
    body = {"name": "pushed", "archetype": "gate", "trigger": {"type": "http", "url": api.hook.url}}
    assert (await api.client.post("/api/pipelines", json=body)).status_code == 201
    assert (await api.client.get("/api/pipelines/pushed/readiness")).json()["status"] == "NOT_READY"
    pushed = await api.client.post("/api/pipelines/pushed/traits/source-ready", json={"status": "PASS", "ttl": 60})
    assert pushed.status_code == 201
    assert "expiresAt" in pushed.json()
    assert (await api.client.get("/api/pipelines/pushed/readiness")).json()["status"] == "READY"


async def test_push_trait_errors(api: Api) -> None:
    await api.register("sales")
    invalid = await api.client.post("/api/pipelines/sales/traits/signal", json={"status": "MAYBE"})
    assert invalid.status_code == 400
    assert invalid.json()["field"] == "status"
    lowercase = await api.client.post("/api/pipelines/sales/traits/signal", json={"status": "pass"})
    assert lowercase.status_code == 400
    negative_ttl = await api.client.post("/api/pipelines/sales/traits/signal", json={"status": "PASS", "ttl": -1})
    assert negative_ttl.json()["field"] == "ttl"
    undefined = await api.client.post("/api/pipelines/sales/traits/made-up", json={"status": "PASS"})
    assert undefined.status_code == 400
    assert undefined.json()["field"] == "traitType"
    ghost = await api.client.post("/api/pipelines/ghost/traits/signal", json={"status": "MAYBE"})
    assert ghost.status_code == 404  # the pipeline is checked before the body
    assert (await api.client.get("/api/pipelines/sales/traits")).json() == []
