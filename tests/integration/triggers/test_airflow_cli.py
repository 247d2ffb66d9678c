"""``interlock run`` of an Airflow pipeline against the fake Airflow 3: the trigger type is polled, so
the CLI points at ``interlock serve`` / ``--wait``, never at the completion callback."""

from __future__ import annotations

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
