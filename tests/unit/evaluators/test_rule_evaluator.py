"""``builtin:rule`` through the builtin runner, reading trait results from a stand-in store: pushed
values of this or another trait and pipeline, what a verdict carries of its own trait, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from interlock_core.clock import FakeClock
from interlock_core.model import Event, EventKind, FailureCategory, TraitEvaluation
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext, Store
from interlock_plugins.evaluators.builtin import BuiltinRunner

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Traits:
    """Stands in for the store's get_trait (the only call the rule makes), honouring expiry."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.records: dict[tuple[str, str], TraitEvaluation] = {}
        self.events: list[Event] = []

    def push(self, pipeline: str, trait: str, value: dict[str, Any] | None, *, ago: timedelta = timedelta(0),
             ttl: timedelta | None = None, source: str = "pushed") -> None:
        at = self.clock.now() - ago
        self.records[(pipeline, trait)] = TraitEvaluation(
            pipeline_id=pipeline, trait_type=trait, status="PASS", value=value, evaluated_at=at,
            expires_at=at + ttl if ttl else None, source=source)
        if source == "pushed":  # as the engine does: the event is stamped as the stored result
            self.events.append(Event(kind=EventKind.TRAIT_PUSHED, pipeline_id=pipeline, trait_type=trait,
                                     status="PASS", details=value, timestamp=at,
                                     expires_at=at + ttl if ttl else None))

    def record(self, request: EvaluatorInput, output: EvaluatorOutput) -> None:
        """What the engine does with a verdict: it replaces the trait's stored result."""
        self.records[(request.pipeline_id, request.trait_type)] = TraitEvaluation(
            pipeline_id=request.pipeline_id, trait_type=request.trait_type, status=output.status,
            value=output.value, reason=output.reason, evaluated_at=self.clock.now(), source="evaluator")

    async def list_events(self, pipeline_id: str, limit: int = 50) -> list[Event]:
        return [e for e in self.events if e.pipeline_id == pipeline_id][-limit:]

    async def get_trait(self, pipeline_id: str, trait_type: str) -> TraitEvaluation | None:
        record = self.records.get((pipeline_id, trait_type))
        if record is None or (record.expires_at is not None and record.expires_at <= self.clock.now()):
            return None
        return record


def setup() -> tuple[BuiltinRunner, Traits, FakeClock]:
    clock = FakeClock(NOW)
    traits = Traits(clock)
    runner = BuiltinRunner(RunnerContext(evaluator_dirs=(), store=cast(Store, traits), clock=clock))
    return runner, traits, clock


def ask(config: dict[str, Any], *, trait: str = "dbt-tests", pipeline: str = "orders") -> EvaluatorInput:
    """An evaluation of ``trait`` of ``pipeline`` (whose evaluator is builtin:rule with ``config``)."""
    return EvaluatorInput(pipeline_id=pipeline, trait_type=trait, config=config, schedule_id="daily",
                          date="2026-03-02", timeout=5.0)


ROWS = {"path": "$.rows", "op": "gte", "value": 1000}


async def test_a_rule_on_another_trait_passes_and_fails_with_the_value_seen() -> None:
    runner, traits, _ = setup()
    request = ask({"trait": "dbt-results", "rules": [ROWS]}, trait="gate")
    missing = await runner.run("builtin:rule", request)
    assert (missing.status, missing.failure_category) == ("FAIL", None)  # a plain not-ready: wait for the push
    assert missing.reason == ('rule "$.rows gte 1000" failed: nothing pushed to dbt-results of orders yet (or it '
                              'expired) (dbt-results of orders)')
    traits.push("orders", "dbt-results", {"rows": 500}, ago=timedelta(minutes=5))
    short = await runner.run("builtin:rule", request)
    assert short.status == "FAIL"
    assert short.reason == ('rule "$.rows gte 1000" failed: $.rows is 500 (dbt-results of orders, pushed '
                            '2026-03-02T07:55:00Z)')
    traits.push("orders", "dbt-results", {"rows": 1500})
    ok = await runner.run("builtin:rule", request)
    assert ok.status == "PASS" and ok.reason == "1 rule holds (dbt-results of orders, pushed 2026-03-02T08:00:00Z)"
    assert ok.value == {"ruleVerdict": {"sources": [
        {"pipeline": "orders", "trait": "dbt-results", "pushedAt": "2026-03-02T08:00:00Z"}]}}


