"""The readiness GET's answer, rendered from parts kept between requests.

``GET .../readiness`` answers the same stored verdict again and again: until a stored trait row
changes, the engine hands the same trait results in the same list (its ``check_readiness`` within
:meth:`~interlock_core.engine.Engine.shared_answers`), and only the answer's ``evaluatedAt``
and ``state`` change from one request to the next. What the one JSON response makes of the rest
(:class:`~interlock_server.responses.JSONResponse`: the redaction pass, then compact JSON) is kept
per pipeline, with that list, the second time the same list is answered; from then on the answer is
those bytes with the instant and the word put in — the bytes the JSON response renders, without
dumping, redacting and encoding the trait results on every request.

Kept parts are used only for the same list (the same object, never changed: the engine's shared
answers are read-only) with the same status, blockers and cycle fields, and outside a trigger's
:func:`~interlock_core.expanded.expanded_scope` (where the redaction pass masks more). An instant
and a state word are rendered as the JSON response renders them: a timestamp and a state word hold
nothing the redaction pass masks, nor anything JSON escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interlock_core.expanded import in_expanded_scope
from interlock_core.model import ReadinessResult, TraitEvaluation
from interlock_core.model.records import format_instant
from interlock_core.pipeline_state import PipelineState

from .responses import render_json

MAX_KEPT = 20_000
"""Pipelines whose parts are kept at most; past it the keeping starts again."""

_AT = "\x00evaluatedAt\x00"
_STATE = "\x00state\x00"
_WORDS = {state: f'"{state.value}"}}\n'.encode() for state in PipelineState}
"""Each state word as the answer's end renders it (its value, then the document's end)."""


@dataclass(frozen=True)
class _Kept:
    traits: list[TraitEvaluation]
    """The list the parts were rendered from (held, so no other list takes its identity)."""
    fields: tuple[Any, ...]
    head: bytes | None = None
    """The answer up to ``evaluatedAt``'s value; None until the same list is answered again."""
    middle: bytes = b""
    """From after ``evaluatedAt``'s value up to ``state``'s."""


def _fields(result: ReadinessResult) -> tuple[Any, ...]:
    return result.status, result.blocking, result.schedule_id, result.date, result.excluded


def _render(result: ReadinessResult, state: Any) -> bytes:
    """The answer as the JSON response renders it: the result's JSON, then ``state``."""
    return render_json({**result.to_json_dict(), "state": state})


class ReadinessBodies:
    """The readiness answers' kept parts, by pipeline."""

    def __init__(self, limit: int = MAX_KEPT) -> None:
        self.limit = limit
        self._kept: dict[str, _Kept] = {}

    def render(self, result: ReadinessResult, state: PipelineState) -> bytes:
        """The body of ``GET .../readiness`` answering ``result`` in ``state``."""
        kept = self._kept.get(result.pipeline_id)
        if kept is not None and kept.traits is result.traits and kept.fields == _fields(result) \
                and not in_expanded_scope():
            if kept.head is not None:
                return b"".join((kept.head, format_instant(result.evaluated_at).encode(), kept.middle,
                                 _WORDS[state]))
            kept = self._parts(result)
            if kept is not None:
                self._keep(result.pipeline_id, kept)
                return self.render(result, state)
        elif not in_expanded_scope():
            self._keep(result.pipeline_id, _Kept(result.traits, _fields(result)))
        return _render(result, state.value)

    def _keep(self, pipeline_id: str, kept: _Kept) -> None:
        if len(self._kept) >= self.limit and pipeline_id not in self._kept:
            self._kept.clear()
        self._kept[pipeline_id] = kept

    @staticmethod
    def _parts(result: ReadinessResult) -> _Kept | None:
        """The answer's parts around its instant and its word (None: the marks are not found once each)."""
        document = result.to_json_dict()
        document["evaluatedAt"] = _AT  # in its place among the keys
        document["state"] = _STATE
        text = render_json(document)
        at, state = render_json(_AT)[:-1], render_json(_STATE)[:-1]
        head, found, rest = text.partition(at)
        middle, found_too, end = rest.partition(state)
        if not found or not found_too or at in rest or state in end or end != b"}\n":
            return None
        return _Kept(result.traits, _fields(result), head + b'"', b'"' + middle)


__all__ = ["ReadinessBodies"]
