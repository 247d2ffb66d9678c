"""The Grafana dashboard and the Prometheus alert rules in deploy/observability/ name only metrics the
server really exposes: a real engine (SQLite store, subprocess evaluators, http triggers against a
local webhook, a fake clock) goes through evaluations, launches, a failed launch, a completion and its
cascade, SLA warnings and breaches, watcher passes and a dead-lettered alert, then every metric name
in every expression is looked up in what ``GET /metrics`` answers.

The rules are checked with ``promtool check rules`` (the dashboard's expressions too, as recording
rules) and their unit tests run with ``promtool test rules`` when promtool is on PATH or named by
``$PROMTOOL``; their structure is checked in any case."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from pydantic import BaseModel

from interlock_core.alerts import AlertDispatcher
from interlock_core.clock import FakeClock
from interlock_core.config import load_project
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.model import Alert
from interlock_core.watcher import Watcher
from interlock_server.app import create_app
from tests.helpers.project import Harness, Sensors, pipeline

from .support import Webhook, webhook_server

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "observability"
DASHBOARD = DEPLOY / "interlock-dashboard.json"
RULES = DEPLOY / "interlock-rules.yaml"

KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                      "offset", "inf", "nan"})
SEVERITIES = frozenset({"critical", "warning", "info"})
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$instance": ".*",
                     "$pipeline": ".*"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects, by a simple tokenizer: strings, Grafana
    variables, label matchers, range and subquery brackets, and ``by (...)``-like label lists are
    dropped; of the identifiers left, those followed by ``(`` are functions or aggregations, and
    keywords are not names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end():].lstrip().startswith("(") or match.group(0).lower() in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (kind) (increase(interlock_sla_breaches_total{job="x"}[10m])) > 0', {"interlock_sla_breaches_total"}),
    ("time() - max by (instance) (interlock_watcher_last_pass_timestamp_seconds)",
     {"interlock_watcher_last_pass_timestamp_seconds"}),
    ('histogram_quantile(0.95, sum by (le) (rate(a_bucket{x=~"$v"}[$__rate_interval]))) > 1e3', {"a_bucket"}),
    ("a / on (pipeline) group_left (team) b * 60 unless c offset 5m", {"a", "b", "c"}),
    ('sum(rate(x_count{status=~"5..", route!="/api/{id}"}[5m])) / sum(rate(x_count[5m]))', {"x_count"}),
])
def test_the_tokenizer_finds_the_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


# ------------------------------------------------------------------------------------ the files


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query["query"])
            assert found, query
            exprs.append(found.group(1))
    return exprs


def test_the_rules_are_well_formed() -> None:
    data = yaml.safe_load(RULES.read_text())
    assert [group["name"] for group in data["groups"]] == ["interlock"]
    seen = set()
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Interlock[A-Z][A-Za-z]+", rule["alert"]) and rule["alert"] not in seen, rule
        seen.add(rule["alert"])
        assert isinstance(rule["expr"], str) and rule["expr"].count("(") == rule["expr"].count(")"), rule
        assert "for" not in rule or re.fullmatch(r"\d+[smhd]", rule["for"]), rule
        assert rule["labels"]["severity"] in SEVERITIES, rule
        assert rule["annotations"]["summary"], rule


def test_the_dashboard_is_well_formed() -> None:
    data = dashboard()
    assert data["uid"] == "interlock-overview" and data["title"] == "Interlock"
    panels = data["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"] for v in data["templating"]["list"]}
    assert variables == {"datasource", "instance", "pipeline"}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__range", "__interval"}
            assert used <= variables, (panel["title"], used)


def promtool() -> str | None:
    return os.environ.get("PROMTOOL") or shutil.which("promtool")


@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (the structure is checked above)")
def test_promtool_accepts_the_rules_and_the_dashboard_expressions(tmp_path: Path) -> None:
    tool = promtool()
    assert tool is not None
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the rules' own unit tests: synthetic series, the alerts they fire (labels and annotations)
    tested = subprocess.run([tool, "test", "rules", RULES.with_name("interlock-rules.test.yaml").name], cwd=DEPLOY,
                            capture_output=True, text=True, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    recorded = []
    for index, expr in enumerate(dashboard_expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        recorded.append({"record": f"interlock:dashboard_{index}", "expr": expr})
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    checked = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# ------------------------------------------------------------------------------- the activity


class _DownSink:
    name: ClassVar[str] = "down"
    config_model: ClassVar[type[BaseModel]] = BaseModel

    async def send(self, alert: Alert) -> None:
        raise ConnectionError("the sink is down")

    async def close(self) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[tuple[Webhook, Webhook]]:
    with webhook_server() as good, webhook_server() as bad:
        bad.status = 500
        yield good, bad


@pytest.fixture
async def exposed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  hooks: tuple[Webhook, Webhook]) -> AsyncIterator[set[str]]:
    """The sample names ``GET /metrics`` answers after some of everything."""
    good, bad = hooks
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    monkeypatch.setenv("INTERLOCK_TEST_SENSORS", str(sensors))
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    harness = Harness(root=tmp_path / "project", sensors=Sensors(sensors), clock=clock)
    harness.root.mkdir()
    downstream = pipeline("down", watch={"enabled": False})
    downstream["traits"]["freshness"]["config"]["upstreamPipeline"] = "ok"
    harness.write([
        pipeline("ok", trigger={"type": "http", "url": good.url}),
        pipeline("broken", trigger={"type": "http", "url": bad.url}),
        pipeline("late", sla={"evaluationDeadline": "11:00", "timezone": "UTC"}),
        pipeline("risky", sla={"completionDeadline": "12:30", "expectedDuration": "1h", "timezone": "UTC"}),
        downstream,
    ])
    for name in ("ok", "broken"):
        harness.sensors.ready(name)
    project = load_project(harness.root)
    alerts = AlertDispatcher([("down", _DownSink())], clock=clock, retries=1, backoff=0.0)
    engine = build_engine(project, clock=clock, alerts=alerts, callback_base_url="http://interlock.test")
    await start_engine(engine, project)
    app = create_app(engine, env={})
    try:
        watcher = Watcher(engine)
        await watcher.run_once()
        clock.advance(45)
        await watcher.run_once(all_cycles=False)
        (run,) = [r for r in await engine.store.list_runs("ok") if r.status.value == "RUNNING"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
            done = await client.post(f"/api/runs/{run.run_id}/complete", json={"status": "success"})
            assert done.status_code == 200, done.text
            assert await alerts.flush(10)
            await client.get("/metrics")
            text = (await client.get("/metrics")).text
    finally:
        await engine.aclose()
    yield {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


async def test_every_expression_names_a_metric_the_server_exposes(exposed: set[str]) -> None:
    for source, expressions in (("dashboard", dashboard_expressions()), ("rules", [r["expr"] for r in rules()])):
        for expr in expressions:
            names = metric_names(expr)
            assert names, (source, expr)
            assert names <= exposed, (source, expr, sorted(names - exposed))
    # what the issue asks the two to cover
    used = set().union(*(metric_names(e) for e in dashboard_expressions() + [r["expr"] for r in rules()]))
    for metric in ("interlock_pipeline_ready", "interlock_sla_breaches_total", "interlock_triggers_total",
                   "interlock_alerts_dead_lettered_total", "interlock_watcher_lag_seconds",
                   "interlock_watcher_last_pass_timestamp_seconds", "interlock_alerts_pending"):
        assert metric in used, metric


# ------------------------------------------------------------------------------------ the docs

SOURCES = [p for package in ("interlock_core", "interlock_plugins", "interlock_server")
           for p in (ROOT / package).rglob("*.py")]


def recorded_metrics() -> set[str]:
    """Every metric name the code records (``METRICS.inc/observe/set_gauge("…")``, constants)."""
    pattern = re.compile(r'METRICS\.(?:inc|observe|set_gauge)\(\s*"(interlock_\w+)"'
                         r'|^[A-Z_]+ = "(interlock_\w+(?:_total|_seconds|_pending|_ready))"', re.M)
    return {a or b for path in SOURCES for a, b in pattern.findall(path.read_text())}


def span_names() -> set[str]:
    pattern = re.compile(r'\bspan\(\s*"(interlock\.[\w.]+)"')
    return {name for path in SOURCES for name in pattern.findall(path.read_text())}


def test_every_recorded_metric_has_help_and_every_metric_span_and_rule_is_documented() -> None:
    from interlock_core.metrics import HELP

    recorded = recorded_metrics()
    assert {"interlock_watcher_lag_seconds", "interlock_alerts_dead_lettered_total"} <= recorded
    assert recorded <= set(HELP), sorted(recorded - set(HELP))
    doc = (ROOT / "docs" / "observability.md").read_text()
    missing = [name for name in sorted(HELP) if f"`{name}`" not in doc]
    assert not missing, f"docs/observability.md does not list the metrics {missing}"
    spans = span_names()
    assert {"interlock.evaluate", "interlock.trait", "interlock.launch", "interlock.poll", "interlock.complete",
            "interlock.cascade", "interlock.alert.deliver", "interlock.watcher.pass"} <= spans
    assert not [name for name in sorted(spans) if f"`{name}`" not in doc], "a span is not documented"
    assert not [r["alert"] for r in rules() if f"`{r['alert']}`" not in doc], "an alert rule is not documented"
