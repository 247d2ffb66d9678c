"""``lambda``: invoke an AWS Lambda function (the Invoke API), synchronously or not.

```yaml
trigger:
  type: lambda
  functionName: nightly-export       # a name, an ARN or a partial ARN (name:alias too)
  qualifier: live                     # optional: a version or an alias
  invocationType: RequestResponse     # the default (also: sync); or Event (also: async)
  payload:                            # any JSON; ${...} expanded (run variables, then the environment)
    date: ${date}
    table: orders
  timeout: 900                        # seconds the call may take: for RequestResponse, the function's run
```

**RequestResponse** (sync): the job's outcome is the invocation's result, known when launch
returns. Without ``X-Amz-Function-Error`` the run succeeds; with it, it fails in a category read
from the error's ``errorType`` (:func:`function_error_category`). ``storeResponse: true`` keeps the
start of the function's answer in the run's metadata (off by default, as for ``http``).

**Event** (async): Lambda queues the event and answers 202; the run is then RUNNING and cannot be
polled (Lambda has no status to ask): the function reports through the completion callback,
``POST <callbackURL>`` with ``{"status": "success"|"failed"}``, as any job does
(``watch.maxDuration`` bounds a function that never calls back).

**At least once.** Invoke takes no idempotency key, and a function invoked cannot be looked up
afterwards: a relaunch after a crash (the launcher died before recording the launch) invokes the
function again, and so may a retry by the retry policy of a sync invocation that timed out while
the function kept running. So every object payload carries the run's ``interlock_run_id`` and
``interlock_run_key`` (and ``interlock_callback_url`` when the server knows it): the function
dedupes — keep the run key; a repeated key with the same run id is a relaunch (do nothing, or
answer as before); a repeated key with another run id is another run of the cycle (a retry's key
differs by its attempt). A payload that is not a JSON object (a list, a string) is sent as
written. Interlock's own calls make one attempt (``maxAttempts: 1``): botocore retrying an Invoke
whose answer was lost would run the function twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD
from interlock_core.model import FailureCategory
from interlock_core.outbound import is_untrusted_target
from interlock_core.ports import LaunchRequest, LaunchResult, PollResult

from ._common import excerpt
from .aws_base import AWSTrigger, AWSTriggerConfig

RUN_KEY_FIELD = "interlock_run_key"
CALLBACK_FIELD = "interlock_callback_url"
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
"""What Lambda accepts: 6 MB for a RequestResponse payload, 1 MB for an Event (256 KB before 2025)."""
ANSWER_READ_LIMIT = 64 * 1024
"""Bytes of a function's answer read at most (its error, or the excerpt ``storeResponse`` keeps)."""

TIMEOUT_ERRORS = frozenset({"Sandbox.Timedout", "Runtime.Timeout"})
PERMANENT_ERRORS = frozenset({
    "Runtime.ImportModuleError", "Runtime.HandlerNotFound", "Runtime.UserCodeSyntaxError",
    "Runtime.InvalidEntrypoint", "Runtime.MalformedHandlerName", "Runtime.InvalidRuntime",
    "Runtime.MarshalError", "Runtime.UnmarshalError", "Function.ResponseSizeTooLarge",
})
_ALIASES = {"requestresponse": "RequestResponse", "sync": "RequestResponse", "event": "Event", "async": "Event"}
_CATEGORIES = {category.value: category for category in FailureCategory}


class LambdaConfig(AWSTriggerConfig):
    function_name: str = Field(min_length=1, max_length=256)
    qualifier: str | None = Field(default=None, min_length=1, max_length=128)
    invocation_type: Literal["RequestResponse", "Event"] = "RequestResponse"
    payload: dict[str, Any] | list[Any] | str | int | float | bool | None = None
    store_response: bool = False
    max_attempts: int = Field(default=1, ge=1, le=10)

    @field_validator("invocation_type", mode="before")
    @classmethod
    def _invocation_words(cls, value: Any) -> Any:
        return _ALIASES.get(value.strip().lower(), value) if isinstance(value, str) else value


def function_error_category(error_type: str, message: str) -> FailureCategory:
    """The failure category of a function error (``X-Amz-Function-Error: Handled|Unhandled``):

    * an ``errorType`` that names a category (``TRANSIENT``, ``PERMANENT``, ``TIMEOUT`` …): that
      one — the function says what its failure is;
    * the function ran out of time (``Sandbox.Timedout``, or Lambda's ``Task timed out after``
      message): TIMEOUT;
    * code or packaging that cannot run (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``,
      ``Runtime.UserCodeSyntaxError`` …, a result too large to return): PERMANENT;
    * anything else, Handled or Unhandled (an exception the handler raised, out of memory, the
      runtime exiting): TRANSIENT — the retry policy decides, as for a Glue job run that FAILED."""
    if error_type.upper() in _CATEGORIES:
        return _CATEGORIES[error_type.upper()]
    if error_type in TIMEOUT_ERRORS or "Task timed out after" in message:
        return FailureCategory.TIMEOUT
    if error_type in PERMANENT_ERRORS:
        return FailureCategory.PERMANENT
    return FailureCategory.TRANSIENT


