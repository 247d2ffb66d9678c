"""Backfill over the API: ``POST /api/pipelines/{id}/backfill`` starts each cycle of the range through
the lifecycle and reports it; repeating the request launches nothing new; bad bodies get a 400 naming
the field."""

from __future__ import annotations

from typing import Any

from .conftest import Api

DAYS = ["2026-02-25", "2026-02-26", "2026-02-27"]


async def test_backfill_launches_each_cycle_once(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("sales", exclusions={"dates": [DAYS[1]]})

    answer = await api.client.post("/api/pipelines/sales/backfill", json={"from": DAYS[0], "to": DAYS[-1]})

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["pipelineId"], report["scheduleId"], report["ok"], report["wait"]) == ("sales", "daily", True, False)
    assert [(c["cycle"], c["result"]) for c in report["cycles"]] == [
        (DAYS[0], "running"), (DAYS[1], "excluded"), (DAYS[2], "running")]
    assert report["counts"] == {"running": 2, "excluded": 1}
    assert len(api.hook.requests) == 2

    again = (await api.client.post("/api/pipelines/sales/backfill", json={"from": DAYS[0], "to": DAYS[-1]})).json()
    assert again["counts"] == {"already_running": 2, "excluded": 1}
    assert len(api.hook.requests) == 2


async def test_bad_backfill_requests_name_the_field(make_api: Any) -> None:
    api: Api = await make_api()
    await api.register("sales")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"to": DAYS[0]}, "from"),
        ({"from": DAYS[0]}, "to"),
        ({"from": "2026-02-30", "to": DAYS[0]}, "from"),
        ({"from": DAYS[2], "to": DAYS[0]}, "from"),
        ({"from": "2020-01-01", "to": DAYS[0]}, "to"),
        ({"from": DAYS[0], "to": DAYS[1], "concurrency": 0}, "concurrency"),
        ({"from": DAYS[0], "to": DAYS[1], "scheduleId": "hourly"}, "scheduleId"),
    ]
    for body, field in cases:
        answer = await api.client.post("/api/pipelines/sales/backfill", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["field"] == field, (body, answer.json())
    missing = await api.client.post("/api/pipelines/nope/backfill", json={"from": DAYS[0], "to": DAYS[1]})
    assert missing.status_code == 404 and "error" in missing.json()
    assert api.hook.requests == []
