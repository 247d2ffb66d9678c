"""Whether a project's trait evaluators resolve to something that can run, checked while the
project loads (``interlock validate``), so that a missing evaluator is reported with every other
problem of the load rather than after them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..archetypes import ArchetypeRegistry, resolve_traits
from ..errors import ConfigError
from ..model import PipelineConfig
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