async def test_a_rule_reads_another_pipelines_trait() -> None:
    runner, traits, _ = setup()
    traits.push("warehouse", "soda-scan", {"checks": [{"name": "row_count > 0", "outcome": "pass"}]})
    request = ask({"pipeline": "warehouse", "rules": [
        {"trait": "soda-scan", "path": "$.checks[0].outcome", "op": "equals", "value": "pass"}]},
        pipeline="report", trait="gate")
    output = await runner.run("builtin:rule", request)
    assert output.status == "PASS", output.reason


async def test_a_rule_on_its_own_trait_keeps_judging_what_was_pushed_until_a_new_push() -> None:
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS, {"op": "age_lt", "value": "1h", "name": "fresh"},
                             {"path": "$.results", "op": "exists"}]})
    first = await runner.run("builtin:rule", request)
    assert first.status == "FAIL" and "nothing pushed to dbt-tests of orders yet" in (first.reason or "")
    traits.record(request, first)
    again = await runner.run("builtin:rule", request)  # its own verdict is no push
    assert again.status == "FAIL" and "nothing pushed to dbt-tests of orders yet" in (again.reason or "")

    big = [{"unique_id": f"model.{i}", "status": "success"} for i in range(50)]
    traits.push("orders", "dbt-tests", {"rows": 1500, "results": big}, ttl=timedelta(hours=6))
    judged = await runner.run("builtin:rule", request)
    assert judged.status == "PASS", judged.reason
    carried = (judged.value or {})["ruleVerdict"]["carried"]
    # only what the rules compare is kept: `exists` keeps true, not the 50 results
    assert carried == {"pushedAt": "2026-03-02T08:00:00Z", "expiresAt": "2026-03-02T14:00:00Z",
                       "seen": {"$.rows": 1500, "$.results": True}}
    traits.record(request, judged)

    clock.advance(timedelta(minutes=30))
    still = await runner.run("builtin:rule", request)  # the push is gone from the store: the verdict carries it
    assert still.status == "PASS" and still.value == judged.value
    traits.record(request, still)
    clock.advance(timedelta(minutes=31))
    stale = await runner.run("builtin:rule", request)
    assert stale.status == "FAIL"
    assert 'rule "fresh" failed: pushed at 2026-03-02T08:00:00Z, 1h1m0s old' in (stale.reason or "")
    traits.record(request, stale)

    traits.push("orders", "dbt-tests", {"rows": 10, "results": []})
    newer = await runner.run("builtin:rule", request)
    assert newer.status == "FAIL" and 'rule "$.rows gte 1000" failed: $.rows is 10' in (newer.reason or "")


async def test_a_carried_push_expires_when_the_push_would_have() -> None:
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS]})
    traits.push("orders", "dbt-tests", {"rows": 1500}, ttl=timedelta(hours=1))
    traits.record(request, await runner.run("builtin:rule", request))
    clock.advance(timedelta(hours=1))
    output = await runner.run("builtin:rule", request)
    assert output.status == "FAIL"
    assert "the value pushed to dbt-tests of orders expired at 2026-03-02T09:00:00Z" in (output.reason or "")


async def test_a_rule_reads_what_another_pipelines_rule_carries() -> None:
    runner, traits, _ = setup()
    upstream = ask({"rules": [ROWS]}, pipeline="warehouse")
    traits.push("warehouse", "dbt-tests", {"rows": 1500})
    traits.record(upstream, await runner.run("builtin:rule", upstream))
    downstream = ask({"pipeline": "warehouse", "trait": "dbt-tests",
                      "rules": [{"path": "$.rows", "op": "gt", "value": 1200}]}, pipeline="report", trait="gate")
    output = await runner.run("builtin:rule", downstream)
    assert output.status == "PASS", output.reason


