"""``builtin:rule``'s config is validated with the project (the loader's second pass over builtin
evaluators): a bad operator, path or value is reported at its file, line and key, with every
other problem of the load; an API pipeline gets the key."""

from __future__ import annotations

import pytest

from interlock_core.archetypes import ArchetypeRegistry
from interlock_core.calendars import CalendarRegistry
from interlock_core.config import validate_pipeline
from interlock_core.errors import ConfigError
from interlock_core.model import Archetype, PipelineConfig
from interlock_core.plugins import load_plugins

ARCHETYPE = """\
name: checked-batch
requiredTraits:
  - type: dbt-tests
    evaluator: builtin:rule
    defaultConfig:
      rules:
        - {path: $.rows, op: gte, value: 1000}
  - type: dbt-results
"""

PIPELINE = """\
name: orders
archetype: checked-batch
traits:
  dbt-tests:
    config:
      trait: dbt-results
      rules:
        - path: $.results[0].status
          op: equals
          value: success
        - any:
            - path: $.args.target
              op: in
              value: [prod, staging]
            - path: $.elapsed_time
              op: {op}
              value: 600
trigger:
  type: command
  command: echo ${{date}}
"""


def located(error: ConfigError, file: str, line: int | None, key: str | None, *fragments: str) -> None:
    assert (error.file, error.line, error.key) == (file, line, key), error.message
    for fragment in fragments:
        assert fragment in error.reason, error.message
    assert error.message.startswith(f"{file}:{line}: {key}: "), error.message


@pytest.fixture
def rules_project(project):  # type: ignore[no-untyped-def]
    project.write("archetypes/checked-batch.yaml", ARCHETYPE)
    return project


def test_a_good_rule_config_loads(rules_project) -> None:  # type: ignore[no-untyped-def]
    rules_project.pipeline("orders", PIPELINE.format(op="lt"))
    loaded = rules_project.load()
    assert loaded.pipelines["orders"].traits["dbt-tests"].config["trait"] == "dbt-results"


def test_a_bad_operator_is_reported_at_its_line(rules_project) -> None:  # type: ignore[no-untyped-def]
    rules_project.pipeline("orders", PIPELINE.format(op="less_than"))
    located(rules_project.only_error(), "pipelines/orders.yaml", 16, "traits.dbt-tests.config.rules[1].any[1].op",
            "Input should be 'exists', 'equals', 'gt'", "(got 'less_than')")


def test_every_bad_rule_is_reported_in_one_load(rules_project) -> None:  # type: ignore[no-untyped-def]
    rules_project.pipeline("orders", """\
        name: orders
        archetype: checked-batch
        traits:
          dbt-tests:
            config:
              rules:
                - {path: rows, op: exists}
                - path: $.rows
                  op: gt
                  value: many
                - {op: matches, path: $.v, value: "(oops"}
                - {all: []}
                - {op: age_lt, value: soon, colour: red}
        trigger: {type: command, command: echo}
        """)
    errors = rules_project.errors()
    where = [(e.file, e.line, e.key) for e in errors]
    assert where == [
        ("pipelines/orders.yaml", 7, "traits.dbt-tests.config.rules[0].path"),
        ("pipelines/orders.yaml", 10, "traits.dbt-tests.config.rules[1].value"),
        ("pipelines/orders.yaml", 11, "traits.dbt-tests.config.rules[2].value"),
        ("pipelines/orders.yaml", 12, "traits.dbt-tests.config.rules[3].all"),
        ("pipelines/orders.yaml", 13, "traits.dbt-tests.config.rules[4].value"),
        ("pipelines/orders.yaml", 13, "traits.dbt-tests.config.rules[4].colour"),
    ], [e.message for e in errors]
    reasons = [e.reason for e in errors]
    assert "must start with '$'" in reasons[0] and "gt takes a number (got 'many')" in reasons[1]
    assert "invalid regular expression '(oops'" in reasons[2] and "at least 1 item" in reasons[3]
    assert "age_lt takes a duration" in reasons[4] and reasons[5] == "unknown key"


def test_a_bad_default_config_of_the_archetype_says_where(rules_project) -> None:  # type: ignore[no-untyped-def]
    rules_project.write("archetypes/checked-batch.yaml", ARCHETYPE.replace("op: gte", "op: gte_"))
    rules_project.pipeline("orders", "name: orders\narchetype: checked-batch\n"
                                     "trigger: {type: command, command: echo}\n")
    error = rules_project.only_error()
    located(error, "pipelines/orders.yaml", 2, "archetype", "(got 'gte_')",
            "in the defaultConfig archetype 'checked-batch' gives trait 'dbt-tests'")


def test_interlock_validate_names_file_line_and_key(rules_project) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    rules_project.pipeline("orders", PIPELINE.format(op="bigger"))
    proc = subprocess.run([sys.executable, "-c", "import sys; from interlock_server.cli.main import main; "
                           "sys.exit(main())", "-C", str(rules_project.root), "validate"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "pipelines/orders.yaml:16: traits.dbt-tests.config.rules[1].any[1].op: Input should be" in \
        proc.stdout + proc.stderr


def test_an_api_pipeline_gets_the_key() -> None:
    archetypes = ArchetypeRegistry([Archetype.model_validate({
        "name": "gated", "requiredTraits": [{"type": "gate", "evaluator": "builtin:rule"}]})])
    pipeline = PipelineConfig.model_validate({
        "name": "api-gated", "archetype": "gated",
        "traits": {"gate": {"config": {"rules": [{"path": "$.rows", "op": "gt", "value": "x"}]}}}})
    [error] = validate_pipeline(pipeline, archetypes, CalendarRegistry(), load_plugins())
    assert (error.file, error.line, error.key) == (None, None, "traits.gate.config.rules[0].value")
    assert "gt takes a number" in error.reason


def test_the_readme_example_loads_and_passes_on_its_push(project) -> None:  # type: ignore[no-untyped-def]
    """The README's dbt example: its rules load as written and hold on the value its curl pushes."""
    import json
    import re
    from datetime import UTC, datetime
    from pathlib import Path

    import yaml

    from interlock_plugins.evaluators.rules import RuleConfig
    from interlock_plugins.evaluators.rules.judge import Sample, judge, plan, sources

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = text[text.index("### Rules over pushed values"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    pushed = re.search(r"-d '(.*?)'\n", section, re.S)
    assert block is not None and pushed is not None
    project.write("archetypes/dbt-gated.yaml", "name: dbt-gated\nrequiredTraits:\n  - type: dbt-results\n"
                                               "  - type: dbt-tests\n")
    project.pipeline("orders-report", "name: orders-report\narchetype: dbt-gated\n" + block.group(1)
                     + "trigger: {type: command, command: echo}\n")
    config = project.load().pipelines["orders-report"].traits["dbt-tests"].config
    rules = plan(RuleConfig.model_validate(config), "orders-report", "dbt-tests")
    value = json.loads(pushed.group(1))["value"]
    now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    samples = {s: Sample(s, value, now) for s in sources(rules)}
    assert judge(rules, samples, now).holds, judge(rules, samples, now).reason
    assert yaml.safe_load(block.group(1))["traits"]["dbt-tests"]["config"]["trait"] == "dbt-results"
