"""Alerts are edge-triggered (a trait alerts when it turns FAIL, a pipeline when it becomes
blocked), however often the pipeline is evaluated and by whom."""

from __future__ import annotations

import anyio
import pytest

from .support import Deployment, batch_pipeline

pytestmark = pytest.mark.e2e


def _counts(d: Deployment, name: str) -> tuple[int, int]:
    messages = [a["message"] for a in d.alerts(name)]
    return (sum("blocked by" in m for m in messages),
            sum(m.startswith("Trait resource-availability failed") for m in messages))


async def test_repeated_evaluations_alert_once(deployment: Deployment) -> None:
    d, name = deployment, "e2e-alert-once"
    d.sensors.ready(name)
    d.sensors.set(name, "record-count", 10)
    await d.register(batch_pipeline(name, d.orchestrator, watch={"enabled": False}))
    for _ in range(3):
        assert (await d.post(f"/api/pipelines/{name}/evaluate"))["status"] == "NOT_READY"
    await d.wait_alert(name, "blocked by")
    await anyio.sleep(0.5)  # the alert worker has delivered everything queued
    assert _counts(d, name) == (1, 1)


async def test_concurrent_evaluations_alert_once(deployment: Deployment) -> None:
    d, name = deployment, "e2e-alert-race"
    d.sensors.ready(name)
    d.sensors.set(name, "record-count", 10)
    await d.register(batch_pipeline(name, d.orchestrator, watch={"enabled": False}))

    async def evaluate() -> None:
        await d.post(f"/api/pipelines/{name}/evaluate")

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(evaluate)
    await d.wait_alert(name, "blocked by")
    await anyio.sleep(0.5)
    assert _counts(d, name) == (1, 1)
