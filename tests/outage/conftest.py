"""Store outages under a running ``interlock serve``: its own ``redis-server``, killed and restarted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import PrivateRedis, running_private_redis


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "outage: the store goes away under a running interlock serve")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with running_private_redis(tmp_path / "redis") as server:
        yield server
