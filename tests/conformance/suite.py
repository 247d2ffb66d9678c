"""The store conformance suite: what every :class:`interlock_core.ports.Store` must do.

A backend's test module subclasses :class:`StoreConformance` and provides three fixtures:

* ``store`` — a started store, isolated per test (its own file, key prefix or table);
* ``advance`` — ``await advance(seconds)`` makes that much time pass *for the store* (advance a
  fake clock, or sleep where the backend's TTLs are native). Tests that need expiry use 1 s TTLs
  and ``await advance(1.5)``, so a real sleep stays short;
* ``open_store`` — ``await open_store()`` opens another store on the same backend (as a second
  process or replica would), ``await open_store(fresh=True)`` one on a new, empty backend.

Records are compared whole after a round trip, so a backend that loses a field fails here. The
cases live in eight mixins: this module (lifecycle, pipelines, traits, readiness, runs),
``suite_ledger`` (run logs, reruns, cascade markers, list limits), ``suite_events`` (the event
log and leases), ``suite_identity`` (the store identity), ``suite_shadow`` (dry-run shadow
records), ``suite_reruns`` (run inputs, drift baselines, rerun sources and the counts read back
from them), ``suite_alerts`` (the alert outbox) and ``suite_batches`` (the batch reads and the
unit-of-work commit). The cases follow section 5 of the
predecessor's behaviour reference, adapted to our Protocol (absent records read as ``None``),
plus what the engine relies on beyond it.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import anyio

from interlock_core.model import (
    EventKind,
    FailureCategory,
    ReadinessStatus,
    RunStatus,
)
from interlock_core.ports import Store

from .records import Advance, at, event, pipeline, readiness, run, trait
from .suite_alerts import AlertOutboxConformance
from .suite_batches import BatchConformance
from .suite_events import EventAndLeaseConformance
from .suite_identity import IdentityConformance
from .suite_ledger import CONCURRENCY, LedgerConformance
from .suite_reruns import RerunLedgerConformance
from .suite_shadow import ShadowConformance


class StoreConformance(LedgerConformance, RerunLedgerConformance, EventAndLeaseConformance, IdentityConformance,
                       ShadowConformance, AlertOutboxConformance, BatchConformance):
    """Subclass as ``TestXStore(StoreConformance)`` next to ``store``, ``advance`` and ``open_store``
    fixtures."""

    # lifecycle -------------------------------------------------------------------------------
    async def test_is_a_store(self, store: Store) -> None:
        assert isinstance(store, Store)

    async def test_ping(self, store: Store) -> None:
        assert await store.ping() is True

    async def test_start_and_close_are_idempotent(self, store: Store) -> None:
        await store.put_pipeline(pipeline("ct-idem"))
        await store.start()
        assert await store.ping() is True
        assert await store.get_pipeline("ct-idem") is not None
        await store.close()
        await store.close()

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

    # pipelines -------------------------------------------------------------------------------
    async def test_pipeline_crud(self, store: Store) -> None:
        await store.put_pipeline(pipeline("ct-pipeline", tier=2))
        got = await store.get_pipeline("ct-pipeline")
        assert got is not None
        assert (got.name, got.archetype, got.tier) == ("ct-pipeline", "batch-ingestion", 2)
        assert [p.name for p in await store.list_pipelines()] == ["ct-pipeline"]
        await store.put_pipeline(pipeline("ct-pipeline-2", archetype="streaming"))
        assert [p.name for p in await store.list_pipelines()] == ["ct-pipeline", "ct-pipeline-2"]
        assert await store.delete_pipeline("ct-pipeline") is True
        assert await store.get_pipeline("ct-pipeline") is None
        assert await store.delete_pipeline("ct-pipeline") is False
        assert [p.name for p in await store.list_pipelines()] == ["ct-pipeline-2"]

    async def test_put_pipeline_upserts_by_name(self, store: Store) -> None:
        await store.put_pipeline(pipeline("ct-upsert", description="first"))
        await store.put_pipeline(pipeline("ct-upsert", description="second"))
        listed = await store.list_pipelines()
        assert [(p.name, p.description) for p in listed] == [("ct-upsert", "second")]

    async def test_pipelines_listed_by_name(self, store: Store) -> None:
        for name in ("ct-b", "ct-c", "ct-a"):
            await store.put_pipeline(pipeline(name))
        assert [p.name for p in await store.list_pipelines()] == ["ct-a", "ct-b", "ct-c"]

    async def test_pipeline_round_trip(self, store: Store) -> None:
        original = pipeline(
            "ct-rich",
            description="every section",
            tier=1,
            traits={
                "freshness": {
                    "evaluator": "./evaluators/freshness",
                    "config": {"maxAgeMinutes": 30, "tables": ["a", "b"], "nested": {"x": 1.5}},
                    "ttl": 300,
                    "timeout": 12.5,
                }
            },
            trigger={
                "type": "http",
                "url": "https://example.invalid/run",
                "headers": {"X-Token": "${TOKEN}"},
            },
            retry={"maxAttempts": 5, "backoffSeconds": 10, "retryableFailures": ["TRANSIENT"]},
            sla={"evaluationDeadline": "09:00", "completionDeadline": "2h", "timezone": "Europe/Paris"},
            watch={"enabled": True, "interval": "45s", "monitoring": {"enabled": True, "duration": "1h30m"}},
            schedules=[{"name": "morning", "after": "06:00", "deadline": "08:00", "timezone": "UTC"}],
            exclusions={"calendar": "holidays", "days": ["Saturday"], "dates": ["2026-12-25"]},
        )
        await store.put_pipeline(original)
        got = await store.get_pipeline("ct-rich")
        assert got == original
        assert got is not None and got.trigger is not None and original.trigger is not None
        assert got.trigger.options() == original.trigger.options()

    # traits ----------------------------------------------------------------------------------
    async def test_trait_put_get(self, store: Store) -> None:
        await store.put_trait(trait("ct-trait-pg", "freshness"), 3600)
        got = await store.get_trait("ct-trait-pg", "freshness")
        assert got is not None and got.status == "PASS"
        assert len(await store.list_traits("ct-trait-pg")) == 1
        await store.put_trait(trait("ct-trait-pg", "completeness", "FAIL", reason="missing rows"), 3600)
        listed = await store.list_traits("ct-trait-pg")
        assert [(t.trait_type, t.status) for t in listed] == [("completeness", "FAIL"), ("freshness", "PASS")]
        assert listed[0].reason == "missing rows"
        await store.put_trait(trait("ct-other", "freshness"), 3600)
        assert len(await store.list_traits("ct-trait-pg")) == 2
        assert await store.get_trait("ct-trait-pg", "unknown") is None

    async def test_trait_upserts_by_pipeline_and_type(self, store: Store) -> None:
        await store.put_trait(trait("ct-trait-up", "freshness", "PASS"), 3600)
        await store.put_trait(trait("ct-trait-up", "freshness", "FAIL", reason="stale"), 3600)
        listed = await store.list_traits("ct-trait-up")
        assert [(t.status, t.reason) for t in listed] == [("FAIL", "stale")]

    async def test_trait_round_trip(self, store: Store) -> None:
        original = trait(
            "ct-trait-rt",
            "freshness",
            "FAIL",
            value={"lagMinutes": 42, "tables": ["a"], "ok": False, "nested": {"ratio": 0.25}},
            reason="too old",
            failure_category=FailureCategory.EVALUATOR_CRASH,
            evaluated_at=at().astimezone(timezone(timedelta(hours=2))),
            expires_at=at(3600),
            source="push",
            duration_ms=12.75,
        )
        await store.put_trait(original, 3600)
        got = await store.get_trait("ct-trait-rt", "freshness")
        assert got == original
        assert got is not None and got.evaluated_at.utcoffset() == timedelta(0)

    async def test_traits_and_readiness_expire(self, store: Store, advance: Advance) -> None:
        await store.put_trait(trait("ct-ttl", "short"), 1)
        await store.put_trait(trait("ct-ttl", "forever"), None)
        await store.put_trait(trait("ct-ttl", "zero"), 0)
        await store.put_readiness(readiness("ct-ttl-short"), 1)
        await store.put_readiness(readiness("ct-ttl-forever"), None)
        assert await store.get_trait("ct-ttl", "short") is not None
        assert await store.get_readiness("ct-ttl-short") is not None
        await advance(1.5)
        assert await store.get_trait("ct-ttl", "short") is None
        assert [t.trait_type for t in await store.list_traits("ct-ttl")] == ["forever", "zero"]
        assert await store.get_readiness("ct-ttl-short") is None
        assert await store.get_readiness("ct-ttl-forever") is not None
        await store.put_trait(trait("ct-ttl", "short", "FAIL"), 3600)
        got = await store.get_trait("ct-ttl", "short")
        assert got is not None and got.status == "FAIL"

    # readiness -------------------------------------------------------------------------------
    async def test_readiness_put_get(self, store: Store) -> None:
        assert await store.get_readiness("ct-ready") is None
        original = readiness(
            "ct-ready",
            traits=[trait("ct-ready", "freshness", value={"n": 1})],
            schedule_id="morning",
            date="2026-03-02",
        )
        await store.put_readiness(original, 300)
        got = await store.get_readiness("ct-ready")
        assert got == original
        assert got is not None and got.status is ReadinessStatus.READY and len(got.traits) == 1
        blocked = readiness("ct-ready", ReadinessStatus.NOT_READY, blocking=["freshness"])
        await store.put_readiness(blocked, 300)
        assert await store.get_readiness("ct-ready") == blocked

    # runs ------------------------------------------------------------------------------------
    async def test_run_put_get(self, store: Store) -> None:
        await store.put_run(run("ct-direct", pipeline_id="ct-pipe", status=RunStatus.RUNNING))
        got = await store.get_run("ct-direct")
        assert got is not None
        assert (got.run_id, got.pipeline_id, got.status) == ("ct-direct", "ct-pipe", RunStatus.RUNNING)
        assert await store.get_run("ct-nonexistent-run") is None

    async def test_run_round_trip(self, store: Store) -> None:
        original = run(
            "ct-run-rt",
            status=RunStatus.FAILED,
            version=7,
            schedule_id="morning",
            date="2026-03-01",
            attempt=3,
            run_key="ct-pipe:morning:2026-03-01:3",
            trigger_type="http",
            rerun_id="ct-rerun-1",
            failure_message="exit 2",
            failure_category=FailureCategory.PERMANENT,
            owner="replica-a",
            lease_expires_at=at(300),
            completed_at=at(60).astimezone(timezone(timedelta(hours=-5))),
            metadata={"jobId": "j-1", "attempts": [1, 2], "nested": {"ok": True, "none": None}},
        )
        await store.put_run(original)
        got = await store.get_run("ct-run-rt")
        assert got == original
        assert got is not None and got.completed_at is not None
        assert got.completed_at.utcoffset() == timedelta(0)

    async def test_runs_listed_newest_first_by_created_at(self, store: Store) -> None:
        for i in (2, 0, 4, 1, 3):
            await store.put_run(run(f"ct-list-{i}", "ct-list-pipe", RunStatus.COMPLETED, created=i))
        await store.put_run(run("ct-list-other", "ct-other-pipe", created=10))
        listed = await store.list_runs("ct-list-pipe", limit=3)
        assert [r.run_id for r in listed] == ["ct-list-4", "ct-list-3", "ct-list-2"]
        assert len(await store.list_runs("ct-list-pipe")) == 5

    async def test_run_listed_once_however_often_written(self, store: Store) -> None:
        await store.put_run(run("ct-once", "ct-once-pipe"))
        await store.put_run(run("ct-once", "ct-once-pipe", RunStatus.TRIGGERING))
        assert await store.cas_run(run("ct-once", "ct-once-pipe", RunStatus.RUNNING, version=2), 1)
        listed = await store.list_runs("ct-once-pipe")
        assert [(r.run_id, r.status) for r in listed] == [("ct-once", RunStatus.RUNNING)]

    async def test_create_run_inserts_only_if_absent(self, store: Store) -> None:
        assert await store.create_run(run("ct-create")) is True
        assert await store.create_run(run("ct-create", status=RunStatus.FAILED, version=9)) is False
        got = await store.get_run("ct-create")
        assert got is not None and (got.status, got.version) == (RunStatus.PENDING, 1)
        assert [r.run_id for r in await store.list_runs("ct-pipe")] == ["ct-create"]

    async def test_cas_run(self, store: Store) -> None:
        await store.put_run(run("ct-cas"))
        assert await store.cas_run(run("ct-cas", status=RunStatus.TRIGGERING, version=2), 1) is True
        assert await store.cas_run(run("ct-cas", status=RunStatus.RUNNING, version=3), 1) is False
        got = await store.get_run("ct-cas")
        assert got is not None and (got.status, got.version) == (RunStatus.TRIGGERING, 2)
        assert await store.cas_run(run("ct-cas-missing", version=2), 1) is False
        assert await store.get_run("ct-cas-missing") is None

    async def test_cas_run_race_has_one_winner(self, store: Store) -> None:
        await store.put_run(run("ct-race"))
        winners: list[int] = []

        async def attempt(i: int) -> None:
            new = run("ct-race", status=RunStatus.TRIGGERING, version=2, metadata={"winner": i})
            if await store.cas_run(new, 1):
                winners.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(attempt, i)
        assert len(winners) == 1
        got = await store.get_run("ct-race")
        assert got is not None and got.version == 2 and got.metadata == {"winner": winners[0]}

    # events: the round trip here, the log itself in suite_events ---------------------------------
    async def test_event_round_trip(self, store: Store) -> None:
        original = event(
            "ct-ev-rt",
            EventKind.RUN_STATE_CHANGED,
            run_id="ct-run-1",
            trait_type="freshness",
            status="RUNNING",
            message="trigger lock acquired",
            details={"attempt": 2, "blocking": ["a", "b"], "nested": {"x": None}},
            schedule_id="morning",
            date="2026-03-02",
            timestamp=at().astimezone(timezone(timedelta(hours=-3))),
        )
        await store.append_event(original)
        assert await store.list_events("ct-ev-rt") == [original]
        records = await store.read_events_since("ct-ev-rt", None)
        assert [r.event for r in records] == [original]
