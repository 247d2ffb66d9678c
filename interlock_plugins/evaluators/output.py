"""What every evaluator runner shares: the failure values it returns and the output validation.

An evaluator's answer is a JSON object ``{"status": "PASS"|"FAIL", "value": {...}, "reason": "...",
"failureCategory": "..."}``. Anything else is not trusted: it becomes a FAIL with a reason starting
``EVALUATOR_OUTPUT_INVALID`` that says what was wrong, and category ``PERMANENT``: the evaluator ran
and answered, but not in the protocol, and asking again gives the same answer until it is fixed (a
crash, ``EVALUATOR_CRASH``, is a process that died: a signal, an exit status from 128).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from interlock_core.model import FailureCategory
from interlock_core.ports import EvaluatorInput, EvaluatorOutput

PASS = "PASS"
FAIL = "FAIL"
VALID_STATUSES = (PASS, FAIL)

#: The largest answer an evaluator may give (stdout of a subprocess, body of an HTTP reply).
MAX_OUTPUT_BYTES = 1024 * 1024
#: How much of a bad output or of stderr a reason quotes.
EXCERPT_CHARS = 200

_CATEGORIES = {category.value: category for category in FailureCategory}


def failed(reason: str, category: FailureCategory | None = None) -> EvaluatorOutput:
    """A FAIL produced by the runner itself (the evaluator misbehaved or could not be reached)."""
    return EvaluatorOutput(status=FAIL, reason=reason, failure_category=category)


def invalid_output(problem: str) -> EvaluatorOutput:
    return failed(f"EVALUATOR_OUTPUT_INVALID: {problem}", FailureCategory.PERMANENT)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` stripped and cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def tail(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The last ``limit`` characters of ``text`` stripped (an ellipsis marks the cut)."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


class InputNotEncodable(ValueError):
    """The trait's config cannot be written as JSON (a recursive structure …)."""

    def output(self) -> EvaluatorOutput:
        return failed(
            f"EVALUATOR_INPUT_INVALID: config cannot be encoded as JSON: {self}", FailureCategory.PERMANENT
        )


def _dumps(document: object) -> bytes:
    try:
        return json.dumps(document, default=str, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputNotEncodable(str(exc)) from exc


def encode_config(config: Mapping[str, Any] | None) -> bytes:
    """The trait's config as JSON. Values JSON cannot carry (a YAML date …) are sent as text.

    Raises :class:`InputNotEncodable` when there is no JSON for it at all."""
    return _dumps(dict(config or {}))


def request_body(request: EvaluatorInput) -> bytes:
    """What an HTTP evaluator receives: the envelope of SPEC.md plus the cycle it is asked about."""
    body = {
        "pipelineId": request.pipeline_id,
        "traitType": request.trait_type,
        "config": dict(request.config or {}),
        "scheduleId": request.schedule_id,
        "date": request.date,
    }
    return _dumps(body)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_output(raw: bytes, *, source: str = "stdout") -> EvaluatorOutput:
    """Validate an evaluator's answer; a bad one becomes an ``EVALUATOR_OUTPUT_INVALID`` FAIL.

    ``source`` names where the answer came from (``stdout``, ``body``) in the reasons."""
    if len(raw) > MAX_OUTPUT_BYTES:
        return invalid_output(f"{source} exceeds {MAX_OUTPUT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return invalid_output(
            f"{source} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        )
    if not text.strip():
        return invalid_output(f"{source} is empty (expected a JSON object with a status)")
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return invalid_output(f"{source} is not JSON: {exc} ({source}: {excerpt(text)})")
    if not isinstance(document, dict):
        return invalid_output(
            f"expected a JSON object, got {_json_kind(document)} ({source}: {excerpt(text)})"
        )
    return _output_from(document)


def _output_from(document: dict[str, Any]) -> EvaluatorOutput:
    if "status" not in document:
        return invalid_output('missing "status" (must be "PASS" or "FAIL")')
    status = document["status"]
    if not isinstance(status, str) or status not in VALID_STATUSES:
        shown = excerpt(json.dumps(status, ensure_ascii=False), 60)
        return invalid_output(f'"status" is {shown}; must be exactly "PASS" or "FAIL"')
    value = document.get("value")
    if value is not None and not isinstance(value, dict):
        return invalid_output(f'"value" must be a JSON object, got {_json_kind(value)}')
    reason = document.get("reason")
    if reason is not None and not isinstance(reason, str):
        reason = json.dumps(reason, ensure_ascii=False)
    category = document.get("failureCategory")
    return EvaluatorOutput(
        status=status,
        value=value,
        reason=reason or None,
        failure_category=_CATEGORIES.get(category) if isinstance(category, str) else None,
    )


def check_output(output: object, *, origin: str) -> EvaluatorOutput:
    """An in-process evaluator's return value, checked like an external one."""
    if not isinstance(output, EvaluatorOutput):
        return invalid_output(f"{origin} returned {type(output).__name__}, not an EvaluatorOutput")
    if output.status not in VALID_STATUSES:
        return invalid_output(f'{origin} returned status {output.status!r}; must be "PASS" or "FAIL"')
    if output.value is not None and not isinstance(output.value, dict):
        return invalid_output(f"{origin} returned a value that is not a mapping")
    return output
