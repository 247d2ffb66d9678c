"""Secrets never leave the server: what could be a credential is masked before it is shown.

Applied to pipeline configs in API responses and on the dashboard (trigger, evaluator and alert
settings), to trait values and event details, and to every log line:

* values under keys named like a credential (``Authorization``, ``token``, ``secret``,
  ``password``, ``apiKey``, ``privateKey`` …), at any depth;
* every header value (under a ``headers`` key) but those of a few harmless headers
  (``SAFE_HEADERS``: ``Content-Type``, ``Accept``, ``User-Agent`` …) — custom headers such as
  ``X-Signature`` or ``Private-Token`` carry credentials under names no list can foresee;
* in any string, every URL's userinfo (``https://user:pass@host`` → ``https://***@host``) and
  every query value (``?key=abc`` → ``?key=***``), except a run variable (``${date}`` …).

The stored pipeline keeps ``${VAR}`` references unexpanded; masking hides literal secrets written
into a config as well as the references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

MASK = "***"

SENSITIVE_KEY = re.compile(
    r"^(x-)?(authorization|proxy-authorization|cookie|set-cookie|passwd|credentials?"
    r"|.*(token|secret|password|api[-_]?key|apikey|private[-_]?key))$",
    re.IGNORECASE,
)
HEADERS_KEY = re.compile(r"^.*headers$", re.IGNORECASE)
SAFE_HEADERS = frozenset({
    "accept", "accept-charset", "accept-encoding", "accept-language", "cache-control", "content-encoding",
    "content-language", "content-type", "user-agent", "x-request-id", "x-correlation-id",
})
RUN_VARIABLE = re.compile(r"^\$\{(date|scheduleID|scheduleId|pipelineID|pipelineId|hour|runID|runId)\}$")
URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s'\"<>`]+")


@lru_cache(maxsize=4096)
def is_sensitive(key: str) -> bool:
    return bool(SENSITIVE_KEY.match(key))


def is_safe_header(name: str) -> bool:
    return name.strip().lower() in SAFE_HEADERS


def _masked_query(query: str) -> str:
    parts = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        parts.append(f"{name}{sep}{value if not value or RUN_VARIABLE.match(value) else MASK}" if sep else pair)
    return "&".join(parts)


def _masked_url(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        url = urlsplit(text)
        netloc = url.netloc
    except ValueError:
        return MASK
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = _masked_query(url.query) if url.query else url.query
    if netloc == url.netloc and query == url.query:
        return text
    return urlunsplit(SplitResult(url.scheme, netloc, url.path, query, url.fragment))


def mask_urls(text: str) -> str:
    """``text`` with every URL's userinfo and query values masked."""
    if "://" not in text:
        return text
    return URL.sub(_masked_url, text)


def _headers(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: (redact(v) if isinstance(k, str) and is_safe_header(k) else MASK if v not in (None, "") else v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):  # [{name, value}] or ["Name: value"] forms
        return [_header_item(item) for item in value]
    return redact(value)


def _header_item(item: Any) -> Any:
    if isinstance(item, str):
        name, sep, _ = item.partition(":")
        return item if not sep or is_safe_header(name) else f"{name}: {MASK}"
    if isinstance(item, Mapping) and "name" in item and "value" in item:
        return {**item, "value": redact(item["value"]) if is_safe_header(str(item["name"])) else MASK}
    return _headers(item)


def _entry(key: Any, value: Any) -> Any:
    if isinstance(key, str) and is_sensitive(key) and value not in (None, ""):
        return MASK
    if isinstance(key, str) and HEADERS_KEY.match(key):
        return _headers(value)
    return redact(value)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every credential-like value masked (see the module documentation)."""
    if isinstance(value, Mapping):
        return {k: _entry(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return mask_urls(value)
    return value


_NESTED = (Mapping, list, tuple, str)


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask sensitive keys and URL credentials anywhere in a log line."""
    for key, value in event_dict.items():
        if is_sensitive(key):
            event_dict[key] = MASK
        elif isinstance(value, _NESTED):
            event_dict[key] = _entry(key, value)
    return event_dict
