"""Options that hold across the ``interlock`` command line: ``--json`` on every command, ``-v`` and
``-C`` before or after the subcommand, and ``--timeout`` bounds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from interlock_server.cli.main import build_parser
from tests.unit.test_cli_validate import interlock


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_takes_json() -> None:
    """The README says every command takes ``--json``: true for each subcommand there is."""
    commands = _commands()
    assert {"init", "validate", "add-pipeline", "run", "status", "serve"} <= set(commands)
    lacking = [name for name, command in commands.items()
               if not any("--json" in action.option_strings for action in command._actions)]
    assert lacking == []


@pytest.mark.parametrize("argv", [["status", "-v"], ["-v", "status"], ["status", "--verbose"]])
def test_verbose_before_or_after_the_subcommand(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True


def test_options_left_out_after_the_subcommand_keep_what_came_before() -> None:
    parser = build_parser()
    assert parser.parse_args(["status"]).verbose is False
    assert parser.parse_args(["-C", "there", "status"]).project == "there"
    assert parser.parse_args(["status", "-C", "here"]).project == "here"


def test_verbose_after_the_subcommand_on_the_command_line(tmp_path: Path) -> None:
    assert interlock("init", "proj", cwd=tmp_path).returncode == 0
    for argv in (["evaluate", "example", "-v"], ["validate", "--verbose"], ["status", "-v", "--json"]):
        done = interlock(*argv, cwd=tmp_path / "proj")
        assert done.returncode == 0, (argv, done.stderr)


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "soon"])
def test_run_timeout_must_be_a_positive_number_of_seconds(tmp_path: Path, value: str) -> None:
    done = interlock("run", "example", "--wait", f"--timeout={value}", cwd=tmp_path)
    assert done.returncode == 2
    assert "argument --timeout" in done.stderr


def test_run_timeout_accepts_fractions() -> None:
    assert build_parser().parse_args(["run", "p", "--timeout", "0.5"]).timeout == 0.5
