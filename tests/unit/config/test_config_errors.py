"""Every configuration problem is one clear message naming the file, the line and the key, and a
bad project fails as a whole, listing every problem at once."""

from __future__ import annotations

import pytest

from interlock_core.config import load_project
from interlock_core.errors import ConfigError, ConfigErrors


def located(error: ConfigError, file: str, line: int | None, key: str | None, *fragments: str) -> None:
    assert (error.file, error.line, error.key) == (file, line, key), error.message
    for fragment in fragments:
        assert fragment in error.reason, error.message
    where = f"{file}:{line}" if line else file
    assert error.message.startswith(where + (f": {key}: " if key else ": ")), error.message


# ------------------------------------------------------------------------------- YAML itself


def test_malformed_yaml_in_interlock_yaml(project) -> None:
    project.config("provider: sqlite\nserver:\n  addr: [unclosed\n")
    located(project.only_error(), "interlock.yaml", 4, None, "malformed YAML")


def test_malformed_yaml_in_a_pipeline_file(project) -> None:
    project.pipeline("bad", "name: bad\narchetype: batch-ingestion\ntraits: {a: 1\n")
    error = project.only_error()
    assert error.file == "pipelines/bad.yaml"
    assert error.line is not None and error.line >= 3
    assert "malformed YAML" in error.reason


def test_tab_indentation_names_the_line(project) -> None:
    project.pipeline("tabs", "name: tabs\narchetype: batch-ingestion\ntraits:\n\tsource-freshness: {}\n")
    located(project.only_error(), "pipelines/tabs.yaml", 4, None, "malformed YAML", "'\\t'")


def test_duplicate_yaml_key(project) -> None:
    project.config("""\
        provider: sqlite
        server:
          addr: ":3000"
          addr: ":4000"
        """)
    located(project.only_error(), "interlock.yaml", 4, "server.addr", "duplicate key 'addr'", "line 3")


def test_duplicate_key_in_a_pipeline(project) -> None:
    project.pipeline("dup", "name: dup\narchetype: batch-ingestion\nname: dup2\n")
    located(project.only_error(), "pipelines/dup.yaml", 3, "name", "duplicate key 'name'")


def test_recursive_alias_is_an_error(project) -> None:
    project.pipeline("loop", "name: loop\narchetype: batch-ingestion\ntraits: &t {a: *t}\n")
    error = project.only_error()
    assert error.file == "pipelines/loop.yaml"
    assert "recursive alias" in error.reason


