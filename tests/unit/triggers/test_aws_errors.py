"""AWS error classification and idempotency names, without any AWS endpoint."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)

from interlock_core.model import FailureCategory
from interlock_plugins.triggers.aws_base import idempotency_name, poll_result
from interlock_plugins.triggers.aws_errors import category_for, trigger_error

TRANSIENT, PERMANENT, TIMEOUT = FailureCategory.TRANSIENT, FailureCategory.PERMANENT, FailureCategory.TIMEOUT


def client_error(code: str, status: int, message: str = "boom") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartJobRun",
    )


@pytest.mark.parametrize(
    ("code", "status", "category"),
    [
        ("ThrottlingException", 400, TRANSIENT),
        ("TooManyRequestsException", 429, TRANSIENT),
        ("ConcurrentRunsExceededException", 400, TRANSIENT),
        ("ServiceUnavailable", 503, TRANSIENT),
        ("InternalServerError", 500, TRANSIENT),
        ("InternalServiceException", 500, TRANSIENT),
        ("SomethingNew", 502, TRANSIENT),
        ("500", 500, TRANSIENT),
        ("ValidationException", 400, PERMANENT),
        ("EntityNotFoundException", 400, PERMANENT),
        ("ResourceNotFoundException", 404, PERMANENT),
        ("AccessDeniedException", 400, PERMANENT),
        ("AccessDenied", 403, PERMANENT),
        ("StateMachineDoesNotExist", 400, PERMANENT),
        ("SomethingElse", 400, PERMANENT),
        ("RequestTimeoutException", 408, TIMEOUT),
    ],
)
def test_client_errors_are_classified_by_code_then_status(
    code: str, status: int, category: FailureCategory
) -> None:
    assert category_for(client_error(code, status)) is category


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), TRANSIENT),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), TIMEOUT),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), TIMEOUT),
        (TimeoutError(), TIMEOUT),
        (NoCredentialsError(), PERMANENT),
        (NoRegionError(), PERMANENT),
        (ParamValidationError(report="bad"), PERMANENT),
        (ValueError("Invalid endpoint: nope"), PERMANENT),
        (RuntimeError("surprise"), TRANSIENT),
    ],
)
def test_transport_and_configuration_errors(error: Exception, category: FailureCategory) -> None:
    assert category_for(error) is category


def test_trigger_error_names_the_operation_code_and_status() -> None:
    cause = client_error("EntityNotFoundException", 400, "Job x not found.")
    error = trigger_error("glue trigger: StartJobRun", cause)
    assert error.message == "glue trigger: StartJobRun failed: EntityNotFoundException: Job x not found."
    assert (error.category, error.upstream_status, error.retryable) == (PERMANENT, 400, False)
    assert "region" in trigger_error("emr trigger: AddJobFlowSteps", NoRegionError()).message


@pytest.mark.parametrize("run_key", ["daily-sales_h07", "a" * 80])
def test_idempotency_name_keeps_a_valid_key(run_key: str) -> None:
    assert idempotency_name(run_key, 80) == run_key


@pytest.mark.parametrize("run_key", ["sales:h07:2026-03-14:1", "a" * 81, "x/" * 200, "", "ünïcode key"])
def test_idempotency_name_is_valid_bounded_and_distinct(run_key: str) -> None:
    name = idempotency_name(run_key, 80)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert name == idempotency_name(run_key, 80)
    assert name != idempotency_name(run_key + "x", 80)


def test_idempotency_name_distinguishes_keys_that_clean_alike() -> None:
    assert idempotency_name("a:b", 80) != idempotency_name("a-b", 80)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", idempotency_name("p:s:d:1", 64, allowed=r"A-Za-z0-9._-"))


def test_poll_result_maps_states_and_keeps_failure_detail() -> None:
    failed = {"FAILED": TRANSIENT, "STOPPED": PERMANENT}
    done = frozenset({"SUCCEEDED"})
    assert poll_result("SUCCEEDED", succeeded=done, failed=failed).state == "succeeded"
    assert poll_result("STARTING", succeeded=done, failed=failed, detail="x").message == "STARTING"
    stopped = poll_result("STOPPED", succeeded=done, failed=failed, detail="by user")
    assert (stopped.state, stopped.message) == ("failed", "STOPPED: by user")
    assert stopped.failure_category is PERMANENT
