"""The ``interlock`` executable as a user drives it: init over a project, hints after run and refusals,
reruns of an active cycle, cancelling, ``run --wait`` interrupted or timed out, ``status`` without
trigger secrets and ``add-pipeline`` for polled trigger types. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.webhook import Webhook, webhook_server
from tests.unit.test_cli_validate import EXECUTABLE, interlock

TODAY = datetime.now(UTC).date().isoformat()


def parsed(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON document of a ``--json`` command: standard output holds nothing else (alert lines
    of the console sink go to standard error meanwhile)."""
    return json.loads(result.stdout)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    created = interlock("init", "proj", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    return tmp_path / "proj"


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


def add_hooked(project: Path, hook: Webhook, name: str = "hooked") -> None:
    """A pipeline whose http trigger is accepted and then waits for a callback: its run stays RUNNING."""
    example = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    example.update(name=name, trigger={"type": "http", "url": hook.url + "/jobs/" + name})
    (project / "pipelines" / f"{name}.yaml").write_text(yaml.safe_dump(example))


# ------------------------------------------------------------------------------------------- init
def test_init_over_an_existing_project_refuses_unless_forced(tmp_path: Path) -> None:
    assert interlock("init", "proj", cwd=tmp_path).returncode == 0
    config = tmp_path / "proj" / "interlock.yaml"
    config.write_text(config.read_text() + "# my edits\n")
    (tmp_path / "proj" / "pipelines" / "mine.yaml").write_text("name: mine\n")

    again = interlock("init", "proj", cwd=tmp_path)
    assert again.returncode == 2
    assert "already holds an Interlock project" in again.stderr and "--force" in again.stderr
    assert config.read_text().endswith("# my edits\n")

    forced = interlock("init", "proj", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "# my edits" not in config.read_text()
    assert (tmp_path / "proj" / "pipelines" / "mine.yaml").exists()


def test_init_on_a_file_or_an_unwritable_path_says_so_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    on_file = interlock("init", "notes.txt", cwd=tmp_path)
    assert on_file.returncode == 2
    assert on_file.stderr.startswith("error: notes.txt is a file, not a directory")
    assert "Traceback" not in on_file.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine\n"

    under_file = interlock("init", "notes.txt/proj", cwd=tmp_path)  # nothing can be created there
    assert under_file.returncode == 2
    assert under_file.stderr.startswith("error: cannot write the project to notes.txt/proj: Not a directory")
    assert "Traceback" not in under_file.stderr

    as_json = interlock("init", "notes.txt", "--json", cwd=tmp_path)
    assert as_json.returncode == 2 and "is a file" in parsed(as_json)["error"]


def test_init_as_json_lists_what_it_wrote(tmp_path: Path) -> None:
    created = interlock("init", "proj", "--json", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    report = parsed(created)
    assert report["project"] == "proj" and report["store"] == "sqlite"
    assert "proj/interlock.yaml" in report["files"] and "proj/pipelines/example.yaml" in report["files"]


# ------------------------------------------------------------------------------------ run hints
def test_refusals_say_what_to_do_next(project: Path) -> None:
    assert interlock("run", "example", cwd=project).returncode == 0
    duplicate = interlock("run", "example", cwd=project)
    assert duplicate.returncode == 1
    assert f"next: to run it again anyway: interlock run example --date {TODAY} --force" in duplicate.stdout

    pipeline = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    pipeline.update(name="flaky", trigger={"type": "command", "argv": ["sh", "-c", "exit 3"]},
                    retry={"maxAttempts": 1})
    (project / "pipelines" / "flaky.yaml").write_text(yaml.safe_dump(pipeline))
    assert interlock("run", "flaky", cwd=project).returncode == 1
    exhausted = interlock("run", "flaky", cwd=project)
    assert exhausted.returncode == 1
    assert "exhausted" in exhausted.stdout
    assert f'interlock rerun flaky --date {TODAY} --reason "..."' in exhausted.stdout


def test_a_run_awaiting_a_callback_says_how_to_complete_it(project: Path, hook: Webhook) -> None:
    add_hooked(project, hook)
    started = interlock("run", "hooked", cwd=project)
    assert started.returncode == 0, started.stderr
    assert "RUNNING" in started.stdout
    assert "interlock complete hooked-" in started.stdout and "POST /api/runs/" in started.stdout
    assert "interlock serve" not in started.stdout


# ------------------------------------------------------------------------ reruns of active cycles
def test_a_second_forced_run_while_the_first_rerun_is_active_is_refused(project: Path, hook: Webhook) -> None:
    add_hooked(project, hook)
    first = interlock("run", "hooked", "--json", cwd=project)
    run_id = parsed(first)["run"]["runId"]
    assert interlock("complete", run_id, "--status", "success", cwd=project).returncode == 0
    rerun = interlock("run", "hooked", "--force", "--json", cwd=project)
    assert rerun.returncode == 0, rerun.stderr
    rerun_run = parsed(rerun)["run"]["runId"]

    again = interlock("run", "hooked", "--force", cwd=project)
    assert again.returncode == 1
    assert f"run {rerun_run}" in again.stderr and "still RUNNING" in again.stderr
    assert f"interlock cancel {rerun_run}" in again.stderr
    also = interlock("rerun", "hooked", "--date", TODAY, "--reason", "again", "--json", cwd=project)
    assert also.returncode == 1 and parsed(also)["activeRunId"] == rerun_run
    assert hook.count == 2  # the scheduled run and one rerun: never two at once

    cancelled = interlock("cancel", rerun_run, cwd=project)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout
    assert interlock("run", "hooked", "--force", cwd=project).returncode == 0
    assert hook.count == 3


def test_a_pending_rerun_can_be_cancelled(project: Path) -> None:
    pipeline = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    pipeline["traits"]["upstream-dependency"] = {"evaluator": "builtin:always-fail"}
    pipeline["name"] = "blocked"
    (project / "pipelines" / "blocked.yaml").write_text(yaml.safe_dump(pipeline))
    requested = interlock("rerun", "blocked", "--date", TODAY, "--reason", "fix", "--json", cwd=project)
    rerun_id = parsed(requested)["rerun"]["rerunId"]
    assert parsed(requested)["rerun"]["status"] == "PENDING"
    # one rerun of a cycle at a time: a second request is refused, records nothing, names the first
    refused = interlock("rerun", "blocked", "--date", TODAY, "--reason", "fix", cwd=project)
    assert refused.returncode == 1 and f"interlock cancel-rerun {rerun_id}" in refused.stderr
    assert refused.stdout == "" and "rerun-blocked-" not in refused.stderr.replace(rerun_id, "")

    cancelled = interlock("cancel-rerun", rerun_id, "--json", cwd=project)
    assert cancelled.returncode == 0, cancelled.stderr
    assert parsed(cancelled)["status"] == "CANCELLED"
    shown = interlock("rerun", "blocked", "--date", TODAY, "--reason", "fix", cwd=project)
    assert "interlock cancel-rerun rerun-blocked-" in shown.stdout
    unknown = interlock("cancel-rerun", "rerun-nope", cwd=project)
    assert unknown.returncode == 2 and "not found" in unknown.stderr


def test_a_started_rerun_is_refused_with_the_cli_command_that_cancels_its_run(project: Path, hook: Webhook) -> None:
    """The hint comes from the caller's context: a command-line user is told the command, not a POST."""
    add_hooked(project, hook)
    run_id = parsed(interlock("run", "hooked", "--json", cwd=project))["run"]["runId"]
    assert interlock("complete", run_id, "--status", "success", cwd=project).returncode == 0
    requested = parsed(interlock("rerun", "hooked", "--date", TODAY, "--reason", "again", "--force", "--json",
                                 cwd=project))
    rerun_id, rerun_run = requested["rerun"]["rerunId"], requested["rerun"]["rerunRunId"]

    refused = interlock("cancel-rerun", rerun_id, cwd=project)
    assert refused.returncode == 1, refused.stderr  # refused by the state, not an error
    assert f"cancel its run instead: interlock cancel {rerun_run}" in refused.stderr
    assert "POST" not in refused.stderr and "/api/" not in refused.stderr
    busy = interlock("rerun", "hooked", "--date", TODAY, "--reason", "once more", cwd=project)
    assert busy.returncode == 1 and f"interlock cancel {rerun_run}" in busy.stderr
    assert "POST" not in busy.stderr and "/api/" not in busy.stderr


def test_completing_or_cancelling_an_ended_run_is_a_refusal_exit_1(project: Path, hook: Webhook) -> None:
    add_hooked(project, hook)
    run_id = parsed(interlock("run", "hooked", "--json", cwd=project))["run"]["runId"]
    assert interlock("complete", run_id, "--status", "success", cwd=project).returncode == 0
    assert interlock("complete", run_id, "--status", "success", cwd=project).returncode == 0  # the same again
    contradicted = interlock("complete", run_id, "--status", "failed", cwd=project)
    assert contradicted.returncode == 1
    assert contradicted.stderr.startswith(f"refused: run {run_id} is already COMPLETED")
    cancelled = interlock("cancel", run_id, "--json", cwd=project)
    assert cancelled.returncode == 1 and "already COMPLETED" in parsed(cancelled)["error"]
    unknown = interlock("complete", "hooked-nope", "--status", "success", cwd=project)
    assert unknown.returncode == 2  # an unknown run is still an error


# ------------------------------------------------------------------------------------- run --wait
def test_run_wait_timeout_says_the_run_goes_on_and_exits_1(project: Path, hook: Webhook) -> None:
    add_hooked(project, hook)
    waited = interlock("run", "hooked", "--wait", "--timeout", "0.5", cwd=project)
    assert waited.returncode == 1
    assert "timed out after 0.5s" in waited.stderr and "still RUNNING" in waited.stderr
    assert "interlock complete hooked-" in waited.stderr and "interlock cancel hooked-" in waited.stderr


def test_run_wait_interrupted_says_the_run_goes_on_and_exits_130(project: Path, hook: Webhook) -> None:
    add_hooked(project, hook)
    process = subprocess.Popen([str(EXECUTABLE), "run", "hooked", "--wait"], cwd=project, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # written once the run is launched and being followed
        assert first.startswith("waiting for run hooked-"), first
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted: run hooked-" in stderr and "is still RUNNING" in stderr
    run_id = stderr.split("interrupted: run ", 1)[1].split()[0]
    assert f"interlock complete {run_id} --status" in stderr and f"interlock cancel {run_id}" in stderr
    status = interlock("status", "hooked", "--json", cwd=project)
    assert parsed(status)["runs"][0]["status"] == "RUNNING"
    assert "Traceback" not in stderr and stdout.count("Run hooked-") == 1


# ------------------------------------------------------------------------ read-only without secrets
def test_status_does_not_need_trigger_or_alert_secrets(project: Path, hook: Webhook) -> None:
    assert interlock("evaluate", "example", cwd=project).returncode == 0  # status reads a store, never creates one
    add_hooked(project, hook)
    pipeline = yaml.safe_load((project / "pipelines" / "hooked.yaml").read_text())
    pipeline["trigger"]["headers"] = {"Authorization": "Bearer ${HOOK_TOKEN}"}
    (project / "pipelines" / "hooked.yaml").write_text(yaml.safe_dump(pipeline))
    config = project / "interlock.yaml"
    config.write_text(config.read_text() + "  - type: webhook\n    url: ${SLACK_WEBHOOK_URL}\n")

    status = interlock("status", cwd=project)
    assert status.returncode == 0, status.stderr
    assert "hooked" in status.stdout and "example" in status.stdout
    assert "HOOK_TOKEN" in status.stderr and "SLACK_WEBHOOK_URL" in status.stderr
    assert interlock("status", "hooked", "--json", cwd=project).returncode == 0
    run = interlock("run", "hooked", cwd=project)  # launching needs them: still an error, file:line:key
    assert run.returncode == 2
    assert "hooked.yaml" in run.stderr and "HOOK_TOKEN" in run.stderr


# ---------------------------------------------------------------------------------- add-pipeline
def test_add_pipeline_with_an_airflow_trigger_uses_the_url_and_dag_id(project: Path) -> None:
    added = interlock("add-pipeline", "--name", "sales", "--trigger-type", "airflow",
                      "--trigger-url", "http://airflow:8080", "--dag-id", "daily_sales", "--json", cwd=project)
    assert added.returncode == 0, added.stderr
    written = yaml.safe_load(Path(parsed(added)["file"]).read_text())
    assert written["trigger"] == {"type": "airflow", "url": "http://airflow:8080", "dagID": "daily_sales"}
    missing = interlock("add-pipeline", "--name", "x", "--trigger-type", "airflow",
                        "--trigger-url", "http://airflow:8080", cwd=project)
    assert missing.returncode == 2 and "--dag-id" in missing.stderr
    wrong = interlock("add-pipeline", "--name", "y", "--trigger-command", "true", "--dag-id", "d", cwd=project)
    assert wrong.returncode == 2 and "--dag-id applies to trigger type airflow" in wrong.stderr
    databricks = interlock("add-pipeline", "--name", "nightly", "--trigger-type", "databricks", "--trigger-url",
                           "https://dbc.example", "--job-id", "42", "--json", cwd=project)
    assert databricks.returncode == 0, databricks.stderr
    written = yaml.safe_load(Path(parsed(databricks)["file"]).read_text())
    assert written["trigger"]["workspaceURL"] == "https://dbc.example"
    assert str(written["trigger"]["jobID"]) == "42"



# ------------------------------------------------------------------------------------ JSON fields
def test_cli_json_names_the_pipeline_as_the_api_does(project: Path) -> None:
    """``pipelineId``, as in the API's answers, for every command that names a pipeline by its id."""
    assert interlock("run", "example", cwd=project).returncode == 0
    rows = parsed(interlock("status", "--json", cwd=project))
    assert [row["pipelineId"] for row in rows] == ["example"] and all("pipeline" not in row for row in rows)
    assert rows[0]["lastRun"]["pipelineId"] == "example"
    assert parsed(interlock("run", "example", "--json", cwd=project))["pipelineId"] == "example"
    assert parsed(interlock("evaluate", "example", "--json", cwd=project))["pipelineId"] == "example"
    added = parsed(interlock("add-pipeline", "--name", "sales", "--trigger-command", "true", "--json", cwd=project))
    assert added["pipelineId"] == "sales"


# ------------------------------------------------------------------------------------ excluded days
def test_evaluate_on_an_excluded_day_says_so_and_exits_1(project: Path) -> None:
    pipeline = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    pipeline.update(name="weekdays", exclusions={"days": ["Saturday", "Sunday"]})
    (project / "pipelines" / "weekdays.yaml").write_text(yaml.safe_dump(pipeline))
    saturday = interlock("evaluate", "weekdays", "--date", "2026-03-07", cwd=project)
    assert saturday.returncode == 1, saturday.stdout
    assert "Status: EXCLUDED  (traits ready)" in saturday.stdout and "READY ✓" not in saturday.stdout
    assert "2026-03-07 is excluded by weekdays's calendar" in saturday.stdout
    as_json = parsed(interlock("evaluate", "weekdays", "--date", "2026-03-07", "--json", cwd=project))
    assert as_json["status"] == "READY" and "excluded by" in as_json["excluded"]
    monday = interlock("evaluate", "weekdays", "--date", "2026-03-09", cwd=project)
    assert monday.returncode == 0 and "READY ✓" in monday.stdout


# ------------------------------------------------------------------------- rerun budgets, breaker
def test_a_rerun_refused_as_no_new_data_or_by_its_budget_exits_1_naming_why(project: Path) -> None:
    example = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    example["retry"] = {"maxManualReruns": 1}
    # the example's disk check reports the disk's fill, which other processes may change meanwhile
    example["traits"]["resource-availability"] = {"evaluator": "builtin:always-pass"}
    (project / "pipelines" / "example.yaml").write_text(yaml.safe_dump(example))
    assert interlock("run", "example", cwd=project).returncode == 0
    same = interlock("rerun", "example", "--date", TODAY, "--reason", "again", cwd=project)
    assert same.returncode == 1 and same.stdout == ""
    assert "refused: rerun of example" in same.stderr and "no new data since run example-" in same.stderr
    assert f"interlock rerun example --date {TODAY} --schedule daily" in same.stderr and "--force" in same.stderr
    as_json = parsed(interlock("rerun", "example", "--date", TODAY, "--reason", "again", "--json", cwd=project))
    assert (as_json["rejected"], as_json["reason"]) == (True, "no new data")
    forced = interlock("rerun", "example", "--date", TODAY, "--reason", "after a fix", "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    spent = interlock("rerun", "example", "--date", TODAY, "--reason", "once more", "--force", cwd=project)
    assert spent.returncode == 1
    assert "retry.maxManualReruns (1 of 1 used" in spent.stderr and "budget is spent" in spent.stderr


# ------------------------------------------------------------------------------ reruns of no run
def test_a_rerun_of_a_date_that_never_ran_warns(project: Path) -> None:
    assert interlock("run", "example", cwd=project).returncode == 0
    ran = interlock("rerun", "example", "--date", TODAY, "--reason", "again", "--force", cwd=project)
    assert ran.returncode == 0 and "warning" not in ran.stderr
    never = interlock("rerun", "example", "--date", "2026-01-02", "--reason", "typo?", "--json", cwd=project)
    assert never.returncode == 0, never.stderr
    assert "warning: example never ran for 2026-01-02/daily" in never.stderr
    assert parsed(never)["rerun"]["warning"].startswith("example never ran for 2026-01-02/daily")
