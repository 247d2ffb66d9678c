"""Logging, configured once at start-up: structlog over the standard library.

JSON lines when stderr is not a terminal (or ``logging.format: json``), a readable console
layout on a terminal. Every line carries what the request-context middleware and the routes bind
through contextvars (``request_id``, ``pipeline``, ``run_id``), and secrets are masked. Lines
from the standard library (the engine, hypercorn) go through the same processors.

The access log (one line per HTTP request) is written by :func:`log_access` through an
:class:`AccessLog` bound once by :func:`configure_logging`: the same fields, order, renderer and
masking as a structlog call, without building a logger and running the processor chain for every
request (that was a quarter of the API's CPU on a readiness GET). Until logging is configured here
(or once structlog is configured by someone else), it is an ordinary structlog call.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any, TextIO

import structlog

from interlock_core import tracing
from interlock_core.expanded import in_expanded_scope

from .redaction import redact_event, redact_field

ACCESS_LOGGER = "interlock.http"
ACCESS_EVENT = "request"
CONTEXT_PREFIX = structlog.contextvars.STRUCTLOG_KEY_PREFIX
CONTEXT_PREFIX_LENGTH = len(CONTEXT_PREFIX)

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
          "error": logging.ERROR, "critical": logging.CRITICAL}
FORMATS = ("auto", "json", "console")


LEADING_KEYS = ("timestamp", "level", "logger", "event")
LEADING = frozenset(LEADING_KEYS)


def _leading_keys_first(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    lead = {key: event_dict.pop(key) for key in LEADING_KEYS if key in event_dict}
    lead.update(event_dict)
    return lead


def _json_dumps(obj: Any, **options: Any) -> str:
    """``json.dumps(obj, **options)`` for the JSON renderer, with one encoder per set of options
    (``json.dumps`` with a ``default``, as the renderer calls it, builds one per line)."""
    key = tuple(options.items())
    encoder = _ENCODERS.get(key)
    if encoder is None:
        encoder = _ENCODERS[key] = json.JSONEncoder(**options)
    return encoder.encode(obj)


_ENCODERS: dict[tuple[tuple[str, Any], ...], json.JSONEncoder] = {}


def _timestamper() -> Any:
    return structlog.processors.TimeStamper(fmt="iso", utc=True)


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """``trace_id`` and ``span_id`` of the active span, when there is one (tracing on)."""
    ids = tracing.current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def _shared_processors() -> list[Any]:
    """The chain every line goes through; with tracing on (configured before logging), the active
    span's ids too — without it the chain has no such step at all."""
    return [
        structlog.contextvars.merge_contextvars,
        *([add_trace_ids] if tracing.enabled() else []),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        _timestamper(),
        redact_event,
        _leading_keys_first,
    ]


