"""Cascade markers: the :class:`~interlock_core.store_roles.MarkerStore` slice of the store
conformance suite (see ``suite.py``)."""

from __future__ import annotations

from interlock_core.store_roles import MarkerStore

from .records import marker


class MarkerStoreConformance:
    async def test_is_a_marker_store(self, store: MarkerStore) -> None:
        assert isinstance(store, MarkerStore)

    async def test_cascade_markers(self, store: MarkerStore) -> None:
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-b"))
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-b"))
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-c", schedule_id="h14"))
        daily = await store.list_cascade_markers("pipeline-a", "2026-02-23", "daily")
        assert daily == [marker("pipeline-a", "2026-02-23", "pipeline-b")]
        h14 = await store.list_cascade_markers("pipeline-a", "2026-02-23", "h14")
        assert [(m.source, m.schedule_id) for m in h14] == [("pipeline-c", "h14")]
        await store.write_cascade_marker(marker("pipeline-a", "2026-02-23", "pipeline-c"))
        daily = await store.list_cascade_markers("pipeline-a", "2026-02-23", "daily")
        assert sorted(m.source for m in daily) == ["pipeline-b", "pipeline-c"]
        assert await store.list_cascade_markers("pipeline-a", "2026-02-24", "daily") == []
        assert await store.list_cascade_markers("pipeline-b", "2026-02-23", "daily") == []
