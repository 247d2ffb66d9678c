"""A ``builtin:rule`` gate fed by HTTP pushes to a real ``interlock serve``: a dbt-like result pushed
with too few rows blocks the pipeline, naming the rule and the value seen; a good push makes the
rule pass and the watcher trigger the job."""

from __future__ import annotations

import pytest

from .support import Deployment, http_trigger

pytestmark = pytest.mark.e2e


def run_results(rows: int) -> dict[str, object]:
    """What a dbt run pushes: the part of its ``run_results.json`` the rule reads."""
    return {"metadata": {"dbt_version": "1.8.2"}, "elapsed_time": 41.2, "rows": rows,
            "results": [{"unique_id": "model.shop.orders", "status": "success"}]}


async def test_an_http_push_makes_the_rule_pass_and_the_pipeline_trigger(deployment: Deployment) -> None:
    d, name = deployment, "e2e-rule-gate"
    await d.register({
        "name": name,
        "archetype": "relay",
        "traits": {
            "slow-check": {"evaluator": "builtin:always-pass"},
            "signal": {"evaluator": "builtin:rule", "config": {"rules": [
                {"path": "$.results[0].status", "op": "equals", "value": "success", "name": "dbt models built"},
                {"path": "$.rows", "op": "gte", "value": 1000},
                {"path": "$.metadata.dbt_version", "op": "matches", "value": r"^1\."},
                {"op": "age_lt", "value": "1h"},
            ]}},
        },
        "trigger": http_trigger(name, d.orchestrator),
    })
    pushed = await d.post(f"/api/pipelines/{name}/traits/signal", {"status": "PASS", "value": run_results(500)},
                          expect=201)
    assert pushed["source"] == "pushed"
    blocked = await d.post(f"/api/pipelines/{name}/evaluate")
    assert (blocked["status"], blocked["blocking"]) == ("NOT_READY", ["signal"])
    [signal] = [t for t in blocked["traits"] if t["traitType"] == "signal"]
    assert signal["reason"].startswith('rule "$.rows gte 1000" failed: $.rows is 500 (signal of e2e-rule-gate, '
                                       "pushed ")
    await d.wait_intervals(1)
    assert d.orchestrator.launches(name) == []

    await d.post(f"/api/pipelines/{name}/traits/signal", {"status": "PASS", "value": run_results(1500)}, expect=201)
    [launch] = await d.wait_launch(name)  # the push woke the pipeline: the rule passed, the watcher triggered
    run = await d.wait_run(name, "RUNNING")
    assert launch.run_id == run["runId"]
    stored = await d.get(f"/api/pipelines/{name}/traits/signal")
    assert (stored["status"], stored["source"]) == ("PASS", "evaluator")
    assert stored["value"]["ruleVerdict"]["carried"]["seen"]["$.rows"] == 1500
