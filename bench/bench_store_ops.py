"""Store operations per call: Store method calls, SQLite statements and write transactions, Redis
round trips, for one evaluation of 3 passing traits, a triggering start_run, a readiness GET and a
watcher's first pass (per cycle). Counts, not times: the machine's load does not change them.

    .venv/bin/python bench/bench_store_ops.py                       # this tree
    PYTHONPATH=/tmp/base .venv/bin/python bench/bench_store_ops.py  # another tree (its tests/helpers
                                                                    # needs store_ops.py copied in)
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio

sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(":")[0] or str(Path(__file__).resolve().parents[1]))

from _support import arguments, report, workspace

from interlock_core.clock import FakeClock
from tests.helpers.project import Harness, Sensors
from tests.helpers.store_ops import SCENARIOS, measure


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])  # --quick changes nothing: the counts are of one call each
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for provider in ("sqlite", "redis"):
        with workspace(args.store_dir, f"store-ops-{provider}") as tmp:
            sensors = tmp / "sensors"
            sensors.mkdir()
            os.environ["INTERLOCK_TEST_SENSORS"] = str(sensors)
            harness = Harness(root=tmp / "project", sensors=Sensors(sensors),
                              clock=FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC)))
            harness.root.mkdir()
            try:
                counts = await measure(harness, provider)
            finally:
                for engine in harness.engines:
                    await engine.aclose()
        figures[provider] = {}
        for label in SCENARIOS:
            row = counts[label]
            by_name = ", ".join(f"{k} {v}" for k, v in sorted(row["calls by name"].items()))  # type: ignore[union-attr]
            print(f"| {provider} | {label} | {row['store calls']:g} | {row['SQLite statements']:g} | "
                  f"{row['write transactions']:g} | {row['Redis round trips']:g} | {by_name} |")
            figures[provider][label] = {k: v for k, v in row.items() if isinstance(v, int | float)}
    report("store operations per call", [], {"counts": figures})


if __name__ == "__main__":
    anyio.run(main)
