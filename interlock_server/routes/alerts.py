"""The alert outbox: what is pending, what was dead-lettered, and sending a dead letter again."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.errors import NotFoundError, ValidationError
from interlock_core.model import AlertRecord, AlertStatus
from interlock_core.model.outbox import ID_PATTERN

from ..responses import json_response
from ..schemas import ErrorBody
from ._route import ApiRoute, Doc, Param, Reply, api_state, limit_param, read_limit

TAG = "alerts"
ALERTS_LIMIT = limit_param(50, 500)
STATUS = Param("status", "Only records in this state: `pending` (on their way, or waiting for a retry), "
                         "`failed` (dead letters), `delivered` or `grouped` (delivered with an identical one).",
               {"type": "string", "enum": [s.value for s in AlertStatus]})
BEFORE = Param("before", "The next page: the id of the last record of the previous page (the `Link` header "
                         "of a full page names the next one).", {"type": "string", "pattern": ID_PATTERN})
NOT_FOUND = Reply("No alert with this id (or it is past the store's retention).", ErrorBody)
_ID = re.compile(ID_PATTERN)


def _status(request: Request) -> AlertStatus | None:
    raw = request.query_params.get("status")
    if raw is None:
        return None
    try:
        return AlertStatus(raw.lower())
    except ValueError:
        raise ValidationError(f"status must be one of {', '.join(s.value for s in AlertStatus)}",
                              field="status") from None


def _before(request: Request) -> str | None:
    raw = request.query_params.get("before")
    if raw is not None and not _ID.match(raw):
        raise ValidationError("before must be an alert id from a previous page", field="before")
    return raw


def _alert_id(request: Request) -> str:
    alert_id: str = request.path_params["alertId"]
    if not _ID.match(alert_id):
        raise NotFoundError(f"alert {alert_id!r} not found", alertId=alert_id)
    return alert_id


async def list_alerts(request: Request) -> Response:
    if request.query_params.get("limit") == "":
        raise ValidationError("limit must be an integer between 1 and 500", field="limit")
    status, before, limit = _status(request), _before(request), read_limit(request, ALERTS_LIMIT)
    records = await api_state(request).engine.list_alerts(status, limit=limit, before=before)
    headers = {}
    if len(records) == limit:
        query = {"limit": str(limit), "before": records[-1].id, **({"status": status.value} if status else {})}
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return json_response(records, headers=headers)


async def get_alert(request: Request) -> Response:
    return json_response(await api_state(request).engine.get_alert(_alert_id(request)))


async def retry_alert(request: Request) -> Response:
    return json_response(await api_state(request).engine.retry_alert(_alert_id(request)))


ROUTES = [
    ApiRoute("/api/alerts", list_alerts, method="GET", doc=Doc(
        "Alerts in the outbox", TAG,
        {200: Reply("Newest first ([] when none); one record per alert and sink. A full page has a `Link` "
                    "header to the next.", list[AlertRecord],
                    headers={"Link": "The next page, when there may be one."}),
         400: Reply("`status`, `before` or `limit` is not valid.", ErrorBody)},
        query=(STATUS, ALERTS_LIMIT, BEFORE),
        description="Every alert is written to the store with the event that raised it, then delivered to each "
                    "sink with retries; one whose attempts ran out is a dead letter (`failed`, with an "
                    "`ALERT_FAILED` event), kept for the store's retention.")),
    ApiRoute("/api/alerts/{alertId}", get_alert, method="GET", doc=Doc(
        "One alert of the outbox", TAG, {200: Reply("The record.", AlertRecord), 404: NOT_FOUND})),
    ApiRoute("/api/alerts/{alertId}/retry", retry_alert, method="POST", doc=Doc(
        "Send an alert again", TAG,
        {200: Reply("The record, pending again: a dead letter gets its attempts back, a pending one waiting "
                    "for its next attempt is tried now.", AlertRecord),
         404: NOT_FOUND,
         409: Reply("The alert was already delivered (or grouped into another), or changed meanwhile.", ErrorBody)},
        body=None, body_required=False)),
]
