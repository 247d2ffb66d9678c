"""A histogram files each observation once (a bisection) and reads its buckets as Prometheus's
cumulative ``le`` counts: the same counts as checking every bound for every observation."""

from __future__ import annotations

import math
import random

import pytest

from interlock_core.metrics import DEFAULT_BUCKETS, Histogram

EDGES = [0.0, -1.0, *DEFAULT_BUCKETS, *(b * 0.999 for b in DEFAULT_BUCKETS), *(b * 1.001 for b in DEFAULT_BUCKETS),
         math.inf, -math.inf, math.nan, 1e300]


def every_bound(buckets: tuple[float, ...], values: list[float]) -> list[int]:
    return [sum(1 for value in values if value <= bound) for bound in buckets]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bucket_counts_are_cumulative_at_or_below_each_bound(seed: int) -> None:
    rng = random.Random(seed)
    values = EDGES + [rng.expovariate(rng.choice([0.1, 1.0, 30.0])) for _ in range(2000)]
    rng.shuffle(values)
    histogram = Histogram()
    for value in values:
        histogram.observe(value)
    assert histogram.counts == every_bound(histogram.buckets, values)
    assert histogram.count == len(values)


def test_own_buckets_and_an_empty_histogram() -> None:
    histogram = Histogram(buckets=(1.0, 2.0))
    assert histogram.counts == [0, 0] and histogram.count == 0
    for value in (0.5, 1.0, 1.5, 2.0, 2.5):
        histogram.observe(value)
    assert histogram.counts == [2, 4]
    assert histogram.total == 7.5
