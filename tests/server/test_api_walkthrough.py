"""docs/api.md's walkthrough, run as written against a real ``interlock serve`` on a fresh ``interlock
init`` project: the pipeline of the page is registered, evaluated, refused, pushed, run and completed,
and what the page shows of the answers (the events above all) is what the server answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx

from interlock_server.cli.scaffold import scaffold

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
KEY = "walkthrough-key-5d1"
START_TIMEOUT = 30.0


def _doc() -> str:
    return API_DOC.read_text()


def documented_pipeline(port: int) -> dict[str, Any]:
    body = re.search(r"cat > orders\.json <<'EOF'\n(.*?)\nEOF", _doc(), re.S)
    assert body is not None
    pipeline: dict[str, Any] = json.loads(body.group(1).replace("127.0.0.1:3000", f"127.0.0.1:{port}"))
    return pipeline


def documented_events() -> list[dict[str, str]]:
    """The string fields of each event the page shows for ``events?limit=6``."""
    text = _doc()
    start = text.index('"$B/api/pipelines/orders-daily/events?limit=6"')
    lines = text[start:].splitlines()[1:]
    shown = []
    for line in lines:
        if not line.startswith("#"):
            break
        shown.append(dict(re.findall(r'"(\w+)":"([^"]*)"', line)))
    return shown


async def test_the_walkthrough_answers_what_the_page_shows(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    root = tmp_path / "demo"
    scaffold(root)  # interlock init demo
    command = [sys.executable, "-m", "interlock_server.cli.main", "serve", "--port", "0", "--json"]
    process = await anyio.open_process(command, env={**env, "INTERLOCK_API_KEY": KEY}, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, cwd=str(root))
    try:
        assert process.stdout is not None
        buffer = ""
        with anyio.fail_after(START_TIMEOUT):
            while "\n" not in buffer:
                buffer += (await process.stdout.receive()).decode()
        url = json.loads(buffer.splitlines()[0])["url"]
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as client:
            await _walk(client, int(url.rsplit(":", 1)[1]))
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(10):
            await process.wait()
        await process.aclose()


async def _walk(client: httpx.AsyncClient, port: int) -> None:
    registered = await client.post("/api/pipelines", json=documented_pipeline(port))
    assert registered.status_code == 201, registered.text
    evaluated = (await client.post("/api/pipelines/orders-daily/evaluate")).json()
    assert (evaluated["status"], evaluated["blocking"]) == ("NOT_READY", ["upstream-dependency (STALE)"])
    refused = await client.post("/api/pipelines/orders-daily/run")
    assert refused.status_code == 412
    pushed = await client.post("/api/pipelines/orders-daily/traits/upstream-dependency",
                               json={"status": "PASS", "reason": "orders-raw landed", "ttl": 3600})
    assert pushed.status_code == 201
    assert (await client.get("/api/pipelines/orders-daily/readiness")).json()["status"] == "READY"
    started = await client.post("/api/pipelines/orders-daily/run")
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["status"], run["attempt"], run["triggerType"]) == ("RUNNING", 1, "http")
    for _ in range(2):
        completed = await client.post(f"/api/runs/{run['runId']}/complete",
                                      json={"status": "success", "metadata": {"rows": 150000}})
        assert (completed.status_code, completed.json()["status"]) == (200, "COMPLETED")
    assert (await client.post("/api/pipelines/orders-daily/run")).status_code == 409

    events = (await client.get("/api/pipelines/orders-daily/events", params={"limit": 6})).json()
    shown = documented_events()
    assert len(shown) == len(events) == 6
    said = [(e["kind"], e.get("status")) for e in events]
    documented = [(e["kind"], e.get("status")) for e in shown]
    assert said == documented
    for doc_event, event in zip(shown, events, strict=True):
        assert set(doc_event) <= set(event), (doc_event, event)  # every field the page shows is there
        for key in ("pipelineId", "scheduleId", "status", "kind"):
            assert doc_event.get(key, event.get(key)) == event.get(key)
    # the two trait results: whichever order their evaluators finished in
    assert sorted(e["traitType"] for e in events[:2]) == sorted(e["traitType"] for e in shown[:2])
    assert all(e["runId"] == run["runId"] for e in events[3:])
