"""The domain model: every record and configuration of SPEC.md, with its JSON/YAML keys.

Public names are imported on first use (:mod:`interlock_core.exports`)."""

import typing

from ..exports import exported as _exported

if typing.TYPE_CHECKING:
    from .archetype import Archetype, ReadinessRule, TraitDefinition
    from .base import ConfigModel, Record
    from .calendar import Calendar
    from .enums import (
        DEFAULT_SCHEDULE_ID,
        AlertLevel,
        EventKind,
        FailureCategory,
        PipelineOrigin,
        ReadinessRuleType,
        ReadinessStatus,
        RerunSource,
        RunStatus,
        TraitStatus,
    )
    from .monitoring import DriftRule, MonitoringConfig, WatchConfig
    from .outbox import AlertClaim, AlertRecord, AlertStatus, new_alert_id
    from .pipeline import (
        PIPELINE_NAME,
        ExclusionConfig,
        InclusionConfig,
        JobConfig,
        PipelineConfig,
        RetryPolicy,
        SLAConfig,
        TraitConfig,
        TriggerSpec,
    )
    from .project import (
        AlertSpec,
        ApiConfig,
        ArchiverConfig,
        EngineConfig,
        LoggingConfig,
        OutboundConfig,
        ProjectConfig,
        ServerConfig,
        WatchdogConfig,
        WatcherConfig,
    )
    from .records import (
        Alert,
        CascadeMarker,
        DriftBaseline,
        Event,
        EventRecord,
        ReadinessResult,
        RerunRecord,
        RetryAttempt,
        RunInputs,
        RunLogEntry,
        RunState,
        Timestamp,
        TraitEvaluation,
        format_timestamp,
        utcnow,
    )
    from .schedules import DeadlinePolicy, EvaluationWindow, ScheduleConfig
    from .shadow import SchedulerRun, ShadowCycle

__all__ = [
    "DEFAULT_SCHEDULE_ID",
    "PIPELINE_NAME",
    "Alert",
    "AlertClaim",
    "AlertLevel",
    "AlertRecord",
    "AlertSpec",
    "AlertStatus",
    "ApiConfig",
    "Archetype",
    "ArchiverConfig",
    "Calendar",
    "CascadeMarker",
    "ConfigModel",
    "DeadlinePolicy",
    "DriftBaseline",
    "DriftRule",
    "EngineConfig",
    "EvaluationWindow",
    "Event",
    "EventKind",
    "EventRecord",
    "ExclusionConfig",
    "FailureCategory",
    "InclusionConfig",
    "JobConfig",
    "LoggingConfig",
    "MonitoringConfig",
    "OutboundConfig",
    "PipelineConfig",
    "PipelineOrigin",
    "ProjectConfig",
    "ReadinessResult",
    "ReadinessRule",
    "ReadinessRuleType",
    "ReadinessStatus",
    "Record",
    "RerunRecord",
    "RerunSource",
    "RetryAttempt",
    "RetryPolicy",
    "RunInputs",
    "RunLogEntry",
    "RunState",
    "RunStatus",
    "SLAConfig",
    "ScheduleConfig",
    "SchedulerRun",
    "ServerConfig",
    "ShadowCycle",
    "Timestamp",
    "TraitConfig",
    "TraitDefinition",
    "TraitEvaluation",
    "TraitStatus",
    "TriggerSpec",
    "WatchConfig",
    "WatchdogConfig",
    "WatcherConfig",
    "format_timestamp",
    "new_alert_id",
    "utcnow",
]

__getattr__, __dir__ = _exported(__name__, {
    ".archetype": ("Archetype", "ReadinessRule", "TraitDefinition"),
    ".base": ("ConfigModel", "Record"),
    ".calendar": ("Calendar",),
    ".enums": ("DEFAULT_SCHEDULE_ID", "AlertLevel", "EventKind", "FailureCategory", "PipelineOrigin",
               "ReadinessRuleType", "ReadinessStatus", "RerunSource", "RunStatus", "TraitStatus"),
    ".monitoring": ("DriftRule", "MonitoringConfig", "WatchConfig"),
    ".outbox": ("AlertClaim", "AlertRecord", "AlertStatus", "new_alert_id"),
    ".pipeline": ("PIPELINE_NAME", "ExclusionConfig", "InclusionConfig", "JobConfig", "PipelineConfig",
                  "RetryPolicy", "SLAConfig", "TraitConfig", "TriggerSpec"),
    ".project": ("AlertSpec", "ApiConfig", "ArchiverConfig", "EngineConfig", "LoggingConfig", "OutboundConfig",
                 "ProjectConfig", "ServerConfig", "WatchdogConfig", "WatcherConfig"),
    ".records": ("Alert", "CascadeMarker", "DriftBaseline", "Event", "EventRecord", "ReadinessResult",
                 "RerunRecord", "RetryAttempt", "RunInputs", "RunLogEntry", "RunState", "Timestamp",
                 "TraitEvaluation", "format_timestamp", "utcnow"),
    ".schedules": ("DeadlinePolicy", "EvaluationWindow", "ScheduleConfig"),
    ".shadow": ("SchedulerRun", "ShadowCycle"),
}, globals())
