"""Archetypes (validation, registry, the trait merge rules), the starter archetypes and calendars,
and calendar exclusions."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

import pydantic
import pytest
import yaml

from interlock_core.archetypes import ArchetypeRegistry, ResolvedTrait, resolve_traits, unknown_traits
from interlock_core.calendars import CalendarRegistry, is_excluded
from interlock_core.errors import NotFoundError
from interlock_core.model import Archetype, Calendar, ExclusionConfig, PipelineConfig, ReadinessRuleType

ARCHETYPE: dict[str, Any] = {
    "name": "test-archetype",
    "requiredTraits": [
        {"type": "freshness", "defaultConfig": {"maxLagSeconds": 60, "nested": {"a": 1, "b": 2}},
         "defaultTtl": 120, "defaultTimeout": 10, "description": "fresh"},
        {"type": "availability", "defaultTtl": 60, "defaultTimeout": 5},
    ],
    "optionalTraits": [{"type": "quality", "defaultConfig": {"sample": 100}, "defaultTtl": 30}],
    "readinessRule": {"type": "all-required-pass"},
}


def archetype(**changes: Any) -> Archetype:
    return Archetype.model_validate({**ARCHETYPE, **changes})


def pipeline(traits: dict[str, Any] | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate({"name": "p1", "archetype": "test-archetype", "traits": traits or {}})


def by_type(traits: list[ResolvedTrait]) -> dict[str, ResolvedTrait]:
    return {t.type: t for t in traits}


def starter(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((resources.files("interlock_config") / kind / f"{name}.yaml").read_text())
    return data


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": ""}, "at least 1 character"),
        ({"requiredTraits": []}, "at least one required trait is needed"),
        ({"requiredTraits": [{"type": ""}]}, "at least 1 character"),
        ({"optionalTraits": [{"type": ""}]}, "at least 1 character"),
        ({"optionalTraits": [{"type": "freshness"}]}, "duplicate trait type 'freshness'"),
        ({"requiredTraits": [{"type": "a"}, {"type": "a"}]}, "duplicate trait type 'a'"),
        ({"readinessRule": {"type": "most-pass"}}, "readinessRule"),
        ({"requiredTraits": [{"type": "a", "defaultTtl": -1}]}, "greater than or equal to 0"),
        ({"requiredTraits": [{"type": "a", "ttl": 5}]}, "Extra inputs"),
    ],
)
def test_invalid_archetypes_are_rejected(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        archetype(**changes)
    assert fragment in str(info.value)


def test_archetype_name_is_required() -> None:
    data = {k: v for k, v in ARCHETYPE.items() if k != "name"}
    with pytest.raises(pydantic.ValidationError, match="name"):
        Archetype.model_validate(data)


def test_readiness_rule_defaults_to_all_required_pass() -> None:
    data = {k: v for k, v in ARCHETYPE.items() if k != "readinessRule"}
    assert Archetype.model_validate(data).readiness_rule.type is ReadinessRuleType.ALL_REQUIRED_PASS


def test_registry_get_list_and_replace() -> None:
    registry = ArchetypeRegistry([archetype(name="b"), archetype(name="a")])
    assert registry.names() == ["a", "b"]
    assert [a.name for a in registry.list()] == ["a", "b"]
    assert "a" in registry and "c" not in registry
    replacement = archetype(name="a", requiredTraits=[{"type": "only"}])
    registry.register(replacement)
    assert registry.get("a") is replacement
    with pytest.raises(NotFoundError, match="archetype 'c' not found"):
        registry.get("c")


# ------------------------------------------------------------------------------ merge rules §2.2


def test_no_pipeline_gives_required_traits_with_defaults_in_archetype_order() -> None:
    traits = resolve_traits(archetype(), None)
    assert [t.type for t in traits] == ["freshness", "availability"]
    fresh = traits[0]
    assert fresh == ResolvedTrait(type="freshness", required=True, evaluator=None,
                                  config={"maxLagSeconds": 60, "nested": {"a": 1, "b": 2}},
                                  ttl=120, timeout=10, description="fresh")
    assert traits[1].config == {} and (traits[1].ttl, traits[1].timeout) == (60, 5)
    assert all(t.pushed for t in traits), "no evaluator means the trait's results are pushed"


def test_optional_traits_only_when_the_pipeline_names_them() -> None:
    assert [t.type for t in resolve_traits(archetype(), pipeline())] == ["freshness", "availability"]
    traits = resolve_traits(archetype(), pipeline({"quality": {}}))
    assert [t.type for t in traits] == ["freshness", "availability", "quality"]
    quality = traits[2]
    assert (quality.required, quality.config, quality.ttl, quality.timeout) == (False, {"sample": 100}, 30, None)


def test_required_traits_come_first_whatever_the_pipeline_order() -> None:
    traits = resolve_traits(archetype(), pipeline({"quality": {}, "availability": {}, "freshness": {}}))
    assert [(t.type, t.required) for t in traits] == [("freshness", True), ("availability", True),
                                                      ("quality", False)]


def test_config_override_is_shallow_and_key_by_key() -> None:
    traits = by_type(resolve_traits(archetype(), pipeline({
        "freshness": {"config": {"maxLagSeconds": 5, "source": "sales", "nested": {"a": 9}}},
    })))
    assert traits["freshness"].config == {"maxLagSeconds": 5, "source": "sales", "nested": {"a": 9}}


def test_resolving_never_changes_the_archetype_defaults() -> None:
    arch = archetype()
    first = by_type(resolve_traits(arch, pipeline({"freshness": {"config": {"extra": 1}}})))
    first["freshness"].config["nested"]["a"] = 100
    again = by_type(resolve_traits(arch, None))
    assert again["freshness"].config == {"maxLagSeconds": 60, "nested": {"a": 1, "b": 2}}
    assert arch.required_traits[0].default_config == {"maxLagSeconds": 60, "nested": {"a": 1, "b": 2}}


@pytest.mark.parametrize(("override", "expected"), [(None, 120), (0, 120), (300, 300), (1, 1)])
def test_ttl_override_applies_only_when_positive(override: int | None, expected: int) -> None:
    traits = by_type(resolve_traits(archetype(), pipeline({"freshness": {"ttl": override}})))
    assert traits["freshness"].ttl == expected


@pytest.mark.parametrize(("override", "expected"), [(None, 10), (0, 10), (2.5, 2.5), (60, 60)])
def test_timeout_override_applies_only_when_positive(override: float | None, expected: float) -> None:
    traits = by_type(resolve_traits(archetype(), pipeline({"freshness": {"timeout": override}})))
    assert traits["freshness"].timeout == expected


def test_negative_ttl_or_timeout_is_a_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        pipeline({"freshness": {"ttl": -5}})
    with pytest.raises(pydantic.ValidationError):
        pipeline({"freshness": {"timeout": -1}})


def test_evaluator_override() -> None:
    arch = archetype(requiredTraits=[{"type": "freshness", "evaluator": "default-check"}, {"type": "x"}])
    traits = by_type(resolve_traits(arch, pipeline({"freshness": {"evaluator": "./evaluators/mine"},
                                                    "x": {"evaluator": ""}})))
    assert traits["freshness"].evaluator == "./evaluators/mine"
    assert traits["x"].evaluator is None and traits["x"].pushed
    kept = by_type(resolve_traits(arch, pipeline({"freshness": {"config": {"a": 1}}})))
    assert kept["freshness"].evaluator == "default-check"


def test_unknown_pipeline_traits_are_listed_and_not_resolved() -> None:
    pipe = pipeline({"freshness": {}, "gpu": {}, "another": {}})
    assert unknown_traits(archetype(), pipe) == ["another", "gpu"]
    assert [t.type for t in resolve_traits(archetype(), pipe)] == ["freshness", "availability"]


# ------------------------------------------------------------------------- starter archetypes


@pytest.mark.parametrize(
    ("name", "required", "optional"),
    [
        ("batch-ingestion",
         {"source-freshness": (300, 30, {"maxLagSeconds": 300}), "upstream-dependency": (600, 60, {}),
          "resource-availability": (120, 10, {})},
         ["schema-contract", "data-quality-sample"]),
        ("streaming-enrichment",
         {"source-freshness": (60, 10, {"maxLagSeconds": 60}), "enrichment-source": (300, 30, {}),
          "resource-availability": (60, 10, {})},
         ["schema-contract"]),
        ("ml-feature-pipeline",
         {"source-freshness": (3600, 60, {"maxLagSeconds": 3600}), "upstream-dependency": (3600, 120, {}),
          "resource-availability": (300, 15, {}), "model-registry": (600, 30, {})},
         ["data-drift-check", "feature-store-health"]),
    ],
)
def test_starter_archetypes(name: str, required: dict[str, tuple[int, int, dict[str, Any]]],
                            optional: list[str]) -> None:
    arch = Archetype.model_validate(starter("archetypes", name))
    assert arch.name == name
    assert arch.readiness_rule.type is ReadinessRuleType.ALL_REQUIRED_PASS
    assert {t.type: (t.default_ttl, t.default_timeout, t.default_config) for t in arch.required_traits} == required
    assert [t.type for t in arch.required_traits] == list(required)
    assert [t.type for t in arch.optional_traits] == optional
    assert all(t.description for t in [*arch.required_traits, *arch.optional_traits])


def test_starter_calendars() -> None:
    weekends = Calendar.model_validate(starter("calendars", "weekends"))
    assert weekends.name == "weekends" and [d.lower() for d in weekends.days] == ["saturday", "sunday"]
    holidays = Calendar.model_validate(starter("calendars", "us-holidays"))
    assert holidays.name == "us-holidays" and holidays.days == []
    assert {"2025-12-25", "2026-01-01", "2026-07-03", "2027-12-31"} <= set(holidays.dates)
    assert len(holidays.dates) == len(set(holidays.dates))
    years = {d[:4] for d in holidays.dates}
    assert all(sum(d.startswith(y) for d in holidays.dates) >= 10 for y in years - {"2027"})


# -------------------------------------------------------------------------------- exclusions


SATURDAY, SUNDAY, MONDAY, THURSDAY = date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 12)


def registry() -> CalendarRegistry:
    return CalendarRegistry([
        Calendar(name="weekends", days=["Saturday", "Sunday"]),
        Calendar(name="freeze", dates=["2026-03-12"]),
        Calendar(name="mondays", days=["mon"]),
    ])


@pytest.mark.parametrize("days", [["Saturday"], ["saturday"], ["SATURDAY"], ["sat"], ["Sat"], ["SAT"], [" sat "]])
def test_day_names_are_case_insensitive_with_three_letter_forms(days: list[str]) -> None:
    exclusions = ExclusionConfig(days=days)
    assert is_excluded(exclusions, SATURDAY, None)
    assert not is_excluded(exclusions, SUNDAY, None)


@pytest.mark.parametrize("day", ["Caturday", "Thur", "Tues", "Satx", "S", "", "6"])
def test_unknown_day_names_are_rejected(day: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown weekday"):
        ExclusionConfig(days=[day])


def test_every_weekday_matches_by_full_and_short_name() -> None:
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for offset, name in enumerate(names):
        day = date(2026, 3, 9 + offset)
        assert is_excluded(ExclusionConfig(days=[name]), day, None)
        assert is_excluded(ExclusionConfig(days=[name[:3].lower()]), day, None)
        assert not is_excluded(ExclusionConfig(days=[names[(offset + 1) % 7]]), day, None)


def test_dates() -> None:
    exclusions = ExclusionConfig(dates=["2026-03-08", "2026-12-25"])
    assert is_excluded(exclusions, SUNDAY, None)
    assert is_excluded(exclusions, date(2026, 12, 25), None)
    assert not is_excluded(exclusions, SATURDAY, None)


def test_yaml_dates_written_without_quotes_are_accepted() -> None:
    exclusions = ExclusionConfig.model_validate(yaml.safe_load("dates: [2026-12-25]"))
    assert exclusions.dates == ["2026-12-25"]
    assert is_excluded(exclusions, date(2026, 12, 25), None)


@pytest.mark.parametrize("value", ["20261225", "2026-W52-5", "2026-02-30", "25/12/2026", "tomorrow"])
def test_dates_must_be_plain_iso_dates(value: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="invalid date"):
        ExclusionConfig(dates=[value])


@pytest.mark.parametrize("value", [5, "2026-12-25", {"a": 1}])
def test_dates_must_be_a_list(value: Any) -> None:
    with pytest.raises(pydantic.ValidationError, match="must be a list"):
        ExclusionConfig.model_validate({"dates": value})


def test_named_calendars() -> None:
    cals = registry()
    assert is_excluded(ExclusionConfig(calendar="weekends"), SATURDAY, cals)
    assert not is_excluded(ExclusionConfig(calendar="weekends"), MONDAY, cals)
    assert is_excluded(ExclusionConfig(calendars=["freeze"]), THURSDAY, cals)
    both = ExclusionConfig(calendar="weekends", calendars=["freeze", "mondays"])
    assert [is_excluded(both, d, cals) for d in (SATURDAY, SUNDAY, MONDAY, THURSDAY, date(2026, 3, 10))] == [
        True, True, True, True, False]


def test_inline_and_named_exclusions_combine() -> None:
    exclusions = ExclusionConfig(calendar="freeze", days=["Mon"], dates=["2026-03-10"])
    cals = registry()
    assert [is_excluded(exclusions, d, cals) for d in (MONDAY, date(2026, 3, 10), THURSDAY, SATURDAY)] == [
        True, True, True, False]


def test_unknown_named_calendar_or_no_registry_excludes_nothing() -> None:
    assert not is_excluded(ExclusionConfig(calendar="nowhere"), SATURDAY, registry())
    assert not is_excluded(ExclusionConfig(calendar="weekends"), SATURDAY, None)
    assert is_excluded(ExclusionConfig(calendar="weekends", days=["sat"]), SATURDAY, None)


def test_no_exclusions() -> None:
    assert not is_excluded(None, SATURDAY, registry())
    assert not is_excluded(ExclusionConfig(), SATURDAY, registry())


def test_calendar_registry() -> None:
    cals = registry()
    assert cals.names() == ["freeze", "mondays", "weekends"]
    assert cals.get("nope") is None and "freeze" in cals
    cals.register(Calendar(name="freeze", dates=["2026-01-01"]))
    assert cals.get("freeze").dates == ["2026-01-01"]
