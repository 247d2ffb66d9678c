"""The pipeline configurations the campaign registers, built from small menus of choices that
cover schedules with ``after``/``deadline`` in New York and UTC (times inside both DST changes),
SLA deadlines (clock times and a duration past midnight), retry policies, monitoring and
calendar exclusions."""

from __future__ import annotations

from typing import Any

from tests.helpers.project import SENSOR

NAMES = ("p1", "p2", "p3")
TRAITS = ("a", "b", "c", "q")
NY = "America/New_York"

SCHEDULES: list[list[dict[str, Any]]] = [
    [],
    [{"name": "morning", "after": "06:00", "deadline": "10:00", "timezone": NY}],
    [{"name": "early", "after": "01:30", "deadline": "03:00", "timezone": NY},
     {"name": "late", "after": "02:30", "timezone": NY}],
    [{"name": "evening", "after": "20:00", "deadline": "23:45"}],
]
SLAS: list[dict[str, Any] | None] = [
    None,
    {"completionDeadline": "18:00", "timezone": "UTC"},
    {"evaluationDeadline": "08:00", "completionDeadline": "26h", "timezone": NY},
    {"validationTimeout": "16:00", "completionDeadline": "20:00", "timezone": NY},
]
RETRIES: list[dict[str, Any]] = [
    {"maxAttempts": 1},
    {"maxAttempts": 3, "backoffSeconds": 60, "backoffMultiplier": 2},
    {"maxAttempts": 2, "backoffSeconds": 0, "retryableFailures": ["TRANSIENT"]},
    {"maxAttempts": 3, "backoffSeconds": 900, "maxBackoffSeconds": 1200},
]
WATCHES: list[dict[str, Any]] = [
    {},
    {"interval": "10m"},
    {"monitoring": {"enabled": True, "duration": "1h"}},
    {"interval": "1m", "monitoring": {"enabled": True, "duration": "3h", "autoRerun": False}},
]
SENSOR_TIMEOUT = 2.0
"""Seconds a sensor process may take: a hung one costs this much, and a loaded machine starts a
Python process in up to half a second (a shorter timeout turned passing sensors into timeouts)."""
EXCLUSIONS: list[dict[str, Any] | None] = [None, {"calendar": "weekends"},
                                           {"calendars": ["holidays"], "days": ["Wednesday"]}]


def pipeline_config(name: str, schedules: int, sla: int, retry: int, watch: int, exclusions: int,
                    pushed_c: bool, evaluator: str = "safety") -> dict[str, Any]:
    def trait(t: str) -> dict[str, Any]:
        if evaluator == "subprocess":
            return {"evaluator": SENSOR, "config": {"sensor": f"{name}.{t}"}, "timeout": SENSOR_TIMEOUT}
        return {"evaluator": f"safety:{t}"}

    traits: dict[str, Any] = {"a": trait("a"), "b": trait("b"), "q": trait("q")}
    if name != "p1":
        traits["b"]["config"] = {**traits["b"].get("config", {}), "upstreamPipeline": "p1"}  # a cascade edge
    if not pushed_c:
        traits["c"] = trait("c")
    data: dict[str, Any] = {"name": name, "archetype": "safety-archetype", "traits": traits,
                            "trigger": {"type": "safety"}, "retry": RETRIES[retry]}
    if SCHEDULES[schedules]:
        data["schedules"] = SCHEDULES[schedules]
    if SLAS[sla] is not None:
        data["sla"] = SLAS[sla]
    if WATCHES[watch]:
        data["watch"] = WATCHES[watch]
    if EXCLUSIONS[exclusions] is not None:
        data["exclusions"] = EXCLUSIONS[exclusions]
    return data
