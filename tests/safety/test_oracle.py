"""The oracle's own rules, on facts written by hand (no engine runs here)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from interlock_core.model import PipelineConfig

from . import plugin
from .pipelines import pipeline_config
from .world import START, World

MONITORED = 2
"""``WATCHES`` index: monitoring with ``autoRerun`` left on."""
HELD = 3
"""``WATCHES`` index: monitoring with ``autoRerun: false``."""


def config(watch: int) -> PipelineConfig:
    return PipelineConfig.model_validate(pipeline_config("p3", 0, 0, 0, watch, 0, pushed_c=False))


def test_a_change_stored_at_the_instant_of_a_request_may_have_come_after_it(tmp_path: Path) -> None:
    """Found by exploration: a watcher pass asked for a drift rerun (``autoRerun`` on), the next step
    turned ``autoRerun`` off at the same fake instant, and the oracle judged the rerun by the later
    configuration alone. Both are candidates at that instant; only the later one after it."""
    world = World(tmp_path / "project", "sqlite")
    try:
        changed = START + timedelta(minutes=5)
        world.history["p3"] = [(START, config(MONITORED)), (changed, config(HELD))]
        assert [c.monitoring.auto_rerun for c in world.configs_at("p3", START)] == [True]
        assert [c.monitoring.auto_rerun for c in world.configs_at("p3", changed)] == [True, False]
        assert [c.monitoring.auto_rerun for c in world.configs_at("p3", changed + timedelta(seconds=1))] == [False]
        assert world.configs_at("p3", START - timedelta(seconds=1)) == []
        assert world.configs_at("p1", changed) == []
    finally:
        plugin.BEHAVIOURS.pop(str(world.root), None)
