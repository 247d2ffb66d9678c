"""Values expanded from ``api.allowedEnv`` (and, for pipeline files, from the environment) never come
back in any text derived from the expanded field: the run's failure message, its events, the
alerts (console and file sinks), the API (to a read-only key too), the dashboard and the logs.

The leaks: an invalid header value quoted by httpx (``Illegal header value b'a\\norch-…'``), an
unresolvable host, an AWS region quoted by botocore."""

from __future__ import annotations

import html
import io
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.model import PipelineConfig, PipelineOrigin, RunStatus
from interlock_core.redaction import EXPANDED, redact_text
from interlock_server.app import create_app
from interlock_server.logging import configure_logging

from .support import http_pipeline, write_project

TOKEN = "orch-ok-3x4mpl3"
KEY, READER = "full-expanded-1", "reader-expanded-1"
DATE = "2026-03-02"


@pytest.fixture(autouse=True)
def forget_expanded() -> Iterator[None]:
    """Each test starts with an empty registry, as a fresh process would."""
    EXPANDED.clear()
    yield
    EXPANDED.clear()


class Setup:
    def __init__(self, root: Path, engine: Engine, client: httpx.AsyncClient) -> None:
        self.root, self.engine, self.client = root, engine, client

    async def store_api_pipeline(self, data: dict[str, Any]) -> None:
        """As the API stores a pipeline, its checks bypassed (say, registered before they existed)."""
        pipeline = PipelineConfig.model_validate(data).model_copy(update={"origin": PipelineOrigin.API})
        await self.engine.store.put_pipeline(pipeline)

    async def everything_shown(self, name: str) -> str:
        """What anyone may read about ``name``: API answers to both keys, the pipeline's page, the alerts."""
        await self.engine.ctx.alerts.flush(10)  # type: ignore[attr-defined]
        texts = []
        for key in (KEY, READER):
            for path in (f"/api/pipelines/{name}/events", f"/api/pipelines/{name}/runlogs",
                         f"/api/pipelines/{name}/runlogs/{DATE}"):
                texts.append((await self.client.get(path, headers={"X-API-Key": key})).text)
            texts.append(html.unescape((await self.client.get(f"/pipelines/{name}",
                                                               headers={"X-API-Key": key})).text))
        for run in await self.engine.store.list_runs(name, 10):
            texts.append((await self.client.get(f"/api/runs/{run.run_id}", headers={"X-API-Key": READER})).text)
            texts.append(run.model_dump_json())  # as stored
        alerts_log = self.root / "alerts.log"
        texts.append(alerts_log.read_text() if alerts_log.exists() else "")
        return "\n".join(texts)


@pytest.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., Any]]:
    monkeypatch.setenv("ORCH_TOKEN", TOKEN)
    engines: list[Engine] = []
    clients: list[httpx.AsyncClient] = []

    async def make(pipelines: list[dict[str, Any]] | None = None) -> Setup:
        root = write_project(tmp_path / f"project{len(engines)}", pipelines=pipelines, config={
            "api": {"allowedEnv": ["ORCH_TOKEN"]},
            "alerts": [{"type": "console"}, {"type": "file", "path": "alerts.log"}],
            "server": {"addr": "127.0.0.1:0", "apiKey": KEY, "readOnlyApiKeys": [READER]},
        })
        project = load_project(root)
        engine = build_engine(project, clock=FakeClock())
        await start_engine(engine, project)
        engines.append(engine)
        app = create_app(engine, server=project.config.server, env={})
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
        clients.append(client)
        return Setup(root, engine, client)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.aclose()


@pytest.fixture
def echo() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/run"
    finally:
        server.shutdown()
        server.server_close()


def with_header(name: str, url: str, value: str) -> dict[str, Any]:
    data = http_pipeline(name, url)
    data["trigger"]["headers"] = {"X-Orch": value}
    return data


