"""What the routes share, passed to the app explicitly (no globals): the engine and the watcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from interlock_core.engine import Engine
from interlock_core.watcher import Watcher

from .readiness_body import ReadinessBodies

MIN_WATCHER_STALE_AFTER = timedelta(minutes=2)


@dataclass
class ApiState:
    engine: Engine
    provider: str = "unknown"
    watcher: Watcher | None = None
    watcher_error: str | None = None
    """Set by the supervisor while the watcher is down after a crash (health reports it)."""
    auth_enabled: bool = False
    evaluator_dirs: tuple[Path, ...] = ()
    """Where evaluators named by pipelines registered over the API must live."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    readiness_bodies: ReadinessBodies = field(default_factory=ReadinessBodies)
    """The readiness answers' parts kept between requests (:mod:`.readiness_body`)."""

    @property
    def watcher_stale_after(self) -> timedelta:
        """A watcher whose last pass is older than this is reported dead. One pass waits for its
        slowest cycle (evaluators, a launch), so the bound is generous."""
        return max(MIN_WATCHER_STALE_AFTER, 3 * self.engine.ctx.watcher.default_interval)
