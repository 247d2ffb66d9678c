"""Whether and when a failed attempt of a cycle is retried: :func:`decide_retry`, the one rule.

The lifecycle (the run log gate, the consequences of a failure), the AWS state machine's outcome
step, a dry-run pipeline's shadow, and the pipeline state that ``interlock status``, the API and
the dashboard show all ask it; nothing else weighs a retry policy. It is pure and reads no clock:
it says when the next attempt may start (:attr:`RetryDecision.at`), and
:meth:`RetryDecision.waiting` compares that with the caller's ``now``, so a fake clock decides
every case.

The policy (a pipeline's ``retry`` section) is applied in this order:

1. a rerun's run is never retried by the cycle's policy (a rerun is asked for again);
2. a failure category outside ``retryableFailures`` (PERMANENT always) is not retried;
3. ``maxAttempts`` bounds every attempt of the cycle's scheduled run;
4. ``maxCodeRetries`` additionally bounds the retries that follow a failure of the job itself
   (:func:`code_retries`);
5. otherwise the next attempt may start once the backoff after the failure has passed
   (:func:`backoff`: base × multiplier^(attempt−1), capped at ``maxBackoffSeconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .model import FailureCategory, RetryPolicy, RunLogEntry

__all__ = ["RetryDecision", "RetryReason", "backoff", "code_retries", "decide_retry", "decide_run_log",
           "is_retryable"]


def backoff(policy: RetryPolicy, attempt: int) -> timedelta:
    """Delay before the attempt after ``attempt``: base × multiplier^(attempt−1), capped."""
    base = policy.backoff_seconds
    if attempt <= 1:
        return timedelta(seconds=min(base, policy.max_backoff_seconds))
    multiplier = policy.backoff_multiplier if policy.backoff_multiplier > 0 else 2.0
    try:
        grown = base * multiplier ** (attempt - 1)
    except OverflowError:
        grown = float("inf")
    seconds = min(grown, policy.max_backoff_seconds)
    return timedelta(seconds=int(seconds) if seconds >= 1 else seconds)


def is_retryable(policy: RetryPolicy, category: FailureCategory | None) -> bool:
    """Whether the policy retries a failure of ``category`` at all (uncategorised counts as TRANSIENT)."""
    if category is None:
        return FailureCategory.TRANSIENT in policy.retryable_failures
    if category is FailureCategory.PERMANENT:
        return False
    return category in policy.retryable_failures


def code_retries(policy: RetryPolicy, entry: RunLogEntry | None) -> tuple[bool, int, int] | None:
    """``retry.maxCodeRetries`` for a cycle whose last attempt failed: ``(within budget, job
    failures so far, limit)``, or None when no cap is set or the last failure was not the job's own.

    How it relates to ``maxAttempts``: ``maxAttempts`` still bounds every attempt of the cycle's
    scheduled run (and ``retryableFailures`` which failures are retried at all); ``maxCodeRetries``
    additionally bounds how many of those retries may follow a failure of the job itself (it ran
    and failed), as opposed to a launch that failed. The n-th job failure is retried only while
    n <= maxCodeRetries."""
    limit = policy.max_code_retries
    if limit is None or entry is None or not entry.retry_history:
        return None
    last = entry.retry_history[-1]
    if not last.job_failure or last.run_id != entry.run_id:
        return None
    failures = sum(1 for attempt in entry.retry_history if attempt.job_failure)
    return failures <= limit, failures, limit


class RetryReason(StrEnum):
    """Why a failed attempt is, or is not, retried."""

    RETRY = "retry"
    """Retried: the next attempt may start at :attr:`RetryDecision.at`."""
    RERUN = "rerun"
    """A rerun's run: the cycle's retry policy does not retry it."""
    NON_RETRYABLE = "non-retryable"
    """Its failure category is not in ``retryableFailures`` (PERMANENT never is)."""
    EXHAUSTED = "exhausted"
    """Every one of ``maxAttempts`` attempts was spent."""
    CODE_BUDGET = "code budget"
    """The job itself failed more often than ``maxCodeRetries`` allows retrying."""


@dataclass(frozen=True)
class RetryDecision:
    """The verdict on one failed attempt of a cycle."""

    retry: bool
    reason: RetryReason
    at: datetime | None
    """When the next attempt may start (None when it is not retried)."""
    attempts_left: int
    """Attempts ``maxAttempts`` still allows after this one (0 when it is not retried)."""
    attempt: int
    """The attempt that failed."""
    max_attempts: int
    category: FailureCategory | None
    backoff: timedelta
    """The policy's backoff after this attempt (what a retry waits; given whatever the verdict)."""
    code_budget: tuple[int, int] | None = None
    """``(job failures, maxCodeRetries)`` when the code budget was weighed."""

    def waiting(self, now: datetime) -> bool:
        """Retried, and its backoff has not passed at ``now``."""
        return self.retry and self.at is not None and now < self.at

    @property
    def next_attempt(self) -> int:
        return self.attempt + 1


def decide_retry(policy: RetryPolicy, attempt: int, category: FailureCategory | None, failed_at: datetime,
                 *, run_log: RunLogEntry | None = None, rerun: bool = False) -> RetryDecision:
    """Is the cycle's ``attempt``-th attempt, which failed with ``category`` at ``failed_at``,
    retried, and from when? ``run_log``: the cycle's run log after the failure was recorded (its
    retry history counts the job's own failures for ``maxCodeRetries``; without it that budget is
    not weighed). ``rerun``: the failed run was a rerun's."""
    delay = backoff(policy, attempt)
    left = max(policy.max_attempts - attempt, 0)

    def no(reason: RetryReason, code: tuple[int, int] | None = None) -> RetryDecision:
        return RetryDecision(False, reason, None, 0, attempt, policy.max_attempts, category, delay, code)

    if rerun:
        return no(RetryReason.RERUN)
    if not is_retryable(policy, category):
        return no(RetryReason.NON_RETRYABLE)
    if attempt >= policy.max_attempts:
        return no(RetryReason.EXHAUSTED)
    code = code_retries(policy, run_log)
    if code is not None and not code[0]:
        return no(RetryReason.CODE_BUDGET, code[1:])
    return RetryDecision(True, RetryReason.RETRY, failed_at + delay, left, attempt, policy.max_attempts, category,
                         delay, code[1:] if code is not None else None)


def decide_run_log(policy: RetryPolicy, entry: RunLogEntry) -> RetryDecision:
    """:func:`decide_retry` for a cycle whose run log records a failed attempt (its ``updated_at``
    is when the failure was recorded)."""
    return decide_retry(policy, entry.attempt_number, entry.failure_category, entry.updated_at, run_log=entry)
