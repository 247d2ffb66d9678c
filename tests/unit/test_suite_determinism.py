"""The default test run is deterministic: every Hypothesis test replays fixed examples and the
safety campaign does not shrink; fresh random examples only when exploring (scripts/explore.sh)."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from tests.conftest import EXPLORING
from tests.safety.profiles import campaign_settings
from tests.safety.test_campaign import REDIS, SQLITE, SUBPROCESS
from tests.unit.config.test_config_fuzz import SETTINGS as FUZZ

BUDGETS = [SQLITE, REDIS, SUBPROCESS]


@pytest.fixture
def default_run(monkeypatch: pytest.MonkeyPatch) -> None:
    if EXPLORING:
        pytest.skip("exploring: fresh examples on purpose")
    for name in ("INTERLOCK_SOAK", "INTERLOCK_SAFETY_SHRINK", "INTERLOCK_SAFETY_EXAMPLES", "INTERLOCK_SAFETY_STEPS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("default_run")
def test_hypothesis_replays_fixed_examples_in_the_default_run() -> None:
    assert settings.default.derandomize and settings.default.database is None
    assert FUZZ.derandomize and FUZZ.database is None


@pytest.mark.usefixtures("default_run")
def test_the_campaigns_replay_fixed_examples_and_report_a_failure_unshrunk() -> None:
    for budget in BUDGETS:
        chosen = campaign_settings(budget)
        assert chosen.derandomize and chosen.database is None
        assert Phase.shrink not in chosen.phases
        assert (chosen.max_examples, chosen.stateful_step_count) == (budget.examples, budget.steps)


def test_exploring_draws_fresh_examples_and_shrinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_EXPLORE", "1")
    monkeypatch.delenv("INTERLOCK_SAFETY_SHRINK", raising=False)
    monkeypatch.delenv("INTERLOCK_SOAK", raising=False)
    chosen = campaign_settings(SQLITE)
    assert not chosen.derandomize and Phase.shrink in chosen.phases
    assert (chosen.max_examples, chosen.stateful_step_count) == (SQLITE.explore_examples, SQLITE.explore_steps)
    monkeypatch.setenv("INTERLOCK_SOAK", "1")
    soak = campaign_settings(SQLITE)
    assert (soak.max_examples, soak.stateful_step_count) == (SQLITE.explore_examples * 20, SQLITE.explore_steps * 4)
