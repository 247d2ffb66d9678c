"""A pipeline checked against what it names: its archetype and traits, calendars, trigger type
(and that type's options), evaluators and headers."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pydantic

from ..archetypes import ArchetypeRegistry, resolve_traits, unknown_traits
from ..calendars import CalendarRegistry
from ..errors import ConfigError, PluginError
from ..model import PipelineConfig
from ..plugins import Plugins
from .errors import located_errors
from .evaluators import builtin_config_problems
from .registration import evaluator_name_problems, header_problems, is_api
from .variables import unset_references
from .yamlsource import Located, dotted


def validate_pipeline(
    pipeline: PipelineConfig,
    archetypes: ArchetypeRegistry,
    calendars: CalendarRegistry,
    plugins: Plugins,
    source: Located | None = None,
    env: Mapping[str, str] | None = None,
) -> list[ConfigError]:
    """Cross-checks a single pipeline against the archetypes, calendars and plugins."""
    env = os.environ if env is None else env

    def err(message: str, path: tuple[str | int, ...]) -> ConfigError:
        if source is not None:
            return source.error(message, path)
        return ConfigError(message, key=dotted(path) or None)

    errors: list[ConfigError] = []
    if pipeline.archetype not in archetypes:
        known = ", ".join(archetypes.names()) or "none"
        errors.append(err(f"unknown archetype {pipeline.archetype!r} (known: {known})", ("archetype",)))
    else:
        archetype = archetypes.get(pipeline.archetype)
        for trait in unknown_traits(archetype, pipeline):
            message = f"trait {trait!r} is not defined by archetype {archetype.name!r}"
            errors.append(err(message, ("traits", trait)))
        errors.extend(builtin_config_problems(pipeline, archetype, lambda: plugins.builtin_evaluators, err))
        drift_trait = pipeline.monitoring.drift_trait if pipeline.watch is not None else None
        if drift_trait is not None:
            names = [t.type for t in resolve_traits(archetype, pipeline)]
            if drift_trait not in names:
                errors.append(err(f"driftTrait {drift_trait!r} is not one of the pipeline's traits "
                                  f"({', '.join(names) or 'none'})", ("watch", "monitoring", "driftTrait")))
    for section, listing in (("exclusions", pipeline.exclusions), ("include", pipeline.include)):
        if listing is None:
            continue
        named: list[tuple[str, tuple[str | int, ...]]] = [
            *([(listing.calendar, (section, "calendar"))] if listing.calendar else []),
            *[(name, (section, "calendars", i)) for i, name in enumerate(listing.calendars)],
        ]
        for name, where in named:
            if name not in calendars:
                known = ", ".join(calendars.names()) or "none"
                errors.append(err(f"unknown calendar {name!r} (known: {known})", where))
    if pipeline.trigger is not None:
        spec = pipeline.trigger
        if spec.type not in plugins.trigger_types:
            known = ", ".join(plugins.trigger_types.names())
            errors.append(err(f"unknown trigger type {spec.type!r} (known: {known})", ("trigger", "type")))
        else:
            try:
                trigger_cls = plugins.trigger_types.get(spec.type)
                trigger_cls.config_model.model_validate(spec.options())
            except PluginError as exc:  # a lazily registered type whose library is not installed
                errors.append(err(exc.message, ("trigger", "type")))
            except pydantic.ValidationError as exc:
                if source is not None:
                    errors.extend(located_errors(exc, source, ("trigger",)))
                else:
                    errors.extend(located_errors(exc, None, ("trigger",)))
        if not is_api(pipeline):  # an API pipeline's references are checked on registration
            errors.extend(unset_references(spec.options(), ("trigger",), env, err))
    errors.extend(evaluator_name_problems(pipeline, err))
    errors.extend(header_problems(pipeline, err))
    return errors
