"""How values look on the pages: times (UTC in the markup, the viewer's zone by script), ages,
durations, status tones. Registered as Jinja filters by :func:`environment`, whose templates put
every ``{{ … }}`` through the one redaction pass (:func:`shown`): no page shows a secret, whatever
route gathered the value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from interlock_core.model import format_timestamp
from interlock_core.redaction import redact, redact_text

TEMPLATES = Path(__file__).with_name("templates")

OK = {"READY", "PASS", "COMPLETED", "on time", "triggered"}
BAD = {"NOT_READY", "FAIL", "FAILED", "breached", "EVALUATOR_CRASH", "PERMANENT", "ERROR"}
WARN = {"STALE", "at risk", "CANCELLED", "SKIPPED", "TIMEOUT", "TRANSIENT", "EXCLUDED", "DRY_RUN", "RETRYING"}
BUSY = {"PENDING", "TRIGGERING", "RUNNING", "COMPLETED_MONITORING"}


def when(value: datetime | None, empty: str = "—") -> Markup:
    """A ``<time>`` the page script shows in the viewer's zone; UTC in the text and on hover."""
    if value is None:
        return Markup('<span class="muted">{}</span>').format(empty)
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{}" title="{}" data-local>{}</time>').format(
        format_timestamp(utc), utc.strftime("%Y-%m-%d %H:%M:%S UTC"), utc.strftime("%Y-%m-%d %H:%M UTC"))


def span(seconds: float | timedelta | None) -> str:
    """``45 s``, ``5 min``, ``1 h 30 min``, ``2 d 3 h``."""
    if seconds is None:
        return "—"
    total = int(abs(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds))
    if total < 60:
        return f"{total} s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if total < 3600:
        return f"{minutes} min"
    if total < 86400:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours % 24
    return f"{days} d {rest} h" if rest else f"{days} d"


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    delta = (now - value).total_seconds()
    if abs(delta) < 5:
        return "just now"
    return f"{span(delta)} ago" if delta > 0 else f"in {span(delta)}"


def tone(status: object) -> str:
    """The CSS tone of a status word: ok, bad, warn, busy or idle."""
    text = str(status.value if hasattr(status, "value") else status)
    for name, words in (("ok", OK), ("bad", BAD), ("warn", WARN), ("busy", BUSY)):
        if text in words:
            return name
    return "idle"


def words(status: object) -> str:
    """``NOT_READY`` -> ``NOT READY``; other values as they are."""
    text = str(status.value if hasattr(status, "value") else status)
    return text.replace("_", " ")


def headline(kind: object) -> str:
    """An event kind as a heading: ``SLA_BREACHED`` -> ``SLA breached``."""
    text = words(kind).lower()
    text = text[:1].upper() + text[1:]
    return text.replace("Sla ", "SLA ").replace("Dry run ", "Dry run: ")


def compact(value: Any, limit: int = 160) -> str:
    text = json.dumps(redact(value), sort_keys=True, separators=(", ", ": "), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty(value: Any) -> str:
    return json.dumps(redact(value), sort_keys=True, indent=2, default=str, ensure_ascii=False)


def shown(value: Any) -> Any:
    """What a template prints for ``value``: redacted, unless it is markup the templates built
    (whose own values went through here already)."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping | list | tuple):
        return redact(value)
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, finalize=shown,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, span=span, ago=ago, tone=tone, words=words, headline=headline, compact=compact,
                       pretty=pretty)
    return env
