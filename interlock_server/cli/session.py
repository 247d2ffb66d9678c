"""Open a project and its engine for one CLI command."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from interlock_core.config import Project, load_project
from interlock_core.engine import Engine
from interlock_core.engine.factory import build_engine, start_engine


@asynccontextmanager
async def open_engine(project_dir: str | Path | None, *, read_only: bool = False,
                      secrets_for: Collection[str] | None = None,
                      **kwargs: Any) -> AsyncIterator[tuple[Project, Engine]]:
    """``read_only``: the command only reads state: unset trigger and alert secrets are warnings
    (printed to stderr), not errors, and the store is opened as it is (never created, nothing
    registered or retired). ``secrets_for``: the command acts on these pipelines only (none: on a
    run, or without triggering), so an unset variable in another pipeline's trigger is a warning;
    alert sinks' variables are still required."""
    project = load_project(project_dir, require_secrets=not read_only, secrets_for=secrets_for)
    why = "not needed to read state" if read_only else "not needed for this command"
    for warning in project.warnings:
        print(f"warning: {warning.message} ({why})", file=sys.stderr)
    engine = build_engine(project, **kwargs)
    try:
        await start_engine(engine, project, read_only=read_only)
        yield project, engine
    finally:
        alerts = engine.ctx.alerts
        deliver = None if read_only else getattr(alerts, "deliver_pending", None)
        if deliver is not None:
            try:
                await deliver()
            except Exception:  # alerts are best effort at exit; failures were already recorded
                pass
        await engine.aclose()
