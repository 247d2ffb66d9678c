"""How the subprocess runner starts and watches a process: the lean path keeps every safety feature.

The config arrives through a pipe (never a temporary file), the process runs in a group of its own
(and a session of its own where the server has a terminal) without the server's descriptors, no
thread waits for it, and it is reaped in every case — also where the kernel offers no ``pidfd``
(then one thread per process waits instead)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

import anyio
import pytest

from interlock_core.model import FailureCategory
from interlock_plugins import process_group as process
from interlock_plugins.evaluators.output import encode_config
from interlock_plugins.evaluators.subprocess import SubprocessRunner
from tests.helpers.evaluators import (
    FIXTURE_EVALUATORS,
    evaluator_input,
    read_pid_file,
    runner_context,
    wait_until_gone,
)

BIGGER_THAN_A_PIPE = 300_000  # a pipe holds 64 KiB at most by default


@pytest.fixture
def runner() -> SubprocessRunner:
    return SubprocessRunner(runner_context(FIXTURE_EVALUATORS))


@pytest.fixture(params=["pidfd", "thread"])
def waiting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of waiting for a process: a pidfd on the event loop, and a thread without one."""
    if request.param == "thread":
        monkeypatch.setattr(process, "_pidfd", lambda pid: None)
    return str(request.param)


def exists(pid: int) -> bool:
    """Whether ``pid`` is still in the process table (running, or a zombie nobody waited for)."""
    return os.path.exists(f"/proc/{pid}")


async def wait_until_reaped(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` is gone entirely (not even a zombie): someone waited for it."""
    with anyio.move_on_after(within):
        while exists(pid):
            await anyio.sleep(0.02)
    return not exists(pid)


async def test_own_group_no_terminal_and_no_inherited_descriptor(runner: SubprocessRunner, waiting: str) -> None:
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        out = await runner.run("describe-process", evaluator_input())
    finally:
        os.close(leaked)
    assert out.status == "PASS", out.reason
    assert out.value is not None
    assert out.value["group"] == out.value["pid"]  # the group killed whole is its own
    assert out.value["terminal"] is False  # whether this test runs on a terminal or not
    assert out.value["extraFds"] == []
    assert not exists(out.value["pid"])  # reaped before the answer came back


@pytest.mark.parametrize("terminal", [True, False])
async def test_a_session_of_its_own_only_where_there_is_a_terminal(
    runner: SubprocessRunner, monkeypatch: pytest.MonkeyPatch, terminal: bool
) -> None:
    monkeypatch.setattr(process, "new_session", lambda: terminal)
    out = await runner.run("describe-process", evaluator_input())
    assert out.value is not None
    assert out.value["group"] == out.value["pid"]
    assert out.value["session"] == (out.value["pid"] if terminal else os.getsid(0))


async def test_config_arrives_through_a_pipe(runner: SubprocessRunner, waiting: str) -> None:
    request = evaluator_input(source="sales_events")
    out = await runner.run("describe-process", request)
    assert out.value is not None
    assert out.value["stdinIsPipe"] is True
    assert out.value["stdinBytes"] == len(encode_config(request.config))


async def test_config_bigger_than_a_pipe_arrives_whole(runner: SubprocessRunner, waiting: str) -> None:
    request = evaluator_input(blob="x" * BIGGER_THAN_A_PIPE)
    out = await runner.run("describe-process", request)
    assert out.value is not None
    assert out.value["stdinBytes"] == len(encode_config(request.config))


async def test_config_bigger_than_a_pipe_never_read_blocks_nothing(runner: SubprocessRunner) -> None:
    out = await runner.run("ignores-stdin", evaluator_input(timeout=20, blob="x" * BIGGER_THAN_A_PIPE))
    assert (out.status, out.value) == ("PASS", {"read": False})


async def test_no_thread_waits_for_a_running_evaluator(runner: SubprocessRunner, tmp_path: Path) -> None:
    threads_before = threading.active_count()
    pid_files = [tmp_path / f"pids-{i}" for i in range(4)]
    async with anyio.create_task_group() as tg:
        for pid_file in pid_files:
            tg.start_soon(runner.run, "slow-grandchild", evaluator_input(timeout=60, pidFile=str(pid_file)))
        pids = [pid for pid_file in pid_files for pid in await read_pid_file(pid_file)]
        threads_running = threading.active_count()
        tg.cancel_scope.cancel()
    assert threads_running == threads_before
    assert await wait_until_gone(pids) == []


async def test_timeout_kills_the_group_and_reaps_the_leader(
    runner: SubprocessRunner, waiting: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    out = await runner.run("slow-grandchild", evaluator_input(timeout=1.0, pidFile=str(pid_file)))
    assert out.failure_category is FailureCategory.TIMEOUT
    leader, grandchild = await read_pid_file(pid_file)
    assert await wait_until_gone([grandchild]) == []
    assert await wait_until_reaped(leader)


async def test_a_cancelled_evaluation_is_still_reaped(
    runner: SubprocessRunner, waiting: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    async with anyio.create_task_group() as tg:
        tg.start_soon(runner.run, "slow-grandchild", evaluator_input(timeout=60, pidFile=str(pid_file)))
        leader, grandchild = await read_pid_file(pid_file)
        tg.cancel_scope.cancel()
    assert await wait_until_gone([grandchild]) == []
    assert await wait_until_reaped(leader)  # killed on cancellation, then waited for by the loop


class _ExplicitEnvironment(SubprocessRunner):
    def base_environment(self) -> Mapping[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ONLY_THIS": "yes"}


async def test_environment_is_the_base_environment_plus_the_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_SERVER_SETTING", "from-the-server")
    runner = _ExplicitEnvironment(runner_context(FIXTURE_EVALUATORS))
    out = await runner.run("describe-process", evaluator_input())
    assert out.value is not None
    env = out.value["env"]
    assert "INTERLOCK_TEST_SERVER_SETTING" not in env  # only what the base environment holds
    assert env["ONLY_THIS"] == "yes"
    assert {k: v for k, v in env.items() if k.startswith("INTERLOCK_")} == {
        "INTERLOCK_PIPELINE_ID": "sales-daily",
        "INTERLOCK_TRAIT_TYPE": "source-freshness",
        "INTERLOCK_SCHEDULE_ID": "morning",
        "INTERLOCK_DATE": "2026-03-02",
    }


async def test_default_base_environment_is_explicit_never_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLOCK_TEST_SERVER_SETTING", "from-the-server")
    monkeypatch.setenv("INTERLOCK_TEST_HANDED_ON", "by-name")
    runner = SubprocessRunner(runner_context(FIXTURE_EVALUATORS, evaluator_env=["INTERLOCK_TEST_HANDED_ON"]))
    out = await runner.run("describe-process", evaluator_input())
    assert out.value is not None
    env = out.value["env"]
    assert "INTERLOCK_TEST_SERVER_SETTING" not in env  # the server's own environment stays its own
    assert env["INTERLOCK_TEST_HANDED_ON"] == "by-name" and "PATH" in env
