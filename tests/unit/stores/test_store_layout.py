"""The SQLite and Redis stores are laid out as the store port is: each role's methods are in that
role's module of the store's package, so a store can be read one role at a time."""

from __future__ import annotations

import pytest

from interlock_core.store_roles import STORE_ROLES
from interlock_plugins.stores.redis import RedisStore
from interlock_plugins.stores.sqlite import SQLiteStore

ROLE_MODULES = {
    "StoreConnection": "connection", "PipelineStore": "pipelines", "TraitStore": "traits", "RunStore": "runs",
    "RerunStore": "reruns", "EventStore": "events", "AlertOutboxStore": "alerts", "MarkerStore": "markers",
    "ShadowStore": "shadow", "BatchStore": "batches", "LeaseStore": "leases",
}
WRITTEN_WITH_ITS_ALERTS = {"append_event": "alerts"}
"""An event is appended in one write with the alerts it raised: the outbox's module has it."""


@pytest.mark.parametrize("store", [SQLiteStore, RedisStore])
def test_every_role_is_implemented_in_its_module(store: type) -> None:
    assert {role.__name__ for role in STORE_ROLES} == set(ROLE_MODULES)
    package = store.__module__
    misplaced = {}
    for role in STORE_ROLES:
        for name, value in vars(role).items():
            if name.startswith("_") or not callable(value):
                continue
            expected = f"{package}.{WRITTEN_WITH_ITS_ALERTS.get(name, ROLE_MODULES[role.__name__])}"
            if getattr(store, name).__module__ != expected:
                misplaced[name] = getattr(store, name).__module__
    assert misplaced == {}
