"""Validation of what evaluators answer, and the runners' registration order."""

from __future__ import annotations

import json
from datetime import date

import pytest

from interlock_core.model import FailureCategory
from interlock_core.ports import EvaluatorInput, EvaluatorOutput
from interlock_plugins.evaluators import interlock_register_evaluator_runners
from interlock_plugins.evaluators.http import shown_url
from interlock_plugins.evaluators.output import (
    MAX_OUTPUT_BYTES,
    check_output,
    encode_config,
    parse_output,
    request_body,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"status":"PASS"}', EvaluatorOutput(status="PASS")),
        (b' {"status":"PASS","value":null}\n', EvaluatorOutput(status="PASS")),
        (
            b'{"status":"FAIL","value":{"lag":{"s":9}},"reason":"late","failureCategory":"TIMEOUT"}',
            EvaluatorOutput(
                status="FAIL",
                value={"lag": {"s": 9}},
                reason="late",
                failure_category=FailureCategory.TIMEOUT,
            ),
        ),
        (b'{"status":"FAIL","failureCategory":"timeout"}', EvaluatorOutput(status="FAIL")),
        (b'{"status":"FAIL","reason":["a",1]}', EvaluatorOutput(status="FAIL", reason='["a", 1]')),
        (b'{"status":"FAIL","reason":""}', EvaluatorOutput(status="FAIL")),
    ],
)
def test_valid_outputs(raw: bytes, expected: EvaluatorOutput) -> None:
    assert parse_output(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "stdout is empty (expected a JSON object with a status)"),
        (b"null", "expected a JSON object, got null (stdout: null)"),
        (b'"PASS"', 'expected a JSON object, got string (stdout: "PASS")'),
        (b"{}", 'missing "status" (must be "PASS" or "FAIL")'),
        (b'{"status":null}', '"status" is null; must be exactly "PASS" or "FAIL"'),
        (b'{"status":["PASS"]}', '"status" is ["PASS"]; must be exactly "PASS" or "FAIL"'),
        (b'{"status":"STALE"}', '"status" is "STALE"; must be exactly "PASS" or "FAIL"'),
        (b'{"status":"PASS","value":[1]}', '"value" must be a JSON object, got array'),
        (b'{"status":"PASS","value":"x"}', '"value" must be a JSON object, got string'),
        (b"\xff\xfe", "stdout is not valid UTF-8 (byte 0xff at offset 0)"),
    ],
)
def test_invalid_outputs(raw: bytes, reason: str) -> None:
    out = parse_output(raw)
    assert (out.status, out.reason, out.failure_category) == (
        "FAIL",
        f"EVALUATOR_OUTPUT_INVALID: {reason}",
        FailureCategory.PERMANENT,
    )


@pytest.mark.parametrize(
    "raw", [b'{"status":"PASS","value":{"x":NaN}}', b'{"status":"PASS"} {"status":"FAIL"}']
)
def test_not_json(raw: bytes) -> None:
    out = parse_output(raw, source="body")
    assert out.reason is not None and out.reason.startswith("EVALUATOR_OUTPUT_INVALID: body is not JSON: ")


def test_oversized_and_long_excerpts() -> None:
    assert parse_output(b" " * (MAX_OUTPUT_BYTES + 1)).reason == (
        f"EVALUATOR_OUTPUT_INVALID: stdout exceeds {MAX_OUTPUT_BYTES} bytes"
    )
    reason = parse_output(b"x" * 5000).reason
    assert reason is not None and len(reason) < 400 and reason.endswith("…)")


def test_check_output_of_in_process_evaluators() -> None:
    assert check_output(EvaluatorOutput(status="PASS"), origin="builtin a").status == "PASS"
    assert check_output(None, origin="builtin a").reason == (
        "EVALUATOR_OUTPUT_INVALID: builtin a returned NoneType, not an EvaluatorOutput"
    )


def test_encoding_of_config_and_request() -> None:
    assert encode_config({"day": date(2026, 3, 2), "n": 1}) == b'{"day":"2026-03-02","n":1}'
    assert encode_config({}) == b"{}"
    request = EvaluatorInput("p", "t", {"a": 1}, "daily", "2026-03-02", 5.0)
    assert json.loads(request_body(request)) == {
        "pipelineId": "p",
        "traitType": "t",
        "config": {"a": 1},
        "scheduleId": "daily",
        "date": "2026-03-02",
    }


def test_runners_are_asked_builtin_then_http_then_subprocess() -> None:
    runners = sorted(interlock_register_evaluator_runners(), key=lambda r: -r.priority)
    assert [r.name for r in runners] == ["builtin", "http", "subprocess"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://evaluators.internal/check?code=secret", "https://evaluators.internal/check"),
        ("http://user:pw@10.0.0.1:8080/a/b", "http://10.0.0.1:8080/a/b"),
        ("http://", "http://"),
    ],
)
def test_urls_in_reasons_hide_secrets(url: str, shown: str) -> None:
    assert shown_url(url) == shown
