"""The README's Tour, run as written: its setup block through bash, ``interlock serve`` on a port of its
own (no API key, as in the tour), then every ``curl`` of its numbered steps in order, checking what each
step promises. Only the port (3000) and the ``<runId>``/``<rerunId>`` placeholders are filled in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.served import Served, free_port, spawn_serve
from tests.unit.test_cli_validate import EXECUTABLE

README = Path(__file__).resolve().parents[2] / "README.md"
TOUR = re.compile(r"^## Tour.*?```bash\n(?P<setup>.*?)```\n(?P<steps>.*?)\nStop the server", re.S | re.M)
CURL = re.compile(r"`(curl [^`]+)`")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def tour() -> tuple[str, list[str], str]:
    match = TOUR.search(README.read_text())
    assert match, "README has no Tour section"
    return match["setup"], CURL.findall(match["steps"]), match["steps"]


def _env() -> dict[str, str]:
    bin_dir = str(EXECUTABLE.parent)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")},
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "NO_COLOR": "1"}


def eventually(check: Callable[[], Any], within: float = 60.0) -> Any:
    """Poll a real server until ``check`` returns something truthy (it is a separate process)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, int]]:
    setup, _, _ = tour()
    port = free_port()
    script = setup.replace("3000", str(port))
    lines = [line for line in script.splitlines() if not line.startswith("interlock serve")]
    assert len(lines) == len(script.splitlines()) - 1, "the tour starts interlock serve once"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(lines)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    server = spawn_serve(tmp_path / "tour", port=port, env={"INTERLOCK_API_KEY": ""}).ready()
    try:
        yield server, port
    finally:
        server.stop()


def test_the_readme_tour_does_what_it_says(served: tuple[Served, int]) -> None:
    server, port = served
    _, commands, steps = tour()
    today = datetime.now(UTC).date().isoformat()
    assert len(commands) == 9, commands
    assert "2026-11-27" not in steps  # dates are today's, never hard-coded

    def curl(index: int, **fill: str) -> tuple[int, Any]:
        command = commands[index].replace("3000", str(port))
        for name, value in fill.items():
            command = command.replace(f"<{name}>", value)
        done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"], env=_env(), capture_output=True,
                              text=True, timeout=60, check=False)
        body, _, code = done.stdout.rpartition("\n")
        return int(code), json.loads(body) if body.strip() else None

    # 2. Run: the watcher has already triggered silver (checked first: step 1's reason depends on it)
    silver_runs = eventually(lambda: [r for r in curl(1)[1] if r["status"] != "TRIGGERING"])  # being launched
    assert [r["status"] for r in silver_runs] == ["RUNNING"]
    status = subprocess.run([str(EXECUTABLE), "status", "silver"], cwd=server.root, env=_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert status.returncode == 0 and silver_runs[0]["runId"] in status.stdout

    # 1. Evaluate
    code, evaluated = curl(0)
    assert (code, evaluated["status"], evaluated["blocking"]) == (200, "NOT_READY", ["upstream-dependency"])
    reason = next(t["reason"] for t in evaluated["traits"] if t["traitType"] == "upstream-dependency")
    assert reason == f"upstream silver status is RUNNING for {today}/daily"
    assert "`upstream silver status is RUNNING for <today>/daily`" in steps

    # 3. Callback, twice
    run_id = silver_runs[0]["runId"]
    for _ in range(2):
        code, completed = curl(2, runId=run_id)
        assert (code, completed["status"]) == (200, "COMPLETED")

    # 4. Cascade
    def gold_done() -> Any:
        runs = curl(3)[1]
        return runs if runs and runs[0]["status"] == "COMPLETED" else None

    gold_runs = eventually(gold_done, within=30)
    assert gold_runs, curl(3)
    assert gold_runs[0]["metadata"]["outputTail"].strip() == f"gold built for {today}"

    # 5. SLA: one alert, one event
    events = eventually(lambda: [e for e in curl(4)[1] if e["kind"] == "SLA_BREACHED"])
    assert len(events) == 1
    console = server.log_lines("[ERROR] [late] Pipeline late evaluation SLA breached: not ready by 00:01")
    assert len(console) == 1
    assert "SLA breached" in (server.root / "alerts.log").read_text()

    # 6. Dedup, then an explicit rerun of today
    code, duplicate = curl(5)
    assert (code, duplicate["outcome"]) == (409, "duplicate")
    code, rerun = curl(6)
    assert (code, rerun["outcome"]["outcome"], rerun["rerun"]["originalDate"]) == (202, "triggered", today)

    # 7. A rerun that waits PENDING can be cancelled before it starts
    code, pending = curl(7)
    assert (code, pending["rerun"]["status"]) == (412, "PENDING")
    rerun_id = pending["rerun"]["rerunId"]
    code, cancelled = curl(8, rerunId=rerun_id)
    assert (code, cancelled["status"]) == (200, "CANCELLED")
    assert server.alive()
