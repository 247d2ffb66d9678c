"""Where a dry-run cycle's would-trigger instant is kept: a lease-style marker per cycle, whose
owner begins with the instant (:mod:`.dry_run` claims it; a state read only looks)."""

from __future__ import annotations

from datetime import datetime

from .context import EngineContext


def marker_key(pipeline_id: str, schedule_id: str, date: str, what: str = "would-trigger") -> str:
    return f"dry-run:{what}:{pipeline_id}:{schedule_id}:{date}"


async def would_trigger_at(ctx: EngineContext, pipeline_id: str, schedule_id: str, date: str) -> datetime | None:
    """When the cycle of a dry-run pipeline first would have triggered, if it did."""
    owner = await ctx.store.lease_owner(marker_key(pipeline_id, schedule_id, date))
    if not owner:
        return None
    try:
        return datetime.fromisoformat(owner.split("|", 1)[0].replace("Z", "+00:00"))
    except ValueError:
        return None
