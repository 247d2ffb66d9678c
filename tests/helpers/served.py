"""``interlock serve`` as a real process, for the suites that drive whole deployments (end-to-end,
replicas, store outage): started on a port, its output (stdout and the JSON log lines on stderr)
kept in a file, stopped with SIGTERM or killed with SIGKILL.

Starting is synchronous (``subprocess.Popen``) so a module- or session-scoped fixture can own a
server; tests talk to it with ``httpx.AsyncClient`` (:meth:`Served.client`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API_KEY = "e2e-key-4f2b9c"
START_TIMEOUT = 45.0
STOP_TIMEOUT = 20.0
_LISTENING = re.compile(r"listening on (http://\S+)")
_ENTRY = "import sys; from interlock_server.cli.main import main; sys.exit(main())"
"""What the ``interlock`` console script runs (``-m interlock_server.cli.main`` warns about a
module imported twice)."""
_SHIFTED_ENTRY = ("import os, sys; from datetime import UTC, datetime, timedelta; import interlock_core.clock as c; "
                  "o = timedelta(seconds=float(os.environ['INTERLOCK_E2E_CLOCK_SHIFT'])); "
                  "c.SystemClock.now = lambda self: datetime.now(UTC) + o; " + _ENTRY)
"""The same, on a system clock shifted by ``INTERLOCK_E2E_CLOCK_SHIFT`` seconds (a test that waits
for a cron fire time starts serve a few seconds before one)."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """One ``interlock serve`` process."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    root: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log().splitlines() if needle in line]

    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self, **options: Any) -> httpx.AsyncClient:
        options.setdefault("timeout", 30.0)
        return httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": API_KEY}, **options)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, leases and runs are left as they are."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        """SIGTERM and wait for the graceful shutdown (SIGKILL if it does not come)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
                return None
        return self.process.returncode


@dataclass
class Starting:
    """An ``interlock serve`` process that has not said where it listens yet."""

    process: subprocess.Popen[bytes]
    log_path: Path
    root: Path

    def ready(self, timeout: float = START_TIMEOUT) -> Served:
        """Wait until it listens (or fail with its output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return Served(self.process, match.group(1), self.log_path, self.root)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        raise RuntimeError(f"interlock serve did not start (exit {self.process.returncode}):\n"
                           f"{self.log_path.read_text(errors='replace')[-4000:]}")


def spawn_serve(root: Path, *extra: str, port: int = 0, env: dict[str, str] | None = None,
                name: str = "serve", clock_shift: float | None = None) -> Starting:
    """Start ``interlock serve`` for the project in ``root`` on 127.0.0.1 (output in ``<name>.log``);
    ``clock_shift``: its clock runs that many seconds ahead."""
    log_path = root / f"{name}.log"
    if clock_shift is not None:
        env = {**(env or {}), "INTERLOCK_E2E_CLOCK_SHIFT": repr(clock_shift)}
    entry = _SHIFTED_ENTRY if clock_shift is not None else _ENTRY
    command = [sys.executable, "-c", entry, "-C", str(root), "serve", "--host", "127.0.0.1", "--port", str(port),
               *extra]
    environment = {**os.environ, "INTERLOCK_API_KEY": API_KEY, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1",
                   **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=str(root), stdin=subprocess.DEVNULL)
    return Starting(process, log_path, root)


def start_serve(root: Path, *extra: str, port: int = 0, env: dict[str, str] | None = None,
                name: str = "serve", clock_shift: float | None = None) -> Served:
    """:func:`spawn_serve`, then wait until it listens."""
    return spawn_serve(root, *extra, port=port, env=env, name=name, clock_shift=clock_shift).ready()
