"""The subprocess runner against real misbehaving executables (tests/fixtures/evaluators)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from interlock_core.model import FailureCategory
from interlock_plugins.evaluators.subprocess import SubprocessRunner
from tests.helpers.evaluators import (
    FIXTURE_EVALUATORS,
    evaluator_input,
    read_pid_file,
    runner_context,
    wait_until_gone,
)

GRANDCHILD_SLEEP = 30.0  # what the *-grandchild and slow fixtures sleep


@pytest.fixture
async def runner() -> SubprocessRunner:
    return SubprocessRunner(runner_context(FIXTURE_EVALUATORS))


async def test_pass(runner: SubprocessRunner) -> None:
    out = await runner.run("pass", evaluator_input())
    assert (out.status, out.value, out.failure_category) == ("PASS", {"test": True}, None)


async def test_fail_keeps_reason_without_category(runner: SubprocessRunner) -> None:
    out = await runner.run("fail", evaluator_input())
    assert out.status == "FAIL"
    assert out.reason == "deliberate test failure"
    assert out.failure_category is None


@pytest.mark.parametrize(
    ("category", "expected"), [("PERMANENT", FailureCategory.PERMANENT), ("BOGUS", None), (7, None)]
)
async def test_failure_category_kept_only_when_valid(
    runner: SubprocessRunner, category: object, expected: FailureCategory | None
) -> None:
    out = await runner.run("fail-with-category", evaluator_input(category=category))
    assert (out.status, out.reason, out.failure_category) == ("FAIL", "classified failure", expected)


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("bad-json", "stdout is not JSON"),
        ("not-an-object", "expected a JSON object, got array"),
        ("missing-status", 'missing "status"'),
        ("lowercase-status", '"status" is "pass"; must be exactly "PASS" or "FAIL"'),
        ("value-not-object", '"value" must be a JSON object, got number'),
        ("empty-output", "stdout is empty"),
        ("non-utf8", "not valid UTF-8"),
        ("huge-output", "stdout exceeds 1048576 bytes"),
    ],
)
async def test_invalid_output_is_a_permanent_failure_not_a_crash(runner: SubprocessRunner, script: str,
                                                                 says: str) -> None:
    out = await runner.run(script, evaluator_input())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.PERMANENT  # it ran and answered: nothing crashed
    assert out.reason is not None
    assert out.reason.startswith("EVALUATOR_OUTPUT_INVALID: ")
    assert says in out.reason


async def test_bad_json_reason_quotes_the_output(runner: SubprocessRunner) -> None:
    out = await runner.run("bad-json", evaluator_input())
    assert out.reason is not None and "(stdout: this is not json)" in out.reason


@pytest.mark.parametrize(
    ("script", "reason", "category"),
    [
        (
            "exit-1",
            "EVALUATOR_ERROR: exit status 1 (stderr: something went wrong)",
            FailureCategory.TRANSIENT,
        ),
        ("exit-2", "EVALUATOR_ERROR: exit status 2 (stderr: permanent error)", FailureCategory.PERMANENT),
        (
            "exit-130",
            "EVALUATOR_ERROR: exit status 130 (stderr: signal crash)",
            FailureCategory.EVALUATOR_CRASH,
        ),
        (
            "killed-by-signal",
            "EVALUATOR_ERROR: killed by signal SIGSEGV (stderr: about to crash)",
            FailureCategory.EVALUATOR_CRASH,
        ),
        ("killed-by-signal-py", "EVALUATOR_ERROR: killed by signal SIGABRT", FailureCategory.EVALUATOR_CRASH),
    ],
)
async def test_exit_status_and_signals(
    runner: SubprocessRunner, script: str, reason: str, category: FailureCategory
) -> None:
    out = await runner.run(script, evaluator_input())
    assert (out.status, out.reason, out.failure_category) == ("FAIL", reason, category)


async def test_stderr_noise_does_not_matter_on_success(runner: SubprocessRunner) -> None:
    out = await runner.run("stderr-noise", evaluator_input())
    assert (out.status, out.reason) == ("PASS", "noisy but fine")


async def test_only_the_tail_of_stderr_is_quoted(runner: SubprocessRunner) -> None:
    out = await runner.run("stderr-flood-exit-1", evaluator_input())
    assert out.reason is not None
    assert out.reason.startswith("EVALUATOR_ERROR: exit status 1 (stderr: …")
    assert out.reason.endswith("the last words)")
    assert "noise line 1\n" not in out.reason
    assert len(out.reason) < 2200


async def test_config_on_stdin_and_cycle_in_environment(runner: SubprocessRunner) -> None:
    out = await runner.run("reads-stdin-echo", evaluator_input(maxLagSeconds=300, source="sales_events"))
    assert out.status == "PASS"
    assert out.value is not None
    assert out.value["config"] == {"maxLagSeconds": 300, "source": "sales_events"}
    assert out.value["env"] == {
        "INTERLOCK_PIPELINE_ID": "sales-daily",
        "INTERLOCK_TRAIT_TYPE": "source-freshness",
        "INTERLOCK_SCHEDULE_ID": "morning",
        "INTERLOCK_DATE": "2026-03-02",
    }


async def test_not_executable(runner: SubprocessRunner) -> None:
    out = await runner.run("not-executable", evaluator_input())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.PERMANENT
    path = FIXTURE_EVALUATORS / "not-executable"
    assert out.reason == f"EVALUATOR_NOT_EXECUTABLE: {path}: permission denied (no execute bit)"


async def test_bad_interpreter_is_not_executable(runner: SubprocessRunner) -> None:
    out = await runner.run("bad-interpreter", evaluator_input())
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_NOT_EXECUTABLE: ")
    assert "#! line" in out.reason


async def test_no_shebang_is_not_executable(runner: SubprocessRunner) -> None:
    out = await runner.run("no-shebang", evaluator_input())
    path = FIXTURE_EVALUATORS / "no-shebang"
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason == f"EVALUATOR_NOT_EXECUTABLE: {path}: cannot start: Exec format error"


async def test_config_without_json_form(runner: SubprocessRunner) -> None:
    config: dict[str, object] = {}
    config["self"] = config
    out = await runner.run("pass", evaluator_input(nested=config))
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None
    assert out.reason.startswith("EVALUATOR_INPUT_INVALID: config cannot be encoded as JSON: ")


async def test_unusable_environment_value(runner: SubprocessRunner) -> None:
    request = replace(evaluator_input(), pipeline_id="bad\0id")
    out = await runner.run("pass", request)
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason == f"EVALUATOR_ERROR: cannot start {FIXTURE_EVALUATORS / 'pass'}: embedded null byte"


async def test_not_found_says_where_it_looked(runner: SubprocessRunner) -> None:
    out = await runner.run("no-such-evaluator", evaluator_input())
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.PERMANENT
    looked = f"{FIXTURE_EVALUATORS / 'no-such-evaluator'}, $PATH"
    assert out.reason == f"EVALUATOR_NOT_FOUND: no-such-evaluator (looked in: {looked})"


async def test_not_found_with_a_path_skips_path_lookup(runner: SubprocessRunner) -> None:
    out = await runner.run("sub/no-such-evaluator", evaluator_input())
    assert out.reason is not None and out.reason.startswith("EVALUATOR_NOT_FOUND: sub/no-such-evaluator")
    assert str(FIXTURE_EVALUATORS.parent / "sub" / "no-such-evaluator") in out.reason
    assert "$PATH" not in out.reason


@pytest.mark.parametrize("evaluator", ["", "  ", "bad\0name"])
async def test_unusable_names_are_not_found(runner: SubprocessRunner, evaluator: str) -> None:
    out = await runner.run(evaluator, evaluator_input())
    assert out.failure_category is FailureCategory.PERMANENT
    assert out.reason is not None and out.reason.startswith("EVALUATOR_NOT_FOUND: ")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    evaluators = tmp_path / "evaluators"
    evaluators.mkdir()
    shutil.copy2(FIXTURE_EVALUATORS / "pass", evaluators / "check-x")
    return tmp_path


@pytest.mark.parametrize("written", ["check-x", "evaluators/check-x", "./evaluators/check-x"])
async def test_resolution_relative_to_evaluator_dir_and_project(project: Path, written: str) -> None:
    runner = SubprocessRunner(runner_context(project / "evaluators"))
    out = await runner.run(written, evaluator_input())
    assert out.status == "PASS", out.reason


async def test_resolution_of_absolute_path(project: Path) -> None:
    runner = SubprocessRunner(runner_context())
    out = await runner.run(str(project / "evaluators" / "check-x"), evaluator_input())
    assert out.status == "PASS", out.reason


async def test_resolution_through_path(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{project / 'evaluators'}{os.pathsep}{os.environ.get('PATH', '')}")
    runner = SubprocessRunner(runner_context(project / "elsewhere"))
    out = await runner.run("check-x", evaluator_input())
    assert out.status == "PASS", out.reason


async def test_handles_everything() -> None:
    runner = SubprocessRunner(runner_context())
    assert runner.handles("check-x") and runner.handles("./evaluators/check-x")
    await runner.close()


# ---------------------------------------------------------------------------------- timeouts


async def test_timeout(runner: SubprocessRunner) -> None:
    out = await runner.run("slow", evaluator_input(timeout=0.5))
    assert out.status == "FAIL"
    assert out.failure_category is FailureCategory.TIMEOUT
    assert out.reason is not None
    assert out.reason.startswith("EVALUATOR_TIMEOUT: no result after 0.5s")


async def test_timeout_kills_the_grandchild_holding_stdout(runner: SubprocessRunner, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    out = await runner.run("slow-grandchild", evaluator_input(timeout=2.0, pidFile=str(pid_file)))
    elapsed = time.monotonic() - started
    assert out.failure_category is FailureCategory.TIMEOUT
    assert elapsed < GRANDCHILD_SLEEP / 3  # it did not wait for the grandchild's sleep
    pids = await read_pid_file(pid_file)
    assert len(pids) == 2
    assert await wait_until_gone(pids) == []


async def test_grandchild_left_behind_after_an_answer_is_killed(
    runner: SubprocessRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    out = await runner.run("background-grandchild", evaluator_input(timeout=20, pidFile=str(pid_file)))
    elapsed = time.monotonic() - started
    assert (out.status, out.value) == ("PASS", {"left": "a grandchild"})
    assert elapsed < GRANDCHILD_SLEEP / 3
    assert await wait_until_gone(await read_pid_file(pid_file)) == []


async def test_a_grandchild_that_left_the_group_does_not_block(
    runner: SubprocessRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    try:
        out = await runner.run("escaped-grandchild", evaluator_input(timeout=20, pidFile=str(pid_file)))
        elapsed = time.monotonic() - started
    finally:
        pids = await read_pid_file(pid_file)
        os.kill(pids[1], signal.SIGKILL)  # out of the runner's reach by design: the test cleans up
    assert (out.status, out.value) == ("PASS", {"left": "an escaped grandchild"})
    assert elapsed < GRANDCHILD_SLEEP / 3
    assert await wait_until_gone(pids) == []


async def test_cancelling_the_caller_kills_the_process_group(
    runner: SubprocessRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    async with anyio.create_task_group() as tg:
        tg.start_soon(runner.run, "slow-grandchild", evaluator_input(timeout=60, pidFile=str(pid_file)))
        pids = await read_pid_file(pid_file)
        tg.cancel_scope.cancel()
    assert await wait_until_gone(pids) == []


async def test_twenty_hanging_evaluators_all_come_back(runner: SubprocessRunner) -> None:
    results: list[str | None] = []
    started = time.monotonic()

    async def one() -> None:
        out = await runner.run("slow", evaluator_input(timeout=1.0))
        results.append(out.failure_category)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    assert results == [FailureCategory.TIMEOUT] * 20
    assert time.monotonic() - started < GRANDCHILD_SLEEP / 3


async def test_the_environment_is_explicit_never_the_servers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """No INTERLOCK_API_KEY, cloud credential or trigger secret reaches an evaluator: it gets the
    cycle variables, what a program needs to start, and the names the project lists in evaluatorEnv."""
    for name, value in {"INTERLOCK_API_KEY": "server-key", "AWS_SECRET_ACCESS_KEY": "aws-secret",
                        "ORCH_TOKEN": "trigger-secret", "HANDED_ON": "wanted", "LC_TIME": "C"}.items():
        monkeypatch.setenv(name, value)
    runner = SubprocessRunner(runner_context(FIXTURE_EVALUATORS, evaluator_env=("HANDED_ON",)))
    out = await runner.run("dumps-environment", evaluator_input())
    assert out.status == "PASS" and out.value is not None, out.reason
    env = out.value["env"]
    assert "server-key" not in str(env) and "aws-secret" not in str(env) and "trigger-secret" not in str(env)
    assert env["HANDED_ON"] == "wanted" and "/usr/bin" in env["PATH"] and env["LC_TIME"] == "C"
    assert env["INTERLOCK_DATE"] == "2026-03-02" and env["INTERLOCK_PIPELINE_ID"] == "sales-daily"
    plain = await SubprocessRunner(runner_context(FIXTURE_EVALUATORS)).run("dumps-environment", evaluator_input())
    assert plain.value is not None and "HANDED_ON" not in plain.value["env"]


async def test_evaluator_env_is_a_project_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from interlock_core.config import load_project
    from interlock_core.engine.factory import build_engine

    monkeypatch.setenv("HANDED_ON", "wanted")
    monkeypatch.setenv("INTERLOCK_API_KEY", "server-key")
    (tmp_path / "interlock.yaml").write_text(
        f"provider: sqlite\nsqlite: {{path: ./i.db}}\nalerts: []\nevaluatorDirs: [{FIXTURE_EVALUATORS}]\n"
        "evaluatorEnv: [HANDED_ON]\n")
    engine = build_engine(load_project(tmp_path))
    try:
        runner = next(r for r in engine.ctx.runners if isinstance(r, SubprocessRunner))
        out = await runner.run("dumps-environment", evaluator_input())
        assert out.value is not None and out.value["env"]["HANDED_ON"] == "wanted"
        assert "INTERLOCK_API_KEY" not in out.value["env"]
    finally:
        await engine.aclose()
    (tmp_path / "interlock.yaml").write_text("alerts: []\nevaluatorEnv: ['not a name']\n")
    with pytest.raises(Exception, match="evaluatorEnv"):
        load_project(tmp_path)
