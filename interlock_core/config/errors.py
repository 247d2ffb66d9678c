"""Turning pydantic validation errors into located :class:`ConfigError` s."""

from __future__ import annotations

from collections.abc import Sequence

import pydantic

from ..errors import ConfigError
from .yamlsource import Located, dotted


def friendly(error: dict[str, object]) -> str:
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    inp = error.get("input")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind in {"enum", "literal_error"}:
        shown = repr(inp)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = f"{msg} (got {shown})"
    return msg


def located_errors(
    exc: pydantic.ValidationError, source: Located | None, prefix: Sequence[str | int] = ()
) -> list[ConfigError]:
    out = []
    for error in exc.errors():
        loc = (*prefix, *[p for p in error["loc"] if isinstance(p, str | int)])
        if source is not None:
            out.append(source.error(friendly(dict(error)), loc))
        else:
            out.append(ConfigError(friendly(dict(error)), key=dotted(loc) or None))
    return out
