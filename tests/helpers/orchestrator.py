"""A small real HTTP server standing in for the orchestrator behind ``http`` triggers.

It accepts trigger POSTs on any path and records them (headers included: the run id, the run key
sent as ``Idempotency-Key`` and the ``X-Interlock-Callback-Url``). A test can make a path fail
(HTTP 500, a number of times or until told otherwise), hold its answers (a launch that hangs), or
have the orchestrator call the completion callback itself, as a real orchestrator would when the
job ends: ``POST <X-Interlock-Callback-Url>`` with ``{"status": ..., "metadata": ...}``.

Like a real orchestrator honouring ``Idempotency-Key`` (as docs/security.md asks a receiver to), it
holds one job per key and the run id it came with: a launch whose key was accepted before is
answered at once as that same job (``duplicate``) when it carries the same run id (a relaunch), and
with 409 Conflict when it carries another; never a second job.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOLD_LIMIT = 120.0


@dataclass(frozen=True)
class Launch:
    """One trigger request as the orchestrator received it."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival
    answered: int
    duplicate: bool = False
    """The key was accepted before: the orchestrator answered with the job it already had."""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def run_id(self) -> str | None:
        return self.header("X-Interlock-Run-Id")

    @property
    def run_key(self) -> str | None:
        return self.header("Idempotency-Key")

    @property
    def store_identity(self) -> str | None:
        """The identity of the store the launching engine works on: the run key's first part."""
        key = self.run_key
        return key.split(":", 1)[0] if key and ":" in key else None

    @property
    def cycle_key(self) -> str | None:
        """The run key without its store identity: ``pipeline:schedule:date[:rerun]:attempt``."""
        key = self.run_key
        return key.split(":", 1)[1] if key and ":" in key else key

    @property
    def callback_url(self) -> str | None:
        return self.header("X-Interlock-Callback-Url")


@dataclass
class _Behaviour:
    failures_left: int | None = 0  # None: fail until opened
    fail_status: int = 500
    hold: threading.Event | None = None
    complete: tuple[str, float] | None = None  # (status, delay) of an automatic callback


@dataclass
class Orchestrator:
    api_key: str
    url: str = ""
    _launches: list[Launch] = field(default_factory=list)
    _behaviour: dict[str, _Behaviour] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    callbacks: list[tuple[str, int]] = field(default_factory=list)
    """(callback url, HTTP status it answered) for every automatic callback."""

    # ------------------------------------------------------------------------ what the test sets
    def _of(self, path: str) -> _Behaviour:
        return self._behaviour.setdefault(path, _Behaviour())

    def job_url(self, name: str) -> str:
        return f"{self.url}/jobs/{name}"

    def fail(self, name: str, times: int | None = None, status: int = 500) -> None:
        """Answer ``status`` to the next ``times`` launches of job ``name`` (all of them when None)."""
        with self._lock:
            behaviour = self._of(f"/jobs/{name}")
            behaviour.failures_left, behaviour.fail_status = times, status

    def open(self, name: str) -> None:
        with self._lock:
            self._of(f"/jobs/{name}").failures_left = 0

    def hold(self, name: str) -> None:
        """Launches of job ``name`` hang (no answer) until :meth:`release`."""
        with self._lock:
            self._of(f"/jobs/{name}").hold = threading.Event()

    def release(self, name: str) -> None:
        with self._lock:
            event, self._of(f"/jobs/{name}").hold = self._of(f"/jobs/{name}").hold, None
        if event is not None:
            event.set()

    def complete_automatically(self, name: str, status: str = "success", delay: float = 0.0) -> None:
        """Once a launch of job ``name`` is accepted, call its completion callback after ``delay``."""
        with self._lock:
            self._of(f"/jobs/{name}").complete = (status, delay)

    # ------------------------------------------------------------------------ what the test reads
    def launches(self, name: str | None = None) -> list[Launch]:
        with self._lock:
            return [x for x in self._launches if name is None or x.path == f"/jobs/{name}"]

    def accepted(self, name: str) -> list[Launch]:
        return [x for x in self.launches(name) if x.answered < 400]

    def jobs(self, name: str) -> list[Launch]:
        """The jobs the orchestrator started: one per accepted run key."""
        return [x for x in self.accepted(name) if not x.duplicate]

    async def call_back(self, launch: Launch, status: str = "success",
                        metadata: dict[str, Any] | None = None) -> httpx.Response:
        """The job ended: tell Interlock at the callback URL the launch carried."""
        assert launch.callback_url, f"launch of {launch.path} carried no callback URL"
        body: dict[str, Any] = {"status": status, "metadata": metadata or {"source": "orchestrator"}}
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await client.post(launch.callback_url, json=body, headers={"X-API-Key": self.api_key})

    # ------------------------------------------------------------------------ the server side
    def _arrived(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, threading.Event | None]:
        with self._lock:
            behaviour = self._of(path)
            key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)
            held = next((x for x in self._launches if key is not None and x.run_key == key and x.answered < 400), None)
            if held is not None:
                arrived = Launch(path, headers, body, time.monotonic(), 409)
                if arrived.run_id == held.run_id:
                    arrived = Launch(path, headers, body, time.monotonic(), 200, duplicate=True)
                self._launches.append(arrived)
                return arrived.answered, None
            status = 200
            if behaviour.failures_left is None or behaviour.failures_left > 0:
                status = behaviour.fail_status
                if behaviour.failures_left is not None:
                    behaviour.failures_left -= 1
            self._launches.append(Launch(path, headers, body, time.monotonic(), status))
            return status, behaviour.hold

    def _after_accept(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            complete = self._of(path).complete
        url = next((v for k, v in headers.items() if k.lower() == "x-interlock-callback-url"), None)
        if complete is None or url is None:
            return
        status, delay = complete

        def call() -> None:
            time.sleep(delay)
            try:
                answer = httpx.post(url, json={"status": status, "metadata": {"source": "orchestrator"}},
                                    headers={"X-API-Key": self.api_key}, timeout=30.0)
                code = answer.status_code
            except httpx.HTTPError:
                code = 0
            with self._lock:
                self.callbacks.append((url, code))

        threading.Thread(target=call, daemon=True).start()

    def release_all(self) -> None:
        with self._lock:
            holds = [b.hold for b in self._behaviour.values() if b.hold is not None]
            for b in self._behaviour.values():
                b.hold = None
        for event in holds:
            event.set()


@contextmanager
def orchestrator_server(api_key: str) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(api_key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            headers = dict(self.headers)
            status, hold = orchestrator._arrived(self.path, headers, body)
            if hold is not None:
                hold.wait(HOLD_LIMIT)
            answer = {"status": "accepted"} if status < 400 else {"error": "gate closed"}
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the caller went away (a killed replica)
                return
            if status < 400:
                orchestrator._after_accept(self.path, headers)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    orchestrator.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield orchestrator
    finally:
        orchestrator.release_all()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
