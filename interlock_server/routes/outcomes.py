"""How a start-run decision (``RunOutcome``) answers over HTTP.

* ``triggered`` - 202, the body is the run (a launch that failed is a FAILED run with its reason);
* ``not_ready`` - 412, ``status: NOT_READY`` and the ``blocking`` traits;
* ``backoff`` - 429, the last attempt failed and its backoff has not elapsed: retry at ``retryAt``
  (also in ``Retry-After``);
* ``duplicate``, ``in_progress``, ``claim_lost``, ``exhausted``, ``non_retryable`` - 409, the
  cycle's state forbids a new attempt now (a rerun, or waiting for the active run, is needed);
* ``no_trigger`` - 422, the pipeline cannot be run at all;
* ``excluded`` - 409, the cycle's date is excluded by the pipeline's calendar (a rerun runs it anyway);
* ``skipped`` - 409, the cycle was skipped at its deadline (``onDeadline: skip``) or by catch-up after
  downtime (``catchUp``); a rerun runs it;
* ``dry_run`` - 200, a ``dryRun`` pipeline was ready and would have triggered (``wouldTriggerAt``);
  nothing was launched or claimed.

429 rather than 409 for a backoff because it is the one refusal a client may simply retry later,
at a time the server names.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from starlette.responses import Response

from interlock_core.engine import Outcome, RunOutcome

from ..responses import json_response

STATUS = {
    Outcome.TRIGGERED: 202,
    Outcome.NOT_READY: 412,
    Outcome.BACKOFF: 429,
    Outcome.DUPLICATE: 409,
    Outcome.IN_PROGRESS: 409,
    Outcome.CLAIM_LOST: 409,
    Outcome.EXHAUSTED: 409,
    Outcome.NON_RETRYABLE: 409,
    Outcome.NO_TRIGGER: 422,
    Outcome.EXCLUDED: 409,
    Outcome.SKIPPED: 409,
    Outcome.DRY_RUN: 200,
    Outcome.RETIRED: 409,  # raised as PipelineRetired by the API's entry points; here for completeness
}


def refusal_body(outcome: RunOutcome) -> dict[str, Any]:
    """The outcome's JSON plus ``error`` (and ``status: NOT_READY`` with ``blocking``)."""
    body: dict[str, Any] = {"error": outcome.message, **outcome.to_json()}
    if outcome.outcome is Outcome.NOT_READY:
        body["status"] = "NOT_READY"
        body.setdefault("blocking", [])
    return body


def retry_after(outcome: RunOutcome, now: datetime) -> dict[str, str]:
    if outcome.retry_at is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil((outcome.retry_at - now).total_seconds())))}


def outcome_response(outcome: RunOutcome, now: datetime) -> Response:
    status = STATUS[outcome.outcome]
    if outcome.outcome is Outcome.TRIGGERED and outcome.run is not None:
        return json_response(outcome.run, status_code=status)
    if outcome.outcome is Outcome.DRY_RUN:
        return json_response(outcome.to_json(), status_code=status)
    return json_response(refusal_body(outcome), status_code=status, headers=retry_after(outcome, now))
