"""Pipeline configurations: the :class:`~interlock_core.store_roles.PipelineStore` slice of the
store conformance suite (see ``suite.py``)."""

from __future__ import annotations

from interlock_core.store_roles import PipelineStore

from .records import pipeline


class PipelineStoreConformance:
    async def test_is_a_pipeline_store(self, store: PipelineStore) -> None:
        assert isinstance(store, PipelineStore)

    async def test_pipeline_crud(self, store: PipelineStore) -> None:
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

    async def test_put_pipeline_upserts_by_name(self, store: PipelineStore) -> None:
        await store.put_pipeline(pipeline("ct-upsert", description="first"))
        await store.put_pipeline(pipeline("ct-upsert", description="second"))
        listed = await store.list_pipelines()
        assert [(p.name, p.description) for p in listed] == [("ct-upsert", "second")]

    async def test_pipelines_listed_by_name(self, store: PipelineStore) -> None:
        for name in ("ct-b", "ct-c", "ct-a"):
            await store.put_pipeline(pipeline(name))
        assert [p.name for p in await store.list_pipelines()] == ["ct-a", "ct-b", "ct-c"]

    async def test_pipeline_round_trip(self, store: PipelineStore) -> None:
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
