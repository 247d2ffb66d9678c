"""libyaml (when PyYAML has it) parses configuration files to the same data and the same line of
every key and item as the pure-Python parser; what it does not parse cleanly is reported by the
pure-Python parser, with its message and line."""

from __future__ import annotations

import pytest
import yaml

from interlock_core.config import yamlsource
from interlock_core.config.yamlsource import parse_yaml
from interlock_core.errors import ConfigError

pytestmark = pytest.mark.skipif(yamlsource._FAST_LOADER is None, reason="PyYAML built without libyaml")

DOCUMENT = """\
# a pipeline
name: orders
archetype: batch-ingestion
tier: 2
defaults: &defaults
  ttl: 3600
  timeout: 30
traits:
  freshness:
    <<: *defaults
    evaluator: ./evaluators/freshness.sh
    config: {table: "orders", maxAge: 2h}
  volume:
    evaluator: builtin:rule
    config:
      rules:
        - path: $.rows
          op: ">="
          value: 1000
        - path: $.ratio
          op: "<"
          value: 1.5e3
schedules:
  - name: daily
    cron: "0 6 * * *"
    timezone: Europe/Paris
notes: |
  two lines
  of text
empty:
flag: yes
---
name: second
when: 2026-01-02
"""


def located(loader: object, text: str) -> list[tuple[object, dict[tuple[str | int, ...], int]]]:
    return [(doc.data, doc.lines) for doc in yamlsource._parse(text, "pipeline.yaml", loader)]


def test_both_parsers_give_the_same_data_and_lines() -> None:
    fast = located(yamlsource._FAST_LOADER, DOCUMENT)
    pure = located(yaml.SafeLoader, DOCUMENT)
    assert fast == pure
    assert [(d.data, d.lines) for d in parse_yaml(DOCUMENT, "pipeline.yaml")] == pure
    assert pure[0][1][("traits", "volume", "config", "rules", 1)] == 20


@pytest.mark.parametrize("text", [
    "name: a\n  bad: indentation\n",
    "name: [unclosed\n",
    "a: 1\na: 2\n",
    "a: &x [*x]\n",
    "key: \"tab\there\"\nother: @reserved\n",
])
def test_what_libyaml_does_not_parse_cleanly_is_reported_by_the_pure_parser(text: str) -> None:
    with pytest.raises(ConfigError) as reported:
        parse_yaml(text, "pipeline.yaml")
    with pytest.raises(ConfigError) as pure:
        yamlsource._parse(text, "pipeline.yaml", yaml.SafeLoader)
    assert (reported.value.message, reported.value.line) == (pure.value.message, pure.value.line)
