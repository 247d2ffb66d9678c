"""What is left of a file that failed validation, so the checks that look across files still run.

A pipeline file with a wrong type in one trait should still be told that its archetype or trigger
type is unknown: the load then reports every problem at once instead of one per attempt.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

M = TypeVar("M", bound=pydantic.BaseModel)

_ROUNDS = 3


def _drop(data: Any, loc: tuple[str | int, ...]) -> bool:
    """Remove the value at ``loc`` (a whole list when ``loc`` points into one); False when not found."""
    if loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    if not loc:
        return False
    node = data
    for part in loc[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    if isinstance(node, dict) and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False


def salvage(model: type[M], data: Any, error: pydantic.ValidationError,
            stand_ins: Mapping[str, Any] | None = None) -> M | None:
    """``model`` built from ``data`` without the values that failed validation, or None when the
    failures are in required or whole-document values (nothing meaningful is left to check).

    ``stand_ins`` gives a valid value for top-level keys that are required: a bad or missing one is
    replaced by it rather than giving up (a pipeline with a bad name still has its other keys checked)."""
    if not isinstance(data, dict):
        return None
    data = copy.deepcopy(data)
    stand_ins = stand_ins or {}
    for _ in range(_ROUNDS):
        for problem in error.errors():
            loc = tuple(p for p in problem["loc"] if isinstance(p, str | int))
            key = loc[0] if len(loc) == 1 else None
            if isinstance(key, str) and key in stand_ins:
                data[key] = stand_ins[key]
                continue
            if problem["type"] == "missing" or not _drop(data, loc):
                return None
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as exc:
            error = exc
    return None
