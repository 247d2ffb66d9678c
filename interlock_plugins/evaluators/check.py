"""Whether an evaluator name resolves to something that can run, before anything runs (``interlock
validate``): a known ``builtin:`` name, an ``http(s)://`` URL, or an executable the ``subprocess``
runner finds (evaluator directories, then ``$PATH``)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from .builtin import PREFIX
from .subprocess import resolve_evaluator

_URL_PREFIXES = ("http://", "https://")


def unresolved(evaluator: str, evaluator_dirs: Collection[Path], builtins: Collection[str]) -> str | None:
    """Why ``evaluator`` resolves nowhere, or None when it resolves."""
    if evaluator.startswith(PREFIX):
        name = evaluator[len(PREFIX):].strip()
        if name in builtins:
            return None
        return f"unknown builtin evaluator {name!r} (known: {', '.join(sorted(builtins)) or 'none'})"
    if evaluator.startswith(_URL_PREFIXES):
        return None
    resolution = resolve_evaluator(evaluator, tuple(evaluator_dirs))
    if resolution.path is not None:
        return None
    assert resolution.failure is not None
    return resolution.failure.reason or f"evaluator {evaluator!r} not found"
