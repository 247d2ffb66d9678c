"""Loading a good project: store sections, environment expansion, paths, what gets registered."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from interlock_core.config import find_config_file, load_project
from interlock_core.errors import ConfigError


def test_minimal_project_defaults_to_sqlite(project) -> None:
    project.config("")
    loaded = project.load()
    assert loaded.config.provider == "sqlite"
    assert type(loaded.store_config).__name__ == "SQLiteConfig"
    assert loaded.store_config.path == "./interlock.db"
    assert [name for name, _ in loaded.alert_configs] == ["console"]
    assert loaded.pipelines == {}


def test_sqlite_section(project) -> None:
    project.config("""\
        provider: sqlite
        sqlite:
          path: ./state/x.db
          busyTimeout: 2s
        """)
    loaded = project.load()
    assert loaded.store_config.path == "./state/x.db"
    assert loaded.store_config.busy_timeout == timedelta(seconds=2)


def test_redis_section(project) -> None:
    project.config("""\
        provider: redis
        redis:
          addr: 127.0.0.1:6390
          keyPrefix: "proj:"
          db: 3
        """)
    loaded = project.load()
    assert loaded.config.provider == "redis"
    assert type(loaded.store_config).__name__ == "RedisConfig"
    assert (loaded.store_config.addr, loaded.store_config.key_prefix, loaded.store_config.db) == (
        "127.0.0.1:6390", "proj:", 3)


def test_redis_provider_without_section_uses_its_defaults(project) -> None:
    project.config("provider: redis\n")
    loaded = project.load()
    assert loaded.store_config.addr == "localhost:6379"


def test_a_section_of_another_store_is_validated_but_not_used(project) -> None:
    project.config("""\
        provider: sqlite
        redis:
          addr: somewhere:6379
        """)
    loaded = project.load()
    assert loaded.config.provider == "sqlite"
    assert type(loaded.store_config).__name__ == "SQLiteConfig"


def test_environment_variables_and_defaults_are_expanded(project) -> None:
    project.config("""\
        provider: ${STORE}
        redis:
          addr: ${REDIS_HOST}:${REDIS_PORT:-6379}
          db: ${REDIS_DB:-4}
          password: "pa$${not-a-variable}"
          keyPrefix: ${PREFIX:-}app
        server:
          apiKey: ${API_KEY}
        """)
    loaded = project.load(env={"STORE": "redis", "REDIS_HOST": "cache.internal", "API_KEY": "s3cret"})
    assert loaded.config.provider == "redis"
    assert loaded.store_config.addr == "cache.internal:6379"
    assert loaded.store_config.db == 4
    assert loaded.store_config.password == "pa${not-a-variable}"
    assert loaded.store_config.key_prefix == "app"
    assert loaded.config.server.api_key == "s3cret"


def test_environment_value_wins_over_default(project) -> None:
    project.config("sqlite:\n  path: ${DB:-./default.db}\n")
    assert project.load(env={"DB": "/data/x.db"}).store_config.path == "/data/x.db"
    assert project.load(env={}).store_config.path == "./default.db"


def test_env_defaults_to_the_process_environment(project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_DB", "./from-env.db")
    project.config("sqlite:\n  path: ${INTERLOCK_TEST_DB}\n")
    assert load_project(project.root).store_config.path == "./from-env.db"


def test_pipeline_trigger_variables_are_left_for_run_time(project) -> None:
    project.pipeline("daily-sales")
    loaded = project.load()
    assert loaded.pipelines["daily-sales"].trigger.options() == {"command": "echo run ${date}"}


def test_relative_paths_resolve_against_the_config_folder(
    project, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path_factory.mktemp("shared-pipelines")
    (shared / "s.yaml").write_text("name: shared\narchetype: batch-ingestion\n")
    project.config(f"""\
        archetypeDirs: [./my-archetypes]
        pipelineDirs: [pipes, {shared}]
        evaluatorDirs: [./evaluators]
        """)
    (project.root / "my-archetypes").mkdir()
    project.write("pipes/p.yaml", "name: from-pipes\narchetype: batch-ingestion\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    loaded = load_project(project.root, env={})
    assert loaded.root == project.root
    assert loaded.pipeline_dirs == [project.root / "pipes", shared]
    assert loaded.evaluator_dirs == [project.root / "evaluators"]
    assert loaded.pipeline_files == {"from-pipes": project.root / "pipes" / "p.yaml", "shared": shared / "s.yaml"}
    assert loaded.path("x/y.txt") == project.root / "x" / "y.txt"


def test_relative_project_path_gives_an_absolute_root(project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.pipeline("daily-sales")
    monkeypatch.chdir(project.root.parent)
    loaded = load_project(project.root.name, env={})
    assert loaded.root.is_absolute()
    assert loaded.root == project.root
    assert loaded.pipeline_files["daily-sales"] == project.root / "pipelines" / "daily-sales.yaml"


def test_config_file_can_be_named_directly_and_yml_is_found(project) -> None:
    (project.root / "interlock.yaml").rename(project.root / "interlock.yml")
    assert find_config_file(project.root) == project.root / "interlock.yml"
    assert load_project(project.root / "interlock.yml", env={}).config.provider == "sqlite"


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, env={})
    assert info.value.file == str(tmp_path / "interlock.yaml")
    assert "no interlock.yaml" in info.value.message


def test_starter_archetypes_and_calendars_are_always_available(project) -> None:
    loaded = project.load()
    assert {"batch-ingestion", "streaming-enrichment", "ml-feature-pipeline"} <= set(loaded.archetypes.names())
    assert {"us-holidays", "weekends"} <= set(loaded.calendars.names())


def test_project_archetypes_and_calendars_are_added_and_override_starters(project) -> None:
    project.write("archetypes/tiny.yaml", """\
        name: tiny
        requiredTraits:
          - type: ping
        """)
    project.write("archetypes/batch.yml", """\
        name: batch-ingestion
        requiredTraits:
          - type: only-this
        """)
    project.write("archetypes/notes.txt", "not yaml at all: [")
    project.write("calendars/ops.yaml", "name: ops-freeze\ndates: ['2026-12-24']\ndays: [fri]\n")
    loaded = project.load()
    assert "tiny" in loaded.archetypes
    assert [t.type for t in loaded.archetypes.get("batch-ingestion").required_traits] == ["only-this"]
    assert loaded.calendars.get("ops-freeze").dates == ["2026-12-24"]


def test_pipelines_are_loaded_with_every_section(project) -> None:
    project.pipeline("full", """\
        name: full.pipeline-1
        archetype: batch-ingestion
        traits:
          schema-contract: {}
        retry: {maxAttempts: 5, backoffSeconds: 10}
        sla: {evaluationDeadline: "09:30", completionDeadline: 2h, timezone: America/New_York}
        watch: {interval: 1m30s, monitoring: {enabled: true, duration: 30m}}
        schedules:
          - {name: morning, after: "06:00", deadline: "08:00", timezone: Europe/Paris}
          - {name: h14, after: "14:00"}
        exclusions: {calendar: us-holidays, calendars: [weekends], days: [Sat, sunday], dates: ["2026-01-01"]}
        """)
    pipeline = project.load().pipelines["full.pipeline-1"]
    assert pipeline.retry_policy.max_attempts == 5
    assert pipeline.watch.interval == timedelta(seconds=90)
    assert pipeline.monitoring.duration == timedelta(minutes=30)
    assert [s.name for s in pipeline.resolved_schedules()] == ["morning", "h14"]
    assert pipeline.exclusions.calendar_names() == ["us-holidays", "weekends"]


def test_alert_sinks_are_validated_by_their_plugins(project) -> None:
    project.config("""\
        alerts:
          - type: console
            stream: stderr
          - type: file
            path: ./alerts.log
          - type: webhook
            url: http://127.0.0.1:9/hook
        """)
    loaded = project.load()
    assert [name for name, _ in loaded.alert_configs] == ["console", "file", "webhook"]
    assert [spec.type for spec in loaded.config.alerts] == ["console", "file", "webhook"]
    assert loaded.alert_configs[1][1].path == "./alerts.log"


def test_an_empty_alert_list_means_no_alerts(project) -> None:
    project.config("alerts: []\n")
    assert project.load().alert_configs == []


def test_load_pipelines_false_skips_pipeline_files(project) -> None:
    project.pipeline("broken", "name: [\n")
    loaded = load_project(project.root, env={}, load_pipelines=False)
    assert loaded.pipelines == {}
