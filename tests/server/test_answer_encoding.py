"""An answer's bytes are what ``json.dumps`` with the answers' options writes (redacted, compact,
newline-terminated), and a JSON log line what structlog's renderer writes with ``json.dumps``,
whichever way the encoder is built."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import structlog

from interlock_core.model import ReadinessResult, TraitEvaluation
from interlock_core.redaction import redact
from interlock_server.logging import _json_dumps
from interlock_server.responses import JSONResponse, OwnJSONResponse, to_jsonable


class Colour(Enum):
    RED = "red"


def written(content: Any, *, redacted: bool = True) -> bytes:
    data = to_jsonable(content)
    return json.dumps(redact(data) if redacted else data, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"), default=str).encode("utf-8") + b"\n"


NOW = datetime(2026, 12, 6, 19, 42, 16, 414590, tzinfo=UTC)
TRAITS = [
    TraitEvaluation(pipeline_id="orders", trait_type="freshness", status="PASS", evaluated_at=NOW, source="pushed"),
    TraitEvaluation(pipeline_id="orders", trait_type="volume", status="FAIL", evaluated_at=NOW,
                    value={"rows": 12, "ratio": 1e-07, "big": 1e16, "name": "žluťoučký", "password": "hunter2"},
                    reason="token=abc123 in postgres://u:p@db/x?sslmode=require"),
]
ANSWERS: list[Any] = [
    {**ReadinessResult(pipeline_id="orders", status="NOT_READY", traits=TRAITS, blocking=["volume"],
                       evaluated_at=NOW).to_json_dict(), "state": "NOT_READY"},
    ReadinessResult(pipeline_id="orders", status="READY", traits=TRAITS[:1], blocking=[], evaluated_at=NOW),
    TRAITS,
    {"error": "pipeline 'x' not found", "pipelineId": "x"},
    {"when": NOW, "id": uuid.UUID(int=7), "colour": Colour.RED, "n": 2**70, "keys": {1: "a", None: "b"},
     "text": "line\nbreak \u2028 \x00", "nested": [[1.5, -0.0, True, None]]},
    [],
    "plain",
    {"windows": "C:\\users\\u1\\x", "escaped": "\\u00e9 is not é", "delete": "a\x7fb", "tab": "a\tb\"q\""},
    {"ascii": "only", "n": [1, 2.5, None, False]},
]


@pytest.mark.parametrize("content", ANSWERS)
def test_an_answer_is_what_json_dumps_writes(content: Any) -> None:
    assert JSONResponse(content).body == written(content)
    assert OwnJSONResponse(content).body == written(content, redacted=False)


def test_not_a_number_is_refused_as_before() -> None:
    with pytest.raises(ValueError):
        written({"x": math.nan})
    with pytest.raises(ValueError):
        JSONResponse({"x": math.nan})


@pytest.mark.parametrize("event", [
    {"timestamp": "2026-12-06T19:42:16.414590Z", "level": "info", "logger": "interlock.access", "event": "request",
     "method": "GET", "path": "/api/pipelines/orders/readiness", "status": 200, "duration_ms": 0.123},
    {"event": "žluťoučký \u2028 \x00", "when": NOW, "colour": Colour.RED, "n": 2**70, "nan": math.nan,
     "keys": {1: "a"}},
])
def test_a_log_line_is_what_json_dumps_writes(event: dict[str, Any]) -> None:
    renderer = structlog.processors.JSONRenderer(_json_dumps)
    assert renderer(None, "info", dict(event)) == structlog.processors.JSONRenderer()(None, "info", dict(event))
