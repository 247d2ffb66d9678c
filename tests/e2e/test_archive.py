"""The archive check of the local end-to-end suite: the archiver running inside ``interlock serve``
copies a finished cycle (run, run log, events, trait evaluations) into PostgreSQL by itself."""

from __future__ import annotations

import psycopg
import pytest

from .support import Deployment, batch_pipeline, eventually, today

pytestmark = pytest.mark.e2e


async def _count(dsn: str, query: str, *params: object) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        try:
            row = await (await conn.execute(query, params)).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0  # the archiver has not migrated yet
    return int(row[0]) if row else 0


async def test_archiver_copies_a_finished_cycle_into_postgres(deployment: Deployment) -> None:
    d, name, day = deployment, "e2e-archived", today()
    assert d.archive_dsn is not None
    d.sensors.ready(name)
    await d.register(batch_pipeline(name, d.orchestrator, watch={"enabled": False}))
    run = await d.post(f"/api/pipelines/{name}/run", expect=202)
    [launch] = d.orchestrator.launches(name)
    assert (await d.orchestrator.call_back(launch)).json()["status"] == "COMPLETED"
    dsn = d.archive_dsn

    async def archived() -> bool:
        return (await _count(dsn, "SELECT count(*) FROM runs WHERE run_id = %s AND status = 'COMPLETED'",
                             run["runId"]) == 1
                and await _count(dsn, "SELECT count(*) FROM run_logs WHERE pipeline_id = %s AND date = %s "
                                      "AND status = 'COMPLETED'", name, day) == 1
                and await _count(dsn, "SELECT count(*) FROM events WHERE pipeline_id = %s AND kind = "
                                      "'CALLBACK_RECEIVED'", name) == 1)

    await eventually(archived, what="the finished cycle in the archive", every=0.5)
    assert await _count(dsn, "SELECT count(*) FROM events WHERE pipeline_id LIKE 'e2e-%%'") > 0
    assert await _count(dsn, "SELECT count(*) FROM trait_evaluations WHERE pipeline_id = %s", name) == 3
