"""The store conformance suite: what every :class:`interlock_core.ports.Store` must do.

A backend's test module subclasses :class:`StoreConformance` and provides three fixtures:

* ``store`` — a started store, isolated per test (its own file, key prefix or table);
* ``advance`` — ``await advance(seconds)`` makes that much time pass *for the store* (advance a
  fake clock, or sleep where the backend's TTLs are native). Tests that need expiry use 1 s TTLs
  and ``await advance(1.5)``, so a real sleep stays short;
* ``open_store`` — ``await open_store()`` opens another store on the same backend (as a second
  process or replica would), ``await open_store(fresh=True)`` one on a new, empty backend.

Records are compared whole after a round trip, so a backend that loses a field fails here. The
cases are sliced as the port is (:mod:`interlock_core.store_roles`), one mixin per role, so a
store can be written and tested one role at a time: ``suite_connection`` (StoreConnection),
``suite_pipelines`` (PipelineStore), ``suite_traits`` (TraitStore: traits and the readiness
cache), ``suite_runs`` (RunStore: runs and run logs), ``suite_reruns`` (RerunStore),
``suite_events`` (EventStore), ``suite_alerts`` (AlertOutboxStore), ``suite_markers``
(MarkerStore), ``suite_shadow`` (ShadowStore: dry-run shadow records), ``suite_batches``
(BatchStore: the batch reads and the unit-of-work commit) and ``suite_leases`` (LeaseStore).
This module adds the cases that span roles. The cases follow section 5 of the predecessor's
behaviour reference, adapted to our Protocol (absent records read as ``None``), plus what the
engine relies on beyond it.
"""

from __future__ import annotations

from interlock_core.engine.inputs import Inputs, completed_run_id
from interlock_core.model import RunStatus
from interlock_core.ports import Store

from .records import DAY, at, engine_ctx, rerun, run, run_log
from .suite_alerts import AlertOutboxStoreConformance
from .suite_batches import BatchStoreConformance
from .suite_connection import StoreConnectionConformance
from .suite_events import EventStoreConformance
from .suite_leases import LeaseStoreConformance
from .suite_markers import MarkerStoreConformance
from .suite_pipelines import PipelineStoreConformance
from .suite_reruns import RerunStoreConformance
from .suite_runs import RunStoreConformance
from .suite_shadow import ShadowStoreConformance
from .suite_traits import TraitStoreConformance

S = RunStatus


class StoreConformance(StoreConnectionConformance, PipelineStoreConformance, TraitStoreConformance,
                       RunStoreConformance, RerunStoreConformance, EventStoreConformance,
                       AlertOutboxStoreConformance, MarkerStoreConformance, ShadowStoreConformance,
                       BatchStoreConformance, LeaseStoreConformance):
    """Subclass as ``TestXStore(StoreConformance)`` next to ``store``, ``advance`` and ``open_store``
    fixtures. Every role's cases, and these, which span roles."""

    async def test_is_a_store(self, store: Store) -> None:
        assert isinstance(store, Store)

    async def test_absent_records_read_as_none_or_empty(self, store: Store) -> None:
        assert await store.get_pipeline("ct-missing") is None
        assert await store.get_trait("ct-missing", "freshness") is None
        assert await store.get_readiness("ct-missing") is None
        assert await store.get_run("ct-nonexistent-run") is None
        assert await store.get_run_log("ct-missing", "2026-01-01", "daily") is None
        assert await store.get_rerun("ct-missing") is None
        assert await store.list_pipelines() == []
        assert await store.list_traits("ct-missing") == []
        assert await store.list_runs("ct-missing") == []
        assert await store.list_run_logs("ct-missing") == []
        assert await store.list_reruns("ct-missing") == []
        assert await store.list_reruns(None) == []
        assert await store.list_events("ct-missing") == []
        assert await store.read_events_since("ct-missing", None) == []
        assert await store.list_cascade_markers("ct-missing", "2026-01-01", "daily") == []
        assert await store.lease_owner("ct-missing") is None

    async def test_list_limits(self, store: Store) -> None:
        for i in range(25):
            await store.put_run(run(f"ct-lim-{i:02}", "ct-lim", created=i))
            await store.put_run_log(run_log("ct-lim", f"2026-01-{i + 1:02}"))
            await store.put_rerun(rerun(f"ct-lim-rr-{i:02}", "ct-lim", requested=i))
        runs = await store.list_runs("ct-lim")
        assert len(runs) == 20 and runs[0].run_id == "ct-lim-24"
        assert [r.run_id for r in await store.list_runs("ct-lim", 2)] == ["ct-lim-24", "ct-lim-23"]
        logs = await store.list_run_logs("ct-lim")
        assert len(logs) == 20 and logs[0].date == "2026-01-25"
        assert len(await store.list_run_logs("ct-lim", 5)) == 5
        assert len(await store.list_reruns("ct-lim")) == 20
        assert len(await store.list_reruns(None, 7)) == 7
        assert len(await store.list_runs("ct-lim", 100)) == 25

    async def test_the_runs_a_cycle_consumed_are_read_back(self, store: Store) -> None:
        """What the breaker and late data look up: the cycle's newest run, and the run of an
        upstream that last completed the cycle (its scheduled run, or a later completed rerun)."""
        await store.put_run_log(run_log("ct-up", DAY, status=S.COMPLETED, run_id="ct-up-1", completed_at=at(10)))
        assert await completed_run_id(store, "ct-up", "daily", DAY) == "ct-up-1"
        await store.put_rerun(rerun("ct-up-rr1", "ct-up", S.COMPLETED, requested=20, original_date=DAY,
                                    rerun_run_id="ct-up-2", completed_at=at(30)))
        await store.put_rerun(rerun("ct-up-rr2", "ct-up", S.RUNNING, requested=40, original_date=DAY,
                                    rerun_run_id="ct-up-3"))
        assert await completed_run_id(store, "ct-up", "daily", DAY) == "ct-up-2"
        assert await completed_run_id(store, "ct-up", "h14", DAY) is None
        for run_id, created in (("ct-up-1", 0), ("ct-up-2", 20), ("ct-up-3", 40)):
            await store.put_run(run(run_id, "ct-up", S.COMPLETED, created=created))
        inputs = Inputs(engine_ctx(store))
        latest = await inputs.latest_run("ct-up", "daily", DAY)
        assert latest is not None and latest.run_id == "ct-up-3"
        assert await inputs.latest_run("ct-up", "daily", "2026-02-01") is None
