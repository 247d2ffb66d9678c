"""``interlock backfill`` against a real project made by ``interlock init`` (its SQLite store, its own
evaluators, a command trigger): five days run once each, a second backfill launches nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_cli_validate import EXECUTABLE

pytestmark = [pytest.mark.e2e]
DAYS = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09"]


def interlock(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}, "NO_COLOR": "1"}
    return subprocess.run([str(EXECUTABLE), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_backfill_five_days_then_again(tmp_path: Path) -> None:
    assert interlock(tmp_path, "init", "demo").returncode == 0
    root = tmp_path / "demo"
    launches = root / "launches.txt"
    path = root / "pipelines" / "example.yaml"
    example = yaml.safe_load(path.read_text())
    example["trigger"] = {"type": "command", "argv": ["sh", "-c", f"echo ${{date}} >> {launches}"], "timeout": 30}
    path.write_text(yaml.safe_dump(example))

    first = interlock(root, "backfill", "example", "--from", DAYS[0], "--to", DAYS[-1], "--concurrency", "2",
                      "--json")

    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert [(c["cycle"], c["result"]) for c in report["cycles"]] == [(day, "completed") for day in DAYS]
    assert report["ok"] is True and report["counts"] == {"completed": 5}
    assert sorted(launches.read_text().split()) == DAYS

    again = interlock(root, "backfill", "example", "--from", DAYS[0], "--to", DAYS[-1])

    assert again.returncode == 0, again.stderr
    assert "5 cycles: 5 already completed" in again.stdout
    assert sorted(launches.read_text().split()) == DAYS  # nothing launched twice

