"""One rerun of a cycle at a time: the per-cycle rerun slot.

A cycle (pipeline, schedule, date) has one rerun slot in the store: a lease whose owner names the
rerun holding it (``<rerunId>@<taken at>``). A rerun record is only written once its request has
taken the slot, and taking it is one atomic store step (``acquire_lease`` writes only when the slot
is free), so of any number of requests for one cycle made at the same moment — from one process or
from many engines and replicas on one store — exactly one records a rerun; the others are refused
and record nothing.

The slot is held while its rerun is unfinished (PENDING, TRIGGERING or RUNNING). It is released
when the rerun ends (best effort); a slot whose rerun has ended, or whose request died before
writing the record, is taken over by the next request (``release_lease`` is a compare-and-delete
on the stale owner, so two requests taking over at once still leave one holder).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..errors import ConflictError, StoreUnavailable
from ..model import RerunRecord, RunStatus, format_timestamp
from ..model.enums import ACTIVE_STATUSES
from .context import EngineContext

log = logging.getLogger("interlock.lifecycle")
S = RunStatus

HOLDS_SLOT = ACTIVE_STATUSES
"""A rerun in one of these will still launch its job or is running it: its cycle takes no other."""
RERUN_SLOT_TTL = timedelta(days=35)
"""The longest a slot is held by one rerun; past it (a PENDING rerun never ready for five weeks),
the next request for the cycle may record another."""
RECORDING_GRACE = timedelta(seconds=30)
"""How long a slot whose rerun record is not written yet belongs to the request writing it."""
TAKE_ATTEMPTS = 4
RERUN_SCAN_LIMIT = 500


class RerunExists(ConflictError):
    """A rerun was asked for while another rerun of that cycle is unfinished (or being recorded)."""

    def __init__(self, pipeline_id: str, schedule_id: str, date: str, rerun_id: str,
                 rerun: RerunRecord | None) -> None:
        if rerun is not None:
            then = ("it starts once the pipeline is ready (cancel it to request another)"
                    if rerun.status is S.PENDING else "wait for it to end")
            message = (f"rerun {rerun_id} of {pipeline_id} for {date}/{schedule_id} is {rerun.status.value}: "
                       f"one rerun of a cycle at a time; {then}")
        else:
            message = (f"rerun {rerun_id} of {pipeline_id} for {date}/{schedule_id} is being recorded by a "
                       "request made at the same moment: one rerun of a cycle at a time")
        super().__init__(message, pipelineId=pipeline_id, scheduleId=schedule_id, date=date, rerunId=rerun_id,
                         rerunStatus=rerun.status.value if rerun is not None else S.PENDING.value)
        self.rerun = rerun
        self.rerun_id = rerun_id


def slot_key(pipeline_id: str, schedule_id: str, date: str) -> str:
    return f"rerun-slot:{pipeline_id}:{schedule_id}:{date}"


def _holder(owner: str) -> tuple[str, datetime | None]:
    rerun_id, _, taken = owner.rpartition("@")
    try:
        return rerun_id, datetime.fromisoformat(taken.replace("Z", "+00:00"))
    except ValueError:
        return rerun_id or owner, None


class RerunSlot:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def take(self, pipeline_id: str, schedule_id: str, date: str, rerun_id: str) -> None:
        """Take the cycle's slot for ``rerun_id`` (not written yet), or raise :class:`RerunExists`."""
        key = slot_key(pipeline_id, schedule_id, date)
        owner = f"{rerun_id}@{format_timestamp(self.ctx.clock.now())}"
        ttl = RERUN_SLOT_TTL.total_seconds()
        for _ in range(TAKE_ATTEMPTS):
            if await self.ctx.store.acquire_lease(key, owner, ttl):
                await self._no_other(pipeline_id, schedule_id, date, key, owner)
                return
            held = await self.ctx.store.lease_owner(key)
            if held is None:
                continue  # released meanwhile: try again
            holder_id, taken = _holder(held)
            record = await self.ctx.store.get_rerun(holder_id)
            if record is not None and record.status in HOLDS_SLOT:
                raise RerunExists(pipeline_id, schedule_id, date, holder_id, record)
            if record is None and (taken is None or self.ctx.clock.now() < taken + RECORDING_GRACE):
                raise RerunExists(pipeline_id, schedule_id, date, holder_id, None)
            # its rerun ended, or its request died before recording it: free it (only if still that holder's)
            await self.ctx.store.release_lease(key, held)
        raise ConflictError(f"the rerun slot of {pipeline_id} for {date}/{schedule_id} kept changing hands; "
                            "try again", pipelineId=pipeline_id, scheduleId=schedule_id, date=date)

    async def _no_other(self, pipeline_id: str, schedule_id: str, date: str, key: str, owner: str) -> None:
        """Records are only written under the slot, but one written before slots existed (or after a
        slot lapsed) still counts: the slot just taken is given back and the request refused."""
        for record in await self.ctx.store.list_reruns(pipeline_id, RERUN_SCAN_LIMIT):
            if (record.original_date == date and record.schedule_id == schedule_id
                    and record.status in HOLDS_SLOT):
                await self.ctx.store.release_lease(key, owner)
                raise RerunExists(pipeline_id, schedule_id, date, record.rerun_id, record)

    async def give_back(self, pipeline_id: str, schedule_id: str, date: str, rerun_id: str) -> None:
        """Free a slot taken for ``rerun_id`` whose record will not be written (its request was
        refused after taking it). Best effort, as :meth:`release`."""
        key = slot_key(pipeline_id, schedule_id, date)
        try:
            held = await self.ctx.store.lease_owner(key)
            if held is not None and _holder(held)[0] == rerun_id:
                await self.ctx.store.release_lease(key, held)
        except StoreUnavailable as exc:
            log.warning("could not give back the rerun slot %s: %s", key, exc.message)

    async def release(self, record: RerunRecord) -> None:
        """Free the slot ``record`` holds, once it no longer needs it. Best effort: a slot left held
        by an ended rerun is taken over by the next request."""
        if record.status in HOLDS_SLOT:
            return
        key = slot_key(record.pipeline_id, record.schedule_id, record.original_date)
        try:
            held = await self.ctx.store.lease_owner(key)
            if held is not None and _holder(held)[0] == record.rerun_id:
                await self.ctx.store.release_lease(key, held)
        except StoreUnavailable as exc:
            log.warning("could not release the rerun slot %s: %s", key, exc.message)
