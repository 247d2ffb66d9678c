"""The ``interlock`` executable: help, version, and ``validate`` on good and broken projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import interlock_core

EXECUTABLE = Path(sys.executable).with_name("interlock")
if not EXECUTABLE.exists():  # pragma: no cover - tests run outside the project's venv
    EXECUTABLE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "interlock"

GOOD_PIPELINE = """\
name: daily-sales
archetype: batch-ingestion
trigger:
  type: command
  command: echo ${date}
"""


def interlock(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    return subprocess.run([str(EXECUTABLE), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "interlock.yaml").write_text("provider: sqlite\nalerts:\n  - type: console\n"
                                             "  - type: file\n    path: ./alerts.log\n")
    (tmp_path / "pipelines" / "daily-sales.yaml").write_text(GOOD_PIPELINE)
    (tmp_path / "pipelines" / "hourly.yaml").write_text("name: hourly-clicks\narchetype: streaming-enrichment\n")
    return tmp_path


@pytest.fixture
def broken(good: Path) -> Path:
    (good / "interlock.yaml").write_text("provider: sqlite\nalerts:\n  - type: pager\n")
    (good / "pipelines" / "hourly.yaml").write_text(
        "name: hourly-clicks\narchetype: streaming-enrichment\nwatch:\n  interval: often\n")
    (good / "pipelines" / "copy.yaml").write_text(GOOD_PIPELINE)
    return good


def test_help() -> None:
    done = interlock("--help", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    for word in ("validate", "init", "run", "evaluate", "status", "serve", "exit codes"):
        assert word in done.stdout


def test_version() -> None:
    done = interlock("--version", cwd=Path.cwd())
    assert done.returncode == 0
    assert done.stdout.strip() == f"interlock {interlock_core.__version__}"


def test_validate_a_good_project_lists_what_it_found(good: Path) -> None:
    done = interlock("validate", cwd=good)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "configuration is valid" in out
    assert "store:      sqlite" in out
    assert "pipelines:  daily-sales, hourly-clicks" in out
    assert "batch-ingestion" in out and "weekends" in out
    assert "alerts:     console, file" in out


def test_validate_by_directory_and_as_json(good: Path) -> None:
    done = interlock("validate", str(good), "--json", cwd=good.parent)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["valid"] is True
    assert summary["pipelines"] == ["daily-sales", "hourly-clicks"]
    assert summary["provider"] == "sqlite"
    assert {"batch-ingestion", "streaming-enrichment", "ml-feature-pipeline"} <= set(summary["archetypes"])


def test_validate_a_broken_project_prints_every_error_with_file_and_line(broken: Path) -> None:
    done = interlock("validate", cwd=broken)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "error: invalid configuration (3 problems):"
    problems = [line.strip() for line in lines[1:]]
    assert len(problems) == 3
    assert problems[0].startswith("interlock.yaml:3: alerts[0].type: unknown alert type 'pager'")
    assert problems[1].startswith("pipelines/daily-sales.yaml:1: name: duplicate pipeline name 'daily-sales' "
                                  "(also defined in pipelines/copy.yaml)")
    assert problems[2].startswith("pipelines/hourly.yaml:4: watch.interval: invalid duration 'often'")


def test_validate_a_broken_project_as_json(broken: Path) -> None:
    done = interlock("-C", str(broken), "validate", "--json", cwd=broken.parent)
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["error"] == "invalid configuration"
    located = sorted((Path(e["file"]).name, e["line"], e["key"]) for e in report["errors"])
    assert located == [("daily-sales.yaml", 1, "name"), ("hourly.yaml", 4, "watch.interval"),
                       ("interlock.yaml", 3, "alerts[0].type")]


def test_validate_without_a_project(tmp_path: Path) -> None:
    done = interlock("validate", cwd=tmp_path)
    assert done.returncode == 2
    assert "no interlock.yaml" in done.stderr
    assert "interlock init" in done.stderr


def test_an_evaluator_that_resolves_nowhere_is_an_error_with_file_line_and_key(good: Path) -> None:
    (good / "evaluators").mkdir()
    checker = good / "evaluators" / "check-here"
    checker.write_text("#!/bin/sh\necho '{\"status\": \"PASS\"}'\n")
    checker.chmod(0o755)
    (good / "pipelines" / "daily-sales.yaml").write_text(GOOD_PIPELINE + """\
traits:
  source-freshness:
    evaluator: check-here
  upstream-dependency:
    evaluator: check-nowhere-to-be-found
  resource-availability:
    evaluator: builtin:no-such-builtin
""")
    result = interlock("validate", cwd=good)
    assert result.returncode == 2, result.stdout
    err = result.stderr
    assert "pipelines/daily-sales.yaml:10: traits.upstream-dependency.evaluator: EVALUATOR_NOT_FOUND: " \
           "check-nowhere-to-be-found" in err
    assert "pipelines/daily-sales.yaml:12: traits.resource-availability.evaluator: unknown builtin evaluator " \
           "'no-such-builtin'" in err
    assert "check-here" not in err
    assert "2 problems" in err


def test_validate_reports_every_kind_of_problem_in_one_pass(good: Path) -> None:
    """Schema, references, environment and evaluators together: one run lists them all, each at its
    file, line and key (no second run needed to see the next kind)."""
    (good / "interlock.yaml").write_text("provider: sqlite\nwatcher:\n  defaultInterval: often\n")
    (good / "pipelines" / "daily-sales.yaml").write_text("""\
name: Daily_Sales
archetype: batch-ingestion
traits:
  source-freshness:
    evaluator: check-nowhere-to-be-found
trigger:
  type: command
  command: echo ${UNSET_FOR_VALIDATE}
""")
    (good / "pipelines" / "hourly.yaml").write_text("""\
name: hourly-clicks
archetype: no-such-archetype
trigger:
  type: no-such-trigger
  url: ${ALSO_UNSET_FOR_VALIDATE}
""")
    done = interlock("validate", "--json", cwd=good)
    assert done.returncode == 2, done.stdout
    located = {(Path(e["file"]).name, e["line"], e["key"]) for e in json.loads(done.stdout)["errors"]}
    assert located == {
        ("interlock.yaml", 3, "watcher.defaultInterval"),                 # schema, project file
        ("daily-sales.yaml", 1, "name"),                                  # schema, pipeline
        ("daily-sales.yaml", 5, "traits.source-freshness.evaluator"),     # evaluators
        ("daily-sales.yaml", 8, "trigger.command"),                       # environment
        ("hourly.yaml", 2, "archetype"),                                  # references
        ("hourly.yaml", 4, "trigger.type"),
        ("hourly.yaml", 5, "trigger.url"),                                # environment, unknown trigger type
    }
