"""A real PostgreSQL for the archive tests: every test gets its own schema, dropped afterwards.

The server is ``INTERLOCK_TEST_POSTGRES_DSN`` (default: trust auth on 127.0.0.1:5432, database
``test``, user ``postgres``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from archive_helpers import DSN, Raw
from psycopg import sql

from interlock_core.clock import FakeClock
from interlock_plugins.archive import PostgresArchive
from interlock_plugins.stores.sqlite import SQLiteStore


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"it_archive_{uuid.uuid4().hex[:16]}"
    try:
        admin = await psycopg.AsyncConnection.connect(DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {DSN} (set INTERLOCK_TEST_POSTGRES_DSN): {exc}")
    try:
        yield name
    finally:
        await admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        await admin.close()


@pytest.fixture
async def archive(schema: str) -> AsyncIterator[PostgresArchive]:
    pg = PostgresArchive.from_dsn(DSN, schema=schema)
    await pg.migrate()
    try:
        yield pg
    finally:
        await pg.close()


@pytest.fixture
async def raw(schema: str, archive: PostgresArchive) -> AsyncIterator[Raw]:
    conn = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    try:
        yield Raw(conn)
    finally:
        await conn.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(tmp_path / "live.db", clock=clock)
    await sqlite_store.start()
    try:
        yield sqlite_store
    finally:
        await sqlite_store.close()
