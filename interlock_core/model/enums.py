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
    def is_active(self) -> bool:
        """Still doing its job: claimed, launching or running (:data:`ACTIVE_STATUSES`)."""
        return self in ACTIVE_STATUSES

    @property
    def is_done(self) -> bool:
        """Its job completed (:data:`DONE_STATUSES`); post-run monitoring may still watch it."""
        return self in DONE_STATUSES

    @property
    def is_terminal(self) -> bool:
        """The run (or attempt) has ended and moves no further (:data:`TERMINAL_STATUSES`)."""
        return self in TERMINAL_STATUSES

    @property
    def is_settled(self) -> bool:
        """Nothing changes this record again unless someone asks (:data:`SETTLED_STATUSES`)."""
        return self in SETTLED_STATUSES


ACTIVE_STATUSES = frozenset({RunStatus.PENDING, RunStatus.TRIGGERING, RunStatus.RUNNING})
"""A run in one of these is still doing its job (COMPLETED_MONITORING is done; only watched)."""
DONE_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.COMPLETED_MONITORING})
"""The job completed: the cycle is done (COMPLETED_MONITORING: post-run monitoring still watches it,
and drift may still fail it)."""
TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED})
"""The run (or the attempt a run log or rerun record names) has ended: no transition leaves these
(:mod:`interlock_core.fsm`). Terminal is about one run; whether its cycle may still change is
:data:`SETTLED_STATUSES`."""
SETTLED_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED})
"""A run log or rerun record in one of these is not changed again unless someone asks (a rerun).
FAILED is terminal but not settled: a FAILED attempt may be retried by the retry policy (the run
log takes the next attempt, :func:`interlock_core.retry.decide_retry`) and a FAILED rerun record is
claimed again. SKIPPED is terminal but not settled either: nothing ran, and the cycle waits for a
rerun. The archiver reads history until it reaches a settled record."""


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
