"""The ``http`` trigger: one request to a generic REST endpoint or webhook.

The request carries ``Idempotency-Key: <run key>`` (which starts with the store identity) and
``X-Interlock-Run-Id`` (and, when the server knows its own address, ``X-Interlock-Callback-Url``; when
tracing is on, the W3C ``traceparent`` of the launch, to be sent back with the completion callback), so
a receiver can deduplicate a relaunch after a crash. Interlock cannot read back what a generic
endpoint did with a key, so the proof of ownership is the receiver's to check: keep the run id with
the key, answer a repeated key with the same run id as the job already accepted (a relaunch), and a
repeated key with another run id ``409 Conflict`` — which fails the run PERMANENT, saying the key is
taken by a job Interlock did not start for this run. A successful answer means the job was
accepted: the run stays ``running`` until the completion callback arrives. The response body is not kept unless
``storeResponse: true`` (then its first 500 characters); requests keep to the ``outbound:``
host policy (link-local and cloud metadata addresses are never reached). Failures are classified from the status code:
4xx PERMANENT, 5xx/408/429 TRANSIENT, network errors TRANSIENT, timeouts TIMEOUT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from interlock_core.errors import TriggerError, category_for_http_status
from interlock_core.model import FailureCategory
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from ._common import (
    DEFAULT_HTTP_TIMEOUT,
    HTTPTriggerBase,
    Seconds,
    TriggerConfig,
    coerce_config,
    excerpt,
    launch_config,
    send_bounded,
)

RESPONSE_READ_LIMIT = 16 * 1024
"""Bytes of a response read at most (and only with ``storeResponse: true``)."""

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HTTPConfig(TriggerConfig):
    method: Method = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    timeout: Seconds = DEFAULT_HTTP_TIMEOUT
    success_codes: list[int] | None = Field(default=None, alias="successCodes")
    store_response: bool = Field(default=False, alias="storeResponse")
    """Keep the start of the response body (at most EXCERPT_LIMIT characters) in the run's
    metadata and failure message. Off by default: whatever the endpoint answers is not for
    everyone who may read runs."""

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("success_codes")
    @classmethod
    def _codes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 100 <= code <= 599 for code in value):
            raise ValueError("successCodes must be HTTP status codes (100-599)")
        return value


def request_headers(cfg: HTTPConfig, request: LaunchRequest) -> dict[str, str]:
    """Content-Type first, then the configured headers, then Interlock's own (which win): the
    idempotency key, the run id, the callback URL and, when tracing is on, the launch's trace
    context (``traceparent``, ``tracestate``)."""
    headers: dict[str, str] = {}
    if cfg.body is not None:
        headers["Content-Type"] = "application/json"
    headers.update(cfg.headers)
    headers.update(request.trace_context)
    headers["Idempotency-Key"] = request.run_key
    headers["X-Interlock-Run-Id"] = request.run_id
    if request.callback_url:
        headers["X-Interlock-Callback-Url"] = request.callback_url
    return headers


class HTTPTrigger(HTTPTriggerBase):
    name: ClassVar[str] = "http"
    config_model: ClassVar[type[HTTPConfig]] = HTTPConfig
    pollable: ClassVar[bool] = False
    api_registrable: ClassVar[bool] = True

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        written = coerce_config(HTTPConfig, config).url
        cfg = launch_config(HTTPConfig, config, request)
        content: dict[str, Any] = {}
        if isinstance(cfg.body, str):
            content["content"] = cfg.body.encode()
        elif cfg.body is not None:
            content["json"] = cfg.body
        status, answer = await send_bounded(
            self._http(),
            cfg.method,
            cfg.url,
            what="http trigger",
            written=written,
            limit=RESPONSE_READ_LIMIT if cfg.store_response else 0,
            headers=request_headers(cfg, request),
            timeout=cfg.timeout,
            **content,
        )
        metadata: dict[str, Any] = {"httpStatus": status}
        body = excerpt(answer) if cfg.store_response else ""
        if body:
            metadata["responseExcerpt"] = body
        accepted = status in cfg.success_codes if cfg.success_codes else 200 <= status < 300
        if not accepted and status == 409:
            raise TriggerError(
                f"http trigger: {cfg.method} returned status 409 Conflict for Idempotency-Key {request.run_key}: "
                f"the key is taken by a job Interlock did not start for run {request.run_id}; it is not adopted"
                + (f": {body}" if body else ""),
                category=FailureCategory.PERMANENT,
                status=status,
            )
        if not accepted:
            raise TriggerError(
                f"http trigger: {cfg.method} returned status {status}" + (f": {body}" if body else ""),
                category=category_for_http_status(status),
                status=status,
            )
        return LaunchResult(state="running", metadata=metadata, message=f"accepted with status {status}")

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        return PollResult(state="running", message="non-polling trigger type")

