"""``builtin:rule``: PASS when rules over the latest pushed value of a trait hold.

It reads, through the runner's read-only store, the latest result recorded for each trait its
rules name (``POST /api/pipelines/{id}/traits/{type}`` with a ``value``, or an evaluator's output
value) and judges the rules (:mod:`.judge`). A FAIL is a plain not-ready (no failure category):
the next evaluation reads again.

**Its own trait.** A rule may read the trait it decides (the default source): a dbt job pushes its
``run_results.json`` to ``dbt-tests`` and ``dbt-tests``' rule decides on it. The rule's verdict is
recorded in that same trait, replacing the push, so the verdict keeps what the rules read of it
(``value.ruleVerdict.carried``: each path's value, when it was pushed, when it expires) and the
next evaluation judges that again; a new push replaces it. A push that lands while the rule is
judging the one before is overwritten by that verdict in the store, but not lost: the next
evaluation (the push woke it) finds its ``TRAIT_PUSHED`` event among the pipeline's recent events,
later than the push the verdict carries (or, when the verdict carries none, or the trait holds an
evaluation that gave no verdict, the latest push that has not expired), and judges it. Order is
told by the pushes' own stamps, never by when an evaluation began: a push stamped before a rule
read the store may be written after that read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import anyio
import pydantic

from interlock_core.jsonpath import MISSING
from interlock_core.model import EventKind, FailureCategory, TraitEvaluation
from interlock_core.model.records import format_timestamp
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, RunnerContext

from ..output import FAIL, PASS, failed
from .judge import Check, Group, Node, Sample, Source, describe, judge, plan, sources, timestamp, uses_matches
from .model import RuleConfig

VERDICT_KEY = "ruleVerdict"
"""The key of a rule's output value (what it read, and what it carries of its own trait)."""
REASON_CHARS = 1000
RECENT_EVENTS = 50
"""Events of a source's pipeline looked through for a push a verdict overwrote."""


class RuleEvaluator:
    """``builtin:rule``: rules over pushed values (config: :class:`~.model.RuleConfig`)."""

    name: ClassVar[str] = "rule"
    config_model: ClassVar[type[pydantic.BaseModel]] = RuleConfig

    async def evaluate(self, request: EvaluatorInput, context: RunnerContext) -> EvaluatorOutput:
        try:
            config = RuleConfig.model_validate(_own_keys(request.config or {}))
            rules = plan(config, request.pipeline_id, request.trait_type)
        except (pydantic.ValidationError, ValueError) as exc:
            return failed(f"invalid rule config: {_first_problem(exc)}", FailureCategory.PERMANENT)
        own = Source(request.pipeline_id, request.trait_type)
        now = context.clock.now()
        samples = {source: await read_sample(context, source, own, now) for source in sources(rules)}
        if uses_matches(rules):  # a pattern runs in a worker thread: the event loop never waits on it
            verdict = await anyio.to_thread.run_sync(judge, rules, samples, now)
        else:
            verdict = judge(rules, samples, now)
        read = list(samples.values())
        value = {VERDICT_KEY: _verdict_value(rules, samples.get(own), own, read)}
        where = describe(read)
        reason = f"{verdict.reason} ({where})" if where else verdict.reason
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        return EvaluatorOutput(status=PASS if verdict.holds else FAIL, value=value, reason=reason)


async def read_sample(context: RunnerContext, source: Source, own: Source, now: datetime) -> Sample:
    """The latest value recorded for ``source`` (a push, what a rule verdict carries of one, or
    another evaluator's output value)."""
    record = await context.store.get_trait(source.pipeline, source.trait)
    if record is None:
        return Sample(source, why=f"nothing pushed to {source} yet (or it expired)")
    verdict = _rule_verdict(record)
    if verdict is not None:
        carried, pushed_at = _carried(source, verdict.get("carried"), now)
        # a push later than the carried one was not seen; with none carried, no live push was seen
        return await _latest_push(context, source, pushed_at, now) or carried
    if source == own and record.source != "pushed":
        # an evaluation of this trait that gave no verdict (it timed out, crashed or was misconfigured)
        # replaced what was there: the latest push is still among the trait's events
        pushed = await _latest_push(context, source, None, now)
        return pushed or Sample(source, why=f"nothing pushed to {source} yet")
    if record.value is None:
        return Sample(source, pushed_at=record.evaluated_at, why=f"{source} was recorded without a value")
    return Sample(source, record.value, record.evaluated_at, expires_at=record.expires_at)


