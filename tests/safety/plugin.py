"""In-process test plugins for the safety campaign, registered through the plugin system.

* ``SafetyRunner`` runs evaluators written ``safety:<name>``: the campaign sets what each
  (pipeline, trait) answers — pass, fail, timeout, crash or bad output.
* ``ObservedSubprocessRunner`` is the real subprocess runner; it only notes what it returned.
* ``SafetyTrigger`` (``type: safety``) is the fake orchestrator: it holds one job per run key and
  the run id it was launched for, and follows the proof rule of the real triggers: a launch of a
  key it holds is adopted when it carries that job's run id (a relaunch after a crash) and refused
  as a key taken by a job Interlock did not start (PERMANENT) when it carries another. It records
  every launch in the ledger, checks the trait states the deciding flow saw, and then behaves as
  the campaign says: succeed, keep running, fail transiently or permanently, time out — or hang
  until cancelled (a crash mid-launch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio
from pydantic import BaseModel, ConfigDict

from interlock_core.clock import Clock
from interlock_core.errors import TriggerError
from interlock_core.hookspecs import hookimpl
from interlock_core.model import FailureCategory, RunStatus
from interlock_core.plugins import PluginContext
from interlock_core.ports import EvaluatorInput, EvaluatorOutput, LaunchRequest, LaunchResult, PollResult, RunnerContext
from interlock_plugins.evaluators.subprocess import SubprocessRunner

from .oracle import DECISION, PASS, Launch, Ledger, observe_evaluation

GIVEN_UP = ("not relaunched", "without an outcome")
"""How ``Runs.reconcile`` words a run it gives up relaunching (it fails it as TRANSIENT)."""
REPORTED_FAILED = "the orchestrator reported the job failed"
"""What the campaign's ``fail`` callback says (the run's failure message once the engine recorded it)."""
REPORTED = (REPORTED_FAILED, "completed via callback with status: failed")
"""Failure messages of runs the orchestrator's callback ended (the second: a ``failed`` completion)."""
EVALUATOR_OUTCOMES = ("pass", "fail", "timeout", "crash", "bad")
TRIGGER_OUTCOMES = ("success", "running", "transient", "permanent", "timeout", "failed-result")
POLL_OUTCOMES = ("running", "succeeded", "failed", "error")


