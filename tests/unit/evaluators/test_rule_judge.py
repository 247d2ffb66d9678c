"""``builtin:rule``'s logic without a store: the path syntax, every operator, ``all``/``any``, and the
reasons a FAIL gives (the rule's name and the value seen, masked under a secret's key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from interlock_core.jsonpath import MISSING, parse_path
from interlock_plugins.evaluators.rules.judge import (
    MATCH_TIMEOUT,
    MAX_SUBJECT,
    Sample,
    Source,
    Verdict,
    judge,
    plan,
    same,
    sources,
    timestamp,
)
from interlock_plugins.evaluators.rules.model import RuleConfig

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SOURCE = Source("warehouse", "dbt-results")
RUN_RESULTS: dict[str, Any] = {
    "metadata": {"dbt_version": "1.8.2", "generated_at": "2026-03-02T07:30:00Z"},
    "elapsed_time": 412.5,
    "args": {"target": "prod"},
    "results": [
        {"unique_id": "model.shop.orders", "status": "success", "adapter_response": {"rows_affected": 1500}},
        {"unique_id": "test.shop.not_null_orders_id", "status": "pass", "failures": 0},
    ],
    "row count": 1500,
    "apiToken": "s3cr3t-t0ken",
}


def decide(*rules: dict[str, Any], value: Any = RUN_RESULTS, pushed_at: datetime | None = NOW - timedelta(minutes=30),
           **config: Any) -> Verdict:
    compiled = plan(RuleConfig.model_validate({"rules": list(rules), **config}), "warehouse", "dbt-results")
    samples = {source: Sample(source, value, pushed_at) for source in sources(compiled)}
    return judge(compiled, samples, NOW)


def holds(*rules: dict[str, Any], **kwargs: Any) -> bool:
    return decide(*rules, **kwargs).holds


# ------------------------------------------------------------------------------------ paths


@pytest.mark.parametrize(("text", "found"), [
    ("$", RUN_RESULTS),
    ("$.elapsed_time", 412.5),
    ("$.metadata.dbt_version", "1.8.2"),
    ("$.results[0].status", "success"),
    ("$.results[-1].failures", 0),
    ("$.results[1]['unique_id']", "test.shop.not_null_orders_id"),
    ('$["row count"]', 1500),
    ("$.results[0].adapter_response.rows_affected", 1500),
    ("$.results[2]", MISSING),
    ("$.results[-3]", MISSING),
    ("$.nope", MISSING),
    ("$.elapsed_time.x", MISSING),
    ("$.metadata[0]", MISSING),
    ("$.metadata.dbt_version[0]", MISSING),
])
def test_a_path_resolves_keys_and_indexes(text: str, found: Any) -> None:
    assert parse_path(text).resolve(RUN_RESULTS) == found if found is not MISSING else \
        parse_path(text).resolve(RUN_RESULTS) is MISSING


def test_quoted_keys_take_escapes() -> None:
    assert parse_path(r'$["say \"hi\""]').steps == ('say "hi"',)
    assert parse_path(r"$['a\\b']").steps == ("a\\b",)


@pytest.mark.parametrize(("text", "problem"), [
    ("rows", "must start with '$'"),
    ("$rows", "unexpected 'rows'"),
    ("$.", "unexpected '.'"),
    ("$.a[x]", "unexpected '[x]'"),
    ("$.a[*]", "unexpected '[*]'"),
    ("$..a", "unexpected '..a'"),
    ("$[?(@.a)]", "unexpected"),
    ("$.a" * 70, "longer than 200"),
    ("$" + ".a" * 33, "more than 32 steps"),
])
def test_a_bad_path_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_path(text)
    assert problem in str(info.value)


# -------------------------------------------------------------------------------- operators


def test_exists_and_its_negation() -> None:
    assert holds({"path": "$.results[0].status", "op": "exists"})
    assert not holds({"path": "$.results[5]", "op": "exists"})
    assert holds({"path": "$.error", "op": "exists", "value": False})
    verdict = decide({"path": "$.args.target", "op": "exists", "value": False})
    assert not verdict.holds and 'rule "$.args.target is missing" failed: $.args.target is "prod"' in verdict.reason


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("gt", 412, True), ("gt", 412.5, False), ("gte", 412.5, True), ("gte", 413, False),
    ("lt", 413, True), ("lt", 412.5, False), ("lte", 412.5, True), ("lte", 412, False),
])
def test_numeric_comparisons(op: str, value: float, expected: bool) -> None:
    assert holds({"path": "$.elapsed_time", "op": op, "value": value}) is expected


def test_a_comparison_on_what_is_no_number_fails_saying_so() -> None:
    verdict = decide({"path": "$.args.target", "op": "gt", "value": 1})
    assert not verdict.holds and '$.args.target is "prod", not a number' in verdict.reason
    assert not holds({"path": "$.flag", "op": "gte", "value": 0}, value={"flag": True})  # a boolean is no number
    missing = decide({"path": "$.rows", "op": "gte", "value": 1000})
    assert "$.rows is missing in dbt-results of warehouse" in missing.reason


def test_equals_is_json_equality() -> None:
    assert holds({"path": "$.results[0].status", "op": "equals", "value": "success"})
    assert holds({"path": "$.elapsed_time", "op": "equals", "value": 412.5})
    assert holds({"path": "$.results[1].failures", "op": "equals", "value": 0.0})  # 0 == 0.0
    assert holds({"path": "$.args", "op": "equals", "value": {"target": "prod"}})
    assert holds({"path": "$.x", "op": "equals", "value": None}, value={"x": None})
    assert not holds({"path": "$.results[1].failures", "op": "equals", "value": False})  # 0 is not false
    assert not holds({"path": "$.results[1].failures", "op": "equals", "value": "0"})
    assert not same([1, 2], [1, 2, 3]) and same({"a": [1, {"b": True}]}, {"a": [1.0, {"b": True}]})
    verdict = decide({"path": "$.results[0].status", "op": "equals", "value": "error", "name": "dbt models built"})
    assert verdict == Verdict(False, 'rule "dbt models built" failed: $.results[0].status is "success"')


def test_equals_a_yaml_date_compares_its_iso_text() -> None:
    from datetime import date

    assert holds({"path": "$.day", "op": "equals", "value": date(2026, 3, 2)}, value={"day": "2026-03-02"})


def test_in() -> None:
    assert holds({"path": "$.args.target", "op": "in", "value": ["prod", "staging"]})
    assert holds({"path": "$.results[1].failures", "op": "in", "value": [0, 1]})
    verdict = decide({"path": "$.args.target", "op": "in", "value": ["dev"]})
    assert verdict.reason == 'rule "$.args.target in ["dev"]" failed: $.args.target is "prod"'


def test_matches_searches_with_the_re_syntax() -> None:
    assert holds({"path": "$.metadata.dbt_version", "op": "matches", "value": r"^1\.[0-9]+\."})
    assert not holds({"path": "$.metadata.dbt_version", "op": "matches", "value": r"^2\."})
    assert holds({"path": "$.results[0].unique_id", "op": "matches", "value": "orders"})  # search, not match
    verdict = decide({"path": "$.elapsed_time", "op": "matches", "value": "4"})
    assert not verdict.holds and "$.elapsed_time is 412.5, not a string" in verdict.reason


def test_a_catastrophic_pattern_fails_its_check_within_the_timeout() -> None:
    # the classic "n-th field" pattern: exponential on a line without the final field
    verdict = decide({"path": "$.s", "op": "matches", "value": "^(.*?,){11}P"}, value={"s": "1," * 40})
    assert not verdict.holds
    assert f"no answer within {MATCH_TIMEOUT * 1000:g} ms" in verdict.reason
    too_long = decide({"path": "$.s", "op": "matches", "value": "a"}, value={"s": "a" * (MAX_SUBJECT + 1)})
    assert not too_long.holds and f"matches reads at most {MAX_SUBJECT}" in too_long.reason


def test_age_of_the_push_against_the_clock() -> None:
    assert holds({"op": "age_lt", "value": "1h"})  # pushed 30 minutes ago
    assert not holds({"op": "age_lt", "value": "20m"})
    assert holds({"op": "age_gt", "value": "10m"})
    verdict = decide({"op": "age_lt", "value": "20m", "name": "fresh"})
    assert verdict.reason == 'rule "fresh" failed: pushed at 2026-03-02T07:30:00Z, 30m0s old'


def test_age_of_a_timestamp_inside_the_value() -> None:
    assert holds({"path": "$.metadata.generated_at", "op": "age_lt", "value": "45m"})
    assert not holds({"path": "$.metadata.generated_at", "op": "age_gt", "value": "2h"})
    epoch = (NOW - timedelta(minutes=5)).timestamp()
    assert holds({"path": "$.at", "op": "age_lt", "value": "1h"}, value={"at": epoch})
    verdict = decide({"path": "$.args.target", "op": "age_lt", "value": "1h"})
    assert '$.args.target is "prod", not a timestamp' in verdict.reason
    assert timestamp("2026-03-02T07:30:00") == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # no zone: UTC
    assert timestamp("2026-03-02T09:30:00+02:00") == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert timestamp(True) is None and timestamp("yesterday") is None


# ---------------------------------------------------------------------------- combinations


def test_all_rules_must_hold_and_a_fail_names_each_that_does_not() -> None:
    verdict = decide({"path": "$.elapsed_time", "op": "lt", "value": 600},
                     {"path": "$.results[0].status", "op": "equals", "value": "error"},
                     {"path": "$.args.target", "op": "equals", "value": "dev"})
    assert verdict == Verdict(False, 'rule "$.results[0].status equals "error"" failed: $.results[0].status is '
                                     '"success"; rule "$.args.target equals "dev"" failed: $.args.target is "prod"')
    assert decide({"path": "$.elapsed_time", "op": "lt", "value": 600}, {"op": "age_lt", "value": "1h"}) == \
        Verdict(True, "2 rules hold")


def test_any_holds_when_one_does() -> None:
    either = {"any": [{"path": "$.args.target", "op": "equals", "value": "dev"},
                      {"path": "$.metadata.dbt_version", "op": "matches", "value": "^1\\."}]}
    assert holds(either)
    neither = {"name": "a known target", "any": [{"path": "$.args.target", "op": "equals", "value": "dev"},
                                                 {"path": "$.args.target", "op": "equals", "value": "qa"}]}
    verdict = decide(neither)
    assert verdict.reason == ('rule "a known target" failed: none of these holds: rule "$.args.target equals "dev"" '
                              'failed: $.args.target is "prod"; rule "$.args.target equals "qa"" failed: '
                              '$.args.target is "prod"')


def test_groups_nest() -> None:
    nested = {"all": [{"path": "$.elapsed_time", "op": "lt", "value": 600},
                      {"any": [{"path": "$.results[1].failures", "op": "gt", "value": 0},
                               {"all": [{"path": "$.results[1].status", "op": "equals", "value": "pass"},
                                        {"op": "age_lt", "value": "1h"}]}]}]}
    assert holds(nested)
    assert not holds(nested, pushed_at=NOW - timedelta(hours=2))


def test_checks_read_the_sources_they_name() -> None:
    rules = RuleConfig.model_validate({"trait": "dbt-results", "rules": [
        {"path": "$.rows", "op": "gte", "value": 1000},
        {"any": [{"path": "$.status", "op": "equals", "value": "ok"}], "pipeline": "soda", "trait": "checks"},
    ]})
    compiled = plan(rules, "report", "gate")
    soda = Source("soda", "checks")
    assert sources(compiled) == [Source("report", "dbt-results"), soda]
    samples = {Source("report", "dbt-results"): Sample(Source("report", "dbt-results"), {"rows": 1200}, NOW),
               soda: Sample(soda, why="nothing pushed to checks of soda yet (or it expired)")}
    verdict = judge(compiled, samples, NOW)
    assert verdict.reason == ('none of these holds: rule "$.status equals "ok"" failed: nothing pushed to checks '
                              'of soda yet (or it expired)')


# ------------------------------------------------------------------------------- masking


def test_the_value_seen_is_masked_under_a_secret_key() -> None:
    verdict = decide({"path": "$.apiToken", "op": "equals", "value": "guess"})
    assert verdict.reason == 'rule "$.apiToken equals "guess"" failed: $.apiToken is ***'
    nested = decide({"path": "$.auth", "op": "equals", "value": {}}, value={"auth": {"password": "pw", "user": "u"}})
    assert "pw" not in nested.reason
    inside = decide({"path": "$.conn", "op": "equals", "value": {}}, value={"conn": {"password": "pw", "user": "u"}})
    assert '"password": "***"' in inside.reason and "pw\"" not in inside.reason


def test_a_long_value_is_cut() -> None:
    verdict = decide({"path": "$.s", "op": "equals", "value": "x"}, value={"s": "y" * 500})
    assert verdict.reason.endswith("…") and len(verdict.reason) < 200


# ------------------------------------------------------------------------------- config


@pytest.mark.parametrize(("rule", "problem"), [
    ({"path": "$.a", "op": "gtt", "value": 1}, "Input should be 'exists', 'equals'"),
    ({"path": "$.a", "op": "gt", "value": "1"}, "gt takes a number"),
    ({"path": "$.a", "op": "gt"}, "gt needs a value"),
    ({"path": "a", "op": "exists"}, "must start with '$'"),
    ({"path": "$.a", "op": "exists", "value": 1}, "exists takes no value, or true/false"),
    ({"op": "age_lt", "value": "soon"}, "age_lt takes a duration"),
    ({"op": "age_gt", "value": "-1h"}, "above 0"),
    ({"path": "$.a", "op": "in", "value": []}, "non-empty list"),
    ({"path": "$.a", "op": "in", "value": "prod"}, "non-empty list"),
    ({"path": "$.a", "op": "matches", "value": "(unclosed"}, "invalid regular expression"),
    ({"path": "$.a", "op": "matches", "value": "a" * 201}, "at most 200 characters"),
    ({"all": []}, "at least 1 item"),
    ({"all": [{"op": "exists"}], "any": [{"op": "exists"}]}, "not all and any"),
    ({"all": [{"op": "exists"}], "path": "$.a"}, "takes no path or value"),
    ({"path": "$.a"}, "not none of them"),
    ({"path": "$.a", "op": "exists", "colour": "red"}, "Extra inputs are not permitted"),
])
def test_a_bad_rule_is_refused(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RuleConfig.model_validate({"rules": [rule]})
    assert problem in str(info.value)


def test_rules_are_bounded() -> None:
    with pytest.raises(pydantic.ValidationError, match="at least 1 item"):
        RuleConfig.model_validate({"rules": []})
    deep: dict[str, Any] = {"op": "exists"}
    for _ in range(8):
        deep = {"all": [deep]}
    with pytest.raises(pydantic.ValidationError, match="nest at most 8 deep"):
        RuleConfig.model_validate({"rules": [deep]})
    with pytest.raises(pydantic.ValidationError, match="at most 200 rules"):
        RuleConfig.model_validate({"rules": [{"op": "exists"}] * 201})
