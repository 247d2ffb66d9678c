"""A small JSON path: where a number or a field lies inside a trait's value.

Used by numeric drift (``watch.monitoring.driftField``) and by the ``builtin:rule`` evaluator's
``path``: one syntax, one parser for the whole project. It is parsed once (at config load, so a
bad path is a config error naming file, line and key) and only ever followed, never evaluated.

Syntax (the whole of it):

* ``$`` — the value itself;
* ``.name`` — a key of letters, digits, ``_`` and ``-`` (``$.rows``, ``$.metadata.dbt_version``);
* ``["any key"]`` or ``['any key']`` — any other key (``$["row count"]``); inside the quotes a
  backslash escapes the next character (``\\"``, ``\\\\``);
* ``[N]`` — the N-th item of a list from 0, ``[-1]`` the last (``$.checks[0].status``).

No wildcards, filters, slices or expressions. A path that meets a missing key, an index out of
range or a value of another kind resolves to :data:`MISSING` (never an exception).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_PATH_LENGTH", "MAX_STEPS", "MISSING", "ROOT", "JsonPath", "as_number", "parse_path"]

MAX_PATH_LENGTH = 200
MAX_STEPS = 32

_NAME = re.compile(r"\.([A-Za-z0-9_-]+)")
_INDEX = re.compile(r"\[(-?\d{1,9})\]")
_QUOTED = re.compile(r"""\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]""")
_ESCAPED = re.compile(r"\\(.)")


class _Missing:
    """What a path resolves to where the value has nothing (falsy, one instance)."""

    _one: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._one is None:
            cls._one = super().__new__(cls)
        return cls._one

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

Step = str | int


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: ``text`` as written, ``steps`` the keys (str) and list indexes (int) it follows."""

    text: str
    steps: tuple[Step, ...]

    def resolve(self, value: Any) -> Any:
        """What lies at this path in ``value``, or :data:`MISSING`."""
        current = value
        for step in self.steps:
            if isinstance(step, str):
                if not isinstance(current, Mapping) or step not in current:
                    return MISSING
                current = current[step]
            else:
                if not isinstance(current, Sequence) or isinstance(current, str | bytes):
                    return MISSING
                if not -len(current) <= step < len(current):
                    return MISSING
                current = current[step]
        return current

    def keys(self) -> tuple[str, ...]:
        """The keys along the path (not the indexes)."""
        return tuple(step for step in self.steps if isinstance(step, str))

    def __str__(self) -> str:
        return self.text


ROOT = JsonPath("$", ())


def parse_path(text: Any) -> JsonPath:
    """``text`` as a :class:`JsonPath`; ValueError saying what is wrong and where."""
    if not isinstance(text, str):
        raise ValueError("a path must be a string like '$.rows'")
    if len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"path is longer than {MAX_PATH_LENGTH} characters")
    if not text.startswith("$"):
        raise ValueError(f"path {text!r} must start with '$' (the trait's value), e.g. '$.rows'")
    steps: list[Step] = []
    at = 1
    while at < len(text):
        if (name := _NAME.match(text, at)) is not None:
            steps.append(name.group(1))
            at = name.end()
        elif (index := _INDEX.match(text, at)) is not None:
            steps.append(int(index.group(1)))
            at = index.end()
        elif (quoted := _QUOTED.match(text, at)) is not None:
            raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
            steps.append(_ESCAPED.sub(r"\1", raw))
            at = quoted.end()
        else:
            rest = text[at:at + 10]
            raise ValueError(f"path {text!r}: cannot read {rest!r} at character {at + 1} (unexpected {rest!r}: "
                             "use .name, [\"key\"] or [N])")
        if len(steps) > MAX_STEPS:
            raise ValueError(f"path {text!r} has more than {MAX_STEPS} steps")
    return JsonPath(text, tuple(steps))


def as_number(value: Any) -> float | None:
    """``value`` as a finite number: ints and floats, and text holding one (``"1500"``, as some
    tools push counts); None for anything else (booleans, MISSING, NaN …)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
