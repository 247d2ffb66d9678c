"""Retry maths: backoff and which failure categories are retried."""

from __future__ import annotations

from datetime import timedelta

from .model import FailureCategory, RetryPolicy


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
    if category is None:
        return FailureCategory.TRANSIENT in policy.retryable_failures
    if category is FailureCategory.PERMANENT:
        return False
    return category in policy.retryable_failures
