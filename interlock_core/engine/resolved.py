"""Pipelines resolved once per stored configuration version, for the read paths (``GET .../readiness``).

A readiness GET reads the pipeline's stored records in one call (:meth:`Store.read_pipeline` with
``config``), naming the configuration version it already holds: the store answers the version
stored and sends (and parses) the configuration only when it changed. The configuration is kept
here with its traits resolved from its archetype, so neither is parsed nor resolved again until the
stored configuration (or the loaded archetype) changes.

What is kept is never handed out as it is: each caller gets its own (shallow) copy of the
configuration, so a field a caller sets never reaches the cache or another caller; its nested
values (trait settings, schedules) are shared, and the read paths that use it only read them (a
deep copy costs more than parsing the stored text again). The resolved traits are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..archetypes import ArchetypeRegistry, ResolvedTrait, resolve_traits
from ..errors import InterlockError
from ..model import Archetype, PipelineConfig, ScheduleConfig
from ..model.parsed import shallow_copy

MAX_KEPT = 20_000
"""Pipelines kept at most; past it the cache starts again (the next reads re-resolve)."""


@dataclass(frozen=True)
class ResolvedPipeline:
    """A stored configuration at one version, with its traits resolved from ``archetype``."""

    version: str
    config: PipelineConfig
    archetype: Archetype | None
    traits: tuple[ResolvedTrait, ...] | None
    """None when the archetype was not loaded when it was resolved (readiness then says why)."""
    schedules: tuple[ScheduleConfig, ...] = ()
    """The configuration's schedules (its default one when it names none), shared read-only."""

    def pipeline(self) -> PipelineConfig:
        """A copy of the configuration of the caller's own (its nested values shared, read-only)."""
        return shallow_copy(self.config)  # model_copy()'s copy, without its generic path

    def traits_if_current(self, archetypes: ArchetypeRegistry) -> list[ResolvedTrait] | None:
        """The resolved traits, when the archetype loaded now is still the one they came from."""
        return list(self.traits) if self.traits is not None and self.is_current(archetypes) else None

    def is_current(self, archetypes: ArchetypeRegistry) -> bool:
        """Whether the traits were resolved, from the archetype loaded now."""
        if self.traits is None:
            return False
        try:
            return archetypes.get(self.config.archetype) is self.archetype
        except InterlockError:  # not loaded (any more): the caller resolves and reports it
            return False


class ResolvedPipelines:
    """The last resolved version of each pipeline read, by name."""

    def __init__(self) -> None:
        self._kept: dict[str, ResolvedPipeline] = {}

    def get(self, name: str) -> ResolvedPipeline | None:
        return self._kept.get(name)

    def forget(self, name: str) -> None:
        self._kept.pop(name, None)

    def keep(self, version: str, config: PipelineConfig, archetypes: ArchetypeRegistry) -> ResolvedPipeline:
        """Resolve ``config`` (a configuration of the caller's that it no longer changes) at ``version``."""
        archetype: Archetype | None
        traits: tuple[ResolvedTrait, ...] | None
        try:
            archetype = archetypes.get(config.archetype)
            traits = tuple(resolve_traits(archetype, config))
        except InterlockError:  # e.g. an archetype no longer loaded: resolved at use, which reports it
            archetype, traits = None, None
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        kept = config.model_copy(deep=True)
        entry = ResolvedPipeline(version=version, config=kept, archetype=archetype, traits=traits,
                                 schedules=tuple(kept.resolved_schedules()))
        self._kept[config.name] = entry
        return entry