@dataclass
class Behaviour:
    """What the test plugins do, set by the state machine; shared by every engine of a world."""

    clock: Clock
    ledger: Ledger = field(default_factory=Ledger)
    evaluators: dict[tuple[str, str], str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    polls: dict[str, str] = field(default_factory=dict)
    traits: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    """Per pipeline, its required traits as registered: (trait, pushed)."""
    hang_next: set[str] = field(default_factory=set)
    hanging: anyio.Event | None = None
    step: int = 0
    evaluations: int = 0
    observer: Any = None
    """A store connection without faults: the launch checks look through it."""

    def evaluator_outcome(self, pipeline: str, trait: str) -> str:
        return self.evaluators.get((pipeline, trait), "pass")

    async def launch(self, request: LaunchRequest) -> LaunchResult:
        seen = self._traits_seen(request)
        if not seen:
            self.ledger.violation(f"launch of unknown pipeline {request.pipeline_id}")
        blocked = {t: s for t, s in seen.items() if s != PASS}
        if blocked and not request.relaunch:  # a relaunch carries out the decision its claim made
            self.ledger.violation(f"{request.run_key} launched while required traits were not PASS: {blocked}")
        if ":rerun-" not in request.run_key and request.attempt > 1 and self.observer is not None:
            await self._check_retry(request)
        job = self.ledger.record(Launch(
            pipeline=request.pipeline_id, schedule=request.schedule_id, date=request.date, attempt=request.attempt,
            run_key=request.run_key, run_id=request.run_id, rerun=":rerun-" in request.run_key,
            at=self.clock.now(), traits=seen, step=self.step, relaunch=request.relaunch))
        if job.run_id != request.run_id:  # the ledger noted the reuse; the orchestrator refuses it
            raise TriggerError(f"launch key {request.run_key} is taken by a job Interlock did not start for run "
                               f"{request.run_id}", category=FailureCategory.PERMANENT)
        if request.pipeline_id in self.hang_next:
            self.hang_next.discard(request.pipeline_id)
            if self.hanging is not None:
                self.hanging.set()
            await anyio.sleep_forever()
        job.answered = True
        mode = self.triggers.get(request.pipeline_id, "success")
        meta = {"job": request.run_id}
        if mode == "success":
            return LaunchResult(state="succeeded", metadata=meta, message="job finished")
        if mode == "running":
            return LaunchResult(state="running", metadata=meta, message="job submitted")
        if mode == "failed-result":
            return LaunchResult(state="failed", metadata=meta, message="job failed at once",
                                failure_category=FailureCategory.TRANSIENT)
        category = {"transient": FailureCategory.TRANSIENT, "permanent": FailureCategory.PERMANENT,
                    "timeout": FailureCategory.TIMEOUT}[mode]
        raise TriggerError(f"injected {mode} launch failure", category=category)

    def _traits_seen(self, request: LaunchRequest) -> dict[str, str]:
        decision = DECISION.get()
        seen: dict[str, str] = {}
        for trait, pushed in self.traits.get(request.pipeline_id, []):
            if decision is None:
                seen[trait] = "UNOBSERVED"
            elif pushed:
                seen[trait] = decision.stored.get((request.pipeline_id, trait), "UNOBSERVED")
            else:
                seen[trait] = decision.evaluated.get(
                    (request.pipeline_id, request.schedule_id, request.date, trait), "UNOBSERVED")
        return seen

    async def _check_retry(self, request: LaunchRequest) -> None:
        """A new run key for a cycle (attempt n) only once attempt n-1 ended, and only as a retry
        the engine recorded on what it heard — the launch's answer, or the orchestrator's callback
        saying the job failed (the job exists and reported its end, even when the launch that
        started it never returned): never because it lost track of a job it launched (that job is
        relaunched under its own key) — unless the reconciler gave it up, which it records as a
        failure."""
        before = self.ledger.by_cycle_attempt.get(
            (request.pipeline_id, request.schedule_id, request.date, request.attempt - 1, False))
        previous = await self.observer.get_run(before.run_id) if before else None
        if previous is not None and not previous.status.is_terminal:
            self.ledger.violation(f"{request.run_key} launched while attempt {request.attempt - 1} "
                                  f"({previous.run_id}) is still {previous.status.value}")
        job = self.ledger.jobs.get(before.run_key) if before else None
        if job is None or job.answered or previous is None:
            return
        message = previous.failure_message or ""
        given_up = any(words in message for words in GIVEN_UP)
        if previous.status is not RunStatus.FAILED or not (given_up or message in REPORTED):
            self.ledger.violation(f"{request.run_key} launched although attempt {request.attempt - 1}'s job "
                                  f"{job.run_key} never answered and was not relaunched (run {previous.run_id} "
                                  f"{previous.status.value}: {previous.failure_message})")

    def poll(self, metadata: Mapping[str, Any], pipeline: str) -> PollResult:
        mode = self.polls.get(pipeline, "running")
        if mode == "error":
            raise TriggerError("injected poll failure", category=FailureCategory.TRANSIENT)
        if mode == "failed":
            return PollResult(state="failed", message="FAILED", failure_category=FailureCategory.TRANSIENT)
        return PollResult(state="succeeded" if mode == "succeeded" else "running", message=mode.upper())


BEHAVIOURS: dict[str, Behaviour] = {}
"""By project directory: trigger instances find their world through their plugin context."""


class SafetyRunner:
    name: ClassVar[str] = "safety"
    priority: ClassVar[int] = 1000

    def __init__(self, context: RunnerContext) -> None:
        self.behaviour: Behaviour | None = context.options.get("safety")

    def handles(self, evaluator: str) -> bool:
        return evaluator.startswith("safety:")

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput:
        assert self.behaviour is not None
        self.behaviour.evaluations += 1
        outcome = self.behaviour.evaluator_outcome(request.pipeline_id, request.trait_type)
        observe_evaluation(request.pipeline_id, request.schedule_id, request.date, request.trait_type,
                           PASS if outcome == "pass" else "FAIL")
        if outcome == "pass":
            return EvaluatorOutput(status="PASS", value={"rows": 10})
        if outcome == "fail":
            return EvaluatorOutput(status="FAIL", reason="injected failure", failure_category=FailureCategory.TRANSIENT)
        if outcome == "timeout":
            raise TimeoutError  # what a hung evaluator looks like once its timeout fired
        if outcome == "crash":
            raise RuntimeError("injected evaluator crash")
        return EvaluatorOutput(status="pass")  # bad output: not PASS/FAIL

    async def close(self) -> None:
        return None


class ObservedSubprocessRunner(SubprocessRunner):
    """The real subprocess runner for the sensor evaluator; notes each output it returns."""

    name: ClassVar[str] = "safety-subprocess"
    priority: ClassVar[int] = 500

    def handles(self, evaluator: str) -> bool:
        return evaluator.endswith("/sensor")

    async def run(self, evaluator: str, request: EvaluatorInput) -> EvaluatorOutput:
        output = await super().run(evaluator, request)
        observe_evaluation(request.pipeline_id, request.schedule_id, request.date, request.trait_type,
                           PASS if output.status == PASS else "FAIL")
        return output


class SafetyTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SafetyTrigger:
    name: ClassVar[str] = "safety"
    config_model: ClassVar[type[BaseModel]] = SafetyTriggerConfig
    pollable: ClassVar[bool] = True
    api_registrable: ClassVar[bool] = True

    def __init__(self, context: PluginContext) -> None:
        self.behaviour = BEHAVIOURS[str(context.project_dir)]

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        return await self.behaviour.launch(request)

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        job = str(metadata.get("job", ""))
        return self.behaviour.poll(metadata, job.rsplit("-", 1)[0])

    async def close(self) -> None:
        return None


@hookimpl
def interlock_register_evaluator_runners() -> list[Any]:
    return [SafetyRunner, ObservedSubprocessRunner]


@hookimpl
def interlock_register_trigger_types() -> list[Any]:
    return [SafetyTrigger]
