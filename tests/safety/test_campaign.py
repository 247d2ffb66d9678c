"""The safety campaign on SQLite and on Redis, and a small variant with real subprocess evaluators.

Budgets (CI): SQLite 110 and Redis 95 examples of up to 60 steps, the subprocess variant 4 of up
to 25 — over 10,000 steps in all. ``INTERLOCK_SOAK=1`` runs twenty times the examples, each four
times longer. ``INTERLOCK_SAFETY_REPORT=<file>`` writes the step, launch and violation counts.
See docs/safety.md."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from .machine import STATS, SafetyMachine
from .profiles import budget, profile
from .world import REDIS_URL


class SQLiteCampaign(SafetyMachine):
    backend = "sqlite"


class RedisCampaign(SafetyMachine):
    backend = "redis"


class SubprocessCampaign(SafetyMachine):
    backend = "sqlite"
    evaluator = "subprocess"


def campaign_settings(examples: int, steps: int) -> settings:
    return settings(settings.get_profile(profile()), **budget(examples, steps))


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    path = os.environ.get("INTERLOCK_SAFETY_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(STATS, fh, indent=2, sort_keys=True)


def test_sqlite_campaign() -> None:
    run_state_machine_as_test(SQLiteCampaign, settings=campaign_settings(110, 60))


@pytest.mark.redis
def test_redis_campaign() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"redis-server is not reachable at {REDIS_URL}")
    finally:
        client.close()
    run_state_machine_as_test(RedisCampaign, settings=campaign_settings(95, 60))


def test_subprocess_campaign() -> None:
    run_state_machine_as_test(SubprocessCampaign, settings=campaign_settings(4, 25))
