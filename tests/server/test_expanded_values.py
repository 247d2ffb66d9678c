"""Values expanded from ``api.allowedEnv`` (and, for pipeline files, from the environment) never come
back in any text derived from the expanded field: the run's failure message, its events, the
alerts (console and file sinks), the API (to a read-only key too), the dashboard and the logs.

The leaks: an invalid header value quoted by httpx (``Illegal header value b'a\\norch-…'``), an
unresolvable host, an AWS region quoted by botocore."""

from __future__ import annotations

import functools
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest

from interlock_core.expanded import EXPANDED, expanded_scope
from interlock_core.model import RunStatus
from interlock_core.redaction import redact_text
from interlock_server.logging import configure_logging

from .alerting import DATE, KEY, AlertingApi
from .support import http_pipeline

TOKEN = "orch-ok-3x4mpl3"


@pytest.fixture(autouse=True)
def forget_expanded() -> Iterator[None]:
    """Each test starts with an empty registry, as a fresh process would."""
    EXPANDED.clear()
    yield
    EXPANDED.clear()


@pytest.fixture
def setup(make_alerting_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("ORCH_TOKEN", TOKEN)
    return functools.partial(make_alerting_api, api={"allowedEnv": ["ORCH_TOKEN"]})


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
    made: AlertingApi = await setup()
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
    made: AlertingApi = await setup(pipelines=[with_header("filed", echo, "${FILE_SECRET}")])
    run = (await made.engine.start_run("filed", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    shown = await made.everything_shown("filed") + capsys.readouterr().out
    assert TOKEN not in shown


async def test_an_unresolvable_host_never_shows_the_expanded_value(setup: Callable[..., Any]) -> None:
    made: AlertingApi = await setup()
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
    made: AlertingApi = await setup(pipelines=[data])
    run = (await made.engine.start_run("regional", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert TOKEN not in await made.everything_shown("regional")


async def test_log_lines_never_show_an_expanded_value(setup: Callable[..., Any], echo: str) -> None:
    """Whatever is logged while a trigger runs (by the trigger, httpx, botocore) goes through the
    redaction pass with the trigger's expanded values; the engine's own lines quote masked texts."""
    made: AlertingApi = await setup()
    await made.store_api_pipeline(with_header("logged", echo, "a\n${ORCH_TOKEN}"))
    await made.store_api_pipeline(http_pipeline("resolved", "http://${ORCH_TOKEN}.invalid/run"))
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    try:
        for name in ("logged", "resolved"):
            await made.engine.start_run(name, date=DATE)
        with expanded_scope([TOKEN]):  # as while a trigger launches or polls
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
    with expanded_scope([secret, "abc"]):
        for quoted in (secret, repr(secret), repr(secret.encode()), json.dumps(secret), quote(secret, safe=""),
                       f"Illegal header value {secret.encode()!r}"):
            shown = redact_text(quoted)
            assert "p@ss" not in shown and "p%40ss" not in shown and "***" in shown, (quoted, shown)
        assert redact_text("abc") == "abc"  # too short to be kept: masking it would garble every message
    assert redact_text(secret) == secret  # outside a trigger's run nothing is known of it


async def test_only_the_pipelines_own_messages_are_masked(setup: Callable[..., Any], echo: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that is no secret (a region, a team name) is masked in its own pipeline's trigger
    messages, never in other pipelines' names, ids or anything the API shows of them."""
    monkeypatch.setenv("TEAM_NAME", "sales")
    data = http_pipeline("sales-daily", "http://${TEAM_NAME}.invalid/run")
    made: AlertingApi = await setup(pipelines=[data, http_pipeline("sales-weekly", echo)])
    run = (await made.engine.start_run("sales-daily", date=DATE)).run
    assert run is not None and run.status is RunStatus.FAILED
    assert "sales" not in (run.failure_message or "")
    assert run.run_id.startswith("sales-daily-")  # ids are never masked
    other = (await made.engine.start_run("sales-weekly", date=DATE)).run
    assert other is not None and other.status is RunStatus.RUNNING
    listed = await made.read("/api/pipelines")
    assert '"sales-daily"' in listed and '"sales-weekly"' in listed


async def test_a_header_value_with_a_control_character_is_refused_at_registration(
        setup: Callable[..., Any], echo: str) -> None:
    made: AlertingApi = await setup()
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
