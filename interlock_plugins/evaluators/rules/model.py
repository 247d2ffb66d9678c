"""The config of ``builtin:rule``, validated when the project loads (file, line and key on error).

```yaml
config:
  trait: dbt-results        # whose latest pushed value the rules read (default: this trait)
  pipeline: warehouse       # of which pipeline (default: this one)
  rules:                    # every rule must hold (an implicit ``all``)
    - {path: "$.results[0].status", op: equals, value: success}
    - {path: $.elapsed_time, op: lt, value: 600, name: "dbt ran in under 10 minutes"}
    - {op: age_lt, value: 2h}
    - any:
        - {path: $.args.target, op: in, value: [prod, staging]}
        - {path: $.metadata.dbt_version, op: matches, value: "^1\\\\.[0-9]+"}
```

A node is a check (``op``, with ``path`` and ``value`` as the operator needs) or a group (``all``
or ``any``: a list of nodes, nestable). Any node may carry ``name`` (how a FAIL names it) and
``trait``/``pipeline`` (its source; a group's hold for the nodes inside it).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from interlock_core.durations import parse_duration
from interlock_core.jsonpath import parse_path
from interlock_core.model.base import ConfigModel

Operator = Literal["exists", "equals", "gt", "gte", "lt", "lte", "age_lt", "age_gt", "in", "matches"]
NUMERIC = frozenset({"gt", "gte", "lt", "lte"})
AGE = frozenset({"age_lt", "age_gt"})

MAX_NODES = 200
MAX_DEPTH = 8
MAX_CHOICES = 1000
MAX_PATTERN_LENGTH = 200
MAX_NAME_LENGTH = 120


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""``value`` not written (``value: null`` is a value)."""


def _plain(value: Any) -> Any:
    """YAML dates and times as the ISO text a pushed JSON value carries."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled by the ``regex`` module (the syntax of ``re``), which can stop a match
    after a timeout; ValueError when it is not a valid expression."""
    import regex  # type: ignore[import-untyped]  # imported by the first rule that uses ``matches``

    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def expected_value(op: str, value: Any) -> Any:
    """``value`` as operator ``op`` takes it; ValueError saying what ``op`` needs."""
    if op == "exists":
        if value is UNSET:
            return True
        if not isinstance(value, bool):
            raise ValueError("exists takes no value, or true/false (false: the path must be missing)")
        return value
    if value is UNSET:
        raise ValueError(f"{op} needs a value")
    if op == "equals":
        return _plain(value)
    if op in NUMERIC:
        if not is_number(value):
            raise ValueError(f"{op} takes a number (got {value!r})")
        return value
    if op in AGE:
        try:
            duration = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{op} takes a duration like '2h' or '30m': {exc}") from None
        if duration <= timedelta(0):
            raise ValueError(f"{op} takes a duration above 0 (got {value!r})")
        return duration
    if op == "in":
        if not isinstance(value, list) or not value:
            raise ValueError("in takes a non-empty list of values")
        if len(value) > MAX_CHOICES:
            raise ValueError(f"in takes at most {MAX_CHOICES} values")
        return _plain(value)
    if op == "matches":
        if not isinstance(value, str) or not value:
            raise ValueError("matches takes a regular expression (a non-empty string)")
        if len(value) > MAX_PATTERN_LENGTH:
            raise ValueError(f"matches takes a pattern of at most {MAX_PATTERN_LENGTH} characters")
        return compile_pattern(value)
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - the Literal refuses it first


class RuleNode(ConfigModel):
    """One check (``op``) or one group (``all``/``any``)."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    pipeline: str | None = Field(default=None, min_length=1)
    trait: str | None = Field(default=None, min_length=1)
    op: Operator | None = None
    path: str | None = None
    value: Any = UNSET
    all_of: list[RuleNode] | None = Field(default=None, alias="all", min_length=1)
    any_of: list[RuleNode] | None = Field(default=None, alias="any", min_length=1)

    @field_validator("path")
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        if path is not None:
            parse_path(path)
        return path

    @field_validator("value")
    @classmethod
    def _value(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is not None and not (value is UNSET and op != "exists"):
            expected_value(op, value)  # a missing value is the node's error, below
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> RuleNode:
        kinds = [key for key, given in (("op", self.op), ("all", self.all_of), ("any", self.any_of))
                 if given is not None]
        if len(kinds) != 1:
            shown = " and ".join(kinds) if kinds else "none of them"
            raise ValueError(f"a rule is either a check (op) or a group (all / any), not {shown}")
        if self.op is None and (self.path is not None or self.value is not UNSET):
            raise ValueError(f"a group ({kinds[0]}) takes no path or value: put them on the checks inside it")
        if self.op is not None and self.value is UNSET and self.op != "exists":
            raise ValueError(f"{self.op} needs a value")
        return self

    @property
    def children(self) -> list[RuleNode]:
        return self.all_of or self.any_of or []


class RuleConfig(ConfigModel):
    """``builtin:rule``'s config: the default source, and the rules (all must hold)."""

    pipeline: str | None = Field(default=None, min_length=1)
    trait: str | None = Field(default=None, min_length=1)
    rules: list[RuleNode] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounded(self) -> RuleConfig:
        count, depth = _size(self.rules, 1)
        if count > MAX_NODES:
            raise ValueError(f"at most {MAX_NODES} rules in all (checks and groups), got {count}")
        if depth > MAX_DEPTH:
            raise ValueError(f"groups nest at most {MAX_DEPTH} deep")
        return self


def _size(nodes: list[RuleNode], depth: int) -> tuple[int, int]:
    count, deepest = len(nodes), depth
    for node in nodes:
        inner, inner_depth = _size(node.children, depth + 1) if node.children else (0, depth)
        count += inner
        deepest = max(deepest, inner_depth)
    return count, deepest
