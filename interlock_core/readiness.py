"""Readiness rules: from trait results to READY / NOT_READY with the blocking traits."""

from __future__ import annotations

from collections.abc import Sequence

from .archetypes import ResolvedTrait
from .model import ReadinessRuleType, ReadinessStatus, TraitEvaluation, TraitStatus


def blocking_label(trait: ResolvedTrait, evaluation: TraitEvaluation) -> str:
    return f"{trait.type} (STALE)" if evaluation.status == TraitStatus.STALE else trait.type


def apply_rule(
    rule: ReadinessRuleType, results: Sequence[tuple[ResolvedTrait, TraitEvaluation]]
) -> tuple[ReadinessStatus, list[str]]:
    """Apply ``rule``; optional traits never block. Any non-``PASS`` status counts as not passing."""
    required = [(t, e) for t, e in results if t.required]
    failing = [blocking_label(t, e) for t, e in required if e.status != TraitStatus.PASS]
    passing = len(required) - len(failing)
    if rule is ReadinessRuleType.ALL_REQUIRED_PASS:
        ready = not failing
    elif rule is ReadinessRuleType.MAJORITY_PASS:
        ready = passing * 2 > len(required)
    elif rule is ReadinessRuleType.ANY_PASS:
        ready = passing > 0
    else:  # pragma: no cover - enum is closed
        raise ValueError(f"unsupported readiness rule {rule!r}")
    if ready:
        return ReadinessStatus.READY, []
    return ReadinessStatus.NOT_READY, failing
