"""The watchdog Lambda: AWS mode's stand-in for the watcher's watchdog, run on a schedule.

In: any event (an EventBridge scheduled event; its content is ignored). Out: the sweep's summary
``{"enabled", "pipelines", "cycles", "counts": {<event kind>: n}, "recovered", "adopted", "errors"}``.
Every check is :meth:`interlock_core.engine.Engine.watchdog_sweep`: missed windows, stuck runs,
missing post-run signals, SLA warning / met / breach, and a watchdog marker (the stream-router starts
its execution) for a cycle that was ready but never triggered, or whose active run no execution
looks after. A pipeline whose sweep failed
is named in ``errors`` and logged; the others are still swept.
"""

from __future__ import annotations

import logging
from typing import Any

from .init import runtime

log = logging.getLogger("interlock.aws.watchdog")


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    summary = runtime().run(lambda steps: steps.engine.watchdog_sweep())
    for error in summary.errors:
        log.warning("watchdog sweep: %s", error)
    return summary.to_json()
