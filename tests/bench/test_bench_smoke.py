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

#: Figures a script must report (the shape of its JSON line, never their values).
EXPECTED: dict[str, list[str]] = {
    "access_log": ["app_cpu_us_with", "app_cpu_us_without", "share", "line_cpu_us"],
    "api": ["bare", "interlock", "layers", "ratio", "cpu_ratio"],
    "api_floor": ["cpu_us"],
    "cascade": ["cascade", "push", "ratio_p50"],
    "overhead": ["wall_ms", "cpu_ms", "evaluate_over_featured", "evaluate_over_plain", "runner_over_featured"],
    "spawn": ["per_s", "cpu_us_per_process"],
    "startup": ["seconds", "cpu_seconds", "imported"],
    "throughput": ["per_s", "cpu_us_per_process", "evaluate_over_featured", "runner_over_featured"],
    "watcher": ["variants"],
}


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
    for key in EXPECTED.get(name, []):
        assert key in figures, key
    if name == "api":  # the low-overhead generator ran, and both CPU meters read something
        assert figures["tool"] == "raw"
        for server in ("bare", "interlock"):
            assert figures[server]["errors"] == 0
            assert all(value > 0 for value in figures[server]["server_cpu_us_per_request"])
            assert all(value > 0 for value in figures[server]["client_cpu_us_per_request"])
    if name == "startup":
        assert figures["imported"] == []  # no optional library at start-up
    assert list(tmp_path.iterdir()) == []  # the script removed its project
