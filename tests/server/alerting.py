"""An engine with real alert sinks (console and ``alerts.log``), a full and a read-only key, and
the app over it: for tests that read back everything a pipeline's outputs show."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import httpx

from interlock_core.engine import Engine
from interlock_core.model import PipelineConfig, PipelineOrigin

KEY, READER = "full-alerting-1", "reader-alerting-1"
DATE = "2026-03-02"


def alerting_config(**extra: Any) -> dict[str, Any]:
    return {
        "alerts": [{"type": "console"}, {"type": "file", "path": "alerts.log"}],
        "server": {"addr": "127.0.0.1:0", "apiKey": KEY, "readOnlyApiKeys": [READER]},
        **extra,
    }


class AlertingApi:
    def __init__(self, root: Path, engine: Engine, client: httpx.AsyncClient) -> None:
        self.root, self.engine, self.client = root, engine, client

    async def store_api_pipeline(self, data: dict[str, Any]) -> None:
        """As the API stores a pipeline, its checks bypassed (say, registered before they existed)."""
        pipeline = PipelineConfig.model_validate(data).model_copy(update={"origin": PipelineOrigin.API})
        await self.engine.store.put_pipeline(pipeline)

    async def read(self, path: str, key: str = READER) -> str:
        response = await self.client.get(path, headers={"X-API-Key": key})
        return html.unescape(response.text)

    async def alerts(self) -> str:
        await self.engine.ctx.alerts.flush(10)  # type: ignore[attr-defined]
        alerts_log = self.root / "alerts.log"
        return alerts_log.read_text() if alerts_log.exists() else ""

    async def everything_shown(self, name: str) -> str:
        """What anyone may read about ``name``: API answers to both keys, the pipeline's page, the alerts."""
        texts = [await self.alerts()]
        for key in (KEY, READER):
            for path in (f"/api/pipelines/{name}/events", f"/api/pipelines/{name}/runlogs",
                         f"/api/pipelines/{name}/runlogs/{DATE}", f"/api/pipelines/{name}/traits",
                         f"/api/pipelines/{name}/readiness", f"/api/pipelines/{name}", f"/pipelines/{name}", "/"):
                texts.append(await self.read(path, key))
        for run in await self.engine.store.list_runs(name, 10):
            texts.append(await self.read(f"/api/runs/{run.run_id}"))
            texts.append(run.model_dump_json())  # as stored
        return "\n".join(texts)
