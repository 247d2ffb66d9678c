"""A sub-daily run still active after its cycle left the watcher's view (the latest 12 cycles) is
still followed: polled on every pass until it ends (here: failed past ``job.pollWindow``), by the
watcher that saw it leave the view and by one started afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from interlock_core.model import EventKind, FailureCategory, RunStatus
from interlock_core.watcher import Watcher
from tests.helpers.cycles import at
from tests.helpers.project import Harness, pipeline
from tests.helpers.webhook import webhook_server

FIRST = "2026-03-03T10:00"


@pytest.mark.parametrize("restarted", [False, True], ids=["same-watcher", "restarted-watcher"])
async def test_a_run_whose_cycle_left_the_view_is_polled_until_it_ends(harness: Harness, restarted: bool) -> None:
    with webhook_server() as hook:  # the job runs until its callback, which never comes
        harness.write([pipeline("hourly", schedules=[{"name": "s", "cron": "0 * * * *"}],
                                trigger={"type": "http", "url": hook.url}, job={"pollWindow": "20h"})])
        harness.sensors.ready("hourly")
        engine = await harness.engine()
        watcher = Watcher(engine)
        await at(harness, watcher, datetime(2026, 3, 3, 10, 0, 5, tzinfo=UTC))
        [run] = await engine.store.list_runs("hourly")
        assert run.date == FIRST and run.status is RunStatus.RUNNING
        harness.sensors.set("hourly.freshness", "FAIL lag 900s")  # no later cycle runs
        if not restarted:
            await at(harness, watcher, datetime(2026, 3, 3, 22, 5, tzinfo=UTC))  # 10:00 is the view's oldest
            await at(harness, watcher, datetime(2026, 3, 3, 23, 5, tzinfo=UTC))  # it left the view
            assert engine.cycles.beyond_view.following("hourly", "s")
        else:
            await engine.aclose()
            engine = await harness.engine()
            watcher = Watcher(engine)
        await at(harness, watcher, datetime(2026, 3, 4, 6, 30, tzinfo=UTC))  # past its poll window
        [run] = await engine.store.list_runs("hourly")
        assert run.status is RunStatus.FAILED and run.failure_category is FailureCategory.TIMEOUT
        assert [e.date for e in await engine.store.list_events("hourly", 500)
                if e.kind is EventKind.JOB_POLL_EXHAUSTED] == [FIRST]
        entry = await engine.store.get_run_log("hourly", FIRST, "s")
        assert entry is not None and entry.status.is_terminal
        await at(harness, watcher, datetime(2026, 3, 4, 7, 30, tzinfo=UTC))
        assert not engine.cycles.beyond_view.following("hourly", "s")  # ended: no longer followed
