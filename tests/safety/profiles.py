"""Hypothesis profiles and budgets of the safety campaign.

* ``ci`` (when ``CI`` is set): derandomized, the CI budget;
* ``dev`` (default): the same budget, random examples;
* ``soak`` (``INTERLOCK_SOAK=1``): far more examples and longer runs.

``INTERLOCK_SAFETY_EXAMPLES`` / ``INTERLOCK_SAFETY_STEPS`` override the budget of any profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("dev", deadline=None, suppress_health_check=SUPPRESSED, print_blob=True, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
                          if os.environ.get("INTERLOCK_SAFETY_SHRINK") == "0" else list(Phase))
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True, database=None)
settings.register_profile("soak", parent=settings.get_profile("dev"))


def profile() -> str:
    if os.environ.get("INTERLOCK_SOAK") == "1":
        return "soak"
    return "ci" if os.environ.get("CI") else "dev"


def budget(examples: int, steps: int) -> dict[str, int]:
    """max_examples and stateful_step_count for one campaign, scaled for a soak."""
    if profile() == "soak":
        examples, steps = examples * 20, steps * 4
    examples = int(os.environ.get("INTERLOCK_SAFETY_EXAMPLES", examples))
    steps = int(os.environ.get("INTERLOCK_SAFETY_STEPS", steps))
    return {"max_examples": examples, "stateful_step_count": steps}
