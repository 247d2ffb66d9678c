"""Failure categories for AWS API errors, read from botocore's structured errors (never from text).

* throttling, 5xx, ``ServiceUnavailable``/``InternalServerError`` and connection errors: TRANSIENT;
* ``ValidationException``, ``EntityNotFoundException``, ``ResourceNotFoundException``,
  ``AccessDenied*``, other 4xx, missing credentials or region, bad parameters: PERMANENT;
* connect/read timeouts and the trigger's own deadline: TIMEOUT.

``quote=False`` (a pipeline registered over the API) keeps the answering endpoint's words out of
messages: a known error code or the HTTP status, the exception's class, never a message text.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    UnknownEndpointError,
)

from interlock_core.errors import TriggerError, category_for_http_status
from interlock_core.model import FailureCategory

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "InternalServiceException",
        "ServiceException",
        "ConcurrentRunsExceededException",
        "ConcurrentModificationException",
        "ExecutionLimitExceeded",
        "OperationTimeoutException",
        # Lambda Invoke: the function is being updated, or its network or storage is not ready yet
        "ResourceConflictException",
        "ResourceNotReadyException",
        "EC2ThrottledException",
        "EC2UnexpectedException",
        "ENILimitReachedException",
        "SubnetIPAddressLimitReachedException",
        "EFSMountConnectivityException",
        "EFSMountTimeoutException",
        "EFSIOException",
        "SnapStartNotReadyException",
        "SnapStartTimeoutException",
    }
)
TIMEOUT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException"})
PERMANENT_CODES = frozenset(
    {
        "ValidationException",
        "ValidationError",
        "EntityNotFoundException",
        "ResourceNotFoundException",
        "InvalidInputException",
        "InvalidRequestException",
        "InvalidParameterException",
        "InvalidParameterValueException",
        "InvalidArn",
        "InvalidName",
        "InvalidExecutionInput",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "ExecutionDoesNotExist",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "UnauthorizedOperation",
        # Lambda Invoke: a request or a function that cannot run as it is
        "RequestTooLargeException",
        "InvalidRequestContentException",
        "UnsupportedMediaTypeException",
        "InvalidRuntimeException",
        "InvalidZipFileException",
        "InvalidSecurityGroupIDException",
        "InvalidSubnetIDException",
        "EC2AccessDeniedException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "RecursiveInvocationException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def http_status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else None


def category_for_client_error(exc: ClientError) -> FailureCategory:
    code = error_code(exc)
    if code in TIMEOUT_CODES:
        return FailureCategory.TIMEOUT
    if code in TRANSIENT_CODES:
        return FailureCategory.TRANSIENT
    if code in PERMANENT_CODES or code.startswith("AccessDenied"):
        return FailureCategory.PERMANENT
    status = http_status(exc)
    if status is not None and status >= 400:
        return category_for_http_status(status)
    if code.isdigit():  # an endpoint that answered with a bare HTTP error page
        return category_for_http_status(int(code))
    return FailureCategory.TRANSIENT


def category_for(exc: BaseException) -> FailureCategory:
    """The failure category of anything an AWS call may raise."""
    if isinstance(exc, ClientError):
        return category_for_client_error(exc)
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return FailureCategory.TIMEOUT
    if isinstance(exc, ConnectionError | HTTPClientError | CredentialRetrievalError):
        return FailureCategory.TRANSIENT
    if isinstance(
        exc,
        NoCredentialsError
        | PartialCredentialsError
        | NoRegionError
        | ParamValidationError
        | UnknownEndpointError
        | ValueError,
    ):
        return FailureCategory.PERMANENT
    return FailureCategory.TRANSIENT


def known_code(code: str) -> bool:
    return code in TRANSIENT_CODES or code in TIMEOUT_CODES or code in PERMANENT_CODES \
        or (code.startswith("AccessDenied") and code.isalnum())


def describe_unquoted(exc: BaseException) -> str:
    """A short text for a failed call that quotes nothing the endpoint wrote."""
    if isinstance(exc, ClientError):
        code, status = error_code(exc), http_status(exc)
        if known_code(code):
            return code
        return f"HTTP {status}" if status else "error"
    if isinstance(exc, NoRegionError | TimeoutError):
        return describe(exc)
    return type(exc).__name__


def describe(exc: BaseException, *, quote: bool = True) -> str:
    """A short text for a failed call: ``Code: message`` for API errors, the error text otherwise
    (``quote=False``: :func:`describe_unquoted`)."""
    if not quote:
        return describe_unquoted(exc)
    if isinstance(exc, ClientError):
        error: dict[str, Any] = exc.response.get("Error", {})
        code = error_code(exc) or "error"
        message = str(error.get("Message") or "").strip()
        if code.isdigit():  # a bare HTTP error page: its HTML says nothing useful
            return f"HTTP {code}"
        return f"{code}: {message}" if message else code
    if isinstance(exc, NoRegionError):
        return "no AWS region: set `region` on the trigger or AWS_REGION in the environment"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def trigger_error(what: str, exc: BaseException, *, quote: bool = True) -> TriggerError:
    """``<what> failed: <detail>`` as a TriggerError carrying the category and upstream status."""
    status = http_status(exc) if isinstance(exc, ClientError) else None
    return TriggerError(f"{what} failed: {describe(exc, quote=quote)}", category=category_for(exc), status=status)
