"""Replicas of ``interlock serve`` sharing one Redis store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from .support import Cluster, cluster


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "replicas: several interlock serve processes sharing one store")


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Build a cluster (``interlock.yaml`` settings as keywords); everything is stopped after the test."""
    with ExitStack() as stack:
        def make(**config: Any) -> Cluster:
            made: Cluster = stack.enter_context(cluster(tmp_path / "project", **config))
            return made

        yield make


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three replicas, watchers on a 1 s interval, for the tests that only share work among them."""
    with cluster(tmp_path_factory.mktemp("trio")) as made:
        made.start("a", "b", "c")
        yield made
