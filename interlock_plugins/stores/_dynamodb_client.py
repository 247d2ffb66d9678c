"""The ``dynamodb`` store's table access: one long-lived aioboto3 client, opened by ``start`` and
closed by ``close``, through which every call goes (errors translated by ``_dynamodb_table``).

Writes that collided with a transaction are retried after a short random pause; a failed
condition comes back as ``False``. Queries follow ``LastEvaluatedKey`` page after page.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import random
from collections.abc import AsyncGenerator
from typing import Any

import aioboto3
import anyio

from . import _dynamodb_items as items
from ._dynamodb_items import Condition, Item
from ._dynamodb_table import (
    FAILURES,
    ConditionFailed,
    DynamoDBConfig,
    TransactionConflict,
    check_table,
    create_table,
    translate,
    unavailable,
)

log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 8
"""How often a request that collided with a transaction is tried before giving up."""


class TableClient:
    """The store's table, as the low-level DynamoDB client sees it."""

    def __init__(self, config: DynamoDBConfig, session: aioboto3.Session, page_size: int | None) -> None:
        self.config = config
        self.table = config.table_name
        self._session = session
        self._page_size = page_size if page_size and page_size > 0 else None
        self._client: Any = None
        self._exit = contextlib.AsyncExitStack()
        self._lock = anyio.Lock()

    # lifecycle -------------------------------------------------------------------------------
    async def open(self, *, create: bool = True) -> None:
        """Open the client (once), create the table when asked (``createTable``, unless ``create``
        is off: opening to read), check it exists and fits."""
        async with self._lock:
            try:
                if self._client is None:
                    self._client = await self._new_client()
                if self.config.create_table and create:
                    await create_table(self._client, self.table)
                described = await self._client.describe_table(TableName=self.table)
                check_table(described.get("Table", {}), self.table)
            except FAILURES as exc:
                await self._release()
                raise translate(exc, self.table, "start") from exc
            except BaseException:
                await self._release()
                raise

    async def close(self) -> None:
        async with self._lock:
            await self._release()

    async def ping(self) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await client.describe_table(TableName=self.table)
        except FAILURES as exc:
            log.debug("dynamodb table %s does not answer: %s", self.table, exc)
            return False
        return True

    async def _new_client(self) -> Any:
        options: dict[str, Any] = {
            "region_name": self.config.region,
            "endpoint_url": self.config.endpoint,
            "config": self.config.boto_config(),
        }
        if self.config.endpoint and not await self._has_credentials():
            options |= {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # DynamoDB Local
        return await self._exit.enter_async_context(self._session.client("dynamodb", **options))

    async def _has_credentials(self) -> bool:
        found = self._session.get_credentials()
        if inspect.isawaitable(found):
            found = await found
        return found is not None

    async def _release(self) -> None:
        self._client = None
        await self._exit.aclose()

    # calls -------------------------------------------------------------------------------------
    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One client call. A failed condition raises :class:`ConditionFailed`; a collision with a
        transaction is retried; everything else becomes the core's error."""
        client = self._client
        if client is None:
            raise unavailable(self.table, "the store is not started (or was closed)")
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                response: dict[str, Any] = await getattr(client, operation)(**params)
                return response
            except FAILURES as exc:
                error = translate(exc, self.table, operation)
                if not isinstance(error, TransactionConflict):
                    raise error from exc
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise unavailable(self.table, f"{operation} kept colliding with other writes") from exc
            await backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def put_params(self, item: Item, condition: Condition | None = None) -> dict[str, Any]:
        return {"TableName": self.table, "Item": item, **(condition.params() if condition else {})}

    async def put(self, item: Item, condition: Condition | None = None) -> bool:
        """PutItem; False when ``condition`` does not hold."""
        try:
            await self.call("put_item", **self.put_params(item, condition))
        except ConditionFailed:
            return False
        return True

    async def put_pair(self, pair: tuple[Item, Item], condition: Condition | None) -> bool:
        """A truth item (under ``condition``) and its list copy, in one transaction."""
        truth, copy = pair
        actions = [{"Put": self.put_params(truth, condition)}, {"Put": self.put_params(copy)}]
        try:
            await self.call("transact_write_items", TransactItems=actions)
        except ConditionFailed:
            return False
        return True

    async def delete(self, key: Item, condition: Condition | None = None) -> Item | None:
        """DeleteItem; the deleted item, or None when there was none or ``condition`` did not hold."""
        params = {"TableName": self.table, "Key": key, "ReturnValues": "ALL_OLD"}
        try:
            response = await self.call("delete_item", **params, **(condition.params() if condition else {}))
        except ConditionFailed:
            return None
        deleted: Item | None = response.get("Attributes")
        return deleted

    async def get(self, pk: str, sk: str) -> Item | None:
        """A strongly consistent GetItem."""
        response = await self.call("get_item", TableName=self.table, Key=items.key(pk, sk), ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    # queries -----------------------------------------------------------------------------------
    def prefix_query(
        self, pk: str, prefix: str, *, forward: bool = True, page: int | None = None
    ) -> AsyncGenerator[Item, None]:
        values = {":pk": items.text(pk), ":prefix": items.text(prefix)}
        return self.query("PK = :pk AND begins_with(SK, :prefix)", values, forward=forward, page=page)

    async def query(
        self,
        condition: str,
        values: dict[str, dict[str, str]],
        *,
        index: str | None = None,
        forward: bool = True,
        page: int | None = None,
    ) -> AsyncGenerator[Item, None]:
        """Every item matching ``condition``, following ``LastEvaluatedKey`` page after page;
        ``page`` caps the items asked for per page (so is the store's ``page_size``)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        if index is None:
            params["ConsistentRead"] = True  # a global secondary index is eventually consistent
        else:
            params["IndexName"] = index
        limits = [n for n in (page, self._page_size) if n is not None and n > 0]
        if limits:
            params["Limit"] = min(limits)
        while True:
            response = await self.call("query", **params)
            for item in response.get("Items") or []:
                yield item
            start = response.get("LastEvaluatedKey")
            if not start:
                return
            params["ExclusiveStartKey"] = start


async def backoff(attempt: int) -> None:
    """A short random pause between attempts that collided, growing with ``attempt``."""
    await anyio.sleep(random.uniform(0, min(0.1, 0.002 * 2 ** min(attempt, 6))))
