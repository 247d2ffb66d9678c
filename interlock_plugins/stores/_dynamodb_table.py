"""The ``dynamodb:`` section of ``interlock.yaml``, the table it names, and the one place where
botocore's failures become errors of the core tree.

Connection failures, timeouts, throttling, 5xx answers, missing credentials and a missing table
are :class:`StoreUnavailable`; a request DynamoDB refuses as invalid (an item over 400 KB, say) is a
:class:`ValidationError`. A failed condition is not an error: it surfaces as :class:`ConditionFailed`
for the store to turn into ``False``, and a transaction that collided with another one as
:class:`TransactionConflict` for the store to retry.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ParamValidationError
from pydantic import AliasChoices, Field, field_validator

from interlock_core.durations import Duration
from interlock_core.errors import InterlockError, StoreUnavailable, ValidationError
from interlock_core.model import ConfigModel

from . import _dynamodb_keys as keys

log = logging.getLogger(__name__)

TABLE_NAME = r"^[A-Za-z0-9_.-]{3,255}$"


class DynamoDBConfig(ConfigModel):
    """``provider: dynamodb``: one table in the single-table layout of ``_dynamodb_keys``.

    ``endpoint`` (or ``endpointURL``) points at DynamoDB Local or another compatible server;
    ``createTable`` creates the table (on-demand billing, stream NEW_IMAGE, GSI1, TTL on ``ttl``)
    when it does not exist. ``retentionTtl`` bounds how long runs, run logs, reruns, events and
    cascade markers are kept (``0`` keeps them); ``readinessTtl`` is accepted for compatibility,
    the readiness cache TTL itself comes from the engine with each write.
    """

    table_name: str = Field(pattern=TABLE_NAME)
    region: str | None = None
    endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("endpoint", "endpointURL", "endpointUrl", "endpoint_url")
    )
    create_table: bool = False
    readiness_ttl: Duration = timedelta(minutes=5)
    retention_ttl: Duration = timedelta(days=7)
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=10)
    max_attempts: int = Field(default=3, ge=1, le=20)

    @field_validator("readiness_ttl", "retention_ttl")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("connect_timeout", "read_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be positive")
        return value

    def boto_config(self) -> BotoConfig:
        return BotoConfig(
            connect_timeout=self.connect_timeout.total_seconds(),
            read_timeout=self.read_timeout.total_seconds(),
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
            max_pool_connections=25,
        )


# -------------------------------------------------------------------------------------- errors


class ConditionFailed(Exception):
    """A ``ConditionExpression`` did not hold (a lost CAS, a taken claim or lease).

    ``reasons`` are a cancelled transaction's, one per action: ``Code`` and, when the action asked
    for ``ReturnValuesOnConditionCheckFailure: ALL_OLD``, the stored ``Item``."""

    def __init__(self, message: str, reasons: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


class TransactionConflict(Exception):
    """Another request was changing the same item at the same time; try again."""


_CONFLICT_CODES = frozenset({"TransactionConflictException", "TransactionInProgressException"})
_INVALID_CODES = frozenset({"ValidationException", "SerializationException"})


def translate(exc: BaseException, table: str, operation: str) -> Exception:
    """The exception to raise for a failed call of ``operation`` on ``table``."""
    where = f"dynamodb table {table!r}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", exc))
        if code == "ConditionalCheckFailedException":
            return ConditionFailed(message)
        if code == "TransactionCanceledException":
            return _cancelled(exc, table, operation)
        if code in _CONFLICT_CODES:
            return TransactionConflict(message)
        if code == "ResourceNotFoundException":
            return StoreUnavailable(
                f"{where} does not exist (create it, or set createTable: true in the dynamodb section)",
                store="dynamodb", table=table,
            )
        if code in _INVALID_CODES:
            return ValidationError(f"{where} refused {operation}: {message}")
        return StoreUnavailable(f"{where} is unavailable ({operation}: {code or 'error'}: {message})",
                                store="dynamodb", table=table)
    if isinstance(exc, ParamValidationError):
        return ValidationError(f"{where}: invalid {operation} request: {exc}")
    if isinstance(exc, NoRegionError):
        return StoreUnavailable(f"{where}: no AWS region (set region in the dynamodb section, or AWS_REGION)",
                                store="dynamodb", table=table)
    if isinstance(exc, NoCredentialsError):
        return StoreUnavailable(f"{where}: no AWS credentials found", store="dynamodb", table=table)
    return StoreUnavailable(f"{where} cannot be reached ({operation}): {exc}", store="dynamodb", table=table)


def _cancelled(exc: ClientError, table: str, operation: str) -> Exception:
    reasons = [reason for reason in exc.response.get("CancellationReasons") or [] if isinstance(reason, dict)]
    codes = {str(reason.get("Code")) for reason in reasons}
    if "ConditionalCheckFailed" in codes:
        return ConditionFailed("a condition of the transaction did not hold", reasons)
    if "TransactionConflict" in codes or not codes - {"None"}:
        return TransactionConflict("the transaction collided with another request")
    if codes & {"ValidationError", "ItemCollectionSizeLimitExceeded"}:
        return ValidationError(f"dynamodb table {table!r} refused {operation}: {', '.join(sorted(codes))}")
    return StoreUnavailable(
        f"dynamodb table {table!r} is unavailable ({operation} cancelled: {', '.join(sorted(codes))})",
        store="dynamodb", table=table,
    )


FAILURES: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, OSError, asyncio.TimeoutError)
"""What a client call may raise that :func:`translate` turns into something meaningful."""


# --------------------------------------------------------------------------------------- table


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments: PK/SK, GSI1 (projection ALL), on-demand, stream NEW_IMAGE."""
    names = ("PK", "SK", "GSI1PK", "GSI1SK")
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in names],
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": keys.GSI1,
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


async def create_table(client: Any, table: str) -> None:
    """Create the table unless it exists, wait until it is active, and switch TTL on."""
    try:
        await client.create_table(**table_definition(table))
        log.info("created dynamodb table %s", table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    waiter = client.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    try:
        described = await client.describe_time_to_live(TableName=table)
        status = described.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
        if status not in ("ENABLED", "ENABLING"):
            await client.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
            )
    except ClientError as exc:  # expired items are absent on read anyway
        log.warning("could not enable TTL on dynamodb table %s: %s", table, exc)


def check_table(description: dict[str, Any], table: str) -> None:
    """Refuse a table whose keys are not this store's layout (every later call would fail oddly)."""
    schema = {k.get("AttributeName"): k.get("KeyType") for k in description.get("KeySchema", [])}
    indexes = {index.get("IndexName") for index in description.get("GlobalSecondaryIndexes", []) or []}
    problems = []
    if schema != {"PK": "HASH", "SK": "RANGE"}:
        problems.append("its key must be PK (partition) and SK (sort)")
    if keys.GSI1 not in indexes:
        problems.append(f"it has no global secondary index {keys.GSI1} (GSI1PK, GSI1SK)")
    if problems:
        raise StoreUnavailable(f"dynamodb table {table!r} does not fit: {'; '.join(problems)}",
                               store="dynamodb", table=table)


def unavailable(table: str, reason: str) -> InterlockError:
    return StoreUnavailable(f"dynamodb table {table!r}: {reason}", store="dynamodb", table=table)
