"""Helpers of the evaluator runner tests: the fixture scripts and process liveness checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import anyio

from interlock_core.clock import FakeClock
from interlock_core.ports import EvaluatorInput, RunnerContext, Store

FIXTURE_EVALUATORS = Path(__file__).resolve().parents[1] / "fixtures" / "evaluators"


class NoStore:
    """The runners under test never touch the store; any use of it is a test failure."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the runner used the store ({name})")


def runner_context(*dirs: Path, **options: Any) -> RunnerContext:
    return RunnerContext(
        evaluator_dirs=tuple(dirs), store=cast(Store, NoStore()), clock=FakeClock(), options=options
    )


def evaluator_input(timeout: float = 10.0, **config: Any) -> EvaluatorInput:
    return EvaluatorInput(
        pipeline_id="sales-daily",
        trait_type="source-freshness",
        config=config,
        schedule_id="morning",
        date="2026-03-02",
        timeout=timeout,
    )


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state not in ("Z", "X")
    try:  # pragma: no cover - without /proc
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_until_gone(pids: list[int], within: float = 5.0) -> list[int]:
    """The pids still alive after polling for up to ``within`` seconds (empty when all are gone).

    Polling: the processes are not our children, so there is nothing to wait on."""
    with anyio.move_on_after(within):
        while any(is_alive(pid) for pid in pids):
            await anyio.sleep(0.02)
    return [pid for pid in pids if is_alive(pid)]


def _recorded_pids(path: Path) -> list[int] | None:
    return [int(word) for word in path.read_text().split()] if path.exists() else None


async def read_pid_file(path: Path, within: float = 10.0) -> list[int]:
    """Wait for a fixture script to record its pids (``<script pid> <grandchild pid>``)."""
    with anyio.fail_after(within):
        while (pids := _recorded_pids(path)) is None:
            await anyio.sleep(0.02)
    return pids
