"""The Lambda handlers' own duties: settings from the environment, reading events, routing
stream records. (Whole executions are in test_scenarios.py.) Handlers here run on a real engine
over a SQLite store, which the runtime accepts in place of DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interlock_core.errors import ConfigError, ConfigErrors, NotFoundError, ValidationError
from interlock_core.model import PipelineConfig
from interlock_plugins.stores.sqlite import SQLiteStore
from interlock_server.aws import evaluator, init, orchestrator, stream_router, trigger, watchdog
from tests.aws.stack import ShiftedClock

ENV = {"TABLE_NAME": "interlock-test", "AWS_REGION": "us-east-1"}


# ------------------------------------------------------------------------------------- settings
def test_settings_name_the_missing_variable() -> None:
    with pytest.raises(ConfigError, match="TABLE_NAME is required"):
        init.LambdaSettings.from_env({"AWS_REGION": "us-east-1", "TABLE_NAME": "  "})
    with pytest.raises(ConfigError, match="AWS_REGION is required"):
        init.LambdaSettings.from_env({"TABLE_NAME": "t"})
    with pytest.raises(ConfigError, match="READINESS_TTL"):
        init.LambdaSettings.from_env({**ENV, "READINESS_TTL": "soon"})


def test_settings_defaults() -> None:
    settings = init.LambdaSettings.from_env({**ENV, "EVALUATOR_BASE_URL": "", "RETENTION_TTL": "48h"})
    assert settings.archetype_dir == Path("/opt/archetypes")
    assert settings.readiness_ttl.total_seconds() == 3600 and settings.retention_ttl.total_seconds() == 48 * 3600
    assert settings.evaluator_base_url is None and settings.sns_topic_arn is None


def test_project_has_the_starter_archetypes_plus_the_layer(tmp_path: Path) -> None:
    (tmp_path / "custom.yaml").write_text("name: custom\nrequiredTraits:\n  - type: ping\n")
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    project = init.build_project(init.LambdaSettings.from_env(
        {**ENV, "ARCHETYPE_DIR": str(tmp_path), "SNS_TOPIC_ARN": topic}))
    assert {"batch-ingestion", "streaming-enrichment", "ml-feature-pipeline", "custom"} <= set(
        project.archetypes.names())
    assert "us-holidays" in project.calendars
    assert [name for name, _ in project.alert_configs] == ["sns"]
    assert project.config.provider == "dynamodb"
    assert init.build_project(init.LambdaSettings.from_env({**ENV, "ARCHETYPE_DIR": "/no/such/dir"}))


def test_a_broken_archetype_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nrequiredTraits: nope\n")
    with pytest.raises(ConfigErrors, match=r"broken\.yaml"):
        init.build_project(init.LambdaSettings.from_env({**ENV, "ARCHETYPE_DIR": str(tmp_path)}))


def test_a_handler_without_its_environment_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = init.install_runtime(None)
    try:
        monkeypatch.delenv("TABLE_NAME", raising=False)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        with pytest.raises(ConfigError, match="environment variable TABLE_NAME is required"):
            orchestrator.handler({"action": "checkExclusion", "input": {"pipelineId": "p"}}, None)
        with pytest.raises(ConfigError, match="environment variable TABLE_NAME is required"):
            watchdog.handler({"source": "aws.events"}, None)
    finally:
        init.install_runtime(previous)


# ------------------------------------------------------------------------------------- handlers
@pytest.fixture
def local_runtime(tmp_path: Path) -> Iterator[init.LambdaRuntime]:
    clock = ShiftedClock()
    runtime = init.LambdaRuntime(init.LambdaSettings.from_env(ENV), clock=clock,
                                 store=SQLiteStore(tmp_path / "interlock.db", clock=clock))
    previous = init.install_runtime(runtime)
    pipeline = PipelineConfig.model_validate({
        "name": "p1", "archetype": "batch-ingestion", "trigger": {"type": "command", "argv": ["true"]},
        "traits": {t: {"evaluator": "builtin:always-pass"}
                   for t in ("source-freshness", "upstream-dependency", "resource-availability")}})
    runtime.run(lambda steps: steps.ctx.store.put_pipeline(pipeline))
    try:
        yield runtime
    finally:
        init.install_runtime(previous)
        runtime.close()


CYCLE = {"pipelineId": "p1", "scheduleId": "daily", "date": "2026-03-02", "replay": False, "rerunId": None}


def test_orchestrator_rejects_unknown_actions_and_bad_events(local_runtime: init.LambdaRuntime) -> None:
    with pytest.raises(ValidationError, match="unknown action: nope"):
        orchestrator.handler({"action": "nope"}, None)
    with pytest.raises(ValidationError, match="event must be a JSON object"):
        orchestrator.handler(["not", "an", "object"], None)
    with pytest.raises(ValidationError, match="cycle must be a JSON object"):
        orchestrator.handler({"action": "checkRunLog", "owner": "x"}, None)
    with pytest.raises(ValidationError, match="pipelineId is required"):
        orchestrator.handler({"action": "checkExclusion", "owner": "x", "input": {"scheduleId": "daily"}}, None)
    with pytest.raises(NotFoundError):
        orchestrator.handler({"action": "checkExclusion", "owner": "x", "input": {"pipelineID": "ghost"}}, None)


def test_handlers_drive_one_cycle(local_runtime: init.LambdaRuntime) -> None:
    first = orchestrator.handler({"action": "checkExclusion", "owner": "x",
                                  "input": {"pipelineID": "p1", "scheduleID": "daily"}}, None)
    assert first["result"] == "proceed" and first["payload"]["cycle"] == CYCLE
    assert orchestrator.handler({"action": "acquireLease", "cycle": CYCLE, "owner": "x"}, None)["result"] == "proceed"
    traits = orchestrator.handler({"action": "resolvePipeline", "cycle": CYCLE}, None)["payload"]["traits"]
    results = [evaluator.handler(item, None) for item in traits]
    assert [r["status"] for r in results] == ["PASS", "PASS", "PASS"] and all(r["required"] for r in results)
    ready = orchestrator.handler({"action": "checkReadiness", "cycle": CYCLE, "traitResults": results}, None)
    assert ready["result"] == "proceed"
    launched = trigger.handler({"cycle": CYCLE, "owner": "x", "runLogVersion": None, "rerunId": None}, None)
    assert launched["payload"]["state"] == "succeeded"
    released = orchestrator.handler({"action": "releaseLease", "owner": "x", "state": {"cycle": CYCLE}}, None)
    assert released["payload"] == {"released": True}
    nothing = orchestrator.handler({"action": "releaseLease", "owner": "x", "state": {"input": 1}}, None)
    assert nothing["payload"]["released"] is False


# ------------------------------------------------------------------------------------- stream-router
def record(sk: str, *, event: str = "INSERT", pk: str = "PIPELINE#orders", seq: str = "100",
           **image: str) -> dict[str, Any]:
    new_image = {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in image.items()}}
    return {"eventName": event, "dynamodb": {"Keys": {"PK": {"S": pk}, "SK": {"S": sk}}, "NewImage": new_image,
                                             "SequenceNumber": seq}}


def test_stream_router_routes_only_marker_inserts_and_modifies() -> None:
    today = "2026-03-02"
    marker = stream_router.route(record("MARKER#freshness#2026-03-02T10:00:00Z"), today)
    assert marker is not None
    assert (marker.pipeline_id, marker.schedule_id, marker.date) == ("orders", "daily", None)
    assert marker.source == "freshness"
    prefix = "orders_2026-03-02_daily_"
    assert marker.name.startswith(prefix) and len(marker.name) == len(prefix) + 8
    assert marker.execution_input() == {"pipelineId": "orders", "scheduleId": "daily", "markerSource": "freshness",
                                        "marker": "MARKER#freshness#2026-03-02T10:00:00Z"}
    cascade = stream_router.route(record("MARKER#cascade#2026-03-01#h14#silver", event="MODIFY",
                                         scheduleID="h14", date="2026-03-01"), today)
    assert cascade is not None and cascade.name.startswith("orders_2026-03-01_h14_")
    assert cascade.execution_input()["date"] == "2026-03-01" and cascade.source == "cascade"
    assert stream_router.route(record("TRAIT#freshness"), today) is None
    assert stream_router.route(record("MARKER#x", event="REMOVE"), today) is None
    assert stream_router.route(record("MARKER#x", pk="LOCK#cycle:a:b"), today) is None
    assert stream_router.route({"eventName": "INSERT"}, today) is None


def test_execution_names_are_stable_per_record_and_distinct_per_change() -> None:
    first = stream_router.route(record("MARKER#freshness#1", seq="100"), "2026-03-02")
    redelivered = stream_router.route(record("MARKER#freshness#1", seq="100"), "2026-03-02")
    changed = stream_router.route(record("MARKER#freshness#1", seq="101"), "2026-03-02")
    assert first is not None and redelivered is not None and changed is not None
    assert first.name == redelivered.name != changed.name
    long = stream_router.route(record("MARKER#x", pk="PIPELINE#" + "a" * 100, scheduleID="sched with:colon"), "d")
    assert long is not None and len(long.name) == 80 and long.name.startswith("a" * 71 + "_")
    assert stream_router.sanitize("my-pipe:2026-02-22:daily") == "my-pipe_2026-02-22_daily"
    assert stream_router.sanitize("pipe with spaces") == "pipe_with_spaces"


def test_stream_router_needs_its_state_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        stream_router.handler({"Records": []}, None)
