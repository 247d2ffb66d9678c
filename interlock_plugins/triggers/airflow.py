"""The ``airflow`` trigger: create a DAG run through Airflow's stable REST API and poll it.

Idempotent: the DAG run id is derived from the run key (which carries the store identity), so
relaunching after a crash between "launched" and "recorded" finds Airflow's 409 (duplicate
``dag_run_id``) instead of starting a second DAG run. The DAG run's ``conf`` carries the run id
(``interlock_run_id``), and a DAG run found under the id is adopted (in its current state, then
polled) only when its conf carries this run's id; any other is a key taken by a DAG run Interlock
did not start for this run: PERMANENT, never adopted.
When tracing is on, the conf also carries the launch's W3C trace context (``traceparent``,
``tracestate``), for a DAG that continues the trace.

API v2 (Airflow 3, the default) authenticates with a JWT from ``POST <url>/auth/token`` when
``username``/``password`` are given (kept until it expires or is answered with 401 or 403 — Airflow
answers 403 "Invalid JWT token" for a token it no longer accepts, e.g. after a restart with a new
secret — whereupon one fresh token is fetched and the call repeated once), requires ``logical_date``
(sent as null). API v1 (Airflow 2) uses basic auth for ``username``/``password``.
Configured ``headers`` (e.g. ``Authorization: Bearer ${AIRFLOW_TOKEN}``) are always sent; such a
static token cannot be renewed, so its rejection fails with a message saying so.

A failed DAG run's message names the failed task(s), from the DAG run's task instances.

For a dry-run pipeline it looks up the DAG runs Airflow's own scheduler made of a cycle
(:meth:`AirflowTrigger.find_runs`): those whose logical date falls on the cycle's day in the
schedule's time zone (``logical_date_gte``/``_lte``; ``execution_date_*`` on API v1), Interlock's
own (``interlock__`` ids) left out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from interlock_core.errors import TriggerError
from interlock_core.launch_keys import OWNER_FIELD, key_taken, ownership_unknown
from interlock_core.model import FailureCategory, SchedulerRun, format_timestamp
from interlock_core.plugins import PluginContext
from interlock_core.ports import CycleWindow, LaunchRequest, LaunchResult, PollResult

from ._airflow_auth import TokenCache
from ._common import (
    DEFAULT_HTTP_TIMEOUT,
    HTTPTriggerBase,
    Seconds,
    TriggerConfig,
    excerpt,
    expanded_config,
    json_body,
    launch_config,
    raise_for_status,
    redact_url,
    send,
)

DAG_RUN_ID_PREFIX = "interlock__"
MAX_DAG_RUN_ID = 250
LOOKUP_LIMIT = 100
"""DAG runs asked for per cycle (a day's runs of one DAG; more would be a DAG scheduled by the minute)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]")


class AirflowConfig(TriggerConfig):
    url: str = Field(min_length=1)
    dag_id: str = Field(alias="dagID", min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | None = None
    conf: dict[str, Any] | None = None
    api_version: Literal["v1", "v2"] = Field(default="v2", alias="apiVersion")
    username: str | None = None
    password: str | None = None
    timeout: Seconds = DEFAULT_HTTP_TIMEOUT

    @model_validator(mode="after")
    def _check(self) -> AirflowConfig:
        if self.body is not None and self.conf is not None:
            raise ValueError("give the DAG run conf as 'conf' or as 'body', not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("'username' and 'password' go together")
        return self

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def dag_runs_url(self, version: str) -> str:
        return f"{self.base_url}/api/{version}/dags/{quote(self.dag_id, safe='')}/dagRuns"

    def run_conf(self) -> dict[str, Any]:
        """The DAG run ``conf``: ``conf``, or ``body`` (a mapping or a JSON object in a string)."""
        if self.conf is not None:
            return self.conf
        if isinstance(self.body, dict):
            return self.body
        if self.body is None or not self.body.strip():
            return {}
        try:
            parsed = json.loads(self.body)
        except ValueError as exc:
            raise TriggerError(f"airflow trigger: invalid body JSON: {exc}",
                               category=FailureCategory.PERMANENT) from None
        if not isinstance(parsed, dict):
            raise TriggerError("airflow trigger: body must be a JSON object (the DAG run conf)",
                               category=FailureCategory.PERMANENT)
        return parsed


def dag_run_id(run_key: str) -> str:
    """The deterministic DAG run id of a run key, in the characters Airflow accepts."""
    safe = DAG_RUN_ID_PREFIX + _UNSAFE.sub("_", run_key)
    if len(safe) <= MAX_DAG_RUN_ID and safe == DAG_RUN_ID_PREFIX + run_key:
        return safe
    digest = hashlib.sha256(run_key.encode()).hexdigest()[:16]
    return f"{safe[: MAX_DAG_RUN_ID - len(digest) - 2]}__{digest}"


class AirflowTrigger(HTTPTriggerBase):
    name: ClassVar[str] = "airflow"
    config_model: ClassVar[type[AirflowConfig]] = AirflowConfig
    pollable: ClassVar[bool] = True
    api_registrable: ClassVar[bool] = True

    def __init__(self, context: PluginContext | None = None) -> None:
        super().__init__(context)
        self._tokens = TokenCache(self._context.clock)

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = launch_config(AirflowConfig, config, request)
        run_id = dag_run_id(request.run_key)
        conf = {**cfg.run_conf(), **request.trace_context, OWNER_FIELD: request.run_id}
        payload: dict[str, Any] = {"dag_run_id": run_id, "conf": conf}
        if cfg.api_version == "v2":
            payload["logical_date"] = None
        response = await self._request(cfg, "POST", cfg.dag_runs_url(cfg.api_version), "airflow trigger",
                                       json=payload)
        metadata = {
            "airflow_dag_run_id": run_id,
            "airflow_dag_id": cfg.dag_id,
            "airflow_url": redact_url(cfg.base_url),
            "airflow_api_version": cfg.api_version,
        }
        if response.status_code == 409:
            return await self._adopt(cfg, {**metadata, "airflow_relaunch": True}, request)
        raise_for_status(response, "airflow trigger")
        data = json_body(response, "airflow trigger")
        returned = data.get("dag_run_id")
        if isinstance(returned, str) and returned:
            metadata["airflow_dag_run_id"] = returned
        return LaunchResult(state="running", metadata=metadata, message=str(data.get("state") or "queued"))

    async def _adopt(self, cfg: AirflowConfig, metadata: dict[str, Any], request: LaunchRequest) -> LaunchResult:
        """Airflow already has a DAG run under this run key's id (409). It is carried on with, in the
        state it is in now, only when its ``conf`` carries this run's id (a relaunch after a crash
        between launch and record); otherwise :func:`key_taken`. When it cannot be read right now,
        :func:`ownership_unknown` (an error Airflow will not get over, such as a rejected token, is
        raised as it is)."""
        run_id = metadata["airflow_dag_run_id"]
        job = f"DAG run {run_id} of DAG {cfg.dag_id}"
        url = f"{cfg.dag_runs_url(cfg.api_version)}/{quote(run_id, safe='')}"
        try:
            response = await self._request(cfg, "GET", url, "airflow trigger")
            raise_for_status(response, "airflow trigger")
            data = json_body(response, "airflow trigger")
        except TriggerError as exc:
            if exc.category is FailureCategory.PERMANENT:
                raise
            raise ownership_unknown("airflow trigger", run_id, job, exc) from None
        conf = data.get("conf")
        owner = conf.get(OWNER_FIELD) if isinstance(conf, dict) else None
        if owner != request.run_id:
            raise key_taken("airflow trigger", run_id, request.run_id, job, owner)
        adopted = f"DAG run {run_id} already exists and carries this run's id; adopted"
        try:
            state = await self._result(cfg, url, cfg.api_version, data, "airflow trigger")
        except TriggerError as exc:  # ours, in a state not told: the watcher's polls will find it
            return LaunchResult(state="running", metadata=metadata, message=f"{adopted} ({exc.message})")
        return LaunchResult(state=state.state, metadata=metadata, message=f"{adopted}: {state.message}",
                            failure_category=state.failure_category)

    async def poll(self, config: Any, metadata: Mapping[str, Any]) -> PollResult:
        run_id, dag_id = metadata.get("airflow_dag_run_id"), metadata.get("airflow_dag_id")
        if not run_id or not dag_id:
            return PollResult(state="running", message="missing airflow metadata")
        cfg = expanded_config(AirflowConfig, config, {}, keep=("body", "conf"))
        version = str(metadata.get("airflow_api_version") or cfg.api_version)
        if dag_id != cfg.dag_id:
            cfg = cfg.model_copy(update={"dag_id": str(dag_id)})
        url = f"{cfg.dag_runs_url(version)}/{quote(str(run_id), safe='')}"
        response = await self._request(cfg, "GET", url, "airflow status", version=version)
        raise_for_status(response, "airflow status")
        return await self._result(cfg, url, version, json_body(response, "airflow status"), "airflow status")

    async def find_runs(self, config: Any, cycle: CycleWindow) -> list[SchedulerRun]:
        """The DAG runs whose logical date falls within the cycle's day, oldest first, Interlock's own
        left out. A DAG run without a logical date (Airflow 3 manual runs) counts by ``run_after``."""
        cfg = expanded_config(AirflowConfig, config, {}, keep=("body", "conf"), environment=cycle.environment)
        field = "logical_date" if cfg.api_version == "v2" else "execution_date"
        params = {f"{field}_gte": format_timestamp(cycle.start),
                  f"{field}_lte": format_timestamp(cycle.end - timedelta(microseconds=1)), "limit": LOOKUP_LIMIT}
        response = await self._request(cfg, "GET", cfg.dag_runs_url(cfg.api_version), "airflow lookup", params=params)
        raise_for_status(response, "airflow lookup")
        listed = json_body(response, "airflow lookup").get("dag_runs")
        found = []
        for item in listed if isinstance(listed, list) else []:
            run = _scheduler_run(item)
            if run is None or run.run_id.startswith(DAG_RUN_ID_PREFIX):
                continue
            when = _instant(item.get(field)) or _instant(item.get("run_after"))
            if when is not None and cycle.start <= when < cycle.end:
                found.append((when, run))
        return [run for _, run in sorted(found, key=lambda pair: (pair[1].started_at or pair[0], pair[0]))]

    async def _result(self, cfg: AirflowConfig, url: str, version: str, dag_run: Mapping[str, Any],
                      what: str) -> PollResult:
        """Where a DAG run (as Airflow answered it) stands."""
        state = dag_run.get("state")
        if not isinstance(state, str) or not state:
            raise TriggerError(f"{what}: response missing state field", category=FailureCategory.TRANSIENT)
        if state == "success":
            return PollResult(state="succeeded", message=state)
        if state == "failed":
            message = await self._failed_tasks_message(cfg, url, version)
            return PollResult(state="failed", message=message, failure_category=FailureCategory.TRANSIENT)
        return PollResult(state="running", message=state)

    async def _failed_tasks_message(self, cfg: AirflowConfig, run_url: str, version: str) -> str:
        """``failed``, naming the DAG run's failed task instances when Airflow tells them (best effort:
        the run failed either way)."""
        try:
            response = await self._request(cfg, "GET", f"{run_url}/taskInstances", "airflow task instances",
                                           version=version)
            if not response.is_success:
                return "failed"
            instances = json_body(response, "airflow task instances").get("task_instances")
        except TriggerError:
            return "failed"
        failed = sorted({str(ti["task_id"]) for ti in instances if isinstance(ti, dict)
                         and ti.get("state") == "failed" and ti.get("task_id")}) if isinstance(instances, list) else []
        if not failed:
            return "failed"
        return f"failed: task{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed"

    async def _request(self, cfg: AirflowConfig, method: str, url: str, what: str, *,
                       version: str | None = None, **kwargs: Any) -> httpx.Response:
        """One API call with the configured headers and credentials. A 401 or 403 on a cached JWT
        fetches a fresh one and repeats the call once; a rejected static ``Authorization`` header is
        a PERMANENT failure that says the token was rejected."""
        version = version or cfg.api_version
        client = self._http()
        for attempt in (1, 2):
            headers = {"Content-Type": "application/json", **cfg.headers}
            auth: httpx.BasicAuth | None = None
            cached = False
            if cfg.username is not None and cfg.password is not None and not _has_auth(headers):
                if version == "v1":
                    auth = httpx.BasicAuth(cfg.username, cfg.password)
                else:
                    token, cached = await self._tokens.get(client, cfg.base_url, cfg.username, cfg.password,
                                                           cfg.timeout)
                    headers["Authorization"] = f"Bearer {token}"
            response = await send(client, method, url, what=what, headers=headers, auth=auth,
                                  timeout=cfg.timeout, **kwargs)
            if response.status_code in (401, 403) and cached and attempt == 1:
                self._tokens.forget(cfg.base_url, cfg.username or "")
                continue
            if response.status_code in (401, 403) and _has_auth(cfg.headers):
                raise TriggerError(
                    f"{what}: Airflow rejected the configured Authorization header (HTTP {response.status_code}: "
                    f"{excerpt(response.text, 200)}); a static token expires and cannot be renewed - configure "
                    "'username' and 'password' instead so Interlock fetches and renews tokens itself",
                    category=FailureCategory.PERMANENT, status=response.status_code)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _scheduler_run(item: Any) -> SchedulerRun | None:
    """A DAG run as the API lists it, as a run of the scheduler (None when it is not readable)."""
    if not isinstance(item, Mapping) or not isinstance(item.get("dag_run_id"), str) or not item["dag_run_id"]:
        return None
    state = str(item.get("state") or "queued")
    conf = item.get("conf")
    if isinstance(conf, Mapping) and OWNER_FIELD in conf:
        return None  # a DAG run Interlock launched (a pipeline that ran for real before)
    word = "succeeded" if state == "success" else "failed" if state == "failed" else "running"
    return SchedulerRun(
        run_id=item["dag_run_id"][:MAX_DAG_RUN_ID], state=word, started_at=_instant(item.get("start_date")),
        finished_at=_instant(item.get("end_date")) if word != "running" else None,
        message=f"DAG run {state} ({item.get('run_type') or 'unknown'} run)",
        failure_category=FailureCategory.TRANSIENT if word == "failed" else None)


def _has_auth(headers: Mapping[str, str]) -> bool:
    return any(k.lower() == "authorization" for k in headers)