async def test_an_invalid_header_value_never_shows_the_expanded_value(
        setup: Callable[..., Any], capsys: pytest.CaptureFixture[str], echo: str) -> None:
    made: Setup = await setup()
    await made.store_api_pipeline(with_header("leaky", echo, "a\n${ORCH_TOKEN}"))
    run = (await made.engine.start_run("leaky", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert "Illegal header value" in (run.failure_message or "") or "invalid request" in (run.failure_message or "")
    shown = await made.everything_shown("leaky") + capsys.readouterr().out
    assert "Illegal header value" in shown or "invalid request" in shown  # the message itself is kept
    assert TOKEN not in shown


async def test_a_pipeline_file_never_shows_its_expanded_values_either(
        setup: Callable[..., Any], capsys: pytest.CaptureFixture[str], echo: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILE_SECRET", f"a\n{TOKEN}")  # the line break arrives with the value
    made: Setup = await setup(pipelines=[with_header("filed", echo, "${FILE_SECRET}")])
    run = (await made.engine.start_run("filed", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    shown = await made.everything_shown("filed") + capsys.readouterr().out
    assert TOKEN not in shown


async def test_an_unresolvable_host_never_shows_the_expanded_value(setup: Callable[..., Any]) -> None:
    made: Setup = await setup()
    await made.store_api_pipeline(http_pipeline("resolver", "http://${ORCH_TOKEN}.invalid/run"))
    run = (await made.engine.start_run("resolver", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert TOKEN not in await made.everything_shown("resolver")


async def test_an_aws_region_never_shows_the_expanded_value(setup: Callable[..., Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("ORCH_TOKEN", "bad/region-" + TOKEN)
    data = http_pipeline("regional", "http://127.0.0.1:9/unused")
    data["trigger"] = {"type": "glue", "jobName": "etl", "region": "${ORCH_TOKEN}", "maxAttempts": 1}
    made: Setup = await setup(pipelines=[data])
    run = (await made.engine.start_run("regional", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert TOKEN not in await made.everything_shown("regional")


async def test_log_lines_never_show_an_expanded_value(setup: Callable[..., Any]) -> None:
    made: Setup = await setup()
    await made.store_api_pipeline(http_pipeline("logged", "http://${ORCH_TOKEN}.invalid/run"))
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    try:
        await made.engine.start_run("logged", date=DATE)
        logging.getLogger("interlock.test").warning("quoting %s in a line", TOKEN)
        try:
            raise ValueError(f"an error quoting {TOKEN}")
        except ValueError:
            logging.getLogger("interlock.test").exception("with a traceback")
    finally:
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert "quoting *** in a line" in text and "with a traceback" in text
    assert TOKEN not in text


def test_escaped_forms_of_an_expanded_value_are_masked() -> None:
    secret = 'p@ss "w\\ord"\n\u00e9t\u00e9'
    EXPANDED.add([secret, "abc"])
    for quoted in (secret, repr(secret), repr(secret.encode()), json.dumps(secret), quote(secret, safe=""),
                   f"Illegal header value {secret.encode()!r}"):
        shown = redact_text(quoted)
        assert "p@ss" not in shown and "p%40ss" not in shown and "***" in shown, (quoted, shown)
    assert redact_text("abc") == "abc"  # too short to be kept: masking it would garble every message


async def test_a_header_value_with_a_control_character_is_refused_at_registration(
        setup: Callable[..., Any], echo: str) -> None:
    made: Setup = await setup()
    for value in ("a\n${ORCH_TOKEN}", "a\r\nX-Injected: 1", "a\x00b", "a\x1bb"):
        response = await made.client.post("/api/pipelines", json=with_header("ctl", echo, value),
                                          headers={"X-API-Key": KEY})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "trigger.headers.X-Orch"
    response = await made.client.post("/api/pipelines", json=with_header("ok", echo, "Bearer ${ORCH_TOKEN}"),
                                      headers={"X-API-Key": KEY})
    assert response.status_code == 201, response.text
    outcome = await made.engine.start_run("ok", date=DATE)
    assert outcome.launched, outcome.message
