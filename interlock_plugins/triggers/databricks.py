"""The ``databricks`` trigger: run an existing job through the Jobs API 2.1 and poll the run.

The job is named by ``jobID`` or by ``jobName`` (resolved with ``jobs/list?name=``). ``run-now``
carries the run key as ``idempotency_token`` (hashed when longer than Databricks' 64 characters),
so relaunching after a crash returns the run that already exists instead of starting another.
``run-now`` answers the same way for a new run and for one a token already named, so every launch
reads the run back (``runs/get``) and keeps it only when it carries this run's id: the launch passes
``interlock_run_id`` with the job's parameters (``job_parameters`` when ``parameters`` is given,
even as ``{}``, else ``notebook_params``; a job with job-level parameters should define an
``interlock_run_id`` parameter). A run without it is a token taken by a run Interlock did not start for
this run: PERMANENT, never adopted.
When tracing is on, the launch's W3C trace context (``traceparent``, ``tracestate``) goes with the
notebook parameters; with job parameters, only into those the job defines (``parameters:
{traceparent: ""}`` asks for it), since Databricks refuses a job parameter the job does not define.
Errors are classified from Databricks' structured ``error_code`` where it has one, else from the
HTTP status.

For a dry-run pipeline it looks up the job's runs the Databricks scheduler made for a cycle
(:meth:`DatabricksTrigger.find_runs`): ``runs/list`` of the job whose start time falls on the
cycle's day in the schedule's time zone, runs carrying an ``interlock_run_id`` left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import AliasChoices, Field, field_validator, model_validator

from interlock_core.errors import TriggerError, category_for_http_status
from interlock_core.launch_keys import OWNER_FIELD, key_taken, ownership_unknown
from interlock_core.model import FailureCategory, SchedulerRun
from interlock_core.ports import CycleWindow, LaunchRequest, LaunchResult, PollResult

from ._common import (
    DEFAULT_HTTP_TIMEOUT,
    HTTPTriggerBase,
    Seconds,
    TriggerConfig,
    excerpt,
    expanded_config,
    json_body,
    launch_config,
    redact_url,
    send,
)

MAX_IDEMPOTENCY_TOKEN = 64

_TRANSIENT_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED",
                              "INTERNAL_ERROR", "INTERNAL_SERVER_ERROR", "UNAVAILABLE", "ABORTED"})
_PERMANENT_CODES = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED",
                              "UNAUTHENTICATED", "INVALID_STATE", "FEATURE_DISABLED", "BAD_REQUEST",
                              "NOT_FOUND", "MALFORMED_REQUEST", "INVALID_REQUEST"})
_NOT_POLLED = ("jobID", "jobName", "parameters", "notebookParams", "arguments")
"""Keys a status poll does not use, so it leaves them unexpanded (they may name run variables)."""
_RESULT_CATEGORIES = {"TIMEDOUT": FailureCategory.TIMEOUT, "CANCELED": FailureCategory.PERMANENT,
                      "DISABLED": FailureCategory.PERMANENT}
LOOKUP_PAGE = 25
"""Runs per ``runs/list`` page (the most Jobs API 2.1 gives)."""
LOOKUP_PAGES = 4
"""Pages read per cycle at most (a job run more than 100 times a day is not a daily job)."""


class DatabricksConfig(TriggerConfig):
    workspace_url: str = Field(min_length=1, serialization_alias="workspaceURL",
                               validation_alias=AliasChoices("workspaceURL", "workspaceUrl", "workspace_url"))
    job_id: int | str | None = Field(default=None, serialization_alias="jobID",
                                     validation_alias=AliasChoices("jobID", "jobId", "job_id"))
    job_name: str | None = Field(default=None, alias="jobName")
    headers: dict[str, str] = Field(default_factory=dict)
    token: str | None = None
    parameters: dict[str, str] | None = None
    notebook_params: dict[str, str] | None = Field(default=None, alias="notebookParams")
    arguments: dict[str, str] | None = None
    """Accepted as a synonym of ``notebookParams``."""
    timeout: Seconds = DEFAULT_HTTP_TIMEOUT

    @field_validator("job_id")
    @classmethod
    def _job_id(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and "${" not in value and not value.strip().isdigit():
            raise ValueError("jobID must be a number")
        return value

    @model_validator(mode="after")
    def _check(self) -> DatabricksConfig:
        if (self.job_id is None) == (self.job_name is None):
            raise ValueError("give exactly one of 'jobID' or 'jobName'")
        if self.parameters is not None and (self.notebook_params or self.arguments):
            raise ValueError("'parameters' (job parameters) cannot be combined with 'notebookParams'")
        return self

    @property
    def base_url(self) -> str:
        return self.workspace_url.rstrip("/")

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def idempotency_token(run_key: str) -> str:
    """The run key, or its SHA-256 when it is longer than Databricks accepts."""
    if len(run_key) <= MAX_IDEMPOTENCY_TOKEN:
        return run_key
    return hashlib.sha256(run_key.encode()).hexdigest()[:MAX_IDEMPOTENCY_TOKEN]


def run_owner(run: Mapping[str, Any]) -> object:
    """The ``interlock_run_id`` a run (``runs/get``) was started with: among the parameters it was
    given (``overriding_parameters``: job or notebook parameters) or its resolved job parameters."""
    given = run.get("overriding_parameters")
    if isinstance(given, Mapping):
        for family in ("job_parameters", "notebook_params"):
            values = given.get(family)
            if isinstance(values, Mapping) and OWNER_FIELD in values:
                return values[OWNER_FIELD]
    resolved = run.get("job_parameters")
    if isinstance(resolved, list):
        for parameter in resolved:
            if isinstance(parameter, Mapping) and parameter.get("name") == OWNER_FIELD:
                return parameter.get("value")
    return None


def failure_for(response: httpx.Response, what: str) -> TriggerError:
    """A TriggerError for a non-2xx answer, classified by ``error_code`` when Databricks gives one."""
    status = response.status_code
    code, detail = "", excerpt(response.text)
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = str(data.get("error_code") or "")
        detail = str(data.get("message") or detail)
    if code in _TRANSIENT_CODES:
        category = FailureCategory.TRANSIENT
    elif code in _PERMANENT_CODES:
        category = FailureCategory.PERMANENT
    else:
        category = category_for_http_status(status)
    label = f"{code} " if code else ""
    return TriggerError(f"{what}: returned status {status}: {label}{excerpt(detail)}".rstrip(": "),
                        category=category, status=status)


class DatabricksTrigger(HTTPTriggerBase):
    name: ClassVar[str] = "databricks"
    config_model: ClassVar[type[DatabricksConfig]] = DatabricksConfig
    pollable: ClassVar[bool] = True
    api_registrable: ClassVar[bool] = True

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = launch_config(DatabricksConfig, config, request)
        job_id = await self._job_id(cfg)
        token = idempotency_token(request.run_key)
        payload: dict[str, Any] = {"job_id": job_id, "idempotency_token": token}
        owner = {OWNER_FIELD: request.run_id}
        trace = dict(request.trace_context)
        if cfg.parameters is not None:  # `parameters: {}` chooses job parameters for a job that has them
            # job parameters must be defined by the job: the trace context fills only those it defines
            defined = {name: value for name, value in trace.items() if name in cfg.parameters}
            payload["job_parameters"] = {**cfg.parameters, **defined, **owner}
        else:
            payload["notebook_params"] = {**(cfg.arguments or {}), **(cfg.notebook_params or {}), **trace, **owner}
        data = await self._call(cfg, "POST", "/api/2.1/jobs/run-now", "databricks trigger", json=payload)
        run_id = data.get("run_id")
        if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id <= 0:
            raise TriggerError("databricks trigger: response missing run_id",
                               category=FailureCategory.TRANSIENT)
        await self._prove_ours(cfg, run_id, job_id, token, request)
        metadata = {
            "databricks_workspace_url": redact_url(cfg.base_url),
            "databricks_run_id": str(run_id),
            "databricks_job_id": str(job_id),
        }
        return LaunchResult(state="running", metadata=metadata, message=f"run {run_id} of job {job_id}")

    async def _prove_ours(self, cfg: DatabricksConfig, run_id: int, job_id: int, token: str,
                          request: LaunchRequest) -> None:
        """Return when run ``run_id`` (what ``run-now`` answered for ``token``) carries this run's id
        in its parameters; raise :func:`key_taken` when it does not, :func:`ownership_unknown` when
        it cannot be read right now."""
        job = f"run {run_id} of job {job_id}"
        try:
            data = await self._call(cfg, "GET", "/api/2.1/jobs/runs/get", "databricks trigger",
                                    params={"run_id": str(run_id)})
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("databricks trigger", token, job, exc) from None
        owner = run_owner(data)
        if owner != request.run_id:
            raise key_taken("databricks trigger", token, request.run_id, job, owner)

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        run_id = metadata.get("databricks_run_id")
        if not run_id:
            return PollResult(state="running", message="missing databricks metadata")
        cfg = expanded_config(DatabricksConfig, config, {}, keep=_NOT_POLLED)
        data = await self._call(cfg, "GET", "/api/2.1/jobs/runs/get", "databricks status",
                                params={"run_id": str(run_id)})
        state = data.get("state")
        life = state.get("life_cycle_state") if isinstance(state, dict) else None
        if not isinstance(life, str) or not life:
            raise TriggerError("databricks status: response missing state.life_cycle_state",
                               category=FailureCategory.TRANSIENT)
        result = state.get("result_state") if isinstance(state, dict) else None
        message = f"{life}/{result}" if result else life
        if life == "TERMINATED" and result == "SUCCESS":
            return PollResult(state="succeeded", message=message)
        if life == "TERMINATED":
            category = _RESULT_CATEGORIES.get(str(result), FailureCategory.TRANSIENT)
            return PollResult(state="failed", message=message, failure_category=category)
        if life in ("INTERNAL_ERROR", "SKIPPED"):
            return PollResult(state="failed", message=message, failure_category=FailureCategory.TRANSIENT)
        return PollResult(state="running", message=message)


    async def find_runs(self, config: Any, cycle: CycleWindow) -> list[SchedulerRun]:
        """The job's runs that started within the cycle's day, oldest first, Interlock's own left out."""
        cfg = expanded_config(DatabricksConfig, config, {}, keep=("parameters", "notebookParams", "arguments"),
                              environment=cycle.environment)
        job_id = await self._job_id(cfg)
        params = {"job_id": str(job_id), "start_time_from": str(_ms(cycle.start)),
                  "start_time_to": str(_ms(cycle.end) - 1), "limit": str(LOOKUP_PAGE), "expand_tasks": "false"}
        found: list[SchedulerRun] = []
        for _ in range(LOOKUP_PAGES):
            data = await self._call(cfg, "GET", "/api/2.1/jobs/runs/list", "databricks lookup", params=params)
            for item in data.get("runs") or []:
                run = _scheduler_run(item) if isinstance(item, Mapping) and run_owner(item) is None else None
                if run is not None and run.started_at is not None and cycle.start <= run.started_at < cycle.end:
                    found.append(run)
            token = data.get("next_page_token")
            if not data.get("has_more") or not isinstance(token, str) or not token:
                break
            params = {**params, "page_token": token}
        return sorted(found, key=lambda r: (r.started_at or cycle.start, r.run_id))

    async def _job_id(self, cfg: DatabricksConfig) -> int:
        if cfg.job_id is not None:
            text = str(cfg.job_id).strip()
            if not text.isdigit():
                raise TriggerError(f"databricks trigger: jobID {text!r} is not a number",
                                   category=FailureCategory.PERMANENT)
            return int(text)
        name = cfg.job_name or ""
        data = await self._call(cfg, "GET", "/api/2.1/jobs/list", "databricks job lookup",
                                params={"name": name})
        jobs = [job for job in data.get("jobs") or [] if isinstance(job, dict)]
        exact = [job for job in jobs if (job.get("settings") or {}).get("name") == name]
        matches = exact or jobs
        if not matches:
            raise TriggerError(f"databricks trigger: no job named {name!r}",
                               category=FailureCategory.PERMANENT)
        if len(matches) > 1:
            raise TriggerError(f"databricks trigger: {len(matches)} jobs are named {name!r}; use jobID",
                               category=FailureCategory.PERMANENT)
        job_id = matches[0].get("job_id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            raise TriggerError("databricks job lookup: job without job_id",
                               category=FailureCategory.TRANSIENT)
        return job_id

    async def _call(self, cfg: DatabricksConfig, method: str, path: str, what: str,
                    **kwargs: Any) -> dict[str, Any]:
        response = await send(self._http(), method, cfg.base_url + path, what=what,
                              headers=cfg.request_headers(), timeout=cfg.timeout, **kwargs)
        if not response.is_success:
            raise failure_for(response, what)
        return json_body(response, what)


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _instant(ms: Any) -> datetime | None:
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _scheduler_run(item: Mapping[str, Any]) -> SchedulerRun | None:
    """A run as ``runs/list`` gives it, as a run of the scheduler (None when it is not readable)."""
    run_id = item.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        return None
    raw_state = item.get("state")
    state: Mapping[str, Any] = raw_state if isinstance(raw_state, Mapping) else {}
    life, result = str(state.get("life_cycle_state") or ""), state.get("result_state")
    if life == "TERMINATED" and result == "SUCCESS":
        word, category = "succeeded", None
    elif life == "TERMINATED":
        word, category = "failed", _RESULT_CATEGORIES.get(str(result), FailureCategory.TRANSIENT)
    elif life in ("INTERNAL_ERROR", "SKIPPED"):
        word, category = "failed", FailureCategory.TRANSIENT
    else:
        word, category = "running", None
    trigger = item.get("trigger") or "unknown"
    return SchedulerRun(run_id=str(run_id), state=word, started_at=_instant(item.get("start_time")),
                        finished_at=_instant(item.get("end_time")) if word != "running" else None,
                        message=f"{life}/{result} ({trigger} run)" if result else f"{life} ({trigger} run)",
                        failure_category=category)