def test_non_utf8_file(project) -> None:
    (project.root / "pipelines" / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    located(project.only_error(), "pipelines/latin1.yaml", None, None, "not UTF-8")


def test_control_character_names_the_line(project) -> None:
    project.config("provider: sqlite\nserver:\n  addr: \x07\n")
    located(project.only_error(), "interlock.yaml", 3, None, "malformed YAML", "#x0007")


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")])
def test_a_document_that_is_not_a_mapping(project, text: str, kind: str) -> None:
    project.pipeline("odd", text)
    located(project.only_error(), "pipelines/odd.yaml", 1, None, f"must be a YAML mapping, not {kind}")


def test_interlock_yaml_must_be_a_mapping_and_a_single_document(project) -> None:
    project.config("- provider\n")
    located(project.only_error(), "interlock.yaml", 1, None, "must be a YAML mapping, not list")
    project.config("provider: sqlite\n---\nprovider: redis\n")
    located(project.only_error(), "interlock.yaml", 1, None, "single YAML document")


# ------------------------------------------------------------------------- interlock.yaml keys


def test_unknown_key(project) -> None:
    project.config("provider: sqlite\nservr:\n  addr: ':3000'\n")
    located(project.only_error(), "interlock.yaml", 2, "servr", "unknown key")


def test_unknown_nested_key(project) -> None:
    project.config("server:\n  addr: ':3000'\n  tls: true\n")
    located(project.only_error(), "interlock.yaml", 3, "server.tls", "unknown key")


def test_wrong_type(project) -> None:
    project.config("server:\n  maxRequestBody: lots\n")
    located(project.only_error(), "interlock.yaml", 2, "server.maxRequestBody", "valid integer", "'lots'")


def test_wrong_type_for_a_list(project) -> None:
    project.config("pipelineDirs: ./pipelines\n")
    located(project.only_error(), "interlock.yaml", 1, "pipelineDirs", "valid list")


def test_bad_duration_in_interlock_yaml(project) -> None:
    project.config("watcher:\n  enabled: true\n  defaultInterval: 10 parsecs\n")
    located(project.only_error(), "interlock.yaml", 3, "watcher.defaultInterval", "invalid duration '10 parsecs'")


def test_missing_environment_variable(project) -> None:
    project.config("provider: sqlite\nsqlite:\n  path: ${DATA_DIR}/interlock.db\n")
    located(project.only_error(), "interlock.yaml", 3, "sqlite.path", "environment variable 'DATA_DIR' is not set")


def test_unknown_store_provider(project) -> None:
    project.config("# the store\nprovider: cassandra\n")
    located(project.only_error(), "interlock.yaml", 2, "provider", "unknown store provider 'cassandra'",
            "redis", "sqlite")


def test_unknown_store_provider_from_the_environment(project) -> None:
    project.config("provider: ${STORE:-filing-cabinet}\n")
    located(project.only_error(), "interlock.yaml", 1, "provider", "unknown store provider 'filing-cabinet'")


def test_a_section_for_an_unknown_store_is_an_unknown_key(project) -> None:
    project.config("provider: sqlite\nfiling-cabinet:\n  drawer: 3\n")
    located(project.only_error(), "interlock.yaml", 2, "filing-cabinet", "unknown key")


def test_bad_store_section(project) -> None:
    project.config("provider: redis\nredis:\n  addr: localhost:6379\n  db: -1\n  keyPrefx: x\n")
    errors = project.errors()
    assert sorted((e.line, e.key) for e in errors) == [(4, "redis.db"), (5, "redis.keyPrefx")]
    assert all(e.file == "interlock.yaml" for e in errors)
    assert not any("section is required" in e.reason for e in errors)


def test_store_section_of_the_wrong_type(project) -> None:
    project.config("provider: sqlite\nsqlite: [a, b]\n")
    located(project.only_error(), "interlock.yaml", 2, "sqlite", "valid dictionary")


def test_provider_of_the_wrong_type(project) -> None:
    project.config("provider: [sqlite]\n")
    located(project.only_error(), "interlock.yaml", 1, "provider", "must be a string")


def test_unknown_alert_type(project) -> None:
    project.config("alerts:\n  - type: console\n  - type: carrier-pigeon\n")
    located(project.only_error(), "interlock.yaml", 3, "alerts[1].type", "unknown alert type 'carrier-pigeon'",
            "console", "webhook")


def test_bad_alert_fields(project) -> None:
    project.config("alerts:\n  - type: file\n  - type: console\n    loud: true\n")
    errors = project.errors()
    assert [(e.line, e.key, e.reason) for e in errors] == [
        (2, "alerts[0].path", "required key is missing"),
        (4, "alerts[1].loud", "unknown key"),
    ]


def test_alerts_must_be_a_list(project) -> None:
    project.config("alerts:\n  type: console\n")
    located(project.only_error(), "interlock.yaml", 1, "alerts", "must be a list")


def test_missing_explicit_directory(project) -> None:
    project.config("provider: sqlite\npipelineDirs: [./pipelines, ./nowhere]\n")
    error = project.only_error()
    located(error, "interlock.yaml", 2, "pipelineDirs", "pipeline directory does not exist")
    assert "nowhere" in error.reason


# ------------------------------------------------------------------------------ pipeline files


def test_unknown_archetype(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestoin\n")
    located(project.only_error(), "pipelines/p.yaml", 2, "archetype", "unknown archetype 'batch-ingestoin'",
            "batch-ingestion")


def test_pipeline_trait_not_in_the_archetype(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        traits:
          source-freshness: {}
          gpu-quota:
            evaluator: check-gpu
        """)
    located(project.only_error(), "pipelines/p.yaml", 5, "traits.gpu-quota",
            "trait 'gpu-quota' is not defined by archetype 'batch-ingestion'")


def test_unknown_trigger_type(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestion\ntrigger:\n  type: cron-job\n")
    located(project.only_error(), "pipelines/p.yaml", 4, "trigger.type", "unknown trigger type 'cron-job'",
            "command", "http")


def test_bad_trigger_field(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        trigger:
          type: command
          command: echo hi
          retries: 3
        """)
    located(project.only_error(), "pipelines/p.yaml", 6, "trigger.retries", "unknown key")


def test_trigger_model_errors_are_located(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestion\ntrigger:\n  type: command\n  shell: maybe\n")
    errors = project.errors()
    assert all(e.file == "pipelines/p.yaml" and e.key and e.key.startswith("trigger") for e in errors)
    assert any(e.key == "trigger.shell" and e.line == 5 for e in errors), [e.message for e in errors]


def test_missing_environment_variable_in_a_trigger(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        trigger:
          type: command
          command: deploy --token ${DEPLOY_TOKEN} --date ${date} --mode ${MODE:-full}
        """)
    located(project.only_error(), "pipelines/p.yaml", 5, "trigger.command",
            "environment variable 'DEPLOY_TOKEN' is not set")
    loaded = project.load(env={"DEPLOY_TOKEN": "t"})
    assert "${DEPLOY_TOKEN}" in loaded.pipelines["p1"].trigger.options()["command"], "secrets stay unexpanded"


def test_unknown_calendar(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        exclusions:
          calendars: [weekends, uk-holidays]
          calendar: fr-holidays
        """)
    errors = project.errors()
    assert [(e.line, e.key, e.reason.split(" (")[0]) for e in errors] == [
        (4, "exclusions.calendars[1]", "unknown calendar 'uk-holidays'"),
        (5, "exclusions.calendar", "unknown calendar 'fr-holidays'"),
    ]


def test_bad_time_zone(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        schedules:
          - name: am
            timezone: Mars/Olympus_Mons
        sla:
          timezone: Not/AZone
        """)
    errors = project.errors()
    assert [(e.line, e.key) for e in errors] == [(5, "schedules[0].timezone"), (7, "sla.timezone")]
    assert all("unknown time zone" in e.reason for e in errors)


@pytest.mark.parametrize("value", ["25:00", "7am", "12:60", "noon", "1200"])
def test_bad_time_of_day(project, value: str) -> None:
    project.pipeline("p", f"name: p1\narchetype: batch-ingestion\nschedules:\n  - name: am\n    after: '{value}'\n")
    located(project.only_error(), "pipelines/p.yaml", 5, "schedules[0].after", f"invalid time of day '{value}'")


def test_bad_deadline(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestion\nsla:\n  completionDeadline: tomorrow\n")
    located(project.only_error(), "pipelines/p.yaml", 4, "sla.completionDeadline", "invalid deadline 'tomorrow'")


@pytest.mark.parametrize("value", ["5 minutes", "1h30", "-", "m", "10x"])
def test_bad_duration(project, value: str) -> None:
    project.pipeline("p", f"name: p1\narchetype: batch-ingestion\nwatch:\n  interval: '{value}'\n")
    located(project.only_error(), "pipelines/p.yaml", 4, "watch.interval", "invalid duration")


def test_non_positive_watch_interval(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestion\nwatch:\n  interval: 0s\n")
    located(project.only_error(), "pipelines/p.yaml", 4, "watch.interval", "must be positive")


@pytest.mark.parametrize("name", ["Daily_Sales", "-leading", "trailing-", "a", "has space", "x" * 256])
def test_invalid_pipeline_name(project, name: str) -> None:
    project.pipeline("p", f"name: '{name}'\narchetype: batch-ingestion\n")
    located(project.only_error(), "pipelines/p.yaml", 1, "name", "invalid pipeline name")


def test_pipeline_without_a_name_or_archetype(project) -> None:
    project.pipeline("p", "description: nameless\n")
    errors = project.errors()
    assert sorted(e.key for e in errors) == ["archetype", "name"]
    assert all(e.reason == "required key is missing" and e.file == "pipelines/p.yaml" for e in errors)


def test_bad_weekday_and_date_in_exclusions(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        exclusions:
          days: [Saturday, Caturday]
          dates: ["2026-02-30"]
        """)
    errors = project.errors()
    assert [(e.line, e.key) for e in errors] == [(4, "exclusions.days"), (5, "exclusions.dates")]
    assert "unknown weekday 'Caturday'" in errors[0].reason
    assert "invalid date '2026-02-30'" in errors[1].reason


def test_duplicate_schedule_names(project) -> None:
    project.pipeline("p", "name: p1\narchetype: batch-ingestion\nschedules:\n  - name: am\n  - name: am\n")
    error = project.only_error()
    assert error.file == "pipelines/p.yaml" and "duplicate schedule name(s): am" in error.reason


def test_duplicate_pipeline_name_names_both_files(project) -> None:
    project.pipeline("a-first", "name: same\narchetype: batch-ingestion\n")
    project.pipeline("b-second", "# a copy\nname: same\narchetype: batch-ingestion\n")
    error = project.only_error()
    located(error, "pipelines/b-second.yaml", 2, "name", "duplicate pipeline name 'same'", "pipelines/a-first.yaml")


def test_duplicate_pipeline_name_is_found_even_when_both_files_have_other_errors(project) -> None:
    project.pipeline("a", "name: same\narchetype: batch-ingestion\nwatch: {interval: soon}\n")
    project.pipeline("b", "name: same\narchetype: nope\n")
    messages = [e.message for e in project.errors()]
    assert any("duplicate pipeline name 'same' (also defined in pipelines/a.yaml)" in m for m in messages), messages
    assert any("unknown archetype 'nope'" in m for m in messages), messages


# ------------------------------------------------------------------------ archetypes, calendars


def test_bad_archetype_file(project) -> None:
    project.write("archetypes/x.yaml", """\
        name: x
        requiredTraits: []
        """)
    project.write("archetypes/y.yaml", """\
        name: y
        requiredTraits:
          - type: a
          - type: a
        readinessRule:
          type: most-pass
        """)
    errors = project.errors()
    by_file = {(e.file, e.key) for e in errors}
    assert ("archetypes/x.yaml", None) in by_file
    assert ("archetypes/y.yaml", "readinessRule.type") in by_file
    assert any("at least one required trait" in e.reason for e in errors)


def test_bad_calendar_file(project) -> None:
    project.write("calendars/c.yaml", "name: c\ndays: [Someday]\ndates: ['2026-13-01']\nholidays: []\n")
    errors = project.errors()
    assert {(e.file, e.line, e.key) for e in errors} == {
        ("calendars/c.yaml", 2, "days"), ("calendars/c.yaml", 3, "dates"), ("calendars/c.yaml", 4, "holidays")}


def test_pipeline_using_a_broken_archetype_is_reported_not_half_loaded(project) -> None:
    project.write("archetypes/mine.yaml", "name: mine\nrequiredTraits:\n  - {}\n")
    project.pipeline("p", "name: p1\narchetype: mine\n")
    errors = project.errors()
    assert {e.file for e in errors} == {"archetypes/mine.yaml", "pipelines/p.yaml"}


# -------------------------------------------------------------------- all problems, all or nothing


def test_every_problem_of_every_file_is_listed(project) -> None:
    project.config("""\
        provider: sqlite
        server:
          port: 3000
        alerts:
          - type: pager
        """)
    with pytest.raises(ConfigErrors) as info:
        project.load()
    assert [(e.file, e.line, e.key) for e in info.value.errors] == [
        ("interlock.yaml", 3, "server.port"),
        ("interlock.yaml", 5, "alerts[0].type"),
    ]

    project.config("provider: sqlite\n")
    project.pipeline("good")
    project.pipeline("one", "name: one\narchetype: streaming-enrichment\ntraits: {nope: {}}\n")
    project.pipeline("two", "name: two\narchetype: batch-ingestion\ntrigger: {type: teleport}\n")
    project.pipeline("three", "name: three\narchetype: ml-feature-pipeline\nwatch: {interval: often}\n")
    with pytest.raises(ConfigErrors) as info:
        project.load()
    errors = info.value.errors
    assert [(e.file, e.key) for e in errors] == [
        ("pipelines/one.yaml", "traits.nope"),
        ("pipelines/three.yaml", "watch.interval"),
        ("pipelines/two.yaml", "trigger.type"),
    ]
    assert info.value.message.splitlines() == [e.message for e in errors]
    assert isinstance(info.value, ConfigError)


def test_a_file_with_a_type_error_still_gets_its_cross_file_checks(project) -> None:
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        traits:
          source-freshness:
            ttl: forever
          made-up: {}
        trigger:
          type: command
          command: echo hi
          colour: blue
        exclusions:
          calendar: mars-holidays
          days: [Blursday]
        """)
    found = [(e.line, e.key) for e in project.errors()]
    assert found == [
        (5, "traits.source-freshness.ttl"),
        (6, "traits.made-up"),
        (10, "trigger.colour"),
        (12, "exclusions.calendar"),
        (13, "exclusions.days"),
    ], "in file order"


def test_nothing_is_half_loaded(project) -> None:
    project.pipeline("good")
    project.pipeline("bad", "name: bad-one\narchetype: nope\n")
    with pytest.raises(ConfigErrors) as info:
        project.load()
    assert len(info.value.errors) == 1
    (project.root / "pipelines" / "bad.yaml").unlink()
    assert list(project.load().pipelines) == ["daily-sales"]


def test_errors_in_a_directory_outside_the_working_directory_use_absolute_paths(
    project, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.pipeline("p", "name: p1\narchetype: nope\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    error = project.only_error()
    assert error.file == str(project.root / "pipelines" / "p.yaml")
    assert error.message.startswith(f"{project.root / 'pipelines' / 'p.yaml'}:2: archetype: ")


def test_a_read_only_load_warns_about_unset_trigger_and_alert_secrets_but_not_store_ones(project) -> None:
    project.config("provider: sqlite\nalerts:\n  - type: console\n  - type: webhook\n    url: ${HOOK_URL}\n")
    project.pipeline("p", """\
        name: p1
        archetype: batch-ingestion
        trigger:
          type: command
          command: deploy --token ${DEPLOY_TOKEN}
        """)
    assert any("HOOK_URL" in e.message for e in project.errors())  # a normal load refuses
    loaded = load_project(project.root, env={}, require_secrets=False)
    assert sorted(loaded.pipelines) == ["p1"]
    assert [name for name, _ in loaded.alert_configs] == ["console"]  # the sink without its URL is left out
    assert sorted((w.file, w.line, w.key) for w in loaded.warnings) == [
        ("interlock.yaml", 5, "alerts[1].url"), ("pipelines/p.yaml", 5, "trigger.command")]
    project.config("provider: sqlite\nsqlite:\n  path: ${DATA_DIR}/interlock.db\n")
    with pytest.raises(ConfigError):  # the store is needed to read state at all
        load_project(project.root, env={}, require_secrets=False)


@pytest.mark.parametrize("schedule, line, key, fragment", [
    ("    cron: '61 * * * *'\n", 5, "schedules[0].cron", "Bad minute"),
    ("    cron: '@reboot'\n", 5, "schedules[0].cron", "unknown cron alias"),
    ("    cron: '@hourly'\n    after: '06:00'\n", 6, "schedules[0].after", "drop 'after'"),
    ("    cron: '@hourly'\n    deadline: '09:00'\n", 6, "schedules[0].deadline", "duration after each fire time"),
    ("    cron: '@hourly'\n    catchUp: sometimes\n", 6, "schedules[0].catchUp", "'latest', 'all' or 'none'"),
    ("    cron: '@hourly'\n    catchUpWindow: 0s\n", 6, "schedules[0].catchUpWindow", "positive"),
])
def test_a_bad_cron_schedule_names_file_line_and_key(project, schedule: str, line: int, key: str,
                                                     fragment: str) -> None:
    project.pipeline("p", f"name: p1\narchetype: batch-ingestion\nschedules:\n  - name: h\n{schedule}")
    located(project.only_error(), "pipelines/p.yaml", line, key, fragment)
