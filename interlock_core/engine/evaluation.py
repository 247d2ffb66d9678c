"""Readiness evaluation: run every trait's evaluator concurrently, apply the rule, record it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import anyio

from ..archetypes import ResolvedTrait
from ..cycles import cycle_day
from ..dates import check_run_date
from ..errors import NotFoundError, PipelineRetired, StoreUnavailable, ValidationError
from ..metrics import METRICS
from ..model import (
    AlertClaim,
    AlertLevel,
    Event,
    EventKind,
    FailureCategory,
    PipelineConfig,
    PipelineOrigin,
    ReadinessResult,
    ReadinessStatus,
    TraitEvaluation,
    TraitStatus,
)
from ..model.limits import MAX_TTL_SECONDS
from ..ports import EvaluatorInput, EvaluatorOutput, EvaluatorRunner
from ..readiness import apply_rule
from ..schedule import check_cycle, current_cycle, excluded
from ..tracing import span
from ..unit_of_work import TraitWrite
from .context import EngineContext, Recording

log = logging.getLogger("interlock.engine")

EDGE_KEY_TTL = timedelta(minutes=10)
"""How long the claim of one state transition's alert is kept (concurrent evaluators share it)."""


def _identity(previous: TraitEvaluation | ReadinessResult | None) -> str:
    return previous.evaluated_at.isoformat() if previous is not None else "none"


