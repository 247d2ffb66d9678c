"""What becomes of a retired pipeline's cycles (a pipeline whose file was deleted, see
:mod:`.pipeline_files`).

Nothing new starts: no evaluation, launch, retry, relaunch, rerun, SLA or watchdog check, and no
alert. A run already under way when the file was deleted is still followed to its end, so its
outcome is recorded and its history complete:

* a RUNNING job is polled (or completed, failed or cancelled by its callback) as before; a failure
  is recorded but never retried or alerted;
* a run left TRIGGERING by a launcher that died is failed, not relaunched;
* post-run monitoring closes at once, without a drift check (that would evaluate);
* PENDING reruns wait: they start once the file is restored, unless cancelled meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ..model import PipelineConfig, RunState, ScheduleConfig
from .context import EngineContext
from .outcome import Outcome, RunOutcome

Advance = Callable[[RunState], Awaitable[RunState]]


async def follow_up(ctx: EngineContext, advance: Advance, pipeline: PipelineConfig, schedule: ScheduleConfig,
                    days: Sequence[str]) -> RunOutcome:
    """One watcher pass over a retired pipeline's cycle: move along every run of ``days`` (oldest
    first, the last is today) and of its reruns that is still active. The outcome names the first
    run still active, if any."""
    run_ids: list[str] = []
    for day in days:
        entry = await ctx.store.get_run_log(pipeline.name, day, schedule.name)
        if entry is not None and entry.run_id and not entry.status.is_terminal:
            run_ids.append(entry.run_id)
    for record in await ctx.store.list_reruns(pipeline.name, limit=50):
        if record.schedule_id == schedule.name and record.rerun_run_id and not record.status.is_terminal:
            run_ids.append(record.rerun_run_id)
    still: list[RunState] = []
    for run_id in run_ids:
        run = await ctx.store.get_run(run_id)
        if run is not None and not run.status.is_terminal:
            run = await advance(run)
            if not run.status.is_terminal:
                still.append(run)
    message = f"pipeline {pipeline.name} is retired (its file was deleted): nothing new starts"
    if still:
        message += f"; run {still[0].run_id} ({still[0].status.value}) is followed to its end"
    return RunOutcome(Outcome.RETIRED, pipeline.name, schedule.name, days[-1], message,
                      run=still[0] if still else None)
