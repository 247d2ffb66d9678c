"""Suite-wide settings: Hypothesis runs on fixed seeds unless asked to explore, and no test may
change a file git tracks.

* Default (what ``scripts/test.sh`` and CI run): every Hypothesis test is derandomized — the
  same examples on every run, on every machine — with no example database.
* ``INTERLOCK_EXPLORE=1`` (``scripts/explore.sh``): fresh random examples; ``--hypothesis-seed=N``
  replays a run whose seed ``scripts/explore.sh`` printed. See docs/safety.md ("Running it").
"""

from __future__ import annotations

import os

from hypothesis import settings

from .helpers.tracked_files import pytest_sessionfinish, pytest_sessionstart

EXPLORING = os.environ.get("INTERLOCK_EXPLORE") == "1"

settings.register_profile("interlock-fixed", derandomize=True, database=None)
settings.register_profile("interlock-explore", derandomize=False, database=None, print_blob=True)
settings.load_profile("interlock-explore" if EXPLORING else "interlock-fixed")

__all__ = ["EXPLORING", "pytest_sessionfinish", "pytest_sessionstart"]
