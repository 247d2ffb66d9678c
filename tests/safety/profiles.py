"""Hypothesis profiles and budgets of the safety campaign.

* ``fixed`` (default: ``scripts/test.sh``, CI): each campaign draws its examples from its own
  fixed seed — the same examples on every run and machine — with the default budget, and no
  shrinking: a failure is reported as found (its steps and the violation), at once. Run it again
  with ``INTERLOCK_SAFETY_SHRINK=1`` to shrink it.
* ``explore`` (``INTERLOCK_EXPLORE=1``, see ``scripts/explore.sh``): fresh random examples with
  the exploration budget, shrinking on (``INTERLOCK_SAFETY_SHRINK=0`` turns it off);
* ``soak`` (``INTERLOCK_SOAK=1``): exploring, with twenty times the examples, each four times longer.

``INTERLOCK_SAFETY_EXAMPLES`` / ``INTERLOCK_SAFETY_STEPS`` override the budget of any profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]


@dataclass(frozen=True)
class Budget:
    """Examples and steps of one campaign in the default run (drawn from ``seed``), and when exploring."""

    seed: int
    examples: int
    steps: int
    explore_examples: int
    explore_steps: int


def profile() -> str:
    if os.environ.get("INTERLOCK_SOAK") == "1":
        return "soak"
    return "explore" if os.environ.get("INTERLOCK_EXPLORE") == "1" else "fixed"


def _phases(name: str) -> list[Phase]:
    shrink = os.environ.get("INTERLOCK_SAFETY_SHRINK")
    if shrink == "1" or (name != "fixed" and shrink != "0"):
        return list(Phase)
    return NO_SHRINK


def campaign_settings(budget: Budget) -> settings:
    name = profile()
    examples, steps = budget.examples, budget.steps
    if name != "fixed":
        examples, steps = budget.explore_examples, budget.explore_steps
    if name == "soak":
        examples, steps = examples * 20, steps * 4
    examples = int(os.environ.get("INTERLOCK_SAFETY_EXAMPLES", examples))
    steps = int(os.environ.get("INTERLOCK_SAFETY_STEPS", steps))
    return settings(deadline=None, suppress_health_check=SUPPRESSED, print_blob=True, database=None,
                    derandomize=name == "fixed", phases=_phases(name), max_examples=examples,
                    stateful_step_count=steps)


def run_campaign(machine: type[RuleBasedStateMachine], budget: Budget) -> None:
    """Run one campaign: on its fixed seed by default, on fresh examples when exploring."""
    if profile() == "fixed":
        machine = seed(budget.seed)(machine)
    run_state_machine_as_test(machine, settings=campaign_settings(budget))
