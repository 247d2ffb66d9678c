"""A small fake of the Databricks Jobs API 2.1, strict where the real one is strict.

* Every call needs ``Authorization: Bearer <token>``; a wrong token is 403 ``PERMISSION_DENIED``.
* ``GET /api/2.1/jobs/list?name=`` filters by exact (case-insensitive) name; ``jobs`` is absent
  when nothing matches.
* ``POST /api/2.1/jobs/run-now``: ``job_id`` (int) required; ``idempotency_token`` at most 64
  characters, and a token seen before returns the run it started instead of a new one;
  ``job_parameters`` cannot be combined with task parameters (``notebook_params`` …); unknown
  fields are rejected. Errors are ``{"error_code", "message"}`` bodies.
* ``GET /api/2.1/jobs/runs/get?run_id=``: the run with its ``state`` (``life_cycle_state``,
  ``result_state``, ``state_message``); runs start ``PENDING``; tests move them with
  :meth:`FakeDatabricks.set_state`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

RUN_NOW_FIELDS = {"job_id", "idempotency_token", "job_parameters", "notebook_params", "python_params",
                  "jar_params", "spark_submit_params", "python_named_params", "sql_params", "dbt_commands",
                  "pipeline_params", "queue", "performance_target", "only"}
TASK_PARAMETER_FIELDS = RUN_NOW_FIELDS - {"job_id", "idempotency_token", "job_parameters", "queue",
                                          "performance_target", "only"}


@dataclass
class Fault:
    path_contains: str
    status: int | None  # None: hang until the server stops
    body: Any
    times: int


@dataclass
class FakeDatabricks:
    token: str = "dapi-test-token"
    jobs: dict[int, str] = field(default_factory=lambda: {101: "nightly-sales", 102: "hourly-clicks"})
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    next_run_id: int = 5001

    def set_state(self, run_id: int | str, life_cycle_state: str, result_state: str | None = None) -> None:
        state: dict[str, Any] = {"life_cycle_state": life_cycle_state, "state_message": ""}
        if result_state is not None:
            state["result_state"] = result_state
        self.runs[int(run_id)]["state"] = state

    def fail_next(self, status: int, error_code: str, message: str = "injected", *,
                  path_contains: str = "/run-now", times: int = 1) -> None:
        body = {"error_code": error_code, "message": message}
        self.faults.append(Fault(path_contains, status, body, times))

    def hang_next(self, *, path_contains: str = "/run-now") -> None:
        self.faults.append(Fault(path_contains, None, None, 1))

    def calls(self, method: str, path_contains: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and path_contains in r["path"]]

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/2.1/jobs/list", self._list, methods=["GET"]),
            Route("/api/2.1/jobs/run-now", self._run_now, methods=["POST"]),
            Route("/api/2.1/jobs/runs/get", self._get_run, methods=["GET"]),
            Route("/api/2.1/jobs/runs/list", self._list_runs, methods=["GET"]),
        ])

    def scheduled(self, job_id: int, start_ms: int, end_ms: int = 0, result_state: str | None = "SUCCESS") -> int:
        """A run the job's own schedule started (``trigger: PERIODIC``); its run id."""
        run_id = self.next_run_id
        self.next_run_id += 1
        state: dict[str, Any] = {"life_cycle_state": "TERMINATED" if end_ms else "RUNNING", "state_message": ""}
        if end_ms and result_state:
            state["result_state"] = result_state
        self.runs[run_id] = {"job_id": job_id, "run_id": run_id, "number_in_job": run_id, "trigger": "PERIODIC",
                             "run_name": self.jobs[job_id], "start_time": start_ms, "end_time": end_ms,
                             "state": state}
        return run_id

    async def _record(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append({"method": request.method, "path": request.url.path,
                              "query": dict(request.query_params), "headers": dict(request.headers),
                              "body": body})
        for fault in list(self.faults):
            if fault.path_contains in request.url.path:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.status is None:
                    await self.released.wait()
                    return body, _error(503, "TEMPORARILY_UNAVAILABLE", "released")
                return body, JSONResponse(fault.body, status_code=fault.status)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return body, _error(403, "PERMISSION_DENIED", "Invalid access token.")
        return body, None

    async def _list(self, request: Request) -> Response:
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        name = request.query_params.get("name")
        jobs = [{"job_id": job_id, "creator_user_name": "someone@example.com", "created_time": 1700000000000,
                 "settings": {"name": job_name, "max_concurrent_runs": 1}}
                for job_id, job_name in sorted(self.jobs.items())
                if name is None or job_name.lower() == name.lower()]
        answer: dict[str, Any] = {"has_more": False}
        if jobs:
            answer["jobs"] = jobs
        return JSONResponse(answer)

    async def _run_now(self, request: Request) -> Response:
        body, fault = await self._record(request)
        if fault is not None:
            return fault
        if not isinstance(body, dict):
            return _error(400, "MALFORMED_REQUEST", "Could not parse request object")
        unknown = sorted(set(body) - RUN_NOW_FIELDS)
        if unknown:
            return _error(400, "INVALID_PARAMETER_VALUE", f"Unknown field {unknown[0]}")
        job_id = body.get("job_id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            return _error(400, "INVALID_PARAMETER_VALUE", "Missing required field: job_id")
        token = body.get("idempotency_token")
        if token is not None and (not isinstance(token, str) or len(token) > 64):
            return _error(400, "INVALID_PARAMETER_VALUE",
                          "idempotency_token must be at most 64 characters")
        if body.get("job_parameters") and any(body.get(k) for k in TASK_PARAMETER_FIELDS):
            return _error(400, "INVALID_PARAMETER_VALUE",
                          "Job-level parameters cannot be used with task-level parameters")
        for key in ("job_parameters", "notebook_params"):
            value = body.get(key)
            if value is not None and (not isinstance(value, dict)
                                      or not all(isinstance(v, str) for v in value.values())):
                return _error(400, "INVALID_PARAMETER_VALUE", f"{key} must map strings to strings")
        if job_id not in self.jobs:
            return _error(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        if token is not None and token in self.tokens:
            run_id = self.tokens[token]
            return JSONResponse({"run_id": run_id, "number_in_job": run_id})
        run_id = self.next_run_id
        self.next_run_id += 1
        if token is not None:
            self.tokens[token] = run_id
        self.runs[run_id] = {"job_id": job_id, "run_id": run_id, "number_in_job": run_id,
                             "run_name": self.jobs[job_id], "creator_user_name": "someone@example.com",
                             "state": {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster"},
                             "overriding_parameters": {k: v for k, v in body.items()
                                                       if k not in ("job_id", "idempotency_token")}}
        return JSONResponse({"run_id": run_id, "number_in_job": run_id})

    async def _list_runs(self, request: Request) -> Response:
        """``runs/list``: newest first by start time, ``limit`` (at most 25) a page, ``page_token``."""
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        query = request.query_params
        limit = int(query.get("limit", "20"))
        if not 1 <= limit <= 25:
            return _error(400, "INVALID_PARAMETER_VALUE", "limit must be between 1 and 25")
        low, high = int(query.get("start_time_from", "0")), int(query.get("start_time_to", str(2**62)))
        runs = sorted((r for r in self.runs.values()
                       if str(r["job_id"]) == query.get("job_id", str(r["job_id"]))
                       and low <= int(r.get("start_time", 0)) <= high),
                      key=lambda r: -int(r.get("start_time", 0)))
        offset = int(query.get("page_token", "0"))
        page = runs[offset:offset + limit]
        answer: dict[str, Any] = {"has_more": offset + limit < len(runs)}
        if page:
            answer["runs"] = page
        if answer["has_more"]:
            answer["next_page_token"] = str(offset + limit)
        return JSONResponse(answer)

    async def _get_run(self, request: Request) -> Response:
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        raw = request.query_params.get("run_id", "")
        if not raw.isdigit():
            return _error(400, "INVALID_PARAMETER_VALUE", "Missing required field: run_id")
        run = self.runs.get(int(raw))
        if run is None:
            return _error(400, "INVALID_PARAMETER_VALUE", f"Run {raw} does not exist.")
        return JSONResponse(run)


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)
