"""The enumerations of the domain, with the exact string values of SPEC.md."""

from __future__ import annotations

from enum import StrEnum

DEFAULT_SCHEDULE_ID = "daily"


class TraitStatus(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    STALE = "STALE"


class ReadinessStatus(StrEnum):
    READY = "READY"
    NOT_READY = "NOT_READY"


class RunStatus(StrEnum):
    PENDING = "PENDING"
    TRIGGERING = "TRIGGERING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    COMPLETED_MONITORING = "COMPLETED_MONITORING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    """A cycle's run log only: the cycle was given up before anything ran (``onDeadline: skip``)."""

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED})


class FailureCategory(StrEnum):
    TRANSIENT = "TRANSIENT"
    PERMANENT = "PERMANENT"
    TIMEOUT = "TIMEOUT"
    EVALUATOR_CRASH = "EVALUATOR_CRASH"


class ReadinessRuleType(StrEnum):
    ALL_REQUIRED_PASS = "all-required-pass"
    MAJORITY_PASS = "majority-pass"
    ANY_PASS = "any-pass"


class AlertLevel(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class EventKind(StrEnum):
    TRAIT_EVALUATED = "TRAIT_EVALUATED"
    READINESS_CHECKED = "READINESS_CHECKED"
    RUN_STATE_CHANGED = "RUN_STATE_CHANGED"
    TRIGGER_FIRED = "TRIGGER_FIRED"
    TRIGGER_FAILED = "TRIGGER_FAILED"
    CALLBACK_RECEIVED = "CALLBACK_RECEIVED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    RETRY_EXHAUSTED = "RETRY_EXHAUSTED"
    SLA_BREACHED = "SLA_BREACHED"
    WATCHER_EVALUATION = "WATCHER_EVALUATION"
    TRAIT_PUSHED = "TRAIT_PUSHED"
    RERUN_REQUESTED = "RERUN_REQUESTED"
    RERUN_COMPLETED = "RERUN_COMPLETED"
    MONITORING_STARTED = "MONITORING_STARTED"
    MONITORING_DRIFT_DETECTED = "MONITORING_DRIFT_DETECTED"
    MONITORING_COMPLETED = "MONITORING_COMPLETED"
    CASCADE_NOTIFIED = "CASCADE_NOTIFIED"
    RUN_RECONCILED = "RUN_RECONCILED"
    DRY_RUN_WOULD_TRIGGER = "DRY_RUN_WOULD_TRIGGER"
    DRY_RUN_WOULD_RETRY = "DRY_RUN_WOULD_RETRY"
    DRY_RUN_WOULD_RERUN = "DRY_RUN_WOULD_RERUN"
    DRY_RUN_LATE_DATA = "DRY_RUN_LATE_DATA"
    DRY_RUN_COMPLETED = "DRY_RUN_COMPLETED"
    ALERT_FAILED = "ALERT_FAILED"
    SCHEDULE_MISSED = "SCHEDULE_MISSED"
    CYCLE_SKIPPED = "CYCLE_SKIPPED"
    CYCLE_CAUGHT_UP = "CYCLE_CAUGHT_UP"
    RUN_STUCK = "RUN_STUCK"
    TRIGGER_RECOVERED = "TRIGGER_RECOVERED"
    POST_RUN_SENSOR_MISSING = "POST_RUN_SENSOR_MISSING"
    SLA_WARNING = "SLA_WARNING"
    SLA_MET = "SLA_MET"
    PIPELINE_RETIRED = "PIPELINE_RETIRED"
    PIPELINE_RESTORED = "PIPELINE_RESTORED"
    PIPELINE_REMOVED = "PIPELINE_REMOVED"
    RERUN_ACCEPTED = "RERUN_ACCEPTED"
    RERUN_REJECTED = "RERUN_REJECTED"
    LATE_DATA_ARRIVAL = "LATE_DATA_ARRIVAL"
    POST_RUN_DRIFT = "POST_RUN_DRIFT"
    EVALUATION_WINDOW_EXPIRED = "EVALUATION_WINDOW_EXPIRED"
    JOB_POLL_EXHAUSTED = "JOB_POLL_EXHAUSTED"


class RerunSource(StrEnum):
    """Why a cycle runs again, which decides the budget it is counted under (``retry.*``)."""

    MANUAL = "manual"        # a person: API, CLI, dashboard, an AWS replay (maxManualReruns)
    DRIFT = "drift"          # post-run monitoring saw readiness or a number drift (maxDriftReruns)
    LATE_DATA = "late-data"  # a trait value changed after the run completed (maxDriftReruns)
    CASCADE = "cascade"      # an upstream the cycle consumed ran again (maxDriftReruns)
    CODE = "code"            # the job itself failed: an automatic retry (maxCodeRetries)


class PipelineOrigin(StrEnum):
    """Who wrote a pipeline: the operator, in a pipeline file, or an API client. An API pipeline
    may name no arbitrary executable and read no server environment variable outside
    ``api.allowedEnv``."""

    FILE = "file"
    API = "api"
