"""The ``redis:`` section of ``interlock.yaml``, the key layout and the wake-up wire format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from interlock_core.ports import WakeUp
from interlock_plugins.stores.redis import RedisConfig
from interlock_plugins.stores.redis.keys import RedisKeys, escape, split_cycle_member, unescape
from interlock_plugins.stores.redis_notify import decode_wake_up, encode_wake_up


def test_defaults_match_the_predecessor() -> None:
    config = RedisConfig()
    assert config.addr == "localhost:6379"
    assert config.key_prefix == "interlock:"
    assert config.readiness_ttl == timedelta(minutes=5)
    assert config.retention_ttl == timedelta(days=7)
    assert (config.event_stream_max, config.run_index_limit) == (10_000, 100)


def test_camel_case_keys_and_duration_strings() -> None:
    config = RedisConfig.model_validate(
        {"addr": "redis:6380", "keyPrefix": "ops:", "poolSize": 8, "socketTimeout": "2s",
         "connectTimeout": 1, "retentionTtl": "168h", "eventStreamMax": 500, "runIndexLimit": 50}
    )
    assert (config.key_prefix, config.pool_size, config.event_stream_max) == ("ops:", 8, 500)
    assert config.socket_timeout == timedelta(seconds=2)
    assert config.retention_ttl == timedelta(days=7)
    assert config.target() == "redis:6380/0"


def test_multiplexed_reads_are_on_unless_turned_off() -> None:
    assert RedisConfig().multiplex_reads is True
    assert RedisConfig.model_validate({"multiplexReads": False}).multiplex_reads is False
    with pytest.raises(ValidationError, match="multiplexReads"):
        RedisConfig.model_validate({"multiplexReads": "sometimes"})


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"adress": "localhost:6379"}, "adress"),
        ({"addr": "localhost"}, "host:port"),
        ({"url": "http://localhost:6379"}, "redis://"),
        ({"keyPrefix": "{tag}:"}, "keyPrefix"),
        ({"keyPrefix": ""}, "keyPrefix"),
        ({"retentionTtl": "soon"}, "invalid duration"),
        ({"socketTimeout": 0}, "positive"),
        ({"poolSize": 0}, "poolSize"),
    ],
)
def test_bad_sections_are_rejected_naming_the_problem(section: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        RedisConfig.model_validate(section)


def test_target_never_shows_the_password() -> None:
    config = RedisConfig(url="rediss://user:s3cret@cache.example:6390/2")
    assert config.target() == "rediss://cache.example:6390/2"
    assert "s3cret" not in config.target()


def test_key_parts_are_escaped_and_reversible() -> None:
    odd = "a:b{c}%d"
    assert unescape(escape(odd)) == odd
    keys = RedisKeys("p:")
    assert keys.trait(odd, "t") == "p:{a%3Ab%7Bc%7D%25d}:trait:t"
    assert split_cycle_member("2026%3A03:x%3Ay") == ("2026:03", "x:y")
    assert RedisKeys("a*b?:").match_all() == "a\\*b\\?:*"
    assert keys.wake_channel == "p:wake"


def test_wake_up_wire_format_round_trips() -> None:
    wake = WakeUp(pipeline_id="orders", reason="cascade", schedule_id="h14", date="2026-03-02",
                  at=datetime(2026, 3, 2, 12, 0, 1, 500000, tzinfo=UTC))
    text = encode_wake_up(wake)
    assert '"pipelineId":"orders"' in text
    assert decode_wake_up(text) == wake
    assert decode_wake_up(encode_wake_up(WakeUp(pipeline_id="p", reason="r"))) == WakeUp("p", "r")


@pytest.mark.parametrize(
    "data", ["not json", "[]", "{}", '{"pipelineId": 3}', '{"pipelineId": "p", "at": "x"}']
)
def test_malformed_wake_ups_are_ignored(data: str) -> None:
    assert decode_wake_up(data) is None
