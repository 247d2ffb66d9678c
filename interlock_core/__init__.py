"""Interlock's core: the domain model, configuration, readiness and the one run lifecycle.

Core never imports a backend library; stores, evaluator runners, trigger types and alert sinks
arrive as plugins implementing the Protocols in :mod:`interlock_core.ports`.
"""

from .clock import Clock, FakeClock, SystemClock
from .config import Project, load_project
from .engine import Engine, Outcome, RunOutcome
from .engine.factory import build_engine, start_engine
from .errors import (
    ConfigError,
    ConfigErrors,
    ConflictError,
    DuplicateRunError,
    InterlockError,
    InvalidTransition,
    NotFoundError,
    NotReadyError,
    PluginError,
    StoreUnavailable,
    TriggerError,
    ValidationError,
    VersionConflict,
)
from .watcher import Watcher

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "ConfigError",
    "ConfigErrors",
    "ConflictError",
    "DuplicateRunError",
    "Engine",
    "FakeClock",
    "InterlockError",
    "InvalidTransition",
    "NotFoundError",
    "NotReadyError",
    "Outcome",
    "PluginError",
    "Project",
    "RunOutcome",
    "StoreUnavailable",
    "SystemClock",
    "TriggerError",
    "ValidationError",
    "VersionConflict",
    "Watcher",
    "__version__",
    "build_engine",
    "load_project",
    "start_engine",
]
