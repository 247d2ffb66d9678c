"""`interlock serve` as a real process on an ephemeral port: the reference full lifecycle over
real HTTP, and a graceful SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process

from interlock_plugins.stores.sqlite import SQLiteStore

from .support import FIXTURE_EVALUATORS, http_pipeline, webhook_server, write_project

SERVER_EVALUATORS = Path(__file__).with_name("fixtures") / "evaluators"
START_TIMEOUT = 30.0
KEY = "e2e-key-7c1"


@dataclass
class Served:
    process: Process
    url: str
    output: list[str]

    async def read_rest(self) -> str:
        assert self.process.stdout is not None
        chunks = [chunk.decode() async for chunk in self.process.stdout]
        return "".join(self.output) + "".join(chunks)


@asynccontextmanager
async def interlock_serve(root: Path, *extra: str, env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    command = [sys.executable, "-m", "interlock_server.cli.main", "-C", str(root), "serve",
               "--host", "127.0.0.1", "--port", "0", *extra]
    environment = {**os.environ, "INTERLOCK_API_KEY": KEY, "NO_COLOR": "1", **(env or {})}
    process = await anyio.open_process(command, env=environment, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, cwd=str(root))
    try:
        assert process.stdout is not None
        output: list[str] = []
        with anyio.fail_after(START_TIMEOUT):
            buffer = ""
            while (match := re.search(r"listening on (http://\S+)", buffer)) is None:
                chunk = (await process.stdout.receive()).decode()
                buffer += chunk
        output.append(buffer)
        yield Served(process, match.group(1), output)
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(10):
            await process.wait()
        await process.aclose()


async def test_full_lifecycle_over_real_http(tmp_path: Path) -> None:
    with webhook_server() as hook:
        root = write_project(tmp_path)
        async with interlock_serve(root, "--no-watcher") as served, \
                httpx.AsyncClient(base_url=served.url, headers={"X-API-Key": KEY}, timeout=30) as client:
            assert (await client.get("/api/health", headers={"X-API-Key": ""})).json()["status"] == "ok"
            assert (await client.get("/api/pipelines", headers={"X-API-Key": "wrong"})).status_code == 401
            registered = await client.post("/api/pipelines", json=http_pipeline("sales", hook.url))
            assert registered.status_code == 201, registered.text
            evaluated = (await client.post("/api/pipelines/sales/evaluate")).json()
            assert evaluated["status"] == "READY"
            assert all(t["status"] == "PASS" for t in evaluated["traits"])
            assert (await client.get("/api/pipelines/sales/readiness")).json()["status"] == "READY"

            started = await client.post("/api/pipelines/sales/run")
            assert started.status_code == 202, started.text
            run = started.json()
            assert run["status"] == "RUNNING"
            callback = hook.last_header("X-Interlock-Callback-Url")
            assert callback == f"{served.url}/api/runs/{run['runId']}/complete"
            assert (await client.get(f"/api/runs/{run['runId']}")).json()["status"] == "RUNNING"

            # The orchestrator calls back the URL it was given, twice (at-least-once delivery).
            for _ in range(2):
                completed = await client.post(callback, json={"status": "success", "metadata": {"rows": 5000}})
                assert completed.status_code == 200
                assert completed.json()["status"] == "COMPLETED"
            final = (await client.get(f"/api/runs/{run['runId']}")).json()
            assert (final["status"], final["metadata"]["rows"]) == ("COMPLETED", 5000)

            kinds = [e["kind"] for e in (await client.get("/api/pipelines/sales/events")).json()]
            wanted = ["TRAIT_EVALUATED", "READINESS_CHECKED", "RUN_STATE_CHANGED", "CALLBACK_RECEIVED"]
            assert [kinds.index(k) for k in wanted] == sorted(kinds.index(k) for k in wanted)
            assert kinds.count("CALLBACK_RECEIVED") == 1
            metrics = (await client.get("/metrics")).text
            count = re.search(r'^interlock_evaluations_total\{[^}]*\} (\d+)', metrics, re.MULTILINE)
            assert count is not None and int(count.group(1)) > 0
            echoed = await client.get("/api/health", headers={"X-Request-ID": "e2e-1"})
            assert echoed.headers["x-request-id"] == "e2e-1"

            served.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                assert await served.process.wait() == 0
            assert "Server stopped gracefully" in await served.read_rest()


async def _lease_owner(db: Path, key: str) -> str | None:
    store = SQLiteStore(path=str(db))
    await store.start()
    try:
        return await store.lease_owner(key)
    finally:
        await store.close()


async def _wait_for_file(path: Path, within: float = 20.0) -> str:
    file = anyio.Path(path)
    with anyio.fail_after(within):
        while not await file.exists() or not (await file.read_text()).strip():
            await anyio.sleep(0.05)
    return (await file.read_text()).strip()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_sigterm_drains_requests_and_stops_the_watcher(tmp_path: Path) -> None:
    watcher_pid, request_pid = tmp_path / "watcher.pid", tmp_path / "request.pid"
    with webhook_server() as hook:
        watched = http_pipeline("watched", hook.url, evaluator="hold")
        watched["traits"]["source-ready"]["config"] = {"pidFile": str(watcher_pid), "seconds": 60}
        watched["traits"]["source-ready"]["timeout"] = 120
        asked = http_pipeline("asked", hook.url, evaluator="hold", watch={"enabled": False})
        asked["traits"]["source-ready"]["config"] = {"pidFile": str(request_pid), "seconds": 1.5}
        root = write_project(tmp_path / "project", pipelines=[watched, asked], config={
            "evaluatorDirs": [str(FIXTURE_EVALUATORS), str(SERVER_EVALUATORS)],
            "watcher": {"enabled": True, "defaultInterval": "1s"}})
        async with interlock_serve(root) as served, \
                httpx.AsyncClient(base_url=served.url, headers={"X-API-Key": KEY}, timeout=30) as client:
            held = int(await _wait_for_file(watcher_pid))  # the watcher is mid-evaluation, holding the lease
            assert await _lease_owner(root / "interlock.db", "cycle:watched:daily") is not None
            answers: list[Any] = []

            async def ask() -> None:
                answers.append(await client.post("/api/pipelines/asked/evaluate"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                await _wait_for_file(request_pid)  # the request is in flight
                served.process.send_signal(signal.SIGTERM)
            assert answers[0].status_code == 200  # drained, not dropped
            assert answers[0].json()["status"] == "READY"
            with anyio.fail_after(20):
                assert await served.process.wait() == 0
            output = await served.read_rest()
            assert "Received SIGTERM, shutting down..." in output
            assert "Server stopped gracefully" in output
        assert not _alive(held)  # the watcher's evaluator was killed with it
        assert await _lease_owner(root / "interlock.db", "cycle:watched:daily") is None
        assert hook.requests == []


async def test_without_a_key_the_server_answers_loopback_names_and_its_callback_host(tmp_path: Path) -> None:
    root = write_project(tmp_path, config={"server": {"addr": "127.0.0.1:0", "allowedHosts": ["gate.internal"]}})
    env = {"INTERLOCK_API_KEY": "", "INTERLOCK_PUBLIC_URL": "http://callbacks.example:8080"}
    async with interlock_serve(root, "--no-watcher", env=env) as served, \
            httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        for host, status in (("localhost:3000", 200), ("callbacks.example:8080", 200), ("gate.internal", 200),
                             ("rebound.evil.example", 421)):
            response = await client.get("/api/pipelines", headers={"Host": host})
            assert response.status_code == status, (host, response.text)


async def test_an_empty_configuration_serves_this_machine_without_a_key(tmp_path: Path) -> None:
    """``server.addr`` defaults to 127.0.0.1:3000, as documented: an empty interlock.yaml starts
    (no key needed) and listens on loopback only, never on every interface."""
    (tmp_path / "interlock.yaml").write_text("")
    command = [sys.executable, "-m", "interlock_server.cli.main", "-C", str(tmp_path), "serve", "--port", "0",
               "--no-watcher"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")} | {"NO_COLOR": "1"}
    process = await anyio.open_process(command, env=environment, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=str(tmp_path))
    try:
        assert process.stdout is not None and process.stderr is not None
        buffer = ""
        with anyio.fail_after(START_TIMEOUT):
            while "listening on" not in buffer:
                try:
                    buffer += (await process.stdout.receive()).decode()
                except anyio.EndOfStream:
                    error = b"".join([chunk async for chunk in process.stderr]).decode()
                    raise AssertionError(f"serve exited: {buffer}{error}") from None
        url = re.search(r"listening on (http://\S+)", buffer)
        assert url is not None and url.group(1).startswith("http://127.0.0.1:"), buffer
        async with httpx.AsyncClient(base_url=url.group(1), timeout=30) as client:
            assert (await client.get("/api/pipelines")).status_code == 200
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(10):
            await process.wait()
        await process.aclose()


async def test_serve_json_prints_json_lines(tmp_path: Path) -> None:
    """``serve --json``: standard output holds one JSON object per line (listening, the signal, stopped)."""
    root = write_project(tmp_path)
    command = [sys.executable, "-m", "interlock_server.cli.main", "-C", str(root), "serve", "--port", "0",
               "--no-watcher", "--json"]
    process = await anyio.open_process(command, env={**os.environ, "INTERLOCK_API_KEY": KEY},
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(root))
    try:
        assert process.stdout is not None
        buffer = ""
        with anyio.fail_after(START_TIMEOUT):
            while "\n" not in buffer:
                buffer += (await process.stdout.receive()).decode()
        first = json.loads(buffer.splitlines()[0])
        assert first["event"] == "listening" and first["url"].startswith("http://127.0.0.1:")
        assert (first["store"], first["watcher"], first["auth"]) == ("sqlite", False, True)
        async with httpx.AsyncClient(base_url=first["url"], headers={"X-API-Key": KEY}, timeout=30) as client:
            assert (await client.get("/api/pipelines")).status_code == 200
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        buffer += "".join([chunk.decode() async for chunk in process.stdout])
        lines = [json.loads(line) for line in buffer.splitlines() if line.strip()]
        assert [line["event"] for line in lines] == ["listening", "signal", "stopped"]
        assert lines[1]["signal"] == "SIGTERM"
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(10):
            await process.wait()
        await process.aclose()
