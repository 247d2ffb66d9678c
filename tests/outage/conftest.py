"""Store outages under a running ``interlock serve``: its own ``redis-server``, killed and restarted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.served import free_port

from .support import PrivateRedis


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "outage: the store goes away under a running interlock serve")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/services.sh installs it)")
    server = PrivateRedis(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
