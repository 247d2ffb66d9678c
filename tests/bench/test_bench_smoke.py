"""Every benchmark script runs end to end at tiny sizes and prints its figures as a JSON last line.

Nothing here looks at the figures themselves: timings are for ``bench/`` and docs/performance.md,
never for assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_runs_quick_and_prints_its_json(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"bench_{name}.py"), "--quick", "--store-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=BENCH.parent, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) >= 2  # the table, then the JSON line
    figures = json.loads(lines[-1])
    assert isinstance(figures["benchmark"], str) and figures["benchmark"]
    assert figures["machine"]["nproc"] >= 1
    assert list(tmp_path.iterdir()) == []  # the script removed its project
