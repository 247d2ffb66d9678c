"""Archetypes: reusable templates of the traits a kind of pipeline must satisfy."""

# Annotations are evaluated here (no `from __future__ import annotations`): pydantic then takes each
# field's type as it is instead of compiling it from text, at every start-up (docs/performance.md).

from typing import Any

from pydantic import Field, model_validator

from .base import ConfigModel, empty_list
from .enums import ReadinessRuleType
from .limits import MAX_TIMEOUT_SECONDS, MAX_TTL_SECONDS


class TraitDefinition(ConfigModel):
    type: str = Field(min_length=1)
    description: str | None = None
    default_config: dict[str, Any] = Field(default_factory=dict)
    default_ttl: int | None = Field(default=None, ge=0, le=MAX_TTL_SECONDS)
    default_timeout: float | None = Field(default=None, ge=0, le=MAX_TIMEOUT_SECONDS)
    evaluator: str | None = None


class ReadinessRule(ConfigModel):
    type: ReadinessRuleType = ReadinessRuleType.ALL_REQUIRED_PASS


class Archetype(ConfigModel):
    name: str = Field(min_length=1)
    description: str | None = None
    required_traits: list[TraitDefinition]
    optional_traits: list[TraitDefinition] = Field(default_factory=empty_list)
    readiness_rule: ReadinessRule = Field(default_factory=ReadinessRule)

    @model_validator(mode="after")
    def _check(self) -> "Archetype":
        if not self.required_traits:
            raise ValueError("at least one required trait is needed")
        seen: set[str] = set()
        for trait in [*self.required_traits, *self.optional_traits]:
            if trait.type in seen:
                raise ValueError(f"duplicate trait type {trait.type!r}")
            seen.add(trait.type)
        return self

    def definition(self, trait_type: str) -> TraitDefinition | None:
        for trait in [*self.required_traits, *self.optional_traits]:
            if trait.type == trait_type:
                return trait
        return None
