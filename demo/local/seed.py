"""The demo's stand-in for the outside world: a webhook receiver with a gate, and the job that
reports outcomes back to Interlock.

HTTP on :8888 (standard library only, so it runs on a bare python image):
  POST /gate/open, POST /gate/close   open or close the gate (it starts closed)
  POST /gate                          200 {"status": "accepted"} when open, else 500 {"error": "gate closed"}
  any other POST                      200 {"status": "accepted"} (the body is logged)
  GET /health, GET /gate              200 with the gate's state

An accepted request that carries ``X-Interlock-Run-Id`` (what Interlock's http trigger sends) is a
job started: COMPLETE_AFTER seconds later its success is reported to the URL in
``X-Interlock-Callback-Url`` (else ``$INTERLOCK_URL/api/runs/{runId}/complete``). As a backstop for
runs accepted before a restart, every POLL_SECONDS the RUNNING runs of the pipelines in
COMPLETE_PIPELINES are completed too. Reports carry ``X-API-Key: $INTERLOCK_API_KEY``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

PORT = int(os.environ.get("SEED_PORT", "8888"))
INTERLOCK_URL = os.environ.get("INTERLOCK_URL", "http://interlock:3000").rstrip("/")
API_KEY = os.environ.get("INTERLOCK_API_KEY", "")
COMPLETE_AFTER = float(os.environ.get("COMPLETE_AFTER_SECONDS", "5"))
POLL_SECONDS = float(os.environ.get("POLL_SECONDS", "10"))
COMPLETE_PIPELINES = [p for p in os.environ.get(
    "COMPLETE_PIPELINES", "http-callback,silver,gold,blocked-pipeline").split(",") if p.strip()]

log = logging.getLogger("seed")
gate_open = threading.Event()


def interlock(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One call to the Interlock API: (status, decoded JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if API_KEY:
        request.add_header("X-API-Key", API_KEY)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None


def complete(run_id: str, callback_url: str | None, attempts: int = 5) -> None:
    """Report a run's success; retried while Interlock is unreachable or answers 5xx."""
    url = callback_url or f"{INTERLOCK_URL}/api/runs/{quote(run_id, safe='')}/complete"
    body = {"status": "success", "metadata": {"source": "demo-seed"}}
    for attempt in range(1, attempts + 1):
        try:
            status, answer = interlock("POST", url, body)
        except (OSError, ValueError) as exc:
            status, answer = 0, str(exc)
        if 200 <= status < 300:
            log.info("completed run %s: %s", run_id, (answer or {}).get("status"))
            return
        if 400 <= status < 500:  # 409: the run already ended; 404: unknown run
            log.info("run %s not completed (%s): %s", run_id, status, answer)
            return
        log.warning("completing run %s failed (%s, attempt %d): %s", run_id, status, attempt, answer)
        time.sleep(min(2.0 * attempt, 10.0))


def complete_later(run_id: str, callback_url: str | None) -> None:
    def job() -> None:
        time.sleep(COMPLETE_AFTER)
        complete(run_id, callback_url)

    threading.Thread(target=job, name=f"complete-{run_id}", daemon=True).start()


def poll_running_runs(stop: threading.Event) -> None:
    """Complete RUNNING runs of COMPLETE_PIPELINES older than COMPLETE_AFTER (restart backstop)."""
    while not stop.wait(POLL_SECONDS):
        for pipeline in COMPLETE_PIPELINES:
            try:
                url = f"{INTERLOCK_URL}/api/pipelines/{quote(pipeline.strip())}/runs?limit=10"
                status, runs = interlock("GET", url)
            except (OSError, ValueError):
                continue
            if status != 200 or not isinstance(runs, list):
                continue
            for run in runs:
                if run.get("status") == "RUNNING" and _age_seconds(run) >= COMPLETE_AFTER * 2:
                    complete(str(run.get("runId")), None, attempts=1)


def _age_seconds(run: dict[str, Any]) -> float:
    try:
        updated = datetime.fromisoformat(str(run.get("updatedAt")))
    except ValueError:
        return 0.0
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return (datetime.now(UTC) - updated).total_seconds()


class Handler(BaseHTTPRequestHandler):
    server_version = "interlock-demo-seed"

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def gate_state(self) -> dict[str, str]:
        return {"status": "open" if gate_open.is_set() else "closed"}

    def do_GET(self) -> None:
        if self.path in ("/health", "/gate"):
            self.reply(200, {**self.gate_state(), "service": "seed"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        path = self.path.split("?", 1)[0]
        if path == "/gate/open":
            gate_open.set()
            log.info("gate opened")
            self.reply(200, self.gate_state())
            return
        if path == "/gate/close":
            gate_open.clear()
            log.info("gate closed")
            self.reply(200, self.gate_state())
            return
        run_id = self.headers.get("X-Interlock-Run-Id")
        if path == "/gate" and not gate_open.is_set():
            log.info("POST /gate refused (gate closed) run=%s", run_id)
            self.reply(500, {"error": "gate closed"})
            return
        log.info("POST %s accepted run=%s body=%s", path, run_id, body[:500])
        self.reply(200, {"status": "accepted"})
        if run_id:
            complete_later(run_id, self.headers.get("X-Interlock-Callback-Url"))

    def log_message(self, format: str, *args: Any) -> None:  # the handlers log what matters
        return


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s seed %(levelname)s %(message)s")
    stop = threading.Event()
    threading.Thread(target=poll_running_runs, args=(stop,), name="poller", daemon=True).start()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    # PID 1 in a container gets no default SIGTERM handling: stop serving on `docker compose stop`.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("listening on :%d; interlock at %s; gate closed", PORT, INTERLOCK_URL)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


if __name__ == "__main__":
    main()
