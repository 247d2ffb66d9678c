"""Whether a project's trait evaluators resolve to something that can run, checked while the
project loads (``interlock validate``), so that a missing evaluator is reported with every other
problem of the load rather than after them; and the configs of ``builtin:`` evaluators, checked
by the builtin's own model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pydantic

from ..archetypes import ArchetypeRegistry, resolve_traits
from ..errors import ConfigError, PluginError
from ..model import Archetype, PipelineConfig
from ..plugins import Registry
from .errors import friendly
from .yamlsource import Located

EvaluatorCheck = Callable[[str, Sequence[Path]], str | None]
"""Why an evaluator name resolves nowhere given the project's evaluator directories (no such
``builtin:``, no executable there or on ``$PATH``), or None when it resolves. The evaluator runners
know how names resolve, so ``interlock validate`` passes one built from them."""


def unresolved_evaluators(pipeline: PipelineConfig, archetypes: ArchetypeRegistry, evaluator_dirs: Sequence[Path],
                          doc: Located, check: EvaluatorCheck) -> list[ConfigError]:
    """Each trait evaluator of ``pipeline`` that resolves nowhere, at ``traits.<type>.evaluator``."""
    if pipeline.archetype in archetypes:
        named = [(t.type, t.evaluator) for t in resolve_traits(archetypes.get(pipeline.archetype), pipeline)]
    else:  # the unknown archetype is reported already; the evaluators the file names are still checked
        named = [(trait_type, trait.evaluator) for trait_type, trait in pipeline.traits.items()]
    problems = []
    for trait_type, evaluator in named:
        why = check(evaluator, evaluator_dirs) if evaluator else None
        if why is not None:
            problems.append(doc.error(why, ("traits", trait_type, "evaluator")))
    return problems


def builtin_config_problems(pipeline: PipelineConfig, archetype: Archetype, registry: Callable[[], Registry[Any]],
                            report: Callable[[str, tuple[str | int, ...]], ConfigError]) -> list[ConfigError]:
    """The second pass for ``builtin:`` evaluators: each trait's resolved config (the archetype's
    ``defaultConfig`` with the pipeline's ``config`` over it) validated by the builtin's own
    ``config_model``, when it has one. A problem is reported at ``traits.<type>.config.<key>``, or,
    for a key only the archetype's ``defaultConfig`` gives, says so. When the pipeline names another
    evaluator than the archetype's, only the config the pipeline writes is checked (the archetype's
    defaults were meant for its own evaluator). ``registry`` gives the builtin evaluators; it is
    asked only when a trait names a ``builtin:`` evaluator."""
    problems: list[ConfigError] = []
    for trait in resolve_traits(archetype, pipeline):
        evaluator = trait.evaluator or ""
        if not evaluator.startswith("builtin:"):
            continue
        name = evaluator.removeprefix("builtin:")
        builtins = registry()
        if name not in builtins:
            continue  # an unknown builtin is reported by the evaluator check
        try:
            model = getattr(builtins.get(name), "config_model", None)
        except PluginError:
            continue
        if model is None:
            continue
        override = pipeline.traits.get(trait.type)
        written = override.config if override is not None else {}
        definition = archetype.definition(trait.type)
        # the archetype's defaults are for the archetype's evaluator: a pipeline that names another
        # evaluator inherits them (every trait config merges so) but cannot remove them
        inherited = definition is not None and definition.evaluator == trait.evaluator
        defaults = definition.default_config if definition is not None and inherited else {}
        try:
            model.model_validate(trait.config if inherited else written)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
                message = friendly(dict(error))
                if loc and loc[0] in defaults and loc[0] not in written:
                    message += f" (in the defaultConfig archetype {archetype.name!r} gives trait {trait.type!r})"
                    where: tuple[str | int, ...] = ("traits", trait.type) if override is not None else ("archetype",)
                else:
                    where = ("traits", trait.type, "config", *loc)
                problems.append(report(message, where))
    return problems