def invocation_payload(cfg: LambdaConfig, request: LaunchRequest) -> bytes:
    """The payload as sent: the configured one (by default the cycle), an object carrying the run's
    id, key and callback URL besides (Interlock's own keys win)."""
    payload = cfg.payload if cfg.payload is not None else {
        "pipelineId": request.pipeline_id, "scheduleId": request.schedule_id, "date": request.date}
    if isinstance(payload, dict):
        payload = {**payload, OWNER_FIELD: request.run_id, RUN_KEY_FIELD: request.run_key}
        if request.callback_url:
            payload[CALLBACK_FIELD] = request.callback_url
    return json.dumps(payload, separators=(",", ":")).encode()


class LambdaTrigger(AWSTrigger[LambdaConfig]):
    name: ClassVar[str] = "lambda"
    config_model: ClassVar[type[LambdaConfig]] = LambdaConfig
    service: ClassVar[str] = "lambda"
    metadata_kind: ClassVar[str] = "lambda"
    pollable: ClassVar[bool] = False

    def retry_options(self, config: AWSTriggerConfig) -> dict[str, Any]:
        """``maxAttempts`` counts every attempt, the first included (1: botocore never repeats an Invoke)."""
        return {"mode": "standard", "total_max_attempts": config.max_attempts}

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = self.launch_config(config, request)
        payload = invocation_payload(cfg, request)
        limit = SYNC_PAYLOAD_LIMIT if cfg.invocation_type == "RequestResponse" else ASYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            raise TriggerError(f"lambda trigger: the payload is {len(payload)} bytes; an {cfg.invocation_type} "
                               f"invocation takes at most {limit}", category=FailureCategory.PERMANENT)
        params: dict[str, Any] = {"FunctionName": cfg.function_name, "InvocationType": cfg.invocation_type,
                                  "Payload": payload}
        if cfg.qualifier:
            params["Qualifier"] = cfg.qualifier

        async def invoke(client: Any) -> dict[str, Any]:
            response = dict(await client.invoke(**params))
            stream = response.pop("Payload", None)
            answer = b""
            if stream is not None:
                answer = await stream.read(ANSWER_READ_LIMIT)
                stream.close()
            response["answer"] = answer
            return response

        response = await self.call(cfg, f"lambda trigger: Invoke {cfg.invocation_type}", invoke)
        metadata: dict[str, Any] = {"lambda_function_name": cfg.function_name,
                                    "lambda_invocation_type": cfg.invocation_type,
                                    "lambda_status_code": response.get("StatusCode")}
        request_id = (response.get("ResponseMetadata") or {}).get("RequestId")
        if request_id:
            metadata["lambda_request_id"] = str(request_id)
        if response.get("ExecutedVersion"):
            metadata["lambda_executed_version"] = str(response["ExecutedVersion"])
        if cfg.invocation_type == "Event":
            return LaunchResult(state="running", metadata=metadata,
                                message=f"event accepted (status {response.get('StatusCode')}); the function "
                                        "reports through the callback URL")
        answer: bytes = response["answer"]
        error = response.get("FunctionError")
        if error:
            return _function_failed(str(error), answer, metadata)
        if cfg.store_response and answer:
            metadata["responseExcerpt"] = excerpt(answer.decode("utf-8", "replace"))
        return LaunchResult(state="succeeded", metadata=metadata, message="function returned")

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        return PollResult(state="running", message="non-polling trigger type: waiting for the callback")


def _function_failed(kind: str, answer: bytes, metadata: dict[str, Any]) -> LaunchResult:
    """A RequestResponse invocation whose function failed: ``{"errorType", "errorMessage"}`` read
    for its category; quoted unless the pipeline was registered over the API."""
    try:
        document = json.loads(answer.decode("utf-8")) if answer else {}
    except (UnicodeDecodeError, ValueError):
        document = {}
    if not isinstance(document, dict):
        document = {}
    error_type = str(document.get("errorType") or "")
    error_message = str(document.get("errorMessage") or "")
    category = function_error_category(error_type, error_message)
    metadata["lambda_function_error"] = kind
    if is_untrusted_target():  # the endpoint's words stay out of messages (see aws_base)
        detail = f"function error ({kind})"
    else:
        metadata["lambda_error_type"] = excerpt(error_type, 100)
        said = ": ".join(part for part in (error_type, excerpt(error_message)) if part)
        detail = f"function error ({kind})" + (f": {said}" if said else "")
    return LaunchResult(state="failed", metadata=metadata, message=f"lambda trigger: {detail}",
                        failure_category=category)
