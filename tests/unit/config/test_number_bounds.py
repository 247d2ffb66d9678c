"""Numbers in a configuration are bounded: a value far beyond any sensible setting is a clear
error naming the key, never a later overflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
import pytest

from interlock_core.model import PipelineConfig, ProjectConfig, RetryPolicy
from interlock_core.model.archetype import TraitDefinition
from interlock_core.retry import backoff


def pipeline(**extra: Any) -> dict[str, Any]:
    return {"name": "sales", "archetype": "gate", **extra}


@pytest.mark.parametrize(("data", "where"), [
    (pipeline(retry={"backoffSeconds": 1e300}), "backoffSeconds"),
    (pipeline(retry={"backoffSeconds": 86_401}), "backoffSeconds"),
    (pipeline(retry={"maxBackoffSeconds": 1e12}), "maxBackoffSeconds"),
    (pipeline(retry={"backoffMultiplier": 1e300}), "backoffMultiplier"),
    (pipeline(retry={"maxAttempts": 10**9}), "maxAttempts"),
    (pipeline(traits={"t": {"ttl": 400_000_000_000}}), "ttl"),
    (pipeline(traits={"t": {"ttl": 366 * 86_400 + 1}}), "ttl"),
    (pipeline(traits={"t": {"timeout": 1e18}}), "timeout"),
    (pipeline(watch={"interval": "100000h"}), "interval"),
    (pipeline(watch={"monitoring": {"duration": "99999h"}}), "duration"),
    (pipeline(sla={"completionDeadline": "+9999999h"}), "completionDeadline"),
])
def test_pipeline_numbers_are_bounded(data: dict[str, Any], where: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        PipelineConfig.model_validate(data)
    assert where in str(caught.value)


def test_sensible_values_still_pass() -> None:
    config = PipelineConfig.model_validate(pipeline(
        retry={"maxAttempts": 10, "backoffSeconds": 3600, "maxBackoffSeconds": 86_400, "backoffMultiplier": 3},
        traits={"t": {"ttl": 366 * 86_400, "timeout": 600}},
        watch={"interval": "24h", "monitoring": {"duration": "48h"}},
        sla={"completionDeadline": "+36h"}))
    assert config.retry is not None and config.retry.max_attempts == 10


def test_archetype_and_project_numbers_are_bounded() -> None:
    with pytest.raises(pydantic.ValidationError):
        TraitDefinition.model_validate({"type": "t", "defaultTtl": 10**15})
    for server_and_more in ({"watcher": {"defaultInterval": "1000000h"}}, {"engine": {"readinessTtl": "999999h"}},
                            {"engine": {"defaultTimeout": 1e12}}, {"server": {"maxRequestBody": 10**15}},
                            {"archiver": {"interval": "99999h"}}, {"engine": {"maxConcurrency": 10**9}}):
        with pytest.raises(pydantic.ValidationError):
            ProjectConfig.model_validate({"provider": "sqlite", **server_and_more})


def test_backoff_never_overflows() -> None:
    policy = RetryPolicy(maxAttempts=100, backoffSeconds=86_400, backoffMultiplier=100, maxBackoffSeconds=86_400)
    assert backoff(policy, 100) == timedelta(days=1)
    unbounded = RetryPolicy.model_construct(max_attempts=10**6, backoff_seconds=1.0, backoff_multiplier=1e300,
                                            max_backoff_seconds=60.0, retryable_failures=[])
    assert backoff(unbounded, 10) == timedelta(seconds=60)
