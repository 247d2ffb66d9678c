"""The engine: readiness evaluation and the one run lifecycle every entry point calls.

Public names are imported on first use (:mod:`interlock_core.exports`)."""

import typing

from ..exports import exported as _exported

if typing.TYPE_CHECKING:
    from .backfill import BackfillCycle, BackfillReport, BackfillResult
    from .budgets import RerunRejected, RerunVerdict
    from .context import EngineContext, NullAlerts, TriggerRegistry
    from .engine import Engine
    from .outcome import Outcome, RunOutcome
    from .rerun_slot import RerunExists
    from .reruns import CycleBusy
    from .runs import run_key
    from .sweep import SweepSummary

__all__ = ["BackfillCycle", "BackfillReport", "BackfillResult",
           "CycleBusy", "Engine", "EngineContext", "NullAlerts", "Outcome", "RerunExists", "RerunRejected",
           "RerunVerdict", "RunOutcome",
           "SweepSummary",
           "TriggerRegistry", "run_key"]

__getattr__, __dir__ = _exported(__name__, {
    ".backfill": ("BackfillCycle", "BackfillReport", "BackfillResult"),
    ".budgets": ("RerunRejected", "RerunVerdict"),
    ".context": ("EngineContext", "NullAlerts", "TriggerRegistry"),
    ".engine": ("Engine",),
    ".outcome": ("Outcome", "RunOutcome"),
    ".rerun_slot": ("RerunExists",),
    ".reruns": ("CycleBusy",),
    ".runs": ("run_key",),
    ".sweep": ("SweepSummary",),
}, globals())
