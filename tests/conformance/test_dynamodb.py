"""The DynamoDB store: the conformance suite against moto in server mode, one table per test.

moto never expires items, and the store decides expiry with its clock anyway, so ``advance``
moves a fake clock. moto's DynamoDB is made atomic per request (see ``tests.helpers.dynamodb``),
as DynamoDB is; without that the race cases would test moto's thread safety.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aioboto3
import boto3
import pytest

from interlock_core.clock import FakeClock
from interlock_plugins.stores.dynamodb import DynamoDBStore
from tests.helpers.dynamodb import dynamodb_moto_server
from tests.moto_server import FAKE_REGION, MotoServer, fake_aws_environment

from .records import Advance, OpenStore
from .suite import StoreConformance


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with dynamodb_moto_server() as server:
        yield server


@pytest.fixture(scope="module")
def aws_session() -> aioboto3.Session:
    """One session for the module's stores (each store would otherwise load botocore's models)."""
    return aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=FAKE_REGION
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(
    moto_server: MotoServer, aws_session: aioboto3.Session, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DynamoDBStore]:
    fake_aws_environment(monkeypatch, moto_server)
    table = f"interlock-test-{uuid.uuid4().hex[:12]}"
    dynamodb_store = DynamoDBStore(
        table_name=table, endpoint=moto_server.url, region=FAKE_REGION, create_table=True,
        clock=clock, session=aws_session,
    )
    await dynamodb_store.start()
    try:
        yield dynamodb_store
    finally:
        await dynamodb_store.close()
        admin = boto3.client("dynamodb", endpoint_url=moto_server.url, region_name=FAKE_REGION)
        admin.delete_table(TableName=table)


@pytest.fixture
async def open_store(
    moto_server: MotoServer, aws_session: aioboto3.Session, clock: FakeClock, store: DynamoDBStore
) -> AsyncIterator[OpenStore]:
    opened: list[DynamoDBStore] = []
    fresh_tables: list[str] = []

    async def open_store(fresh: bool = False) -> DynamoDBStore:
        table = store.table
        if fresh:
            table = f"interlock-test-{uuid.uuid4().hex[:12]}"
            fresh_tables.append(table)
        other = DynamoDBStore(table_name=table, endpoint=moto_server.url, region=FAKE_REGION,
                              create_table=fresh, clock=clock, session=aws_session)
        opened.append(other)
        await other.start()
        return other

    try:
        yield open_store
    finally:
        for other in opened:
            await other.close()
        admin = boto3.client("dynamodb", endpoint_url=moto_server.url, region_name=FAKE_REGION)
        for table in fresh_tables:
            admin.delete_table(TableName=table)


@pytest.fixture
def advance(clock: FakeClock) -> Advance:
    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    return advance


class TestDynamoDBStore(StoreConformance):
    """Every conformance case, against DynamoDB as moto serves it."""
