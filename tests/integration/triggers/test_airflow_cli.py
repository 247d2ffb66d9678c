"""``interlock run`` of an Airflow pipeline against the fake Airflow 3: the trigger type is polled, so
the CLI points at ``interlock serve`` / ``--wait``, never at the completion callback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import yaml
from fake_airflow_api import FakeAirflow

from tests.unit.test_cli_validate import EXECUTABLE

Peer = tuple[FakeAirflow, str]


async def interlock(*args: str, cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    done = await anyio.run_process([str(EXECUTABLE), *args], cwd=cwd, env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_run_of_a_polled_trigger_says_serve_polls_it(tmp_path: Path, fake_airflow: Peer) -> None:
    fake, url = fake_airflow
    code, _, err = await interlock("init", "proj", cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "proj"
    code, _, err = await interlock("add-pipeline", "--name", "sales", "--trigger-type", "airflow",
                                   "--trigger-url", url, "--dag-id", "daily_sales", cwd=project)
    assert code == 0, err
    path = project / "pipelines" / "sales.yaml"
    pipeline = yaml.safe_load(path.read_text())
    example = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    pipeline["traits"] = example["traits"]
    pipeline["trigger"].update(username="admin", password="admin")
    path.write_text(yaml.safe_dump(pipeline))

    code, out, err = await interlock("run", "sales", cwd=project)
    assert code == 0, err
    assert "RUNNING" in out
    assert "`interlock serve` (its watcher) polls it" in out and "--wait" in out
    assert "/complete" not in out and "interlock complete" not in out
    assert len(fake.runs) == 1


async def test_commands_on_one_pipeline_or_run_only_warn_of_another_pipelines_unset_variables(
        tmp_path: Path, fake_airflow: Peer) -> None:
    """``complete``, ``cancel``, ``evaluate``, ``run`` and ``rerun`` of ``sales`` work while ``other``'s
    ``${AIRFLOW_USER}`` is unset (a warning, as for ``status``); ``run other`` still needs it."""
    fake, url = fake_airflow
    code, _, err = await interlock("init", "proj", cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "proj"
    example = yaml.safe_load((project / "pipelines" / "example.yaml").read_text())
    for name, auth in (("sales", {"username": "admin", "password": "admin"}),
                       ("other", {"username": "${AIRFLOW_USER}", "password": "${AIRFLOW_PASSWORD}"})):
        pipeline = {**example, "name": name,
                    "trigger": {"type": "airflow", "url": url, "dagID": "daily_sales", **auth}}
        (project / "pipelines" / f"{name}.yaml").write_text(yaml.safe_dump(pipeline))

    code, out, err = await interlock("run", "sales", "--json", cwd=project)
    assert code == 0, err
    run_id, date = json.loads(out)["run"]["runId"], json.loads(out)["run"]["date"]
    assert "AIRFLOW_USER" in err and "not needed for this command" in err
    code, out, err = await interlock("complete", run_id, "--status", "success", cwd=project)
    assert code == 0, err
    assert "COMPLETED" in out and "AIRFLOW_USER" in err and "other.yaml" in err

    code, out, err = await interlock("rerun", "sales", "--date", date, "--reason", "fix", "--force", "--json",
                                     cwd=project)
    assert code == 0, err
    rerun = json.loads(out)
    assert len(fake.runs) == 2  # the run and its rerun, both launched
    code, out, err = await interlock("cancel", rerun["outcome"]["run"]["runId"], cwd=project)
    assert code == 0, err
    assert "CANCELLED" in out and "AIRFLOW_USER" in err
    code, _, err = await interlock("evaluate", "sales", cwd=project)
    assert code == 0, err

    code, _, err = await interlock("run", "other", cwd=project)  # its own trigger needs them: an error
    assert code == 2
    assert "other.yaml" in err and "AIRFLOW_USER" in err and "warning" not in err
