"""Built-in stores: ``sqlite`` (embedded default), ``redis``, ``dynamodb``."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl


@hookimpl
def interlock_register_stores() -> list[Any]:
    from .sqlite import SQLiteStore

    out: list[Any] = [SQLiteStore]
    try:
        from .redis import RedisStore

        out.append(RedisStore)
    except ImportError:  # pragma: no cover - not yet built
        pass
    try:
        from .dynamodb import DynamoDBStore

        out.append(DynamoDBStore)
    except ImportError:  # pragma: no cover - aioboto3 not installed
        pass
    return out
