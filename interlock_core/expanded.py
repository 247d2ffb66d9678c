"""Values expanded from the environment into a trigger's config never come back in a message.

A trigger expands ``${ORCH_TOKEN}`` (``api.allowedEnv`` for a pipeline registered over the API,
any variable for a pipeline file) at launch and poll time; whatever quotes an expanded field —
httpx's ``Illegal header value b'a\\norch-…'``, a resolver's ``cannot resolve orch-….example``,
botocore's region message — would carry the value into the run's failure message, its events and
alerts, the dashboard and the logs. So:

* the engine remembers each pipeline's expanded values (:data:`EXPANDED`, by pipeline) at every
  launch and poll, and masks them where a trigger's words enter the run (``Transitions.move``):
  they are never stored, hence never shown;
* while a trigger runs, :func:`expanded_scope` holds the same values for whatever is written in
  the meantime — log lines of the trigger, httpx, botocore — which the one redaction pass masks
  (:func:`mask_active`).

Every value is masked as written and in the escaped forms messages quote it in (``repr`` of the
string or of its UTF-8 bytes, JSON, percent-encoding). Values shorter than ``MIN_LENGTH`` are
not kept: masking them would garble every message and hide no secret worth the name.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

MASK = "***"
MIN_LENGTH = 4

Masker = re.Pattern[str] | None


def _forms(value: str) -> set[str]:
    forms = {value, value.strip(), repr(value)[1:-1], json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""), quote(value)}
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(repr(value.encode("utf-8"))[2:-1])
    return {form for form in forms if len(form) >= MIN_LENGTH}


def kept(values: Iterable[str]) -> frozenset[str]:
    """The values worth masking (strings of at least ``MIN_LENGTH`` characters)."""
    return frozenset(v for v in values if isinstance(v, str) and len(v.strip()) >= MIN_LENGTH)


def masker(values: Iterable[str]) -> Masker:
    """One pattern matching every value in every quoted form (longest first), or None."""
    forms = {form for value in kept(values) for form in _forms(value)}
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def apply(pattern: Masker, text: str) -> str:
    return text if pattern is None else pattern.sub(MASK, text)


class ExpandedValues:
    """Each pipeline's expanded values, as last seen at a launch or poll of its trigger."""

    def __init__(self) -> None:
        self._by_pipeline: dict[str, tuple[frozenset[str], Masker]] = {}

    def remember(self, pipeline_id: str, values: Iterable[str]) -> None:
        values = kept(values)
        known = self._by_pipeline.get(pipeline_id)
        if known is not None and known[0] == values:
            return
        self._by_pipeline[pipeline_id] = (values, masker(values))

    def mask(self, pipeline_id: str, text: str) -> str:
        known = self._by_pipeline.get(pipeline_id)
        return text if known is None else apply(known[1], text)

    def values(self, pipeline_id: str) -> frozenset[str]:
        known = self._by_pipeline.get(pipeline_id)
        return known[0] if known is not None else frozenset()

    def clear(self) -> None:
        self._by_pipeline.clear()


EXPANDED = ExpandedValues()

_ACTIVE: ContextVar[Masker] = ContextVar("interlock_expanded_values", default=None)


@contextlib.contextmanager
def expanded_scope(values: Iterable[str]) -> Iterator[None]:
    """Within this block (a trigger's launch or poll) the redaction pass also masks ``values``."""
    token = _ACTIVE.set(masker(values))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def in_expanded_scope() -> bool:
    """Whether an :func:`expanded_scope` encloses the caller (the redaction pass then masks its values too)."""
    return _ACTIVE.get() is not None


def mask_active(text: str) -> str:
    """``text`` with the values of the enclosing :func:`expanded_scope` masked (none outside one)."""
    return apply(_ACTIVE.get(), text)


def mask_message_fields(pipeline_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` with the pipeline's expanded values masked in its text fields only (keys
    naming a message or an excerpt): ids a trigger polls with are kept exactly."""
    return {k: EXPANDED.mask(pipeline_id, v) if isinstance(v, str) and _TEXT_KEY.search(str(k)) else v
            for k, v in metadata.items()}


_TEXT_KEY = re.compile(r"(?i)(message|excerpt|reason|detail)")
