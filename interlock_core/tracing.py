"""The tracing port: spans around the control path's steps and the trace context handed to
orchestrators and taken from their callbacks, without core ever importing a tracing library.

Core calls four functions:

* ``with span("interlock.launch", **attributes) as s:`` around a step (``s.set(...)`` adds
  attributes learnt on the way, ``s.error(...)`` marks it failed); an exception leaving the block
  marks the span failed too;
* ``inject(carrier)`` writes the current trace context (``traceparent`` …) into a mapping handed
  to an orchestrator;
* ``with extract(carrier):`` continues the trace a caller sent (a completion callback's
  ``traceparent`` header);
* ``current_ids()`` gives the active ``(trace_id, span_id)`` in hex, for log lines.

By default nothing is installed and every call is a no-op: ``span`` returns one shared object
whose ``__enter__``/``__exit__`` do nothing, so the cost on the hot path is one function call and
one global read. The server installs an implementation (:mod:`interlock_server.telemetry`) only
when OpenTelemetry is configured by its standard environment variables and installed
(``interlock[otel]``). Metrics reach the same implementation through :attr:`Metrics.hook
<interlock_core.metrics.Metrics.hook>`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

AttributeValue = str | bool | int | float
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]

__all__ = [
    "NO_SPAN",
    "Span",
    "SpanKind",
    "Tracer",
    "current_ids",
    "enabled",
    "extract",
    "inject",
    "install",
    "installed",
    "span",
]


class Span(Protocol):
    """The handle a ``with span(...)`` block gets."""

    recording: bool
    """False for the no-op span: compute costly attributes only when this is True."""

    def set(self, **attributes: object) -> None:
        """Add attributes (``None`` values are left out)."""

    def rename(self, name: str) -> None:
        """Give the span its final name (a server span learns its route template late)."""

    def error(self, message: str) -> None:
        """Mark the span failed, with a short description."""


class Tracer(Protocol):
    """What an implementation provides (see :mod:`interlock_server.telemetry`)."""

    def span(self, name: str, kind: SpanKind, attributes: dict[str, object]) -> AbstractContextManager[Span]: ...

    def inject(self, carrier: MutableMapping[str, str]) -> None: ...

    def extract(self, carrier: Mapping[str, str]) -> AbstractContextManager[None]: ...

    def current_ids(self) -> tuple[str, str] | None: ...


class _NoSpan:
    """The span of a process without tracing: one shared, stateless object."""

    __slots__ = ()
    recording = False

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set(self, **attributes: object) -> None:
        return None

    def rename(self, name: str) -> None:
        return None

    def error(self, message: str) -> None:
        return None


NO_SPAN = _NoSpan()

_tracer: Tracer | None = None


def install(tracer: Tracer | None) -> Tracer | None:
    """Route every following call to ``tracer`` (None: back to no-ops); returns the previous one."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


def installed() -> Tracer | None:
    return _tracer


def enabled() -> bool:
    """Whether a tracer is installed (callers skip building costly attributes when not)."""
    return _tracer is not None


def span(name: str, kind: SpanKind = "internal", /, **attributes: object) -> AbstractContextManager[Span]:
    """A span around a block: the active span becomes its parent, it becomes the active one.
    Attribute values are strings, booleans or numbers (anything else is written as text; ``None``
    is left out)."""
    tracer = _tracer
    if tracer is None:
        return NO_SPAN
    return tracer.span(name, kind, attributes)


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (W3C ``traceparent``, ``tracestate``) into ``carrier``;
    without tracing, or outside any span, it is left as it is. Returns ``carrier``."""
    tracer = _tracer
    if tracer is not None:
        tracer.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str]) -> AbstractContextManager[Any]:
    """Make the trace context in ``carrier`` (header names in lower case) the parent of the spans
    opened inside the block; without tracing, or without a valid ``traceparent``, nothing changes."""
    tracer = _tracer
    if tracer is None:
        return NO_SPAN
    return tracer.extract(carrier)


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the active span in lower-case hex, or None."""
    tracer = _tracer
    if tracer is None:
        return None
    return tracer.current_ids()
