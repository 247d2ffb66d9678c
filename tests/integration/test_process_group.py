"""The one process-group supervisor (``interlock_plugins.process_group``) with what only the
``command`` trigger asks of it: one interleaved output tail, and SIGTERM before SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from interlock_plugins.process_group import run_in_process_group
from tests.helpers.processes import gone, wait_file, wait_gone

TRAPS_TERM = ("trap 'echo cleaning up; echo cleaned > cleaned; exit 0' TERM; echo $$ > leader.pid; "
              "while :; do sleep 0.05; done")
"""A job that cleans up (writing as it does) on SIGTERM."""


async def test_stdout_to_stderr_keeps_one_interleaved_tail(tmp_path: Path) -> None:
    outcome = await run_in_process_group(["sh", "-c", "echo a; echo b >&2; echo c"], cwd=str(tmp_path),
                                         time_limit=10, max_stdout=0, stdout_to_stderr=True, stderr_keep=4)
    assert (outcome.returncode, outcome.stdout, outcome.stderr_tail) == (0, b"", b"b\nc\n")


async def test_the_deadline_sends_sigterm_first_when_given_a_grace(tmp_path: Path) -> None:
    outcome = await run_in_process_group(["sh", "-c", TRAPS_TERM], cwd=str(tmp_path), time_limit=0.3,
                                         max_stdout=1024, term_grace=5)
    assert outcome.timed_out and outcome.returncode == 0 and outcome.stdout == b"cleaning up\n"
    assert (tmp_path / "cleaned").read_text() == "cleaned\n"


async def test_without_a_grace_the_deadline_kills_at_once(tmp_path: Path) -> None:
    outcome = await run_in_process_group(["sh", "-c", TRAPS_TERM], cwd=str(tmp_path), time_limit=0.3,
                                         max_stdout=1024)
    assert outcome.timed_out and outcome.returncode == -signal.SIGKILL
    assert not (tmp_path / "cleaned").exists()


async def test_a_cancelled_caller_leaves_sigterm_then_sigkill_behind(tmp_path: Path) -> None:
    script = "(trap '' TERM; exec sleep 30) & echo $! > stubborn.pid; " + TRAPS_TERM
    task = asyncio.ensure_future(run_in_process_group(["sh", "-c", script], cwd=str(tmp_path), time_limit=30,
                                                      max_stdout=1024, term_grace=0.5))
    stubborn = int(await wait_file(tmp_path / "stubborn.pid"))
    leader = int(await wait_file(tmp_path / "leader.pid"))
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    try:
        assert await wait_gone(leader)
        assert await wait_file(tmp_path / "cleaned") == "cleaned"
        assert await wait_gone(stubborn), "SIGKILL follows"
    finally:
        for pid in (leader, stubborn):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
