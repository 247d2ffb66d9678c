"""Shared by the archive tests: where the test PostgreSQL is, and raw SQL for assertions."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.helpers.backends import POSTGRES_DSN

DSN = POSTGRES_DSN


class Raw:
    """Direct SQL on the test's schema, for assertions."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return await (await self.conn.execute(query, params or None)).fetchall()

    async def count(self, table: str, where: str = "TRUE", *params: Any) -> int:
        rows = await self.rows(f"SELECT count(*) FROM {table} WHERE {where}", *params)
        return int(rows[0][0])
