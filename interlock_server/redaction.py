"""Secrets never leave the server: the one redaction pass (:mod:`interlock_core.redaction`) applied
to the API's answers (:mod:`.responses`), the dashboard's pages (every ``{{ … }}`` of a template),
and log lines (:func:`redact_event`, a structlog processor; tracebacks included). Alerts are masked
in core, before any sink sees them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interlock_core.redaction import (
    MASK,
    SAFE_HEADERS,
    is_safe_header,
    is_sensitive,
    mask_urls,
    redact,
    redact_entry,
    redact_text,
)

__all__ = ["MASK", "SAFE_HEADERS", "is_safe_header", "is_sensitive", "mask_urls", "redact",
           "redact_event", "redact_text"]

_NESTED = (Mapping, list, tuple, str)


def redact_field(key: str, value: Any) -> Any:
    """A log line's ``value`` under ``key``, masked as :func:`redact_event` masks it."""
    if is_sensitive(key):
        return MASK
    if type(value) is str:  # under any other key (a ``…headers`` one too) a string is masked as text
        return redact_text(value)
    if isinstance(value, _NESTED):
        return redact_entry(key, value)
    return value


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask sensitive keys and secret-looking values anywhere in a log line."""
    for key, value in event_dict.items():
        event_dict[key] = redact_field(key, value)
    return event_dict
