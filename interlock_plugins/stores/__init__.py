"""Built-in stores: ``sqlite`` (embedded default), ``redis``, ``dynamodb``.

Registered lazily (:class:`~interlock_core.plugins.LazyPlugin`): redis-py and boto are imported
only by a project whose ``provider:`` (or a store section being validated) names that store."""

from __future__ import annotations

from typing import Any

from interlock_core.hookspecs import hookimpl
from interlock_core.plugins import LazyPlugin


@hookimpl
def interlock_register_stores() -> list[Any]:
    return [
        LazyPlugin("sqlite", "interlock_plugins.stores.sqlite:SQLiteStore"),
        LazyPlugin("redis", "interlock_plugins.stores.redis:RedisStore"),
        LazyPlugin("dynamodb", "interlock_plugins.stores.dynamodb:DynamoDBStore"),
    ]
