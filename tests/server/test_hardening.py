"""Bad input never breaks the API: other spellings of a date, impossible days, garbled or deep
bodies, huge numbers; and /metrics labels stay bounded."""

from __future__ import annotations

from typing import Any

import pytest

from interlock_core.errors import ValidationError

from .conftest import Api


@pytest.mark.parametrize("date", ["20261201", "2026-W49-2", "2026-335", "2026-02-30", "notadate"])
async def test_run_and_evaluate_refuse_other_date_spellings(api: Api, date: str) -> None:
    await api.register("sales")
    for path in ("/api/pipelines/sales/run", "/api/pipelines/sales/evaluate"):
        response = await api.client.post(path, json={"date": date})
        assert response.status_code in (400, 422), response.text
        body = response.json()
        assert body["field"] == "date" and "error" in body
    assert len(api.hook.requests) == 0  # nothing was triggered


async def test_rerun_and_run_log_refuse_other_date_spellings(api: Api) -> None:
    await api.register("sales")
    response = await api.client.post("/api/pipelines/sales/rerun",
                                     json={"originalDate": "2026-W49-2", "reason": "again"})
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "originalDate"
    response = await api.client.get("/api/pipelines/sales/runlogs/20261201")
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "date"


async def test_the_engine_refuses_other_spellings_for_every_caller(api: Api) -> None:
    await api.register("sales")
    with pytest.raises(ValidationError):
        await api.engine.start_run("sales", None, "20261201")
    with pytest.raises(ValidationError):
        await api.engine.evaluate("sales", date="2026-W49-2")
    with pytest.raises(ValidationError):
        await api.engine.request_rerun("sales", "20261201", "again")


async def test_same_day_spelled_twice_is_one_cycle(api: Api) -> None:
    await api.register("sales")
    first = await api.client.post("/api/pipelines/sales/run", json={"date": "2026-12-01"})
    assert first.status_code in (200, 201, 202), first.text
    again: dict[str, Any] = (await api.client.post("/api/pipelines/sales/run", json={"date": "20261201"})).json()
    assert again.get("field") == "date"
    assert len(api.hook.requests) == 1
