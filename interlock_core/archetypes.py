"""Archetype registry and trait resolution (the merge of archetype defaults and pipeline overrides)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFoundError
from .model import Archetype, PipelineConfig, TraitConfig, TraitDefinition


@dataclass(frozen=True)
class ResolvedTrait:
    type: str
    required: bool
    evaluator: str | None
    config: dict[str, Any] = field(default_factory=dict)
    ttl: int | None = None
    timeout: float | None = None
    description: str | None = None

    @property
    def pushed(self) -> bool:
        """A trait with no evaluator takes its state from results pushed over the API."""
        return not self.evaluator


class ArchetypeRegistry:
    def __init__(self, archetypes: list[Archetype] | None = None) -> None:
        self._items: dict[str, Archetype] = {}
        for archetype in archetypes or []:
            self.register(archetype)

    def register(self, archetype: Archetype) -> None:
        """Later registrations of the same name replace earlier ones (project files override starters)."""
        self._items[archetype.name] = archetype

    def get(self, name: str) -> Archetype:
        try:
            return self._items[name]
        except KeyError:
            raise NotFoundError(f"archetype {name!r} not found", archetype=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return sorted(self._items)

    def list(self) -> list[Archetype]:
        return [self._items[n] for n in self.names()]


def _resolve_one(definition: TraitDefinition, required: bool, override: TraitConfig | None) -> ResolvedTrait:
    config = copy.deepcopy(definition.default_config)
    evaluator = definition.evaluator
    ttl = definition.default_ttl
    timeout = definition.default_timeout
    if override is not None:
        if override.evaluator:
            evaluator = override.evaluator
        config.update(copy.deepcopy(override.config))
        if override.ttl is not None and override.ttl > 0:
            ttl = override.ttl
        if override.timeout is not None and override.timeout > 0:
            timeout = override.timeout
    return ResolvedTrait(
        type=definition.type,
        required=required,
        evaluator=evaluator or None,
        config=config,
        ttl=ttl,
        timeout=timeout,
        description=definition.description,
    )


def resolve_traits(archetype: Archetype, pipeline: PipelineConfig | None) -> list[ResolvedTrait]:
    """Required traits always (archetype order), optional ones only when the pipeline names them.

    Config is merged key by key (pipeline wins); ``ttl``/``timeout`` overrides apply only when > 0.
    """
    overrides = pipeline.traits if pipeline else {}
    out = [_resolve_one(t, True, overrides.get(t.type)) for t in archetype.required_traits]
    out += [_resolve_one(t, False, overrides[t.type]) for t in archetype.optional_traits if t.type in overrides]
    return out


def unknown_traits(archetype: Archetype, pipeline: PipelineConfig) -> list[str]:
    """Trait keys in the pipeline that its archetype does not define."""
    return sorted(t for t in pipeline.traits if archetype.definition(t) is None)
