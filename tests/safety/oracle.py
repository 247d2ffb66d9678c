"""What the campaign knows independently of the engine: the trait states each decision saw,
every launch the test trigger received, and the violations found so far."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import datetime

PASS = "PASS"


@dataclass
class Decision:
    """The trait states one logical flow (one watcher tick, one API call) observed, latest first.

    ``evaluated`` is keyed by (pipeline, schedule, date, trait) and filled by the test evaluator
    runner with what it returned; ``stored`` is keyed by (pipeline, trait) and filled by the store
    wrapper with what ``get_trait`` returned (the source of a pushed trait's state)."""

    evaluated: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    stored: dict[tuple[str, str], str] = field(default_factory=dict)


DECISION: contextvars.ContextVar[Decision | None] = contextvars.ContextVar("safety_decision", default=None)


def new_decision() -> Decision:
    decision = Decision()
    DECISION.set(decision)
    return decision


def observe_evaluation(pipeline: str, schedule: str, date: str, trait: str, status: str) -> None:
    decision = DECISION.get()
    if decision is not None:
        decision.evaluated[(pipeline, schedule, date, trait)] = status


def observe_stored(pipeline: str, trait: str, status: str) -> None:
    decision = DECISION.get()
    if decision is not None:
        decision.stored[(pipeline, trait)] = status


@dataclass(frozen=True)
class Launch:
    """One call of the test trigger's ``launch``."""

    pipeline: str
    schedule: str
    date: str
    attempt: int
    run_key: str
    run_id: str
    rerun: bool
    at: datetime
    traits: dict[str, str]
    step: int
    relaunch: int = 0


@dataclass
class Job:
    """The fake orchestrator's one run for a run key (it dedupes launches on the key, as the real
    ones do on their idempotency key). ``answered``: a launch of it returned to the engine (a
    result or an error), so the engine heard what became of it. (A job whose launch never
    returned may still report its end through a callback: see ``Behaviour._check_retry``.)"""

    run_key: str
    run_id: str
    launches: int = 1
    answered: bool = False


@dataclass
class Ledger:
    launches: list[Launch] = field(default_factory=list)
    by_key: dict[str, Launch] = field(default_factory=dict)
    by_cycle_attempt: dict[tuple[str, str, str, int, bool], Launch] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def violation(self, message: str) -> None:
        self.violations.append(message)

    def record(self, launch: Launch) -> Job:
        """One orchestrator run per run key: a launch of a key the orchestrator has is adopted. It
        must be a relaunch of the same run (its launcher crashed before recording the outcome)."""
        job = self.jobs.get(launch.run_key)
        if job is not None:
            if launch.relaunch == 0 or launch.run_id != job.run_id:
                previous = self.by_key[launch.run_key]
                self.violation(f"run key {launch.run_key} launched again by run {launch.run_id} (relaunch "
                               f"{launch.relaunch}, step {launch.step}) — not a relaunch of run {job.run_id} "
                               f"launched at step {previous.step}")
            job.launches += 1
            self.launches.append(launch)
            return job
        if not launch.rerun:
            cycle = (launch.pipeline, launch.schedule, launch.date, launch.attempt, launch.rerun)
            twin = self.by_cycle_attempt.get(cycle)
            if twin is not None:
                self.violation(f"{launch.pipeline}/{launch.schedule}/{launch.date} attempt {launch.attempt} "
                               f"launched twice ({twin.run_id}, {launch.run_id})")
            self.by_cycle_attempt[cycle] = launch
        job = Job(run_key=launch.run_key, run_id=launch.run_id)
        self.jobs[launch.run_key] = job
        self.by_key[launch.run_key] = launch
        self.launches.append(launch)
        return job
