"""The keys of rerun budgets, late data and numeric drift: defaults, and errors naming file, line and key."""

from __future__ import annotations

import pytest

from interlock_core.errors import ConfigError
from interlock_core.jsonpath import MISSING, parse_path


def located(error: ConfigError, file: str, line: int | None, key: str | None, fragment: str) -> None:
    assert (error.file, error.line, error.key) == (file, line, key), error.message
    assert fragment in error.reason, error.message
    assert error.message.startswith(f"{file}:{line}: {key}: "), error.message

PIPELINE = """\
name: daily-sales
archetype: batch-ingestion
traits:
  source-freshness:
    evaluator: check-freshness
trigger:
  type: command
  command: echo run
retry:
  maxAttempts: 3
  {retry}
watch:
  {watch}
  monitoring:
    enabled: {enabled}
    {drift}
"""


def write(project, *, retry: str = "maxCodeRetries: 1", watch: str = "onLateData: rerun", enabled: str = "true",
          drift: str = "driftTrait: source-freshness") -> None:
    project.pipeline("daily-sales", PIPELINE.format(retry=retry, watch=watch, enabled=enabled, drift=drift))


def test_the_keys_load_with_their_defaults(project) -> None:
    write(project, drift="driftTrait: source-freshness\n    driftField: $.rows\n    driftThreshold: '10%'")
    pipeline = project.load().pipelines["daily-sales"]
    policy = pipeline.retry_policy
    assert (policy.max_code_retries, policy.max_drift_reruns, policy.max_manual_reruns) == (1, 2, None)
    assert pipeline.on_late_data == "rerun"
    rule = pipeline.monitoring.drift_rule
    assert rule is not None and (rule.trait, rule.path.steps, rule.threshold, rule.relative) == (
        "source-freshness", ("rows",), 10.0, True)
    project.pipeline("daily-sales", PIPELINE.format(retry="", watch="", enabled="false", drift=""))
    plain = project.load().pipelines["daily-sales"]
    assert plain.on_late_data == "alert" and plain.monitoring.drift_rule is None


@pytest.mark.parametrize(("kwargs", "line", "key", "fragment"), [
    ({"drift": "driftTrait: source-freshness\n    driftField: rows\n    driftThreshold: 5"}, 17,
     "watch.monitoring.driftField", "must start with '$'"),
    ({"drift": "driftTrait: source-freshness\n    driftField: $.rows[x]\n    driftThreshold: 5"}, 17,
     "watch.monitoring.driftField", "cannot read '[x]'"),
    ({"drift": "driftTrait: source-freshness\n    driftField: $.rows\n    driftThreshold: ten%"}, 18,
     "watch.monitoring.driftThreshold", "invalid drift threshold 'ten%'"),
    ({"drift": "driftTrait: source-freshness\n    driftField: $.rows\n    driftThreshold: -3"}, 18,
     "watch.monitoring.driftThreshold", "0 or more"),
    ({"drift": "driftTrait: source-freshness\n    driftField: $.rows\n    driftThreshold: true"}, 18,
     "watch.monitoring.driftThreshold", "invalid drift threshold True"),
    ({"drift": "driftTrait: source-freshness\n    driftThreshold: 5"}, 17,
     "watch.monitoring.driftThreshold", "needs driftField"),
    ({"enabled": "false", "drift": "driftTrait: source-freshness\n    driftField: $.rows\n    driftThreshold: 5"},
     17, "watch.monitoring.driftField", "set enabled: true"),
    ({"drift": "driftField: $.rows\n    driftThreshold: 5"}, 16, "watch.monitoring.driftField", "needs driftTrait"),
    ({"drift": "driftTrait: volume\n    driftField: $.rows\n    driftThreshold: 5"}, 16,
     "watch.monitoring.driftTrait", "'volume' is not one of the pipeline's traits"),
    ({"watch": "onLateData: sometimes"}, 13, "watch.onLateData", "'alert' or 'rerun'"),
    ({"retry": "maxDriftReruns: -1"}, 11, "retry.maxDriftReruns", "greater than or equal to 0"),
    ({"retry": "maxManualReruns: lots"}, 11, "retry.maxManualReruns", "valid integer"),
    ({"retry": "maxCodeRetries: 1000"}, 11, "retry.maxCodeRetries", "less than or equal to 100"),
])
def test_bad_values_name_the_file_line_and_key(project, kwargs: dict[str, str], line: int, key: str,
                                               fragment: str) -> None:
    write(project, **kwargs)
    located(project.only_error(), "pipelines/daily-sales.yaml", line, key, fragment)


def test_a_drift_field_without_its_threshold_is_named(project) -> None:
    """The missing key is not in the file: the section it belongs in is named, and the message says which."""
    write(project, drift="driftTrait: source-freshness\n    driftField: $.rows")
    located(project.only_error(), "pipelines/daily-sales.yaml", 14, "watch.monitoring",
            "driftField needs driftThreshold")


def test_json_paths() -> None:
    value = {"rows": 12, "row count": 3, "checks": [{"status": "ok"}, {"status": "bad", "n": "7"}],
             'say "hi"': 1}
    assert parse_path("$").resolve(value) == value
    assert parse_path("$.rows").resolve(value) == 12
    assert parse_path('$["row count"]').resolve(value) == 3
    assert parse_path("$['row count']").resolve(value) == 3
    assert parse_path("$.checks[-1].status").resolve(value) == "bad"
    assert parse_path('$["say \\"hi\\""]').resolve(value) == 1
    assert parse_path("$.checks[2]").resolve(value) is MISSING
    assert parse_path("$.rows.deeper").resolve(value) is MISSING
    assert parse_path("$.checks.status").resolve(value) is MISSING
    assert parse_path("$.checks[0]").keys() == ("checks",)
    for bad in ("rows", "$.", "$..rows", "$[*]", "$.rows[1:2]", "$" + ".a" * 40, 5):
        with pytest.raises(ValueError):
            parse_path(bad)