def first_error(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first error a task group collected (evaluator errors never get there: they are FAILs)."""
    leaf = group.exceptions[0]
    return first_error(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


class Evaluation:
    """Evaluate, check (cached) and push trait results for pipelines."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self._limit = anyio.CapacityLimiter(ctx.config.max_concurrency)

    # ------------------------------------------------------------------------------ helpers
    def runner_for(self, evaluator: str) -> EvaluatorRunner | None:
        for runner in self.ctx.runners:
            if runner.handles(evaluator):
                return runner
        return None

    def _cycle(self, pipeline: PipelineConfig, schedule_id: str | None, date: str | None) -> tuple[str, str]:
        schedules = pipeline.resolved_schedules()
        schedule = pipeline.schedule(schedule_id) if schedule_id else schedules[0]
        if schedule is None:
            raise NotFoundError(f"pipeline {pipeline.name!r} has no schedule {schedule_id!r}",
                                pipelineId=pipeline.name, scheduleId=schedule_id)
        if date:
            check_run_date(date)
            check_cycle(schedule, date)
        return schedule.name, date or current_cycle(pipeline, schedule, self.ctx.clock.now())

    def _expiry(self, now: datetime, ttl: int | None) -> datetime | None:
        return now + timedelta(seconds=ttl) if ttl else None

    # ------------------------------------------------------------------------------ one trait
    async def _run_evaluator(self, pipeline: PipelineConfig, trait: ResolvedTrait, schedule_id: str,
                             date: str) -> TraitEvaluation:
        assert trait.evaluator is not None
        timeout = trait.timeout or self.ctx.config.default_timeout.total_seconds()
        request = EvaluatorInput(pipeline_id=pipeline.name, trait_type=trait.type, config=dict(trait.config),
                                 schedule_id=schedule_id, date=date, timeout=timeout,
                                 origin=pipeline.origin or PipelineOrigin.FILE)
        runner = self.runner_for(trait.evaluator)
        started = self.ctx.clock.monotonic()
        if runner is None:
            output = EvaluatorOutput(status="FAIL", reason=f"no evaluator runner handles {trait.evaluator!r}",
                                     failure_category=FailureCategory.PERMANENT)
        else:
            try:
                async with self._limit:
                    # a runner enforces its own timeout; this is the engine's safety net
                    with anyio.fail_after(timeout + 5):
                        output = await runner.run(trait.evaluator, request)
            except TimeoutError:
                output = EvaluatorOutput(status="FAIL", reason=f"EVALUATOR_TIMEOUT after {timeout:g}s",
                                         failure_category=FailureCategory.TIMEOUT)
            except Exception as exc:  # a runner bug must not take the engine down
                METRICS.inc("interlock_evaluation_errors_total")
                log.exception("evaluator runner %s failed for %s/%s", runner.name, pipeline.name, trait.type)
                output = EvaluatorOutput(status="FAIL", reason=f"evaluation error: {exc}",
                                         failure_category=FailureCategory.EVALUATOR_CRASH)
        now = self.ctx.clock.now()
        status = output.status if output.status in (TraitStatus.PASS, TraitStatus.FAIL) else TraitStatus.FAIL
        return TraitEvaluation(
            pipeline_id=pipeline.name, trait_type=trait.type, status=status, value=output.value,
            reason=output.reason, failure_category=output.failure_category, evaluated_at=now,
            expires_at=self._expiry(now, trait.ttl), source="evaluator",
            duration_ms=round((self.ctx.clock.monotonic() - started) * 1000, 3), schedule_id=schedule_id, date=date,
        )

    async def _pushed_state(self, pipeline: PipelineConfig, trait: ResolvedTrait) -> TraitEvaluation:
        stored = await self.ctx.store.get_trait(pipeline.name, trait.type)
        if stored is not None:
            return stored
        return TraitEvaluation(pipeline_id=pipeline.name, trait_type=trait.type, status=TraitStatus.STALE,
                               reason="no result pushed yet, or the last one expired",
                               evaluated_at=self.ctx.clock.now(), source="pushed")

    def _evaluated_event(self, pipeline: PipelineConfig, trait: ResolvedTrait, evaluation: TraitEvaluation) -> Event:
        return self.ctx.event(EventKind.TRAIT_EVALUATED, pipeline.name, trait_type=trait.type,
                              status=evaluation.status, message=evaluation.reason, details=evaluation.value,
                              failure_category=evaluation.failure_category)

    def _edge_recording(self, event: Event, pipeline: PipelineConfig, trait: ResolvedTrait,
                        evaluation: TraitEvaluation, previous: TraitEvaluation | None,
                        schedule_id: str | None, date: str | None) -> Recording:
        """The trait's ``event`` and, with it, the alert of a required trait that turned not-PASS
        (claimed once per transition: not on every evaluation while it stays so)."""
        if not trait.required or evaluation.status == TraitStatus.PASS or \
                (previous is not None and previous.status != TraitStatus.PASS):
            return Recording(event)
        category = evaluation.failure_category
        # keyed by the state it leaves, so concurrent evaluations of one transition alert once
        key = f"trait-failed:{pipeline.name}:{trait.type}:{_identity(previous)}"
        alert = self.ctx.make_alert(
            AlertLevel.WARNING, f"Trait {trait.type} failed for {pipeline.name}: {evaluation.reason or ''}",
            pipeline.name, key=key, trait_type=trait.type,
            details={"failureCategory": category.value} if category else None, schedule_id=schedule_id, date=date)
        return Recording(event, alert, AlertClaim(key, EDGE_KEY_TTL.total_seconds()))

    async def _record(self, pipeline: PipelineConfig, trait: ResolvedTrait, evaluation: TraitEvaluation,
                      schedule_id: str, date: str, started: datetime) -> None:
        """Record one trait's verdict on its own (a step of the AWS state machine): row, event, alert."""
        previous = await self.ctx.store.get_trait(pipeline.name, trait.type)
        event = self._evaluated_event(pipeline, trait, evaluation)
        await self.ctx.commit(traits=[TraitWrite(evaluation, trait.ttl, unless_pushed_after=started)],
                              events=[self._edge_recording(event, pipeline, trait, evaluation, previous,
                                                           schedule_id, date)])
        METRICS.inc("interlock_trait_results_total", status=evaluation.status)

    async def _with_edge_alert(self, event: Event, pipeline: PipelineConfig, trait: ResolvedTrait,
                               evaluation: TraitEvaluation, previous: TraitEvaluation | None,
                               schedule_id: str | None = None, date: str | None = None) -> None:
        """Record the trait's ``event``, and with it (one store write) the alert of a required trait
        that turned not-PASS — not on every evaluation while it stays so."""
        if not trait.required or evaluation.status == TraitStatus.PASS or \
                (previous is not None and previous.status != TraitStatus.PASS):
            await self.ctx.record_event(event)
            return
        reason = evaluation.reason or ""
        category = evaluation.failure_category
        # keyed by the state it leaves, so concurrent evaluations of one transition alert once
        await self.ctx.alert_once(
            f"trait-failed:{pipeline.name}:{trait.type}:{_identity(previous)}", AlertLevel.WARNING,
            f"Trait {trait.type} failed for {pipeline.name}: {reason}", pipeline.name, ttl=EDGE_KEY_TTL,
            trait_type=trait.type, details={"failureCategory": category.value} if category else None,
            event=event, event_always=True, schedule_id=schedule_id, date=date)

    async def _trait_result(self, pipeline: PipelineConfig, trait: ResolvedTrait, schedule_id: str,
                            date: str) -> TraitEvaluation:
        """The trait's result now: its evaluator's verdict, or a pushed trait's stored result."""
        with span("interlock.trait", **{"interlock.pipeline": pipeline.name, "interlock.trait": trait.type,
                                        "interlock.trait.required": trait.required}) as traced:
            if trait.pushed:
                evaluation = await self._pushed_state(pipeline, trait)
            else:
                evaluation = await self._run_evaluator(pipeline, trait, schedule_id, date)
            if traced.recording:
                category = evaluation.failure_category
                traced.set(**{"interlock.status": str(evaluation.status), "interlock.reason": evaluation.reason,
                              "interlock.failure_category": category.value if category else None,
                              "interlock.source": evaluation.source})
            return evaluation

    async def _evaluate_trait(self, pipeline: PipelineConfig, trait: ResolvedTrait, schedule_id: str,
                              date: str) -> TraitEvaluation:
        """Evaluate one trait and record it on its own (an evaluator's verdict; a pushed one is read)."""
        started = self.ctx.clock.now()
        evaluation = await self._trait_result(pipeline, trait, schedule_id, date)
        if not trait.pushed:
            await self._record(pipeline, trait, evaluation, schedule_id, date, started)
        return evaluation

    # ------------------------------------------------------------------------------ public
    async def evaluate(self, pipeline_id: str | PipelineConfig, *, schedule_id: str | None = None,
                       date: str | None = None) -> ReadinessResult:
        """Run every evaluator now (in parallel), apply the readiness rule and record the result."""
        pipeline = pipeline_id if isinstance(pipeline_id, PipelineConfig) else await self.ctx.pipeline(pipeline_id)
        if pipeline.retired:
            raise PipelineRetired(pipeline.name, pipeline.retired_at)
        traits = self.ctx.traits_of(pipeline)
        schedule, day = self._cycle(pipeline, schedule_id, date)
        with span("interlock.evaluate", **{"interlock.pipeline": pipeline.name, "interlock.schedule": schedule,
                                           "interlock.date": day, "interlock.traits": len(traits)}) as traced:
            result = await self._evaluate(pipeline, traits, schedule, day)
            if traced.recording:
                traced.set(**{"interlock.status": str(result.status),
                              "interlock.blocking": ",".join(result.blocking) or None})
            return result

    async def _evaluate(self, pipeline: PipelineConfig, traits: list[ResolvedTrait], schedule: str,
                        day: str) -> ReadinessResult:
        """Every trait's result concurrently; then one read of the state it builds on (the stored
        rows and readiness its alerts compare with) and one commit of the trait rows, the events in
        the order the verdicts came, their alerts and the readiness."""
        started, started_at = self.ctx.clock.monotonic(), self.ctx.clock.now()
        results: list[TraitEvaluation | None] = [None] * len(traits)
        verdicts: list[tuple[int, Event]] = []  # evaluated traits, in the order their verdicts came

        async def one(index: int, trait: ResolvedTrait) -> None:
            results[index] = evaluation = await self._trait_result(pipeline, trait, schedule, day)
            if not trait.pushed:
                verdicts.append((index, self._evaluated_event(pipeline, trait, evaluation)))

        try:
            async with anyio.create_task_group() as tg:
                for index, trait in enumerate(traits):
                    tg.start_soon(one, index, trait)
        except ExceptionGroup as group:  # callers get the store's own error (StoreUnavailable …), not a group
            raise first_error(group) from None
        prior = await self.ctx.store.read_pipeline(pipeline.name)
        writes: list[TraitWrite] = []
        recordings: list[Recording] = []
        for index, event in verdicts:
            trait, evaluation = traits[index], results[index]
            assert evaluation is not None
            previous = prior.traits.get(trait.type)
            if previous is not None and previous.source == "pushed" and previous.evaluated_at > started_at:
                # pushed while the evaluator ran: the push stays stored for the next evaluation (the push
                # woke it) to judge. This one never passes the trait: its verdict is about older data,
                # and the push's own status is no verdict (a rule judges what was pushed to its trait)
                if evaluation.status == TraitStatus.PASS:
                    results[index] = evaluation.model_copy(update={
                        "status": TraitStatus.FAIL, "failure_category": None,
                        "reason": f"a result was pushed to {trait.type} while it was evaluated: "
                                  "the next evaluation judges it"})
                continue
            writes.append(TraitWrite(evaluation, trait.ttl, unless_pushed_after=started_at))
            recordings.append(self._edge_recording(event, pipeline, trait, evaluation, previous, schedule, day))
        evaluations = [r for r in results if r is not None]
        result, checked = self._conclusion(pipeline, traits, evaluations, schedule, day, prior.readiness)
        await self.ctx.commit(traits=writes, events=[*recordings, checked], readiness=result,
                              readiness_ttl=self.ctx.config.readiness_ttl.total_seconds())
        for write in writes:
            METRICS.inc("interlock_trait_results_total", status=write.evaluation.status)
        self._count(pipeline, result)
        METRICS.observe("interlock_evaluation_seconds", self.ctx.clock.monotonic() - started)
        return result

    def _conclusion(self, pipeline: PipelineConfig, traits: list[ResolvedTrait], evaluations: list[TraitEvaluation],
                    schedule_id: str, date: str, previous: ReadinessResult | None) -> tuple[ReadinessResult, Recording]:
        """The readiness rule over the results, and READINESS_CHECKED with the alert of a pipeline
        that becomes blocked (claimed once per transition)."""
        archetype = self.ctx.archetypes.get(pipeline.archetype)
        status, blocking = apply_rule(archetype.readiness_rule.type, list(zip(traits, evaluations, strict=True)))
        result = ReadinessResult(pipeline_id=pipeline.name, status=status, traits=evaluations, blocking=blocking,
                                 evaluated_at=self.ctx.clock.now(), schedule_id=schedule_id, date=date,
                                 excluded=self._exclusion(pipeline, date))
        checked = self.ctx.event(EventKind.READINESS_CHECKED, pipeline.name, status=status,
                                 details={"blocking": blocking}, schedule_id=schedule_id, date=date)
        if status is not ReadinessStatus.NOT_READY or not (previous is None or previous.ready):
            return result, Recording(checked)
        key = f"blocked:{pipeline.name}:{_identity(previous)}"
        alert = self.ctx.make_alert(AlertLevel.WARNING, f"Pipeline {pipeline.name} blocked by: [{' '.join(blocking)}]",
                                    pipeline.name, key=key, details={"blocking": blocking}, schedule_id=schedule_id,
                                    date=date)
        return result, Recording(checked, alert, AlertClaim(key, EDGE_KEY_TTL.total_seconds()))

    def _count(self, pipeline: PipelineConfig, result: ReadinessResult) -> None:
        METRICS.inc("interlock_evaluations_total", result=result.status)
        METRICS.set_gauge("interlock_pipeline_ready", 1.0 if result.status == ReadinessStatus.READY else 0.0,
                          pipeline=pipeline.name)

    async def conclude(self, pipeline: PipelineConfig, traits: list[ResolvedTrait],
                       evaluations: list[TraitEvaluation], schedule_id: str, date: str) -> ReadinessResult:
        """Apply the readiness rule to one evaluation's trait results and record it: the cached
        readiness, READINESS_CHECKED, and the alert when the pipeline becomes blocked, in one commit."""
        previous = await self.ctx.store.get_readiness(pipeline.name)
        result, checked = self._conclusion(pipeline, traits, evaluations, schedule_id, date, previous)
        await self.ctx.commit(events=[checked], readiness=result,
                              readiness_ttl=self.ctx.config.readiness_ttl.total_seconds())
        self._count(pipeline, result)
        return result

    def _exclusion(self, pipeline: PipelineConfig, date: str) -> str | None:
        if not excluded(pipeline, cycle_day(date), self.ctx.calendars):
            return None
        return f"{date} is excluded by {pipeline.name}'s calendar: a run of it is refused (a rerun runs it anyway)"

    async def check_readiness(self, pipeline_id: str) -> ReadinessResult:
        """Readiness from stored results only: nothing runs; missing or expired traits are STALE."""
        return await self.stored_readiness(await self.ctx.pipeline(pipeline_id))

    async def stored_readiness(self, pipeline: PipelineConfig, *, now: datetime | None = None) -> ReadinessResult:
        """:meth:`check_readiness` of a pipeline already read (``now``: the instant it is for)."""
        stored = {t.trait_type: t for t in await self.ctx.store.list_traits(pipeline.name)}
        return self.readiness_of(pipeline, stored, now=now)

    def readiness_of(self, pipeline: PipelineConfig, stored_by_type: Mapping[str, TraitEvaluation], *,
                     resolved: list[ResolvedTrait] | None = None, now: datetime | None = None) -> ReadinessResult:
        """The readiness rule over the pipeline's stored trait rows (by type): a missing one is STALE.
        ``resolved``: the pipeline's traits when already resolved (:mod:`.resolved`); ``now``: the
        instant the rows were read for (the clock's now otherwise), the result's ``evaluatedAt`` and
        its missing traits'."""
        at = now or self.ctx.clock.now()
        archetype = self.ctx.archetypes.get(pipeline.archetype)
        traits = resolved if resolved is not None else self.ctx.traits_of(pipeline)
        evaluations = []
        for trait in traits:
            stored = stored_by_type.get(trait.type)
            evaluations.append(stored or TraitEvaluation(
                pipeline_id=pipeline.name, trait_type=trait.type, status=TraitStatus.STALE,
                reason="no evaluation found or expired", evaluated_at=at,
                source="pushed" if trait.pushed else "evaluator"))
        status, blocking = apply_rule(archetype.readiness_rule.type, list(zip(traits, evaluations, strict=True)))
        return ReadinessResult(pipeline_id=pipeline.name, status=status, traits=evaluations, blocking=blocking,
                               evaluated_at=at)

    async def push_trait(self, pipeline_id: str, trait_type: str, status: str, *, value: dict[str, Any] | None = None,
                         reason: str | None = None, ttl: int | None = None,
                         failure_category: FailureCategory | None = None) -> TraitEvaluation:
        """Store an externally produced trait result (``POST /api/pipelines/{id}/traits/{type}``)."""
        pipeline = await self.ctx.live_pipeline(pipeline_id)
        if status not in (TraitStatus.PASS, TraitStatus.FAIL):
            raise ValidationError("status must be PASS or FAIL", field="status")
        if ttl is not None and not 0 <= ttl <= MAX_TTL_SECONDS:
            raise ValidationError(f"ttl must be between 0 and {MAX_TTL_SECONDS} seconds (366 days)", field="ttl")
        archetype = self.ctx.archetypes.get(pipeline.archetype)
        if archetype.definition(trait_type) is None:
            raise ValidationError(f"trait {trait_type!r} is not defined by archetype {archetype.name!r}",
                                  field="traitType")
        resolved = next((t for t in self.ctx.traits_of(pipeline) if t.type == trait_type), None)
        effective_ttl = ttl if ttl is not None else (resolved.ttl if resolved else None)
        now = self.ctx.clock.now()
        evaluation = TraitEvaluation(pipeline_id=pipeline.name, trait_type=trait_type, status=status, value=value,
                                     reason=reason, failure_category=failure_category, evaluated_at=now,
                                     expires_at=self._expiry(now, effective_ttl), source="pushed")
        previous = await self.ctx.store.get_trait(pipeline.name, trait_type)
        await self.ctx.store.put_trait(evaluation, effective_ttl)
        # stamped as the stored result is: a reader tells this push by its time (builtin:rule does)
        pushed = self.ctx.event(EventKind.TRAIT_PUSHED, pipeline.name, trait_type=trait_type, status=status,
                                message=reason, details=value, failure_category=failure_category, timestamp=now,
                                expires_at=evaluation.expires_at)
        if resolved is not None:
            await self._with_edge_alert(pushed, pipeline, resolved, evaluation, previous)
        else:
            await self.ctx.record_event(pushed)
        await self.ctx.wake(pipeline.name, "trait-pushed")
        return evaluation


__all__ = ["Evaluation", "StoreUnavailable"]