class AccessLog:
    """The access line, bound once: stream, level, time stamper and renderer of the configuration.

    A line holds what the processor chain would give it — ``timestamp``, ``level``, ``logger``,
    ``event`` first, then the request's fields, then what is bound in the log context — rendered by
    the same renderer. Masking (:func:`redact_event`, the chain's own) applies to every value that
    can carry a secret: what the client sent (``path``, ``method``) and everything bound in the
    context (the request id, route parameters, whatever a route binds, under any key). The other
    fields cannot: numbers and what the server itself produces (``route`` template, ``client``
    address)."""

    #: Fields no client string can reach.
    TRUSTED = frozenset({"route", "status", "duration_ms", "client"})

    def __init__(self, stream: TextIO, level: int, renderer: Any, processors: list[Any], *,
                 json_renderer: bool = False) -> None:
        self.stream = stream
        self.level = level
        self.renderer = renderer
        self.json_renderer = json_renderer  # the renderer is the JSON one: _json_text writes its text
        self.processors = processors  # the chain this was bound beside; another configuration retires it
        self._stamp = _timestamper()
        self.trace_ids = tracing.enabled()

    def current(self) -> bool:
        """Whether structlog still runs the configuration this was bound with."""
        return structlog.get_config()["processors"] is self.processors

    def line(self, level: str, fields: dict[str, Any]) -> str:
        """The rendered line: what the chain's processors would give it, built in one pass."""
        if self.json_renderer:
            text = self._json_text(level, fields)
            if text is not None:
                return text
        return str(self.renderer(None, level, self._event(level, fields)))

    def _context(self, fields: dict[str, Any]) -> list[tuple[str, Any]]:
        """What is bound in the log context and the active span's ids (tracing on), as bound (not
        masked yet), minus the keys ``fields`` and the leading keys hold
        (structlog.contextvars.merge_contextvars, then :func:`add_trace_ids`)."""
        found: list[tuple[str, Any]] = []
        context = contextvars.copy_context()
        for var in context:
            name = var.name
            if name.startswith(CONTEXT_PREFIX):
                value = context[var]
                key = name[CONTEXT_PREFIX_LENGTH:]
                if value is not Ellipsis and key not in fields and key not in LEADING:
                    found.append((key, value))
        if self.trace_ids:
            ids = tracing.current_ids()
            if ids is not None:
                taken = {key for key, _ in found}
                for key, value in zip(("trace_id", "span_id"), ids, strict=True):
                    if key not in fields and key not in LEADING and key not in taken:
                        found.append((key, value))
        return found

    def _event(self, level: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The line's event dict, for the renderer."""
        event: dict[str, Any] = {"timestamp": None, "level": level, "logger": ACCESS_LOGGER, "event": ACCESS_EVENT}
        for key, value in fields.items():  # the fields, then the context's other keys (the fields win)
            if key not in event:
                event[key] = value if key in self.TRUSTED else redact_field(key, value)
        event.update((key, redact_field(key, value)) for key, value in self._context(fields))
        self._stamp(None, level, event)
        return event

    def _json_text(self, level: str, fields: dict[str, Any]) -> str | None:
        """The JSON renderer's text of the line, written directly, when every value is a JSON
        scalar; None otherwise. Each ``, "key": value`` is :func:`_pair_text`'s: a string pair's
        text is kept for the next line that holds the same (a request's method, path, route,
        client address and pipeline repeat from line to line), except inside a trigger's expanded
        scope, where masking depends on the scope."""
        head = _HEADS.get(level)
        if head is None:
            head = _HEADS[level] = (f', "level": {_quoted(level)}, "logger": {_quoted(ACCESS_LOGGER)},'
                                    f' "event": {_quoted(ACCESS_EVENT)}')
        keep = not in_expanded_scope()
        trusted = self.TRUSTED
        parts = [f'{{"timestamp": "{utc_timestamp()}"{head}']
        for key, value in fields.items():
            if key not in LEADING:
                text = _pair_text(key, value, key in trusted, keep)
                if text is None:
                    return None
                parts.append(text)
        for key, value in self._context(fields):
            text = _pair_text(key, value, False, keep)
            if text is None:
                return None
            parts.append(text)
        parts.append("}")
        return "".join(parts)

    def write(self, level: str, fields: dict[str, Any]) -> None:
        if LEVELS.get(level, logging.INFO) < self.level:
            return
        self.stream.write(self.line(level, fields) + "\n")
        self.stream.flush()


def json_line(event: dict[str, Any]) -> str | None:
    """``event`` as the JSON renderer writes it (``json.dumps`` with its default options) when it
    holds only strings, integers, finite floats, booleans and None under string keys (an access
    line's fields, a request id, route parameters); None for anything else (the renderer's)."""
    if not event:
        return "{}"
    if any(type(key) is not str for key in event):
        return None
    text = _object_text("", event.items())
    return None if text is None else "{" + text[2:]  # the first key's text without its ", "


def _object_text(opening: str, pairs: Iterable[tuple[str, Any]]) -> str | None:
    """``opening``, then ``, "key": value`` for each pair, then ``}``; None when a value is not a
    JSON scalar (:func:`_scalar_text`)."""
    parts = [opening]
    for key, value in pairs:  # every access line runs this: strings and integers without a call
        kind = type(value)
        text = _quoted(value) if kind is str else int.__repr__(value) if kind is int else _scalar_text(value)
        if text is None:
            return None
        parts += (_KEY_TEXTS.get(key) or _key_text(key), text)
    parts.append("}")
    return "".join(parts)


_PAIR_TEXTS: dict[tuple[str, str, bool], str] = {}
"""Access lines' string pairs' texts (``, "key": "value"``) lately written, by key, value and whether
the value is trusted (written unmasked). Only short values masking leaves as they are: a value that
held a secret is never kept. Emptied when full."""
PAIR_TEXTS_SIZE = 4096
PAIR_VALUE_LENGTH = 256
_VARYING = frozenset({"request_id"})
"""Keys whose value is new on nearly every line: their texts are not kept."""


def _pair_text(key: str, value: Any, trusted: bool, keep: bool) -> str | None:
    """``, "key": value`` of a line, the value masked unless ``trusted`` (:func:`redact_field`);
    None when it is not a JSON scalar. ``keep``: a string pair's text is kept for the same pair
    again (only where masking does not depend on an expanded scope; see :data:`_PAIR_TEXTS`)."""
    if type(value) is str:
        if keep:
            text = _PAIR_TEXTS.get((key, value, trusted))
            if text is not None:
                return text
        masked = value if trusted else redact_field(key, value)
        scalar = _scalar_text(masked)
        if scalar is None:
            return None
        text = (_KEY_TEXTS.get(key) or _key_text(key)) + scalar
        if keep and masked == value and len(value) <= PAIR_VALUE_LENGTH and key not in _VARYING:
            if len(_PAIR_TEXTS) >= PAIR_TEXTS_SIZE:
                _PAIR_TEXTS.clear()
            _PAIR_TEXTS[(key, value, trusted)] = text
        return text
    scalar = _scalar_text(value if trusted else redact_field(key, value))
    return None if scalar is None else (_KEY_TEXTS.get(key) or _key_text(key)) + scalar


def _scalar_text(value: Any) -> str | None:
    """A JSON scalar's text as ``json.dumps`` writes it; None for any other value."""
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else None
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return None


_HEADS: dict[str, str] = {}
"""The text after an access line's time stamp, by level."""
_KEY_TEXTS: dict[str, str] = {}
KEY_TEXTS_SIZE = 1024


def _key_text(key: str) -> str:
    """``, "key": `` — the text before a value of ``key`` in a line (kept for the few keys there are)."""
    text = _KEY_TEXTS.get(key)
    if text is None:
        if len(_KEY_TEXTS) >= KEY_TEXTS_SIZE:
            _KEY_TEXTS.clear()
        text = _KEY_TEXTS[key] = f", {_quoted(key)}: "
    return text


_stamped: tuple[int, str] = (-1, "")
"""The second last stamped and its date and time of day (one tuple: a thread reads both or neither)."""


def utc_timestamp() -> str:
    """Now as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it (``…T06:30:00.123456Z``,
    ``…T06:30:00Z`` on a whole second), the date and time of day formatted once per second."""
    global _stamped
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    second, prefix = _stamped
    if second != seconds:
        prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _stamped = (seconds, prefix)
    micro = nanoseconds // 1000
    return f"{prefix}.{micro:06d}Z" if micro else f"{prefix}Z"


_access: AccessLog | None = None


def log_access(level: str, **fields: Any) -> None:
    """Write one access line (``level`` is ``info`` or ``error``) with ``fields`` and the log context."""
    access = _access
    if access is not None and access.current():
        access.write(level, fields)
    else:
        getattr(structlog.get_logger(ACCESS_LOGGER), level)(ACCESS_EVENT, **fields)


class _NamedWriteLogger(structlog.WriteLogger):
    """A structlog-native logger (no ``logging`` round trip) that knows its name."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Send structlog and the standard library, through the same processors, to ``stream`` (stderr).

    structlog calls (the access log, the server's own lines) go straight to the stream; standard
    library records (the engine, hypercorn) through a handler on the root logger."""
    stream = stream or sys.stderr
    numeric = LEVELS.get(level.lower(), logging.INFO)
    use_json = fmt == "json" or (fmt != "console" and not _is_tty(stream))
    renderer: Any = (structlog.processors.JSONRenderer(_json_dumps) if use_json
                     else structlog.dev.ConsoleRenderer(colors=_is_tty(stream)))
    # tracebacks become text first, so that the redaction pass sees them too
    exceptions: list[Any] = [structlog.processors.format_exc_info, redact_event]

    def writer(*args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(stream, str(args[0]) if args else "interlock")

    global _access
    processors = [*_shared_processors(), *exceptions, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=writer,
        cache_logger_on_first_use=False,  # a later configure_logging (tests) takes effect everywhere
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exceptions, renderer]))
    _access = AccessLog(stream, numeric, renderer, processors, json_renderer=use_json)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("httpx", "httpcore", "botocore", "aiobotocore"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
