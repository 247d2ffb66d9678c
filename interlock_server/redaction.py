"""Secrets never leave the server: values under keys named like a credential are masked.

Applied to pipeline configs in API responses (trigger headers such as ``Authorization``, and any
``token``/``secret``/``password``/``apiKey`` field a trigger or evaluator config carries) and to
every log line. The stored pipeline keeps ``${VAR}`` references unexpanded; masking hides literal
secrets written into a config as well as the references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

MASK = "***"

SENSITIVE_KEY = re.compile(
    r"^(x-)?(authorization|proxy-authorization|cookie|set-cookie|passwd|credentials?"
    r"|.*(token|secret|password|api[-_]?key|apikey|private[-_]?key))$",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_sensitive(key: str) -> bool:
    return bool(SENSITIVE_KEY.match(key))


def redact(value: Any) -> Any:
    """A copy of ``value`` with every sensitive key's value masked, at any depth."""
    if isinstance(value, Mapping):
        return {k: (MASK if isinstance(k, str) and is_sensitive(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


_NESTED = (Mapping, list, tuple)


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask sensitive keys anywhere in a log line."""
    for key, value in event_dict.items():
        if is_sensitive(key):
            event_dict[key] = MASK
        elif isinstance(value, _NESTED):
            event_dict[key] = redact(value)
    return event_dict