async def test_a_rule_reads_an_evaluators_output_value() -> None:
    runner, traits, _ = setup()
    traits.push("orders", "freshness", {"lagSeconds": 30}, source="evaluator")
    output = await runner.run("builtin:rule", ask({"trait": "freshness", "rules": [
        {"path": "$.lagSeconds", "op": "lt", "value": 60}]}, trait="gate"))
    assert output.status == "PASS", output.reason


async def test_matches_runs_off_the_event_loop_and_a_bad_config_is_permanent() -> None:
    runner, traits, _ = setup()
    traits.push("orders", "dbt-tests", {"version": "1.8.2"})
    output = await runner.run("builtin:rule", ask({"rules": [
        {"path": "$.version", "op": "matches", "value": r"^1\."}]}))
    assert output.status == "PASS", output.reason
    bad = await runner.run("builtin:rule", ask({"rules": [{"path": "$.version", "op": "bigger", "value": 1}]}))
    assert (bad.status, bad.failure_category) == ("FAIL", FailureCategory.PERMANENT)
    assert (bad.reason or "").startswith("invalid rule config: rules.0.op: Input should be 'exists'")


async def test_a_push_that_lands_while_the_rule_judges_is_judged_next() -> None:
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS]})
    traits.push("orders", "dbt-tests", {"rows": 10})
    on_a = await runner.run("builtin:rule", request)  # judging push A ...
    clock.advance(timedelta(milliseconds=5))
    traits.push("orders", "dbt-tests", {"rows": 1500})  # ... when push B lands,
    clock.advance(timedelta(milliseconds=5))
    traits.record(request, on_a)  # and the verdict on A replaces B in the store
    assert on_a.status == "FAIL"
    on_b = await runner.run("builtin:rule", request)  # B's event is later than what the verdict carries
    assert on_b.status == "PASS", on_b.reason
    assert on_b.reason == "1 rule holds (dbt-tests of orders, pushed 2026-03-02T08:00:00.005Z)"
    traits.record(request, on_b)
    assert (await runner.run("builtin:rule", request)).status == "PASS"  # and carried from then on


async def test_a_push_stamped_before_the_rule_read_but_stored_after_is_judged_next_time() -> None:
    """The push route stamps a result, then writes it: a rule that read the store in between wrote a
    verdict that saw nothing over it. The next evaluation judges that push from its event."""
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS]})
    stamped = clock.now()
    clock.advance(timedelta(milliseconds=40))  # the rule reads after the stamp, before the write
    blind = await runner.run("builtin:rule", request)
    assert "nothing pushed to dbt-tests of orders yet" in (blind.reason or "")
    traits.push("orders", "dbt-tests", {"rows": 1500}, ago=timedelta(milliseconds=40))
    assert traits.events[-1].timestamp == stamped
    traits.record(request, blind)  # the verdict lands last and replaces the push in the store
    judged = await runner.run("builtin:rule", request)
    assert judged.status == "PASS", judged.reason
    assert (judged.value or {})["ruleVerdict"]["carried"]["pushedAt"] == "2026-03-02T08:00:00Z"


async def test_an_evaluation_without_a_verdict_does_not_make_the_rule_forget_the_push() -> None:
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS]})
    traits.push("orders", "dbt-tests", {"rows": 1500})
    traits.record(request, await runner.run("builtin:rule", request))
    clock.advance(timedelta(minutes=5))
    timed_out = EvaluatorOutput(status="FAIL", reason="EVALUATOR_TIMEOUT after 5s",
                                failure_category=FailureCategory.TIMEOUT)
    traits.record(request, timed_out)  # what the engine stores when the rule timed out
    again = await runner.run("builtin:rule", request)
    assert again.status == "PASS", again.reason


async def test_an_expired_push_found_among_the_events_stays_expired() -> None:
    runner, traits, clock = setup()
    request = ask({"rules": [ROWS]})
    traits.push("orders", "dbt-tests", {"rows": 1500}, ttl=timedelta(minutes=10))
    traits.record(request, EvaluatorOutput(status="FAIL", reason="evaluation error: boom"))
    clock.advance(timedelta(minutes=11))
    output = await runner.run("builtin:rule", request)
    assert output.status == "FAIL"
    assert "the value pushed to dbt-tests of orders expired at 2026-03-02T08:10:00Z" in (output.reason or "")
