"""Pipeline files against a running ``interlock serve`` (Redis, then SQLite): a file added while it runs
is picked up; deleting it retires the pipeline — the watcher stops evaluating and never triggers it,
however ready it becomes, and the API, the dashboard and ``interlock status`` show it retired — and
restoring the file brings it back, triggered as soon as it is ready. No restart at any point."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from tests.unit.test_cli_validate import interlock

from .support import Deployment, batch_pipeline, eventually

pytestmark = pytest.mark.e2e


async def pipeline_json(d: Deployment, name: str) -> dict[str, Any] | None:
    response = await d.client.get(f"/api/pipelines/{name}")
    return response.json() if response.status_code == 200 else None


async def retired(d: Deployment, name: str) -> dict[str, Any] | None:
    found = await pipeline_json(d, name)
    return found if found is not None and found.get("retiredAt") else None


async def active(d: Deployment, name: str) -> dict[str, Any] | None:
    found = await pipeline_json(d, name)
    return found if found is not None and not found.get("retiredAt") else None


async def test_a_deleted_pipeline_file_retires_the_pipeline_until_it_is_restored(deployment: Deployment) -> None:
    d, name = deployment, f"e2e-filed-{uuid.uuid4().hex[:6]}"
    path = d.served.root / "pipelines" / f"{name}.yaml"
    text = yaml.safe_dump(batch_pipeline(name, d.orchestrator))
    d.sensors.set(name, "upstream", False)  # not ready yet
    path.write_text(text)
    try:
        await eventually(lambda: active(d, name), what=f"serve to register {name} from its new file")
        await d.wait_event(name, "READINESS_CHECKED")  # the watcher evaluates it

        path.unlink()
        gone = await eventually(lambda: retired(d, name), what=f"{name} retired once its file is deleted")
        assert gone["origin"] == "file"
        await d.wait_event(name, "PIPELINE_RETIRED")
        await d.wait_intervals(1)  # an evaluation already under way as it retired records its result
        evaluated = len(await d.events(name, "READINESS_CHECKED"))
        d.sensors.ready(name)
        await d.wait_intervals(3)
        assert d.orchestrator.launches(name) == []  # ready, yet never triggered
        assert len(await d.events(name, "READINESS_CHECKED")) == evaluated  # nor evaluated
        refused = await d.client.post(f"/api/pipelines/{name}/run")
        assert refused.status_code == 409 and refused.json()["retired"] is True
        page = await d.client.get(f"/pipelines/{name}")
        assert page.status_code == 200 and "its pipeline file was deleted" in page.text
        status = interlock("status", "--json", cwd=d.served.root)
        assert status.returncode == 0, status.stderr
        [row] = [r for r in json.loads(status.stdout) if r["pipelineId"] == name]
        assert (row["registration"], row["state"], row["retiredAt"]) == ("retired", "RETIRED", gone["retiredAt"])

        path.write_text(text)
        await eventually(lambda: active(d, name), what=f"{name} restored once its file is back")
        [launch] = await d.wait_launch(name)  # ready all along: triggered at once
        run = await d.wait_run(name, "RUNNING")
        assert launch.run_id == run["runId"]
        await d.wait_event(name, "PIPELINE_RESTORED")
    finally:
        path.unlink(missing_ok=True)
        try:
            await eventually(lambda: retired(d, name), what=f"{name} retired again (clean-up)")
        finally:
            d.registered.append(name)  # a retired pipeline may be removed over the API

