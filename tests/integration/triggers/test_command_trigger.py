"""The ``command`` trigger against real processes."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pydantic
import pytest
from launch_requests import MakeRequest

from interlock_core.errors import TriggerError
from interlock_core.model import FailureCategory
from interlock_core.plugins import PluginContext
from interlock_plugins.triggers.command import OUTPUT_TAIL_BYTES, CommandConfig, CommandTrigger
from tests.helpers.processes import wait_file as _wait_file
from tests.helpers.processes import wait_gone as _wait_gone

PY = sys.executable


@pytest.fixture
def trigger(plugin_context: PluginContext) -> CommandTrigger:
    return CommandTrigger(plugin_context)


def _pwned(directory: Path) -> list[str]:
    """Files an injected ``touch pwned…`` would have created."""
    return sorted(p.name for p in directory.glob("pwned*"))


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def test_success_runs_without_a_shell_and_templates_each_word(
    trigger: CommandTrigger, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INJECTED", "x y; touch pwned")
    result = await trigger.launch(
        {"command": f"{PY} -c 'import sys; print(sys.argv[1:])' ${{date}} ${{hour}} '$HOME' ${{INJECTED}}"},
        make_request(),
    )
    assert result.state == "succeeded"
    assert result.metadata["exitCode"] == 0
    assert result.metadata["outputTail"].strip() == str(["2026-03-02", "07", "$HOME", "x y; touch pwned"])
    assert not (trigger._context.project_dir / "pwned").exists()


async def test_child_environment_carries_run_identity(trigger: CommandTrigger,
                                                      make_request: MakeRequest) -> None:
    code = ("import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
            "if k.startswith('INTERLOCK_') or k == 'EXTRA'}))")
    request = make_request(callback_url="http://127.0.0.1:3000/api/runs/run-1-0001/complete")
    result = await trigger.launch({"argv": [PY, "-c", code], "env": {"EXTRA": "for ${pipelineID}"}}, request)
    env = json.loads(result.metadata["outputTail"])
    assert env == {
        "INTERLOCK_RUN_ID": "run-1-0001",
        "INTERLOCK_RUN_KEY": "daily-sales:h07:2026-03-02:1",
        "INTERLOCK_PIPELINE_ID": "daily-sales",
        "INTERLOCK_SCHEDULE_ID": "h07",
        "INTERLOCK_DATE": "2026-03-02",
        "INTERLOCK_CYCLE": "2026-03-02",  # the cycle key: a daily cycle's is its date
        "INTERLOCK_ATTEMPT": "1",
        "INTERLOCK_RELAUNCH": "0",
        "INTERLOCK_CALLBACK_URL": "http://127.0.0.1:3000/api/runs/run-1-0001/complete",
        "EXTRA": "for daily-sales",
    }


async def test_a_relaunch_carries_the_same_run_key(trigger: CommandTrigger, make_request: MakeRequest) -> None:
    code = "import os; print(os.environ['INTERLOCK_RUN_KEY'], os.environ['INTERLOCK_RELAUNCH'])"
    first = await trigger.launch({"argv": [PY, "-c", code]}, make_request())
    again = await trigger.launch({"argv": [PY, "-c", code]}, make_request(relaunch=1))
    assert first.metadata["outputTail"].split() == ["daily-sales:h07:2026-03-02:1", "0"]
    assert again.metadata["outputTail"].split() == ["daily-sales:h07:2026-03-02:1", "1"]


async def test_shell_only_when_asked(trigger: CommandTrigger, make_request: MakeRequest) -> None:
    plain = await trigger.launch({"command": "echo a; echo b"}, make_request())
    assert plain.metadata["outputTail"] == "a; echo b\n"
    shell = await trigger.launch({"command": "echo $INTERLOCK_PIPELINE_ID | tr a-z A-Z; echo ${date}",
                                  "shell": True}, make_request())
    assert shell.state == "succeeded"
    assert shell.metadata["outputTail"] == "DAILY-SALES\n2026-03-02\n"
    script = "for w in one two; do echo ${w}-${date}; done; echo ${UNSET_IN_TEST:-fallback}"
    looped = await trigger.launch({"command": script, "shell": True}, make_request())
    assert looped.metadata["outputTail"] == "one-2026-03-02\ntwo-2026-03-02\nfallback\n"


@pytest.mark.parametrize("command", [
    "echo ${date}; echo \"${pipelineID}\" ${scheduleID:-none}",
    "d=\"${date}\"; echo \"$d\" ${pipelineID} \"${scheduleID:-none}\"",
])
async def test_shell_values_are_never_pasted_into_the_script(
    trigger: CommandTrigger, make_request: MakeRequest, tmp_path: Path, command: str
) -> None:
    hostile = "2026-03-02; touch pwned-date"
    request = make_request(date=hostile, pipeline_id="$(touch pwned-id)", schedule_id="`touch pwned-sched`")
    result = await trigger.launch({"command": command, "shell": True, "env": {"X": "${date}"}}, request)
    assert result.state == "succeeded"
    assert hostile in result.metadata["outputTail"]
    assert "$(touch pwned-id)" in result.metadata["outputTail"]
    assert not _pwned(tmp_path)


async def test_shell_env_values_are_not_pasted_either(trigger: CommandTrigger, make_request: MakeRequest,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INJECTED", "x; touch pwned-environ")
    result = await trigger.launch({"command": "echo ${INJECTED} ${EXTRA}", "shell": True,
                                   "env": {"EXTRA": "${date}; touch pwned-env"}},
                                  make_request(date="2026-03-02"))
    assert result.metadata["outputTail"] == "x; touch pwned-environ 2026-03-02; touch pwned-env\n"
    assert not _pwned(tmp_path)


async def test_success_leaves_no_background_child(trigger: CommandTrigger, make_request: MakeRequest,
                                                  tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    try:
        for command in ("sleep 300 & echo $! > bg.pid", "sleep 300 & echo $! > bg.pid; exit 3"):
            pid_file.unlink(missing_ok=True)
            result = await trigger.launch({"command": command, "shell": True}, make_request())
            assert result.state in ("succeeded", "failed")
            assert await _wait_gone(int(await _wait_file(pid_file)))
    finally:
        if pid_file.exists():
            _kill(int(pid_file.read_text()))


async def test_nonzero_exit_is_a_transient_failure(trigger: CommandTrigger,
                                                   make_request: MakeRequest) -> None:
    result = await trigger.launch({"argv": ["sh", "-c", "echo broken >&2; exit 42"]}, make_request())
    assert result.state == "failed"
    assert result.failure_category is FailureCategory.TRANSIENT  # not PERMANENT, whatever the digits
    assert result.message == "exit status 42"
    assert result.metadata == {"exitCode": 42, "outputTail": "broken\n"}


async def test_output_tail_is_bounded(trigger: CommandTrigger, make_request: MakeRequest) -> None:
    result = await trigger.launch({"argv": [PY, "-c", "print('x' * 100000); print('END')"]}, make_request())
    tail = result.metadata["outputTail"]
    assert len(tail.encode()) <= OUTPUT_TAIL_BYTES
    assert tail.endswith("x\nEND\n")


async def test_missing_executable_is_permanent(trigger: CommandTrigger, make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"command": "definitely-not-a-program-4711 --flag"}, make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert "definitely-not-a-program-4711" in caught.value.message


async def test_not_executable_and_missing_cwd_are_permanent(
    trigger: CommandTrigger, make_request: MakeRequest, tmp_path: Path
) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(TriggerError) as not_exec:
        await trigger.launch({"command": "./job.sh"}, make_request())
    assert not_exec.value.category is FailureCategory.PERMANENT
    with pytest.raises(TriggerError) as no_dir:
        await trigger.launch({"command": "true", "cwd": "missing-dir"}, make_request())
    assert no_dir.value.category is FailureCategory.PERMANENT


async def test_cwd_is_relative_to_the_project(trigger: CommandTrigger, make_request: MakeRequest,
                                              tmp_path: Path) -> None:
    jobs = anyio.Path(tmp_path / "jobs")
    await jobs.mkdir()
    result = await trigger.launch({"command": "pwd", "cwd": "jobs"}, make_request())
    assert result.metadata["outputTail"].strip() == str(await jobs.resolve())


async def test_undefined_variable_is_permanent(trigger: CommandTrigger, make_request: MakeRequest) -> None:
    with pytest.raises(TriggerError) as caught:
        await trigger.launch({"command": "echo ${INTERLOCK_TEST_UNDEFINED_VARIABLE}"}, make_request())
    assert caught.value.category is FailureCategory.PERMANENT
    assert "INTERLOCK_TEST_UNDEFINED_VARIABLE" in caught.value.message


async def test_timeout_kills_the_whole_process_group(trigger: CommandTrigger, make_request: MakeRequest,
                                                     tmp_path: Path) -> None:
    # the grandchild ignores SIGTERM: only the SIGKILL of the whole group stops it
    script = "(trap '' TERM; exec sleep 30) & echo $! > grandchild.pid; echo $$ > leader.pid; wait"
    try:
        with pytest.raises(TriggerError) as caught:
            await trigger.launch({"argv": ["sh", "-c", script], "timeout": 0.5}, make_request())
        assert caught.value.category is FailureCategory.TIMEOUT
        grandchild = int(await _wait_file(tmp_path / "grandchild.pid"))
        leader = int(await _wait_file(tmp_path / "leader.pid"))
        assert await _wait_gone(leader)
        assert await _wait_gone(grandchild)
    finally:
        for name in ("grandchild.pid", "leader.pid"):
            if (tmp_path / name).exists():
                _kill(int((tmp_path / name).read_text()))


async def test_cancelling_the_launch_kills_the_process_group(
    trigger: CommandTrigger, make_request: MakeRequest, tmp_path: Path
) -> None:
    script = "sleep 30 & echo $! > grandchild.pid; wait"
    pid_file = tmp_path / "grandchild.pid"
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(trigger.launch, {"argv": ["sh", "-c", script]}, make_request())
            grandchild = int(await _wait_file(pid_file))
            tg.cancel_scope.cancel()
        assert await _wait_gone(grandchild)
    finally:
        if pid_file.exists():
            _kill(int(pid_file.read_text()))


async def test_background_child_holding_the_output_does_not_block(
    trigger: CommandTrigger, make_request: MakeRequest, tmp_path: Path
) -> None:
    pid_file = tmp_path / "bg.pid"
    try:
        with anyio.fail_after(5):
            result = await trigger.launch(
                {"argv": ["sh", "-c", "sleep 20 & echo $! > bg.pid; echo started"]}, make_request())
        assert result.state == "succeeded"
        assert result.metadata["outputTail"] == "started\n"
    finally:
        if pid_file.exists():
            _kill(int(pid_file.read_text()))


async def test_not_pollable_and_not_registrable_over_the_api(trigger: CommandTrigger) -> None:
    assert CommandTrigger.pollable is False
    assert CommandTrigger.api_registrable is False
    polled = await trigger.poll({"command": "true"}, {})
    assert (polled.state, polled.message) == ("running", "non-polling trigger type")
    await trigger.close()


def test_config_model() -> None:
    assert CommandConfig.model_validate({"command": "run.sh", "timeout": "1m30s"}).timeout == 90
    assert CommandConfig.model_validate({"argv": ["run.sh"], "pollInterval": "10s"}).argv == ["run.sh"]
    bad: dict[str, Any]
    for bad in ({"command": "a", "argv": ["b"]}, {}, {"command": "  "}, {"argv": []},
                {"command": "a", "unknown": 1}, {"command": "echo 'unbalanced"},
                {"command": "a", "timeout": 0}):
        with pytest.raises(pydantic.ValidationError):
            CommandConfig.model_validate(bad)
