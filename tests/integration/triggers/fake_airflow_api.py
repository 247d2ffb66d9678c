"""A small fake of Airflow's stable REST API, strict where the real one is strict.

* API v2 (Airflow 3): ``POST /auth/token`` (JSON ``{"username", "password"}`` -> 201
  ``{"access_token": <JWT>}``); every ``/api/v2`` call needs ``Authorization: Bearer <JWT>``
  (HS256, ``exp`` checked against the fake's clock). As Airflow 3 does, a call without a bearer
  token gets 401 ``Not authenticated`` and one whose token is bad, expired or revoked (a restart
  with a new ``jwt_secret``) gets 403 ``{"detail": "Invalid JWT token"}``. ``POST .../dagRuns`` takes
  ``TriggerDAGRunPostBody``: unknown fields are rejected (422) and ``logical_date`` is required
  but nullable (422 when absent).
* API v1 (Airflow 2): basic auth; ``logical_date`` optional.
* ``GET .../dagRuns/{id}/taskInstances`` lists the task instances a test set with
  :meth:`FakeAirflow.set_task_state`.
* ``GET .../dagRuns`` lists DAG runs (``{"dag_runs", "total_entries"}``) filtered by
  ``logical_date_gte``/``_lte`` (v2) or ``execution_date_gte``/``_lte`` (v1), inclusive, 422 for a
  bound that is not a date-time; :meth:`FakeAirflow.scheduled` adds a run Airflow's own scheduler made.
* Both: 404 for an unknown DAG or DAG run, 409 for a duplicate ``dag_run_id``; DAG runs start
  ``queued`` and tests move them with :meth:`FakeAirflow.set_state`.
* Faults: :meth:`FakeAirflow.fail_next` answers the next matching calls with a given status,
  :meth:`FakeAirflow.hang_next` holds them until the server stops.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interlock_core.clock import Clock, FakeClock

TRIGGER_FIELDS = {"dag_run_id", "data_interval_start", "data_interval_end", "logical_date", "run_after",
                  "conf", "note"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Fault:
    path_contains: str
    status: int | None  # None: hang until the server stops
    body: Any
    times: int


@dataclass
class FakeAirflow:
    clock: Clock = field(default_factory=FakeClock)
    users: dict[str, str] = field(default_factory=lambda: {"admin": "admin"})
    dags: set[str] = field(default_factory=lambda: {"daily_sales"})
    token_ttl: float = 3600.0
    secret: bytes = b"fake-airflow-secret"
    runs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    task_instances: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    revoked_before: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------------ controls for tests
    def issue_token(self, username: str = "admin") -> str:
        now = self.clock.now().timestamp()
        self.tokens_issued += 1
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps({"sub": username, "iat": now, "nbf": now, "exp": now + self.token_ttl,
                                   "jti": str(self.tokens_issued)}).encode())
        signature = _b64(hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after a secret-key rotation)."""
        self.revoked_before = float(self.tokens_issued)

    def set_state(self, dag_id: str, dag_run_id: str, state: str) -> None:
        self.runs[(dag_id, dag_run_id)]["state"] = state

    def scheduled(self, dag_id: str, logical_date: str, state: str = "success", *, start: str | None = None,
                  end: str | None = None, run_id: str | None = None) -> str:
        """A DAG run Airflow's scheduler made (``scheduled__<logical date>``); its id."""
        run_id = run_id or f"scheduled__{logical_date}"
        self.runs[(dag_id, run_id)] = {
            "dag_run_id": run_id, "dag_id": dag_id, "logical_date": logical_date, "queued_at": start,
            "start_date": start, "end_date": end, "run_after": logical_date, "run_type": "scheduled",
            "state": state, "triggered_by": "timetable", "conf": {}, "note": None}
        return run_id

    def set_task_state(self, dag_id: str, dag_run_id: str, task_id: str, state: str) -> None:
        self.task_instances.setdefault((dag_id, dag_run_id), {})[task_id] = state

    def fail_next(self, status: int, body: Any = None, *, path_contains: str = "/dagRuns",
                  times: int = 1) -> None:
        body = body if body is not None else {"detail": "injected"}
        self.faults.append(Fault(path_contains, status, body, times))

    def hang_next(self, *, path_contains: str = "/dagRuns") -> None:
        self.faults.append(Fault(path_contains, None, None, 1))

    def calls(self, method: str, path_contains: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and path_contains in r["path"]]

    # ------------------------------------------------------------------------- the API
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/auth/token", self._token, methods=["POST"]),
            Route("/api/{version:str}/dags/{dag_id:str}/dagRuns", self._trigger, methods=["POST"]),
            Route("/api/{version:str}/dags/{dag_id:str}/dagRuns", self._list_runs, methods=["GET"]),
            Route("/api/{version:str}/dags/{dag_id:str}/dagRuns/{dag_run_id:str}", self._get_run,
                  methods=["GET"]),
            Route("/api/{version:str}/dags/{dag_id:str}/dagRuns/{dag_run_id:str}/taskInstances",
                  self._task_instances, methods=["GET"]),
        ])

    async def _record(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append({"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                              "headers": dict(request.headers), "body": body})
        for fault in list(self.faults):
            if fault.path_contains in request.url.path:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.status is None:
                    await self.released.wait()
                    return body, JSONResponse({"detail": "released"}, status_code=503)
                return body, JSONResponse(fault.body, status_code=fault.status)
        return body, None

    async def _token(self, request: Request) -> Response:
        body, fault = await self._record(request)
        if fault is not None:
            return fault
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str):
            return _validation_error("body", "username/password", "Field required")
        if self.users.get(body["username"]) != body["password"]:
            return JSONResponse({"detail": "Invalid credentials"}, status_code=401)
        return JSONResponse({"access_token": self.issue_token(body["username"])}, status_code=201)

    def _refused(self, request: Request, version: str) -> Response | None:
        """None when the call is authenticated, else Airflow's answer: 401 without credentials,
        403 ``Invalid JWT token`` for a token it does not accept."""
        header = request.headers.get("authorization", "")
        if version == "v1":
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if self.users.get(user) == password:
                    return None
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        if not header.startswith("Bearer "):
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        try:
            head, payload, signature = header[7:].split(".")
            expected = _b64(hmac.new(self.secret, f"{head}.{payload}".encode(), hashlib.sha256).digest())
            claims = json.loads(_unb64(payload))
            valid = (hmac.compare_digest(signature, expected)
                     and float(claims["exp"]) > self.clock.now().timestamp()
                     and float(claims["jti"]) > self.revoked_before)
        except (ValueError, KeyError, TypeError):
            valid = False
        return None if valid else JSONResponse({"detail": "Invalid JWT token"}, status_code=403)

    async def _trigger(self, request: Request) -> Response:
        body, fault = await self._record(request)
        if fault is not None:
            return fault
        version, dag_id = request.path_params["version"], request.path_params["dag_id"]
        if version not in ("v1", "v2"):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        refused = self._refused(request, version)
        if refused is not None:
            return refused
        if not isinstance(body, dict):
            return _validation_error("body", None, "Input should be a valid dictionary")
        extra = sorted(set(body) - TRIGGER_FIELDS)
        if extra:
            return _validation_error("body", extra[0], "Extra inputs are not permitted", "extra_forbidden")
        if version == "v2" and "logical_date" not in body:
            return _validation_error("body", "logical_date", "Field required", "missing")
        conf = body.get("conf")
        if conf is not None and not isinstance(conf, dict):
            return _validation_error("body", "conf", "Input should be a valid dictionary", "dict_type")
        if dag_id not in self.dags:
            return JSONResponse({"detail": f"DAG with dag_id: '{dag_id}' not found"}, status_code=404)
        now = self.clock.now().isoformat()
        run_id = body.get("dag_run_id") or f"manual__{now}"
        if (dag_id, run_id) in self.runs:
            return JSONResponse({"detail": {"reason": "Unique constraint violation",
                                            "statement": "INSERT INTO dag_run ...",
                                            "orig_error": f"duplicate dag_run_id {run_id}"}},
                                status_code=409)
        run = {"dag_run_id": run_id, "dag_id": dag_id, "logical_date": body.get("logical_date"),
               "queued_at": now, "start_date": None, "end_date": None, "run_after": now,
               "run_type": "manual", "state": "queued", "triggered_by": "rest_api", "conf": conf or {},
               "note": body.get("note")}
        self.runs[(dag_id, run_id)] = run
        return JSONResponse(run)

    async def _list_runs(self, request: Request) -> Response:
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        version, dag_id = request.path_params["version"], request.path_params["dag_id"]
        refused = self._refused(request, version)
        if refused is not None:
            return refused
        if dag_id not in self.dags:
            return JSONResponse({"detail": f"DAG with dag_id: '{dag_id}' not found"}, status_code=404)
        column = "logical_date" if version == "v2" else "execution_date"
        bounds: dict[str, datetime] = {}
        for side in ("gte", "lte"):
            raw = request.query_params.get(f"{column}_{side}")
            if raw is None:
                continue
            try:
                bounds[side] = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return _validation_error("query", f"{column}_{side}", "Input should be a valid datetime")
        limit = int(request.query_params.get("limit", "50"))
        found = []
        for (run_dag, _), run in self.runs.items():
            when = run.get("logical_date")
            instant = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
            if run_dag != dag_id or (bounds and instant is None):
                continue
            if instant is not None and (("gte" in bounds and instant < bounds["gte"])
                                        or ("lte" in bounds and instant > bounds["lte"])):
                continue
            found.append({**run, "execution_date": when} if version == "v1" else run)
        return JSONResponse({"dag_runs": found[:limit], "total_entries": len(found)})

    async def _get_run(self, request: Request) -> Response:
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        version, dag_id = request.path_params["version"], request.path_params["dag_id"]
        run_id = request.path_params["dag_run_id"]
        refused = self._refused(request, version)
        if refused is not None:
            return refused
        run = self.runs.get((dag_id, run_id))
        if run is None:
            return JSONResponse(
                {"detail": f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"},
                status_code=404)
        return JSONResponse(run)

    async def _task_instances(self, request: Request) -> Response:
        _, fault = await self._record(request)
        if fault is not None:
            return fault
        version, dag_id = request.path_params["version"], request.path_params["dag_id"]
        run_id = request.path_params["dag_run_id"]
        refused = self._refused(request, version)
        if refused is not None:
            return refused
        if (dag_id, run_id) not in self.runs:
            return JSONResponse({"detail": "DagRun not found"}, status_code=404)
        states = self.task_instances.get((dag_id, run_id), {})
        instances = [{"task_id": task, "dag_id": dag_id, "dag_run_id": run_id, "state": state, "try_number": 1}
                     for task, state in states.items()]
        return JSONResponse({"task_instances": instances, "total_entries": len(instances)})


def _validation_error(where: str, name: Any, message: str, kind: str = "value_error") -> Response:
    loc = [where, name] if name else [where]
    return JSONResponse({"detail": [{"type": kind, "loc": loc, "msg": message}]}, status_code=422)
