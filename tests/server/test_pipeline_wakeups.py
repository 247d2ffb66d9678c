"""Registering, replacing or deleting a pipeline over the API reaches the watchers at once (every
replica, through the notifier), not at their next pipeline-list refresh: a pipeline disabled or
deleted over the API must not be triggered seconds after the API answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interlock_core.ports import WakeUp

from .support import http_pipeline


async def test_register_and_delete_wake_the_watchers(make_api: Callable[..., Any]) -> None:
    api = await make_api(watcher=True)
    heard: list[WakeUp] = []
    api.engine.ctx.wake_listeners.append(heard.append)
    watcher = api.app.state.api.watcher

    await api.register("sales")
    assert [(w.pipeline_id, w.reason) for w in heard] == [("sales", "pipeline-registered")]
    assert "sales" in watcher._woken  # its next pass re-reads the pipeline list and looks at sales

    replaced = await api.client.post("/api/pipelines", json=http_pipeline("sales", api.hook.url,
                                                                           watch={"enabled": False}))
    assert replaced.status_code == 201
    deleted = await api.client.delete("/api/pipelines/sales")
    assert deleted.status_code == 204
    assert [w.reason for w in heard] == ["pipeline-registered", "pipeline-registered", "pipeline-deleted"]


async def test_a_refused_registration_wakes_nobody(make_api: Callable[..., Any]) -> None:
    api = await make_api(watcher=True)
    heard: list[WakeUp] = []
    api.engine.ctx.wake_listeners.append(heard.append)
    response = await api.client.post("/api/pipelines", json={"name": "UPPER", "archetype": "gate"})
    assert response.status_code == 400
    assert (await api.client.delete("/api/pipelines/missing")).status_code == 404
    assert heard == []
