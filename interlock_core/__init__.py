"""Interlock's core: the domain model, configuration, readiness and the one run lifecycle.

Core never imports a backend library; stores, evaluator runners, trigger types and alert sinks
arrive as plugins implementing the Protocols in :mod:`interlock_core.ports`.

Public names are imported on first use (:mod:`interlock_core.exports`): ``import interlock_core``
alone loads no configuration model and no part of the engine.
"""

import typing

from .exports import exported as _exported

if typing.TYPE_CHECKING:
    from .clock import Clock, FakeClock, SystemClock
    from .config.loader import load_project
    from .config.project import Project
    from .engine.engine import Engine
    from .engine.factory import build_engine, start_engine
    from .engine.outcome import Outcome, RunOutcome
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

__getattr__, __dir__ = _exported(__name__, {
    ".clock": ("Clock", "FakeClock", "SystemClock"),
    ".config.loader": ("load_project",),
    ".config.project": ("Project",),
    ".engine.engine": ("Engine",),
    ".engine.factory": ("build_engine", "start_engine"),
    ".engine.outcome": ("Outcome", "RunOutcome"),
    ".errors": ("ConfigError", "ConfigErrors", "ConflictError", "DuplicateRunError", "InterlockError",
                "InvalidTransition", "NotFoundError", "NotReadyError", "PluginError", "StoreUnavailable",
                "TriggerError", "ValidationError", "VersionConflict"),
    ".watcher": ("Watcher",),
}, globals())
