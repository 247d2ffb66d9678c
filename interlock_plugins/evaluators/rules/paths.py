"""The path a rule reads inside a pushed value: a small JSON path, parsed once, never evaluated.

Syntax (the whole of it):

* ``$`` — the value itself;
* ``.name`` — a key made of letters, digits, ``_`` and ``-`` (``$.rows``, ``$.metadata.dbt_version``);
* ``["any key"]`` or ``['any key']`` — any other key (``$["row count"]``; ``\\"`` and ``\\\\``
  escape a quote and a backslash);
* ``[N]`` — the N-th item of a list, from 0; ``[-1]`` is the last (``$.checks[0].status``,
  ``$.results[-1]``).

Nothing else: no wildcards, filters, slices or expressions. A path that runs into a missing key,
an index out of range or a value of another kind resolves to :data:`MISSING`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

MAX_PATH_LENGTH = 200
MAX_STEPS = 32

_NAME = re.compile(r"\.([A-Za-z0-9_-]+)")
_INDEX = re.compile(r"\[(-?\d{1,9})\]")
_QUOTED = re.compile(r"""\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]""")
_ESCAPE = re.compile(r"\\(.)")


class _Missing:
    """What a path resolves to when the value has nothing there."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

Step = str | int


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: ``text`` as written, ``steps`` the keys (str) and indexes (int) it follows."""

    text: str
    steps: tuple[Step, ...]

    def resolve(self, value: Any) -> Any:
        """What is at this path in ``value``, or :data:`MISSING`."""
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
        """The keys along the path (what says whether the value may be a secret)."""
        return tuple(step for step in self.steps if isinstance(step, str))

    def __str__(self) -> str:
        return self.text


ROOT = JsonPath("$", ())


def parse_path(text: str) -> JsonPath:
    """``text`` as a :class:`JsonPath`; ValueError saying what is wrong and where."""
    if not isinstance(text, str):
        raise ValueError("a path must be a string like '$.rows'")
    if len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"path is longer than {MAX_PATH_LENGTH} characters")
    if not text.startswith("$"):
        raise ValueError(f"path {text!r} must start with '$' (the pushed value), e.g. '$.rows'")
    steps: list[Step] = []
    position = 1
    while position < len(text):
        name = _NAME.match(text, position)
        index = _INDEX.match(text, position) if name is None else None
        quoted = _QUOTED.match(text, position) if name is None and index is None else None
        if name is not None:
            steps.append(name.group(1))
            position = name.end()
        elif index is not None:
            steps.append(int(index.group(1)))
            position = index.end()
        elif quoted is not None:
            raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
            steps.append(_ESCAPE.sub(r"\1", raw))
            position = quoted.end()
        else:
            raise ValueError(f"path {text!r}: unexpected {text[position:position + 10]!r} at character "
                             f"{position + 1} (use .name, [\"key\"] or [N])")
        if len(steps) > MAX_STEPS:
            raise ValueError(f"path {text!r} has more than {MAX_STEPS} steps")
    return JsonPath(text, tuple(steps))
