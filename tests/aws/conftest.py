"""Fixtures of the offline AWS suite: one moto server per session, a fresh stack per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.aws.stack import AWSStack, Sensors, ShiftedClock, evaluator_server
from tests.moto_server import MotoServer, fake_aws_environment


@pytest.fixture(scope="session")
def aws_moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def make_stack(aws_moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AWSStack]]:
    """``make_stack(real_waits=False)``: the stack of one test (build it once per test)."""
    fake_aws_environment(monkeypatch, aws_moto_server)
    built: list[AWSStack] = []
    sensors = Sensors()
    with evaluator_server(sensors) as url:

        def make(real_waits: bool = False) -> AWSStack:
            stack = AWSStack(aws_moto_server, ShiftedClock(), sensors, url, real_waits=real_waits)
            built.append(stack)
            return stack.build(monkeypatch)

        try:
            yield make
        finally:
            for stack in built:
                stack.close()


@pytest.fixture
def stack(make_stack: Callable[..., AWSStack]) -> AWSStack:
    return make_stack()
