"""The ``http`` evaluator runner: evaluators are HTTP endpoints answering a POST with JSON.

The request body is ``{"pipelineId", "traitType", "config", "scheduleId", "date"}``; the reply
body is the same JSON object a subprocess evaluator prints. Evaluators written as ``http://`` or
``https://`` URLs are posted to as they are; with the ``evaluator_base_url`` option (AWS mode) a
relative name ``evaluate/freshness`` is posted to ``<base>/evaluate/freshness``. Requests keep
to the ``outbound:`` host policy: a link-local or cloud metadata address is never reached.

httpx is imported, and the connection pool made, by the first HTTP evaluation: every engine has
this runner, and a project without HTTP evaluators (or ``interlock status``) never needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import anyio

from interlock_core.errors import category_for_http_status
from interlock_core.model import FailureCategory, PipelineOrigin
from interlock_core.outbound import HostPolicy, OutboundRefused
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext

from .output import (
    MAX_OUTPUT_BYTES,
    InputNotEncodable,
    excerpt,
    failed,
    invalid_output,
    parse_output,
    request_body,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_SECONDS = 30.0
_URL_PREFIXES = ("http://", "https://")
_ERROR_BODY_BYTES = 4096


def shown_url(url: str) -> str:
    """The URL as reasons show it: no credentials, no query string (either may hold a secret)."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return url.split("?", 1)[0].rsplit("@", 1)[-1]
    if not parsed.host:
        return url.split("?", 1)[0]
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


class _TooLarge(Exception):
    pass


class HTTPRunner:
    """POSTs the evaluation request to the evaluator's URL; one connection pool per runner."""

    name: ClassVar[str] = "http"
    priority: ClassVar[int] = 50

    def __init__(self, context: RunnerContext) -> None:
        self.context = context
        base = context.options.get("evaluator_base_url")
        self.base_url: str | None = str(base).rstrip("/") if base else None
        policy = context.options.get("outbound")
        self._policy = policy if isinstance(policy, HostPolicy) else None
        self._pool: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        """The connection pool, made on first use."""
        if self._pool is None:
            from ..outbound import guarded_client

            self._pool = guarded_client(
                self._policy,
                headers={"Accept": "application/json", "User-Agent": "interlock-evaluator-runner"},
                follow_redirects=False,
            )
        return self._pool

    def handles(self, evaluator: str) -> bool:
        if evaluator.startswith(_URL_PREFIXES):
            return True
        return self.base_url is not None and "://" not in evaluator and not evaluator.startswith("builtin:")

    def url_for(self, evaluator: str) -> str:
        if evaluator.startswith(_URL_PREFIXES) or self.base_url is None:
            return evaluator
        return f"{self.base_url}/{evaluator.lstrip('/')}"

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput:
        import httpx

        url = self.url_for(evaluator)
        where = shown_url(url)
        timeout = request.timeout if request.timeout > 0 else DEFAULT_TIMEOUT_SECONDS
        try:
            content = request_body(request)
        except InputNotEncodable as exc:
            return exc.output()
        try:
            with anyio.fail_after(timeout):
                status, body = await self._post(url, content, timeout)
        except (TimeoutError, httpx.TimeoutException):
            return failed(
                f"EVALUATOR_TIMEOUT: no answer from {where} after {timeout:g}s", FailureCategory.TIMEOUT
            )
        except OutboundRefused as exc:
            return failed(f"EVALUATOR_REQUEST_FAILED: {where}: {exc.why}", FailureCategory.PERMANENT)
        except _TooLarge:
            return invalid_output(f"body exceeds {MAX_OUTPUT_BYTES} bytes")
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return failed(f"EVALUATOR_REQUEST_FAILED: {where}: invalid URL: {exc}", FailureCategory.PERMANENT)
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return failed(f"EVALUATOR_REQUEST_FAILED: {where}: {detail}", FailureCategory.TRANSIENT)
        # a pipeline registered over the API may point at any URL the policy allows: what answers
        # there is not shown back (no body excerpt in its reasons), lest it read internal services
        shown = request.origin is not PipelineOrigin.API
        if not 200 <= status < 300:
            text = excerpt(body.decode("utf-8", errors="replace")) if shown else ""
            reason = f"EVALUATOR_HTTP_ERROR: status {status}" + (f": {text}" if text else "")
            return failed(reason, category_for_http_status(status))
        output = parse_output(body, source="body")
        if not shown and (output.reason or "").startswith("EVALUATOR_OUTPUT_INVALID"):
            return invalid_output("body is not an evaluator answer (a JSON object with a status)")
        return output

    async def _post(self, url: str, content: bytes, seconds: float) -> tuple[int, bytes]:
        """The reply's status and body: a whole answer (up to the cap) or the start of an error."""
        headers = {"Content-Type": "application/json"}
        async with self._client.stream(
            "POST", url, content=content, headers=headers, timeout=seconds
        ) as reply:
            answer = 200 <= reply.status_code < 300
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body.extend(chunk)
                if answer and len(body) > MAX_OUTPUT_BYTES:
                    raise _TooLarge
                if not answer and len(body) > _ERROR_BODY_BYTES:
                    break
            return reply.status_code, bytes(body)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
