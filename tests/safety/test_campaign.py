"""The safety campaign on SQLite and on Redis, and a small variant with real subprocess evaluators.

Budgets: the default run (``scripts/test.sh``, CI) replays the same derandomized examples every
time — a regression check of fixed scenarios, sized to keep the suite short; exploring
(``INTERLOCK_EXPLORE=1``, ``scripts/explore.sh``) draws fresh ones with a larger budget, and a soak
(``INTERLOCK_SOAK=1``) twenty times the examples, each four times longer.
``INTERLOCK_SAFETY_REPORT=<file>`` writes the step, launch and violation counts. See docs/safety.md."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis.stateful import run_state_machine_as_test

from .machine import STATS, SafetyMachine
from .profiles import Budget, campaign_settings
from .world import REDIS_URL


class SQLiteCampaign(SafetyMachine):
    backend = "sqlite"


class RedisCampaign(SafetyMachine):
    backend = "redis"


class SubprocessCampaign(SafetyMachine):
    backend = "sqlite"
    evaluator = "subprocess"


SQLITE = Budget(examples=110, steps=60, explore_examples=110, explore_steps=60)
REDIS = Budget(examples=95, steps=60, explore_examples=95, explore_steps=60)
SUBPROCESS = Budget(examples=4, steps=25, explore_examples=4, explore_steps=25)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    path = os.environ.get("INTERLOCK_SAFETY_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(STATS, fh, indent=2, sort_keys=True)


def test_sqlite_campaign() -> None:
    run_state_machine_as_test(SQLiteCampaign, settings=campaign_settings(SQLITE))


@pytest.mark.redis
def test_redis_campaign() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"redis-server is not reachable at {REDIS_URL}")
    finally:
        client.close()
    run_state_machine_as_test(RedisCampaign, settings=campaign_settings(REDIS))


def test_subprocess_campaign() -> None:
    run_state_machine_as_test(SubprocessCampaign, settings=campaign_settings(SUBPROCESS))
