"""A pipeline registered over the API with a ``builtin:rule`` trait: its rules are checked like a
pipeline file's, a bad one refused with 400 naming the field; a good one decides on pushes."""

from __future__ import annotations

from .conftest import Api
from .support import http_pipeline

RULES = [{"path": "$.rows", "op": "gte", "value": 1000}]


async def test_a_bad_rule_is_refused_naming_its_field(api: Api) -> None:
    bad = http_pipeline("ruled", api.hook.url, evaluator="builtin:rule")
    bad["traits"]["source-ready"]["config"] = {"rules": [{"path": "$.rows", "op": "more_than", "value": 1}]}
    response = await api.client.post("/api/pipelines", json=bad)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "traits.source-ready.config.rules[0].op"
    assert await api.engine.list_pipelines() == []


async def test_a_push_is_decided_by_the_rule(api: Api) -> None:
    good = http_pipeline("ruled", api.hook.url, evaluator="builtin:rule")
    good["traits"]["source-ready"]["config"] = {"rules": RULES}
    assert (await api.client.post("/api/pipelines", json=good)).status_code == 201
    pushed = await api.client.post("/api/pipelines/ruled/traits/source-ready",
                                   json={"status": "PASS", "value": {"rows": 10, "apiToken": "t0k3n"}})
    assert pushed.status_code == 201, pushed.text
    verdict = (await api.client.post("/api/pipelines/ruled/evaluate")).json()
    assert verdict["status"] == "NOT_READY"
    [trait] = verdict["traits"]
    assert trait["reason"].startswith('rule "$.rows gte 1000" failed: $.rows is 10 (source-ready of ruled, pushed ')
    stored = (await api.client.get("/api/pipelines/ruled/traits/source-ready")).json()
    assert stored["value"]["ruleVerdict"]["carried"]["seen"] == {"$.rows": 10}
