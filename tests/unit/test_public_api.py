"""The public API of each core package is pinned: adding or removing a name is a deliberate change
made here too. Every public name a package holds is exported, and every exported name exists."""

from __future__ import annotations

from types import ModuleType

import pytest

import interlock_core
import interlock_core.config
import interlock_core.model

CORE = [
    "Clock", "ConfigError", "ConfigErrors", "ConflictError", "DuplicateRunError", "Engine", "FakeClock",
    "InterlockError", "InvalidTransition", "NotFoundError", "NotReadyError", "Outcome", "PluginError",
    "Project", "RunOutcome", "StoreUnavailable", "SystemClock", "TriggerError", "ValidationError",
    "VersionConflict", "Watcher", "__version__", "build_engine", "load_project", "start_engine",
]

MODEL = [
    "DEFAULT_SCHEDULE_ID", "PIPELINE_NAME", "Alert", "AlertLevel", "AlertSpec", "Archetype", "ArchiverConfig",
    "Calendar", "CascadeMarker", "ConfigModel", "EngineConfig", "Event", "EventKind", "EventRecord",
    "ExclusionConfig", "FailureCategory", "InclusionConfig", "LoggingConfig", "MonitoringConfig", "PipelineConfig",
    "ProjectConfig", "ReadinessResult", "ReadinessRule", "ReadinessRuleType", "ReadinessStatus", "Record",
    "RerunRecord", "RetryAttempt", "RetryPolicy", "RunLogEntry", "RunState", "RunStatus", "SLAConfig",
    "ScheduleConfig", "ServerConfig", "Timestamp", "TraitConfig", "TraitDefinition", "TraitEvaluation",
    "TraitStatus", "TriggerSpec", "WatchConfig", "WatchdogConfig", "WatcherConfig", "format_timestamp", "utcnow",
    "ApiConfig", "OutboundConfig", "PipelineOrigin", "SchedulerRun", "ShadowCycle",
    "DriftBaseline", "DriftRule", "RerunSource", "RunInputs",
    "AlertClaim", "AlertRecord", "AlertStatus", "new_alert_id",
    "DeadlinePolicy", "EvaluationWindow", "JobConfig",
]

CONFIG = [
    "CONFIG_FILENAMES", "Located", "Project", "find_config_file", "load_project", "parse_yaml", "read_yaml",
    "reload_pipelines", "validate_pipeline",
]

def loaded(package: ModuleType) -> ModuleType:
    """The package with each exported name imported: a package imports its names on first use
    (``interlock_core.exports``), and what it holds is judged once all of them are."""
    for name in getattr(package, "__all__", []):
        getattr(package, name, None)
    return package


PACKAGES = [(loaded(interlock_core), CORE), (loaded(interlock_core.model), MODEL),
            (loaded(interlock_core.config), CONFIG)]
INCLUDED_PRIVATE_MEMBERS = {"__version__"}


@pytest.mark.parametrize(("package", "expected"), PACKAGES, ids=lambda p: getattr(p, "__name__", ""))
def test_exported_names_are_pinned(package: ModuleType, expected: list[str]) -> None:
    assert sorted(package.__all__) == sorted(expected)
    assert len(set(package.__all__)) == len(package.__all__), "no name is exported twice"


@pytest.mark.parametrize(("package", "expected"), PACKAGES, ids=lambda p: getattr(p, "__name__", ""))
def test_all_public_members_are_exported_and_exist(package: ModuleType, expected: list[str]) -> None:
    public = {
        name for name, value in vars(package).items()
        if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS) and not isinstance(value, ModuleType)
    }
    assert public == set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None, name


def test_star_import_gives_exactly_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from interlock_core import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(CORE)


def test_exported_objects_live_where_they_say() -> None:
    for package, names in PACKAGES:
        for name in names:
            value = getattr(package, name)
            module = getattr(value, "__module__", None)
            if isinstance(module, str) and isinstance(value, type):
                assert module.startswith("interlock_core."), (package.__name__, name, module)


def test_version_is_a_release_string() -> None:
    parts = interlock_core.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)
