"""The one exception tree of Interlock.

Readiness outcomes (NOT_READY and its blocking traits) are values, not exceptions. Exceptions
are for things that went wrong; each carries the HTTP status the API answers with, so the server
maps all of them in one handler::

    InterlockError
    ├── ConfigError                 400  bad project/pipeline/archetype file (file, line, key)
    ├── ValidationError             400  a bad request body or argument (names the field)
    ├── PluginError                 500  a plugin failed to load or registered twice
    ├── NotFoundError               404  unknown pipeline, run, rerun, archetype …
    │   └── StoreMissing            404  a command that only reads found no store to read
    ├── ConflictError               409  another caller holds the cycle / state changed underneath
    │   ├── VersionConflict         409  compare-and-swap lost
    │   ├── InvalidTransition       409  the run lifecycle does not allow this move
    │   ├── PipelineRetired         409  the pipeline's file was deleted: it no longer acts
    │   └── PipelineInUse           409  a pipeline cannot be removed (defined in a file, or a run is active)
    ├── DuplicateRunError           409  the cycle already completed (dedup)
    ├── NotReadyError               412  raised only where a caller asked for "ready or fail"
    ├── StoreUnavailable            503  the store cannot be reached right now
    └── TriggerError                502  launching or polling the job failed (``retryable`` flag)
        └── LaunchOutcomeUnknown    502  a job holds the run key, but whose it is could not be checked
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .model.enums import FailureCategory
from .model.records import format_timestamp


@dataclass(frozen=True)
class NextStep:
    """What the caller can do about an error: an ``action`` on a record (``cancel-run`` on a run id).
    The core names it; each front end says it in its caller's terms (the API a route, the CLI a
    command), so no message tells a command-line user to POST."""

    action: str
    target: str
    label: str
    """How the message introduces it: ``cancel its run instead``."""


class InterlockError(Exception):
    status_code = 500
    next_step: NextStep | None = None

    def __init__(self, message: str, *, next_step: NextStep | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.next_step = next_step
        self.details = {k: v for k, v in details.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, **self.details}

    def described(self, say: Callable[[NextStep], str | None]) -> str:
        """The message with its next step in the caller's terms (``say`` gives them, or None)."""
        step = self.next_step
        how = say(step) if step is not None else None
        return f"{self.message}; {step.label}: {how}" if step is not None and how else self.message


class ConfigError(InterlockError):
    """A configuration problem, located as precisely as we can: file, line and key."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file, self.line, self.key = file, line, key
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message, file=file, line=line, key=key)
        self.reason = message


class ConfigErrors(ConfigError):
    """Several configuration problems found in one load; the message lists every one."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        InterlockError.__init__(self, "\n".join(e.message for e in errors), count=len(errors))
        self.file, self.line, self.key, self.reason = first.file, first.line, first.key, first.reason


class ValidationError(InterlockError):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


class PluginError(InterlockError):
    status_code = 500


class NotFoundError(InterlockError):
    status_code = 404


class StoreMissing(NotFoundError):
    """A command that only reads state found no store at all (it never creates one)."""


class ConflictError(InterlockError):
    status_code = 409


class VersionConflict(ConflictError):
    pass


class InvalidTransition(ConflictError):
    pass


class DuplicateRunError(ConflictError):
    pass


RESTORE_HINT = "restore its YAML file in the project's pipeline directory to bring it back"


class PipelineRetired(ConflictError):
    """Something was asked of a pipeline whose file was deleted: it is never evaluated, triggered
    or alerted again until the file is restored (its history stays readable)."""

    def __init__(self, pipeline_id: str, retired_at: datetime | None) -> None:
        when = f" on {retired_at.strftime('%Y-%m-%d %H:%M:%S UTC')}" if retired_at else ""
        super().__init__(f"pipeline {pipeline_id!r} is retired: its pipeline file was deleted{when}, so it is no "
                         f"longer evaluated or triggered; {RESTORE_HINT}", pipelineId=pipeline_id, retired=True,
                         retiredAt=format_timestamp(retired_at) if retired_at else None)
        self.pipeline_id = pipeline_id


class PipelineInUse(ConflictError):
    """A pipeline that cannot be removed: it is defined in a pipeline file, or a run of it is active."""


class NotReadyError(InterlockError):
    status_code = 412


class StoreUnavailable(InterlockError):
    status_code = 503


class TriggerError(InterlockError):
    """Launching or polling a job failed. ``category`` decides whether the retry policy retries."""

    status_code = 502

    def __init__(
        self,
        message: str,
        *,
        category: FailureCategory = FailureCategory.TRANSIENT,
        status: int | None = None,
    ) -> None:
        super().__init__(message, category=category.value, upstreamStatus=status)
        self.category = category
        self.upstream_status = status

    @property
    def retryable(self) -> bool:
        return self.category in (FailureCategory.TRANSIENT, FailureCategory.TIMEOUT)


class LaunchOutcomeUnknown(TriggerError):
    """The orchestrator holds a job under the run key, but reading it to check that this run
    started it failed: whether the launch happened is unknown, as after a crash between launching
    and recording. The run is left TRIGGERING and is relaunched under the same key (and checked
    again) once its lease lapses; it is neither failed (a retry would launch a second job under a
    new key) nor adopted unproven."""

    def __init__(self, message: str) -> None:
        super().__init__(message, category=FailureCategory.TRANSIENT)


def category_for_http_status(status: int) -> FailureCategory:
    """5xx (and 429/408) are transient; other 4xx are permanent."""
    if status in (408, 429) or status >= 500:
        return FailureCategory.TRANSIENT
    return FailureCategory.PERMANENT
