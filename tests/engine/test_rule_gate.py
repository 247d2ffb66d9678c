"""A ``builtin:rule`` trait gating runs through the engine and a real SQLite store: a pushed value
(on the rule's own trait, or another pipeline's) decides, with the fake clock for its age."""

from __future__ import annotations

from datetime import timedelta

from interlock_core.engine import Outcome
from interlock_core.model import RunStatus
from tests.helpers.project import Harness, pipeline

RULES = [
    {"path": "$.results[0].status", "op": "equals", "value": "success", "name": "dbt models built"},
    {"path": "$.rows", "op": "gte", "value": 1000},
    {"op": "age_lt", "value": "2h", "name": "pushed in the last 2h"},
]


def gated(name: str, config: dict[str, object]) -> dict[str, object]:
    """A pipeline whose ``freshness`` trait is decided by ``builtin:rule`` with ``config``."""
    data = pipeline(name)
    traits = data["traits"]
    assert isinstance(traits, dict)
    traits["freshness"] = {"evaluator": "builtin:rule", "config": config}
    return data


async def test_a_pushed_value_gates_the_run(harness: Harness) -> None:
    harness.write([gated("orders", {"rules": RULES})])
    harness.sensors.ready("orders")
    engine = await harness.engine()

    blocked = await engine.start_run("orders")
    assert blocked.outcome is Outcome.NOT_READY and blocked.readiness is not None
    assert blocked.readiness.blocking == ["freshness"]

    await engine.push_trait("orders", "freshness", "PASS", value={"rows": 500, "results": [{"status": "success"}]})
    short = await engine.start_run("orders")
    assert short.outcome is Outcome.NOT_READY and short.readiness is not None
    [freshness] = [t for t in short.readiness.traits if t.trait_type == "freshness"]
    assert freshness.status == "FAIL"  # the push said PASS: the rule decides
    assert freshness.reason == 'rule "$.rows gte 1000" failed: $.rows is 500 (freshness of orders, pushed ' \
                               '2026-03-02T12:00:00Z)'

    harness.clock.advance(timedelta(minutes=10))
    await engine.push_trait("orders", "freshness", "FAIL",
                            value={"rows": 1500, "results": [{"status": "success"}]})
    harness.clock.advance(timedelta(minutes=2))  # within the trait's ttl (5m)
    await engine.evaluate("orders")  # the verdict replaces the push in the store: it carries what it read
    stored = await engine.store.get_trait("orders", "freshness")
    assert stored is not None and stored.source == "evaluator"
    assert stored.status == "PASS", stored.reason
    harness.clock.advance(timedelta(minutes=2))
    ran = await engine.start_run("orders")
    assert ran.outcome is Outcome.TRIGGERED, ran.message
    assert ran.run is not None and ran.run.status is RunStatus.COMPLETED


async def test_a_rule_on_another_pipelines_push_and_its_age(harness: Harness) -> None:
    harness.write([pipeline("warehouse"),
                   gated("report", {"pipeline": "warehouse", "trait": "quality", "rules": RULES})])
    harness.sensors.ready("report")
    engine = await harness.engine()
    await engine.push_trait("warehouse", "quality", "PASS", value={"rows": 2000, "results": [{"status": "success"}]})

    harness.clock.advance(timedelta(hours=3))
    old = await engine.start_run("report")
    assert old.outcome is Outcome.NOT_READY and old.readiness is not None
    [freshness] = [t for t in old.readiness.traits if t.trait_type == "freshness"]
    assert freshness.reason == ('rule "pushed in the last 2h" failed: pushed at 2026-03-02T12:00:00Z, 3h0m0s old '
                                '(quality of warehouse, pushed 2026-03-02T12:00:00Z)')

    await engine.push_trait("warehouse", "quality", "PASS", value={"rows": 2000, "results": [{"status": "success"}]})
    fresh = await engine.start_run("report")
    assert fresh.outcome is Outcome.TRIGGERED, fresh.message


async def test_a_push_overwritten_by_a_racing_verdict_is_judged_next(harness: Harness) -> None:
    harness.write([gated("orders", {"rules": RULES})])
    harness.sensors.ready("orders")
    engine = await harness.engine()
    await engine.push_trait("orders", "freshness", "PASS", value={"rows": 10, "results": [{"status": "success"}]})
    await engine.evaluate("orders")
    on_a = await engine.store.get_trait("orders", "freshness")  # the verdict on push A
    assert on_a is not None and on_a.status == "FAIL"
    harness.clock.advance(timedelta(seconds=1))
    await engine.push_trait("orders", "freshness", "PASS", value={"rows": 5000, "results": [{"status": "success"}]})
    # an evaluation that read A before B landed records its verdict after: B is gone from the store
    await engine.store.put_trait(on_a.model_copy(update={"evaluated_at": harness.clock.now()}), 300)
    ran = await engine.start_run("orders")
    assert ran.outcome is Outcome.TRIGGERED, ran.message  # B's TRAIT_PUSHED event is judged
