"""The access log's cheap path: one line per request, bound once at configuration, never through a
logger built and a processor chain run per request — and still the same line, fields, order and
masking as the structlog chain gives any other log line."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from interlock_server.logging import ACCESS_LOGGER, configure_logging, json_line, log_access
from interlock_server.redaction import MASK

from .conftest import Api

FIELDS: dict[str, Any] = {
    "method": "GET",
    "path": "/api/pipelines/https://user:hunter2@example.com/readiness",
    "route": "/api/pipelines/{id}/readiness",
    "status": 200,
    "duration_ms": 1.25,
    "client": "127.0.0.1:50000",
}


@pytest.fixture
def context() -> Iterator[None]:
    """What the request context and the routes bind, hostile values included."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="https://ops:s3cret@host/x", pipeline="sales",
                                           api_token="tok-123", level="not-a-level")
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()


def through_the_chain(level: str, stream: io.StringIO) -> str:
    """The line an ordinary structlog call renders with the same fields and context."""
    before = len(stream.getvalue())
    getattr(structlog.get_logger(ACCESS_LOGGER), level)("request", **FIELDS)
    return stream.getvalue()[before:]


def without_timestamp(line: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "<time>", line)


@pytest.mark.parametrize("level", ["info", "error"])
def test_json_line_is_the_chains_line(context: None, level: str) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    log_access(level, **FIELDS)
    fast = stream.getvalue()
    chain = through_the_chain(level, stream)
    assert fast.endswith("\n") and fast.count("\n") == 1
    fast_line, chain_line = json.loads(fast), json.loads(chain)
    assert list(fast_line) == list(chain_line)  # same keys, same order
    fast_line.pop("timestamp")
    chain_line.pop("timestamp")
    assert fast_line == chain_line
    assert (fast_line["level"], fast_line["logger"], fast_line["event"]) == (level, ACCESS_LOGGER, "request")
    assert fast_line["api_token"] == MASK
    assert fast_line["path"] == "/api/pipelines/https://***@example.com/readiness"
    assert fast_line["request_id"] == "https://***@host/x"
    for secret in ("hunter2", "s3cret", "tok-123"):
        assert secret not in fast


def test_console_line_is_the_chains_line(context: None) -> None:
    stream = io.StringIO()
    configure_logging("info", "console", stream)
    log_access("info", **FIELDS)
    fast = stream.getvalue()
    assert without_timestamp(fast) == without_timestamp(through_the_chain("info", stream))
    assert "hunter2" not in fast and "tok-123" not in fast


def test_the_configured_level_applies() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream)
    log_access("info", **FIELDS)
    assert stream.getvalue() == ""
    log_access("error", **{**FIELDS, "status": 500})
    assert json.loads(stream.getvalue())["status"] == 500


def test_a_later_structlog_configuration_takes_over() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    structlog.reset_defaults()
    log_access("info", **FIELDS)  # structlog's own defaults now: nothing reaches the old stream
    assert stream.getvalue() == ""


async def test_requests_do_not_run_the_processor_chain(api: Api) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    chain_runs: list[str] = []

    def counting(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        chain_runs.append(str(event_dict.get("event")))
        return event_dict

    structlog.get_config()["processors"].insert(0, counting)  # the configured chain, in place
    for _ in range(3):
        assert (await api.client.get("/api/health")).status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["route"] for line in lines if line["event"] == "request"] == ["/api/health"] * 3
    assert "request" not in chain_runs


def test_what_the_client_sent_is_masked_wherever_it_lands(context: None) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    log_access("info", **{**FIELDS, "method": "https://m:methodsecret@x"})
    line = json.loads(stream.getvalue())
    assert line["method"] == "https://***@x"
    assert "methodsecret" not in stream.getvalue()


ODD_VALUES: dict[str, Any] = {
    "text": 'quote " backslash \\ tab \t newline \n bell \x07 é ü 中 \U0001f600 \u2028',
    "tiny": 1e-07, "huge": 1.5e300, "negative": -0.0, "whole": 3.0, "big": 2**70, "small": -5,
    "yes": True, "no": False, "nothing": None, "empty": "",
}


def test_json_line_text_is_json_dumps_text() -> None:
    assert json_line(ODD_VALUES) == json.dumps(ODD_VALUES)
    for value in (float("nan"), float("inf"), -float("inf"), [1, "a"], {"a": 1}, ("t",), b"x", Named("n"), 1.5j):
        assert json_line({"a": 1, "b": value}) is None  # the renderer's business
    assert json_line({1: "x"}) is None


class Named(str):
    """A str subclass: left to the renderer."""


@pytest.mark.parametrize("level", ["info", "error"])
def test_json_line_bytes_are_the_chains_bytes(level: str) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="rid-1", **ODD_VALUES)
    try:
        stream = io.StringIO()
        configure_logging("info", "json", stream)
        log_access(level, **FIELDS)
        fast = stream.getvalue()
        assert without_timestamp(fast) == without_timestamp(through_the_chain(level, stream))
        structlog.contextvars.bind_contextvars(listed=["a", 1])  # not a scalar: the renderer writes the line
        before = len(stream.getvalue())
        log_access(level, **FIELDS)
        fallback = stream.getvalue()[before:]
        assert without_timestamp(fallback) == without_timestamp(through_the_chain(level, stream))
        assert '"listed": ["a", 1]' in fallback
    finally:
        structlog.contextvars.clear_contextvars()


@pytest.mark.parametrize("nanoseconds", [0, 999, 1_000, 1_796_625_000_000_000_000, 1_796_625_000_123_456_789,
                                         1_796_625_059_999_999_999, 1_796_625_060_000_000_500])
def test_the_line_time_stamp_is_structlogs(monkeypatch: pytest.MonkeyPatch, nanoseconds: int) -> None:
    """The access line's stamp (formatted once a second) as the chain's ``TimeStamper`` writes the
    same instant: microseconds, or none on a whole second; the second turning over."""
    import datetime as dt

    from interlock_server import logging as access

    monkeypatch.setattr(access.time, "time_ns", lambda: nanoseconds)
    instant = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=nanoseconds // 1000)
    assert access.utc_timestamp() == instant.isoformat().replace("+00:00", "Z")


def test_repeated_lines_are_the_chains_and_keep_no_secret(context: None) -> None:
    """A string pair's text is kept for the next line with the same pair: the second and third lines
    are still the chain's, a secret masked in a value is masked every time, and no kept text (nor
    its key) holds a value masking changed; inside a trigger's expanded scope nothing kept is used."""
    from interlock_core.expanded import expanded_scope
    from interlock_server import logging as server_logging

    stream = io.StringIO()
    configure_logging("info", "json", stream)
    server_logging._PAIR_TEXTS.clear()
    for _ in range(3):
        before = len(stream.getvalue())
        log_access("info", **FIELDS)
        fast = stream.getvalue()[before:]
        chain = through_the_chain("info", stream)
        assert without_timestamp(fast) == without_timestamp(chain)
    kept = repr(server_logging._PAIR_TEXTS)
    for secret in ("hunter2", "s3cret", "tok-123", "@example.com", "api_token"):
        assert secret not in kept
    assert '"sales"' in kept and '"GET"' in kept, "the clean pairs are kept"
    with expanded_scope(["sales"]):
        before = len(stream.getvalue())
        log_access("info", **FIELDS)
        assert json.loads(stream.getvalue()[before:])["pipeline"] == MASK
    before = len(stream.getvalue())
    log_access("info", **FIELDS)
    assert json.loads(stream.getvalue()[before:])["pipeline"] == "sales"
