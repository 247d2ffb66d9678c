"""The ``interlock`` executable and pipeline files: a deleted file retires its pipeline (shown as such,
refused by every command that would act on it, back when the file is restored); ``status`` only reads
(no store created, nothing registered or retired); ``remove-pipeline`` removes API pipelines only.
Real processes throughout."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from interlock_core.config import load_project
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.model import PipelineConfig, PipelineOrigin
from tests.helpers.webhook import Webhook, webhook_server
from tests.unit.test_cli_validate import interlock


@pytest.fixture
def project(tmp_path: Path) -> Path:
    created = interlock("init", "proj", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    return tmp_path / "proj"


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


def stored_pipelines(project: Path) -> dict[str, dict[str, Any]]:
    """The pipelines the SQLite store holds, read straight from the file."""
    with sqlite3.connect(f"file:{project / 'interlock.db'}?mode=ro", uri=True) as conn:
        return {name: json.loads(data) for name, data in conn.execute("SELECT name, data FROM pipelines")}


def status_of(project: Path) -> dict[str, dict[str, Any]]:
    result = interlock("status", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    return {row["pipelineId"]: row for row in json.loads(result.stdout)}


def register_over_api(project: Path, name: str, hook: Webhook) -> None:
    """What ``POST /api/pipelines`` does, through the library: an API pipeline calling ``hook``."""
    data = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    data.update(name=name, trigger={"type": "http", "url": f"{hook.url}/jobs/{name}"})

    async def register() -> None:
        loaded = load_project(project)
        engine = build_engine(loaded)
        try:
            await start_engine(engine, loaded)
            await engine.register_pipeline(PipelineConfig.model_validate(data), origin=PipelineOrigin.API)
        finally:
            await engine.aclose()

    anyio.run(register)


# ------------------------------------------------------------------------------ status only reads
def test_status_never_creates_the_store(project: Path) -> None:
    status = interlock("status", cwd=project)
    assert status.returncode == 2
    assert "no sqlite store at" in status.stderr and "interlock.db" in status.stderr
    assert "interlock run" in status.stderr  # what creates it
    assert "Traceback" not in status.stderr
    as_json = interlock("status", "example", "--json", cwd=project)
    assert as_json.returncode == 2 and "no sqlite store" in json.loads(as_json.stdout)["error"]
    assert not (project / "interlock.db").exists()


def test_status_registers_nothing_and_shows_files_against_the_store(project: Path) -> None:
    assert interlock("evaluate", "example", cwd=project).returncode == 0  # creates the store, registers example
    fresh = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    fresh["name"] = "fresh"
    (project / "pipelines" / "fresh.yaml").write_text(yaml.safe_dump(fresh))
    edited = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    edited["tier"] = 1
    (project / "pipelines" / "example.yaml").write_text(yaml.safe_dump(edited))

    rows = status_of(project)
    text = interlock("status", cwd=project)
    one = interlock("status", "fresh", "--json", cwd=project)

    assert rows["fresh"]["registration"] == "not-registered" and rows["fresh"]["state"] == "NOT_REGISTERED"
    assert rows["example"]["registration"] == "active" and rows["example"]["fileChanged"] is True
    assert rows["example"]["tier"] == 3  # as registered: the edit is applied by the next command that writes
    assert "fresh" in text.stdout and "not registered yet" in text.stdout
    assert one.returncode == 0 and json.loads(one.stdout)["registration"] == "not-registered"
    assert set(stored_pipelines(project)) == {"example"} and stored_pipelines(project)["example"]["tier"] == 3


# ------------------------------------------------------------------------------ a deleted file
def test_a_deleted_pipeline_file_retires_its_pipeline_until_it_is_restored(project: Path) -> None:
    assert interlock("run", "example", cwd=project).returncode == 0
    path = project / "pipelines" / "example.yaml"
    text = path.read_text()
    path.unlink()

    pending = status_of(project)["example"]  # status only reads: the deletion is not recorded yet
    assert (pending["registration"], pending["retiredAt"], pending["state"]) == ("retired", None, "RETIRED")
    assert "retiredAt" not in stored_pipelines(project)["example"]

    run = interlock("run", "example", "--date", "2026-01-05", cwd=project)
    assert run.returncode == 1, run.stderr
    assert "refused: pipeline 'example' is retired" in run.stderr and "restore its YAML file" in run.stderr
    for command in (["evaluate", "example"], ["rerun", "example", "--date", "2026-01-05", "--reason", "x"],
                    ["run", "example", "--json"]):
        refused = interlock(*command, cwd=project)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
    refusal = json.loads(interlock("run", "example", "--json", cwd=project).stdout)
    assert refusal["retired"] is True and refusal["pipelineId"] == "example" and refusal["retiredAt"]
    retired = status_of(project)["example"]
    assert retired["registration"] == "retired" and retired["retiredAt"] == refusal["retiredAt"]
    assert retired["lastRun"]["status"] == "COMPLETED"  # its history is kept
    shown = interlock("status", "example", cwd=project)
    assert shown.returncode == 0 and "RETIRED" in shown.stdout and "restore it to bring it back" in shown.stdout

    path.write_text(text)
    assert "its file is back" in interlock("status", cwd=project).stdout
    again = interlock("run", "example", "--date", "2026-01-05", cwd=project)
    assert again.returncode == 0, again.stderr
    assert status_of(project)["example"]["registration"] == "active"


# ------------------------------------------------------------------------------ remove-pipeline
def test_remove_pipeline_removes_api_pipelines_and_refuses_file_ones(project: Path, hook: Webhook) -> None:
    assert interlock("evaluate", "example", cwd=project).returncode == 0
    register_over_api(project, "from-api", hook)

    file_one = interlock("remove-pipeline", "example", cwd=project)
    assert file_one.returncode == 1
    assert "defined in a pipeline file: delete its file" in file_one.stderr and "pipelines" in file_one.stderr
    as_json = json.loads(interlock("remove-pipeline", "example", "--json", cwd=project).stdout)
    assert as_json["pipelineId"] == "example" and as_json["origin"] == "file"
    unknown = interlock("remove-pipeline", "nope", cwd=project)
    assert unknown.returncode == 2 and "pipeline 'nope' not found" in unknown.stderr

    running = interlock("run", "from-api", cwd=project)  # an http job that waits for its callback
    assert running.returncode == 0, running.stderr
    busy = interlock("remove-pipeline", "from-api", "--json", cwd=project)
    assert busy.returncode == 1 and json.loads(busy.stdout)["activeRunStatus"] == "RUNNING"
    run_id = json.loads(busy.stdout)["activeRunId"]
    assert interlock("complete", run_id, "--status", "success", cwd=project).returncode == 0

    removed = interlock("remove-pipeline", "from-api", "--json", cwd=project)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {"removed": "from-api", "origin": "api", "retired": False}
    assert set(status_of(project)) == {"example"}

    (project / "pipelines" / "example.yaml").unlink()  # retired by the next command: then it may go
    gone = interlock("remove-pipeline", "example", cwd=project)
    assert gone.returncode == 0, gone.stderr
    assert 'Pipeline "example" removed' in gone.stdout and status_of(project) == {}
