"""Several processes racing for the same claims on one SQLite file: exactly one wins each, and
all of them (opening the file at once, none having asked before) agree on one store identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio

from interlock_plugins.stores.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
WORKERS = 3
CYCLES = 25

CLAIMER = """
import json, sys
from datetime import UTC, datetime

import anyio

from interlock_core.model import RunLogEntry, RunStatus
from interlock_plugins.stores.sqlite import SQLiteStore


async def main(path: str, worker: str, cycles: int) -> None:
    store = SQLiteStore(path, busy_timeout=30)
    await store.start()
    print("ready", flush=True)
    sys.stdin.readline()
    identity = await store.store_identity()
    won = []
    now = datetime.now(UTC)
    for i in range(cycles):
        date = f"2026-01-{i + 1:02}"
        entry = RunLogEntry(pipeline_id="ct-mp", date=date, status=RunStatus.RUNNING, run_id=worker,
                            started_at=now, updated_at=now)
        if await store.cas_run_log(entry, None):
            won.append(date)
        if await store.acquire_lease("lease-" + date, worker, 600):
            won.append("lease-" + date)
    await store.close()
    print(json.dumps({"identity": identity, "won": won}), flush=True)


anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def test_claims_race_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), f"worker-{n}", str(CYCLES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for n in range(WORKERS)
    ]
    try:
        for worker in workers:  # every worker has opened the file (racing to create the schema)
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", worker.communicate(timeout=30)[1]
        results: list[list[str]] = []
        identities: set[str] = set()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            answer = json.loads(out.strip().splitlines()[-1])
            results.append(answer["won"])
            identities.add(answer["identity"])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    assert len(identities) == 1, identities
    claims = [claim for won in results for claim in won]
    expected = [f"2026-01-{i + 1:02}" for i in range(CYCLES)]
    assert sorted(c for c in claims if not c.startswith("lease-")) == expected
    assert sorted(c for c in claims if c.startswith("lease-")) == ["lease-" + d for d in expected]

    async def check() -> None:
        store = SQLiteStore(path)
        await store.start()
        try:
            assert {await store.store_identity()} == identities
            for n, won in enumerate(results):
                for date in (c for c in won if not c.startswith("lease-")):
                    entry = await store.get_run_log("ct-mp", date, "daily")
                    assert entry is not None and entry.run_id == f"worker-{n}"
        finally:
            await store.close()

    anyio.run(check)
