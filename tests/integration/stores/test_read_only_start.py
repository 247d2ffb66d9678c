"""``start_read_only``: what a command that only reads (``interlock status``) opens. It never creates
a store — no SQLite file, no schema, no DynamoDB table — and reads an existing one as it is; against
real SQLite files, Redis and moto."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import aioboto3
import boto3
import pytest

from interlock_core.errors import StoreMissing, StoreUnavailable
from interlock_core.model import PipelineConfig
from interlock_plugins.stores.dynamodb import DynamoDBStore
from interlock_plugins.stores.redis import RedisStore
from interlock_plugins.stores.sqlite import SQLiteStore
from tests.helpers.backends import REDIS_ADDR
from tests.helpers.dynamodb import dynamodb_moto_server
from tests.moto_server import FAKE_REGION, MotoServer, fake_aws_environment

PIPELINE = PipelineConfig(name="p1", archetype="batch-ingestion")


async def test_sqlite_read_only_never_creates_the_file_nor_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "interlock.db"
    store = SQLiteStore(path)
    with pytest.raises(StoreMissing) as missing:
        await store.start_read_only()
    await store.close()
    assert "no sqlite store at" in missing.value.message and missing.value.status_code == 404
    assert not path.exists() and not path.parent.exists()


async def test_sqlite_read_only_refuses_a_file_without_a_store_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    store = SQLiteStore(path)
    with pytest.raises(StoreMissing):
        await store.start_read_only()
    await store.close()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"unrelated"}


async def test_sqlite_read_only_reads_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "interlock.db"
    writer = SQLiteStore(path)
    await writer.start()
    await writer.put_pipeline(PIPELINE)
    await writer.close()
    reader = SQLiteStore(path)
    await reader.start_read_only()
    try:
        assert [p.name for p in await reader.list_pipelines()] == ["p1"]
    finally:
        await reader.close()


async def test_redis_read_only_starts_as_usual() -> None:
    store = RedisStore(addr=REDIS_ADDR, key_prefix=f"ro-{uuid.uuid4().hex[:8]}:")
    await store.start_read_only()
    try:
        assert await store.list_pipelines() == []
    finally:
        await store.close()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with dynamodb_moto_server() as server:
        yield server


async def test_dynamodb_read_only_never_creates_the_table(moto_server: MotoServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake_aws_environment(monkeypatch, moto_server)
    table = f"interlock-ro-{uuid.uuid4().hex[:12]}"
    session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=FAKE_REGION)
    store = DynamoDBStore(table_name=table, endpoint=moto_server.url, region=FAKE_REGION, create_table=True,
                          session=session)
    with pytest.raises(StoreUnavailable):
        await store.start_read_only()
    await store.close()
    admin = boto3.client("dynamodb", endpoint_url=moto_server.url, region_name=FAKE_REGION)
    assert table not in admin.list_tables()["TableNames"]


async def test_sqlite_read_only_in_memory_is_an_empty_store() -> None:
    store = SQLiteStore(":memory:")
    await store.start_read_only()
    try:
        assert await store.list_pipelines() == []
    finally:
        await store.close()