async def _latest_push(context: RunnerContext, source: Source, after: datetime | None,
                       now: datetime) -> Sample | None:
    """The latest push to ``source`` if it is later than ``after`` (any, with ``after`` None): one a
    verdict overwrote, as it landed while the rule was judging what it read. Its ``TRAIT_PUSHED``
    event (stamped, and expiring, as the push was) keeps it."""
    for event in reversed(await context.store.list_events(source.pipeline, RECENT_EVENTS)):
        if event.kind is not EventKind.TRAIT_PUSHED or event.trait_type != source.trait:
            continue
        if after is not None and event.timestamp <= after:
            return None
        if event.expires_at is not None and event.expires_at <= now:
            return Sample(source, why=f"the value pushed to {source} expired at {format_timestamp(event.expires_at)}")
        if event.details is None:
            return Sample(source, pushed_at=event.timestamp, why=f"{source} was pushed without a value")
        return Sample(source, event.details, event.timestamp, expires_at=event.expires_at)
    return None


def _rule_verdict(record: TraitEvaluation) -> Mapping[str, Any] | None:
    if record.source == "pushed" or not isinstance(record.value, Mapping):
        return None
    verdict = record.value.get(VERDICT_KEY)
    return verdict if isinstance(verdict, Mapping) else None


def _carried(source: Source, carried: Any, now: datetime) -> tuple[Sample, datetime | None]:
    """What a rule verdict kept of its trait's push, and when that was pushed."""
    if not isinstance(carried, Mapping) or not isinstance(carried.get("seen"), Mapping):
        return Sample(source, why=f"nothing pushed to {source} yet"), None
    pushed_at = timestamp(carried.get("pushedAt"))
    expires_at = timestamp(carried.get("expiresAt"))
    if expires_at is not None and expires_at <= now:
        why = f"the value pushed to {source} expired at {format_timestamp(expires_at)}"
        return Sample(source, why=why), pushed_at
    return Sample(source, pushed_at=pushed_at, seen=dict(carried["seen"]), expires_at=expires_at), pushed_at


def _verdict_value(rules: Group, own: Sample | None, own_source: Source, read: list[Sample]) -> dict[str, Any]:
    value: dict[str, Any] = {"sources": [
        {"pipeline": s.source.pipeline, "trait": s.source.trait,
         "pushedAt": format_timestamp(s.pushed_at) if s.pushed_at else None} for s in read]}
    if own is not None and own.pushed_at is not None:
        value["carried"] = {"pushedAt": format_timestamp(own.pushed_at),
                            "expiresAt": format_timestamp(own.expires_at) if own.expires_at else None,
                            "seen": _seen(rules, own, own_source)}
    return value


def _seen(node: Node, sample: Sample, source: Source) -> dict[str, Any]:
    """Path text → the value there, for every check on ``source`` (``exists`` alone keeps ``true``
    for a present value: the verdict never copies more of a large push than the rules compare)."""
    checks = [c for c in _checks(node) if c.source == source and c.path is not None]
    compared = {c.path.text for c in checks if c.path is not None and c.op != "exists"}
    out: dict[str, Any] = {}
    for check in checks:
        assert check.path is not None
        found = sample.resolve(check.path)
        if found is not MISSING:
            out[check.path.text] = found if check.path.text in compared else True
    return out


def _checks(node: Node) -> list[Check]:
    if isinstance(node, Check):
        return [node]
    return [check for child in node.nodes for check in _checks(child)]


def _own_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``config`` this evaluator reads. A pipeline that gives a trait this evaluator
    inherits the archetype's ``defaultConfig`` for that trait, meant for another evaluator and
    impossible to remove: the loader checked the keys the pipeline wrote, the others are left."""
    known = {name for field_name, info in RuleConfig.model_fields.items() for name in (field_name, info.alias)}
    return {key: value for key, value in config.items() if key in known}


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc)
