"""Logging, configured once at start-up: structlog over the standard library.

JSON lines when stderr is not a terminal (or ``logging.format: json``), a readable console
layout on a terminal. Every line carries what the request-context middleware and the routes bind
through contextvars (``request_id``, ``pipeline``, ``run_id``), and secrets are masked. Lines
from the standard library (the engine, hypercorn) go through the same processors.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from .redaction import redact_event

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
          "error": logging.ERROR, "critical": logging.CRITICAL}
FORMATS = ("auto", "json", "console")


LEADING_KEYS = ("timestamp", "level", "logger", "event")


def _leading_keys_first(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    lead = {key: event_dict.pop(key) for key in LEADING_KEYS if key in event_dict}
    lead.update(event_dict)
    return lead


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_event,
        _leading_keys_first,
    ]


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
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=_is_tty(stream)))
    # tracebacks become text first, so that the redaction pass sees them too
    exceptions: list[Any] = [structlog.processors.format_exc_info, redact_event]

    def writer(*args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(stream, str(args[0]) if args else "interlock")

    structlog.configure(
        processors=[*_shared_processors(), *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=writer,
        cache_logger_on_first_use=False,  # a later configure_logging (tests) takes effect everywhere
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exceptions, renderer]))
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
