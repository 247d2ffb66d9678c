"""The engine: readiness evaluation and the one run lifecycle every entry point calls."""

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
