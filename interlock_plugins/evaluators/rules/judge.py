"""Rules judged against the values they read: pure logic, no store, no clock of its own.

:func:`plan` turns a validated :class:`~.model.RuleConfig` into checks and groups whose paths are
parsed, durations read and patterns compiled; :func:`judge` decides them against the
:class:`Sample` of each source at ``now``. A check that cannot be decided (the source has no value,
the path leads nowhere, the value is of another kind) does not hold, and says why.

``matches`` runs the ``regex`` module with a timeout per match (:data:`MATCH_TIMEOUT`) and on at
most :data:`MAX_SUBJECT` characters: a pattern that backtracks catastrophically fails its check
instead of holding the process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from interlock_core.durations import format_duration
from interlock_core.expanded import MASK
from interlock_core.jsonpath import MISSING, ROOT, JsonPath, parse_path
from interlock_core.model.records import format_timestamp
from interlock_core.redaction import is_sensitive, redact

from .model import AGE, NUMERIC, RuleConfig, RuleNode, expected_value, is_number

MATCH_TIMEOUT = 0.1
"""Seconds one ``matches`` check may take."""
MAX_SUBJECT = 10_000
"""Characters of a value ``matches`` reads at most (a longer one fails the check)."""
SHOWN_CHARS = 80


@dataclass(frozen=True)
class Source:
    """Where a check reads: a trait of a pipeline."""

    pipeline: str
    trait: str

    def __str__(self) -> str:
        return f"{self.trait} of {self.pipeline}"


@dataclass(frozen=True)
class Sample:
    """The latest value of a source (``value`` is MISSING when there is none: ``why`` says so).

    ``seen`` stands in for ``value`` when only what the rules read was kept (path text → value at
    that path; a path absent from it resolves to MISSING): see :mod:`.evaluator`."""

    source: Source
    value: Any = MISSING
    pushed_at: datetime | None = None
    why: str = ""
    seen: Mapping[str, Any] | None = None
    expires_at: datetime | None = None

    @property
    def present(self) -> bool:
        return self.value is not MISSING or self.seen is not None

    def resolve(self, path: JsonPath) -> Any:
        if self.seen is not None:
            return self.seen.get(path.text, MISSING)
        return path.resolve(self.value)


@dataclass(frozen=True)
class Check:
    name: str
    op: str
    path: JsonPath | None
    expected: Any
    source: Source


@dataclass(frozen=True)
class Group:
    name: str | None
    mode: str
    """``all`` or ``any``."""
    nodes: tuple[Check | Group, ...]


Node = Check | Group


@dataclass(frozen=True)
class Verdict:
    holds: bool
    reason: str


def plan(config: RuleConfig, pipeline: str, trait: str) -> Group:
    """The rules of ``config`` ready to judge; sources not named are ``trait`` of ``pipeline``."""
    default = Source(config.pipeline or pipeline, config.trait or trait)
    return Group(None, "all", tuple(_node(node, default) for node in config.rules))


def _node(node: RuleNode, inherited: Source) -> Node:
    source = Source(node.pipeline or inherited.pipeline, node.trait or inherited.trait)
    if node.op is None:
        mode = "all" if node.all_of is not None else "any"
        return Group(node.name, mode, tuple(_node(child, source) for child in node.children))
    path = parse_path(node.path) if node.path is not None else None
    expected = expected_value(node.op, node.value)
    return Check(node.name or _default_name(node.op, path, node.value), node.op, path, expected, source)


def _default_name(op: str, path: JsonPath | None, value: Any) -> str:
    subject = str(path) if path is not None else ("age" if op in AGE else "$")
    if op == "exists":
        return f"{subject} exists" if value is not False else f"{subject} is missing"
    if op in AGE:
        return f"{subject} {op.removeprefix('age_')} {value}"
    return f"{subject} {op} {_shown(value, ())}"


def sources(node: Node) -> list[Source]:
    """Every source the rules read, each once, in order."""
    if isinstance(node, Check):
        return [node.source]
    out: list[Source] = []
    for child in node.nodes:
        out += [s for s in sources(child) if s not in out]
    return out


def uses_matches(node: Node) -> bool:
    if isinstance(node, Check):
        return node.op == "matches"
    return any(uses_matches(child) for child in node.nodes)


def judge(rules: Node, samples: Mapping[Source, Sample], now: datetime) -> Verdict:
    """Whether ``rules`` hold on ``samples`` at ``now``; the reason names each rule that does not
    and the value it saw (masked when its key looks like a secret's)."""
    if isinstance(rules, Check):
        return _check(rules, samples[rules.source], now)
    verdicts = [judge(node, samples, now) for node in rules.nodes]
    failing = [v.reason for v in verdicts if not v.holds]
    if rules.mode == "all":
        holds = not failing
        inner = "; ".join(failing)
    else:
        holds = len(failing) < len(verdicts)
        inner = "none of these holds: " + "; ".join(failing)
    if holds:
        count = len(verdicts)
        return Verdict(True, rules.name or ("1 rule holds" if count == 1 else f"{count} rules hold"))
    return Verdict(False, f'rule "{rules.name}" failed: {inner}' if rules.name else inner)


def _check(check: Check, sample: Sample, now: datetime) -> Verdict:
    holds, seen = _decide(check, sample, now)
    if holds:
        return Verdict(True, check.name)
    return Verdict(False, f'rule "{check.name}" failed: {seen}')


def _decide(check: Check, sample: Sample, now: datetime) -> tuple[bool, str]:
    """Whether ``check`` holds on ``sample``, and what it saw (for the reason)."""
    if check.op in AGE and check.path is None and sample.pushed_at is not None:
        return _age(check, sample.pushed_at, "pushed", now)
    if not sample.present:
        return False, sample.why or f"no value for {sample.source}"
    path = check.path or ROOT
    seen = sample.resolve(path)
    label = str(path)
    if check.op == "exists":
        present = seen is not MISSING
        if present == check.expected:
            return True, ""
        return False, (f"{label} is missing" if not present else f"{label} is {_shown(seen, path.keys())}")
    if seen is MISSING:
        return False, f"{label} is missing in {sample.source}"
    shown = f"{label} is {_shown(seen, path.keys())}"
    if check.op in NUMERIC:
        if not is_number(seen):
            return False, f"{shown}, not a number"
        return _compare(check.op, seen, check.expected), shown
    if check.op == "equals":
        return same(seen, check.expected), shown
    if check.op == "in":
        return any(same(seen, choice) for choice in check.expected), shown
    if check.op == "matches":
        return _matches(check.expected, seen, shown)
    return _age(check, timestamp(seen), label, now, shown)


def _compare(op: str, seen: float, expected: float) -> bool:
    if op == "gt":
        return seen > expected
    if op == "gte":
        return seen >= expected
    if op == "lt":
        return seen < expected
    return seen <= expected


def same(seen: Any, expected: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(seen, bool) or isinstance(expected, bool):
        return isinstance(seen, bool) and isinstance(expected, bool) and seen is expected
    if is_number(seen) and is_number(expected):
        return bool(seen == expected)
    if isinstance(seen, Mapping) and isinstance(expected, Mapping):
        return seen.keys() == expected.keys() and all(same(seen[k], expected[k]) for k in seen)
    if isinstance(seen, list) and isinstance(expected, list):
        return len(seen) == len(expected) and all(same(a, b) for a, b in zip(seen, expected, strict=True))
    return type(seen) is type(expected) and bool(seen == expected)


def _matches(pattern: Any, seen: Any, shown: str) -> tuple[bool, str]:
    if not isinstance(seen, str):
        return False, f"{shown}, not a string"
    if len(seen) > MAX_SUBJECT:
        return False, f"{shown} ({len(seen)} characters; matches reads at most {MAX_SUBJECT})"
    try:
        found = pattern.search(seen, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        return False, (f"{shown}: the pattern gave no answer within {MATCH_TIMEOUT * 1000:g} ms "
                       "(it backtracks too much: simplify it)")
    return found is not None, shown


def _age(check: Check, at: datetime | None, label: str, now: datetime, shown: str = "") -> tuple[bool, str]:
    if at is None:
        return False, f"{shown or label}, not a timestamp"
    age = now - at
    limit: timedelta = check.expected
    holds = age < limit if check.op == "age_lt" else age > limit
    when = f"{label} at {format_timestamp(at)}" if label == "pushed" else f"{label} is {format_timestamp(at)}"
    return holds, f"{when}, {_age_text(age)} old"


def _age_text(age: timedelta) -> str:
    if age < timedelta(0):
        return f"{format_duration(-age)} in the future, so 0s"
    return format_duration(timedelta(seconds=round(age.total_seconds())))


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 text (no zone: UTC) or seconds since the epoch as a UTC time; None otherwise."""
    if is_number(value):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _shown(value: Any, keys: Sequence[str]) -> str:
    """``value`` as a short JSON text; masked when a key on its path names a secret."""
    if any(is_sensitive(key) for key in keys):
        return MASK
    if isinstance(value, Mapping | list):
        value = redact(value)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def since(at: datetime | None) -> str:
    return f", pushed {format_timestamp(at)}" if at is not None else ""


def describe(samples: Sequence[Sample]) -> str:
    """The sources judged, for a reason: ``dbt-results of ingest, pushed 2026-03-02T06:00:00Z``."""
    return "; ".join(f"{s.source}{since(s.pushed_at)}" for s in samples)
