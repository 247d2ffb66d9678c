"""What the data path costs the store, counted: Store calls, SQLite statements and write
transactions, Redis round trips (``tests/helpers/store_ops``). A count that grows fails here;
lower a ceiling when a change lowers its count (docs/performance.md has the table)."""

from __future__ import annotations

import pytest

from tests.helpers.project import Harness
from tests.helpers.store_ops import SCENARIOS, measure

EVALUATION, START_RUN, READINESS_GET, WATCHER_PASS = SCENARIOS

# scenario -> ceilings of: store calls, SQLite statements, SQLite write transactions, Redis round trips
CEILINGS: dict[str, dict[str, float]] = {
    EVALUATION: {"store calls": 3, "SQLite statements": 8, "write transactions": 1, "Redis round trips": 3},
    START_RUN: {"store calls": 17, "SQLite statements": 42, "write transactions": 8, "Redis round trips": 18},
    READINESS_GET: {"store calls": 1, "SQLite statements": 1, "write transactions": 0, "Redis round trips": 1},
    WATCHER_PASS: {"store calls": 2.67, "SQLite statements": 3.67, "write transactions": 0.34,
                   "Redis round trips": 3},
}


@pytest.mark.parametrize("provider", ["sqlite", "redis"])
async def test_store_operations_per_call_never_grow(harness: Harness, provider: str) -> None:
    counts = await measure(harness, provider)
    grown = {}
    for scenario, ceilings in CEILINGS.items():
        for measure_name, ceiling in ceilings.items():
            if measure_name == "SQLite statements" and provider != "sqlite":
                continue
            if measure_name == "write transactions" and provider != "sqlite":
                continue
            if measure_name == "Redis round trips" and provider != "redis":
                continue
            value = counts[scenario][measure_name]
            if value > ceiling:
                grown[f"{scenario}: {measure_name}"] = (value, ceiling, counts[scenario]["calls by name"])
    assert not grown, f"store operations grew (count, ceiling, calls by name): {grown}"
