"""Run dates: only a real calendar date written YYYY-MM-DD names a cycle, at every entry point
(the core check, the CLI's ``--date``, the Lambda inputs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from interlock_core.dates import check_run_date, parse_run_date, run_date_problem
from interlock_core.errors import ValidationError
from interlock_server.aws import payloads

EXECUTABLE = Path(sys.executable).with_name("interlock")
if not EXECUTABLE.exists():  # pragma: no cover - tests run outside the project's venv
    EXECUTABLE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "interlock"

OTHER_SPELLINGS = ["20261201", "2026-W49-2", "2026-W49", "2026-335", "2026-12-01T00:00:00", "2026-12-01 10:00",
                   " 2026-12-01",
                   "2026-12-1", "2026/12/01", "२०२६-१२-०१"]
NOT_DAYS = ["2026-02-30", "2026-13-01", "2026-00-10", "2025-02-29"]


@pytest.mark.parametrize("text", ["2026-12-01", "2024-02-29", "0001-01-01", "9999-12-31"])
def test_a_real_date_passes(text: str) -> None:
    assert check_run_date(text) == text
    assert parse_run_date(text).isoformat() == text


@pytest.mark.parametrize("text", OTHER_SPELLINGS + NOT_DAYS + ["", "notadate"])
def test_other_spellings_and_impossible_days_are_refused(text: str) -> None:
    assert run_date_problem(text) is not None
    with pytest.raises(ValidationError) as caught:
        check_run_date(text, "originalDate")
    assert caught.value.details["field"] == "originalDate"
    assert "originalDate" in caught.value.message


def test_a_sub_daily_cycle_key_passes_the_shape_check() -> None:
    """A fire time names a sub-daily cycle; whether it fits the schedule is the engine's check."""
    assert check_run_date("2026-12-01T10:00") == "2026-12-01T10:00"
    assert parse_run_date("2026-12-01T10:00").isoformat() == "2026-12-01"
    assert run_date_problem("2026-12-01T25:00") is not None


def test_non_strings_are_refused() -> None:
    for value in (20261201, None, ["2026-12-01"]):
        assert run_date_problem(value) is not None


def test_lambda_inputs_check_the_date() -> None:
    with pytest.raises(ValidationError) as caught:
        payloads.request({"pipelineId": "p", "date": "20261201"})
    assert caught.value.details["field"] == "date"
    with pytest.raises(ValidationError):
        payloads.cycle({"cycle": {"pipelineId": "p", "scheduleId": "daily", "date": "2026-02-30"}})
    assert payloads.request({"pipelineId": "p", "date": "2026-12-01"})["date"] == "2026-12-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dates")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    subprocess.run([str(EXECUTABLE), "init", "demo"], cwd=root, env=env, check=True, capture_output=True,
                   timeout=120)
    return root / "demo"


@pytest.mark.parametrize("argv", [
    ["evaluate", "example", "--date", "notadate"],
    ["evaluate", "example", "--date", "20261201"],
    ["run", "example", "--date", "2026-02-30"],
    ["run", "example", "--date", "2026-W49-2"],
    ["rerun", "example", "--date", "2026-13-01", "--reason", "r"],
])
def test_cli_bad_date_is_a_clear_error_with_exit_2(project: Path, argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    done = subprocess.run([str(EXECUTABLE), *argv], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "argument --date" in done.stderr and repr(argv[3]) in done.stderr
    assert "READY" not in done.stdout
