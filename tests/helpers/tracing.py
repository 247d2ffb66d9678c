"""A tracer that keeps its spans in memory, behind core's tracing port, for engine-level tests of
what is traced (names, parents, attributes). The OpenTelemetry implementation is tested against a
real OTLP receiver (tests/server/test_tracing_serve.py)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from interlock_core import tracing

_ids = itertools.count(1)


@dataclass
class Recorded:
    name: str
    kind: str
    attributes: dict[str, Any]
    parent: Recorded | None
    trace_id: int
    span_id: int = field(default_factory=lambda: next(_ids))
    error: str | None = None
    ended: bool = False


class _Handle:
    """What ``with span(...)`` yields (``error`` is a method of the port, an attribute here)."""

    recording = True

    def __init__(self, span: Recorded) -> None:
        self._span = span

    def set(self, **attributes: object) -> None:
        self._span.attributes.update({k: v for k, v in attributes.items() if v is not None})

    def rename(self, name: str) -> None:
        self._span.name = name

    def error(self, message: str) -> None:
        self._span.error = message


class RecordingTracer:
    def __init__(self) -> None:
        self.spans: list[Recorded] = []
        self._current: ContextVar[Recorded | None] = ContextVar("recording-span", default=None)

    @contextlib.contextmanager
    def span(self, name: str, kind: str, attributes: dict[str, object]) -> Iterator[_Handle]:
        parent = self._current.get()
        recorded = Recorded(name, kind, {k: v for k, v in attributes.items() if v is not None}, parent,
                            parent.trace_id if parent else next(_ids))
        self.spans.append(recorded)
        token = self._current.set(recorded)
        try:
            yield _Handle(recorded)
        except Exception as exc:
            recorded.error = recorded.error or f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._current.reset(token)
            recorded.ended = True

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        current = self._current.get()
        if current is not None:
            carrier["traceparent"] = f"00-{current.trace_id:032x}-{current.span_id:016x}-01"

    @contextlib.contextmanager
    def extract(self, carrier: Mapping[str, str]) -> Iterator[None]:
        yield

    def current_ids(self) -> tuple[str, str] | None:
        current = self._current.get()
        return None if current is None else (f"{current.trace_id:032x}", f"{current.span_id:016x}")

    # ---------------------------------------------------------------------------------- reading
    def named(self, name: str) -> list[Recorded]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> Recorded:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {[s.name for s in self.spans]}"
        return found[0]

    def children(self, parent: Recorded) -> list[Recorded]:
        return [s for s in self.spans if s.parent is parent]


@contextlib.contextmanager
def recording() -> Iterator[RecordingTracer]:
    tracer = RecordingTracer()
    previous = tracing.install(tracer)
    try:
        yield tracer
    finally:
        tracing.install(previous)
