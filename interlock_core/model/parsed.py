"""Records parsed from stored text, kept by that text: a row read again unchanged (a trait result
read by every readiness GET until it is replaced or expires) is not validated again.

The same text always parses to the same record, so what is kept is exactly what parsing would
answer. Each caller gets its own copy of the kept record (its fields its own; nested values such as
a trait's ``value`` are shared, and no reader changes them in place). Only records whose readers
never change nested values are kept so (:class:`~interlock_core.model.TraitEvaluation`); runs,
run logs and reruns, whose metadata and retry history are changed in place, are parsed each time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from .records import ReadinessResult, TraitEvaluation

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=ReadinessResult)

_set = object.__setattr__


class ParsedRecords(Generic[M]):
    """Up to ``limit`` records of one model by their stored text (then it starts again)."""

    def __init__(self, model: type[M], limit: int = 4096) -> None:
        self.model = model
        self.limit = limit
        self._kept: dict[str | bytes, M] = {}

    def load(self, text: str | bytes, *, shared: bool = False) -> M:
        """The record ``text`` parses to (pydantic's ``ValidationError`` when it does not), a copy of its
        own; ``shared``: the kept record itself, for a caller that only reads it (the same object for
        the same text while it is kept)."""
        kept = self._kept.get(text)
        if kept is None:
            kept = self.model.model_validate_json(text)
            if len(self._kept) >= self.limit:
                self._kept.clear()
            self._kept[text] = kept
        return kept if shared else shallow_copy(kept)


TRAIT_ROWS = ParsedRecords(TraitEvaluation)
"""Trait rows by their stored text, for every store (a readiness GET reads the same rows again and again)."""


def shallow_copy(record: M) -> M:
    """A shallow copy of ``record`` (as ``model_copy()``, without its generic path)."""
    copy = record.__class__.__new__(record.__class__)
    _set(copy, "__dict__", record.__dict__.copy())
    _set(copy, "__pydantic_fields_set__", set(record.__pydantic_fields_set__))
    _set(copy, "__pydantic_extra__", None if record.__pydantic_extra__ is None else dict(record.__pydantic_extra__))
    _set(copy, "__pydantic_private__",
         None if record.__pydantic_private__ is None else dict(record.__pydantic_private__))
    return copy


def with_evaluated_at(result: R, at: datetime) -> R:
    """A shallow copy of ``result`` evaluated at ``at`` (its lists and trait results shared)."""
    copy = shallow_copy(result)
    copy.__dict__["evaluated_at"] = at
    return copy
