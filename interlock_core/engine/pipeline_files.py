"""Pipeline files are the source of truth for the pipelines they define.

:func:`sync_pipeline_files` makes the store follow the pipeline files as loaded:

* a pipeline defined in a file is registered (written only when it differs from the stored one);
  a retired one whose file is back is *restored* (``PIPELINE_RESTORED``);
* a stored file pipeline that no file defines any more is *retired*, once (``PIPELINE_RETIRED``):
  it keeps its history but is never evaluated, triggered or alerted again
  (:class:`interlock_core.errors.PipelineRetired` refuses whoever asks); a run already under way is
  still followed to its end (:mod:`interlock_core.engine.retirement`);
* pipelines registered over the API are not the files' business and are left alone (a stored
  pipeline without an origin, written before origins were recorded, that no file defines, is one).

Every CLI command syncs when it opens the store; a running ``interlock serve`` re-reads the files
when they change (:class:`PipelineFileWatch`), so a deleted file stops its pipeline within seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ..config import Project, reload_pipelines
from ..errors import ConfigError, StoreUnavailable
from ..model import EventKind, PipelineConfig, PipelineOrigin, format_timestamp

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("interlock.pipelines")

CHECK_INTERVAL = 2.0
"""Seconds between two looks at the pipeline directories of a running server (a few ``stat`` calls)."""
_SUFFIXES = (".yaml", ".yml")

Fingerprint = tuple[tuple[str, int, int, int], ...]


@dataclass
class SyncReport:
    """What one sync changed in the store (pipeline names)."""

    registered: list[str] = field(default_factory=list)
    """New to the store, or changed in their file."""
    restored: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    problems: list[ConfigError] = field(default_factory=list)
    """Files that could not be loaded (a running server's re-read only): nothing was retired."""

    @property
    def changed(self) -> bool:
        return bool(self.registered or self.restored or self.retired)


async def sync_pipeline_files(engine: Engine, files: Mapping[str, PipelineConfig], *,
                              retire: bool = True) -> SyncReport:
    """Make the store follow ``files`` (every pipeline the pipeline files define, by name). With
    ``retire`` off (some file could not be read, and may be the missing pipeline's), nothing is retired."""
    ctx = engine.ctx
    report = SyncReport()
    stored = {p.name: p for p in await ctx.store.list_pipelines()}
    for name, pipeline in files.items():
        current = stored.get(name)
        wanted = pipeline.model_copy(update={"origin": PipelineOrigin.FILE, "retired_at": None})
        if current == wanted:
            continue
        await ctx.store.put_pipeline(wanted)
        if current is not None and current.retired:
            report.restored.append(name)
            await ctx.emit(EventKind.PIPELINE_RESTORED, name,
                           message="pipeline file restored: the pipeline is evaluated and triggered again",
                           details={"retiredAt": format_timestamp(current.retired_at)} if current.retired_at else None)
        else:
            report.registered.append(name)
        await ctx.wake(name, "pipeline-registered")
    for name, current in stored.items():
        if name in files:
            continue
        if current.origin is None:  # stored before origins were recorded, and in no file: an API pipeline
            await ctx.store.put_pipeline(current.model_copy(update={"origin": PipelineOrigin.API}))
            continue
        if not retire or current.retired or current.origin is not PipelineOrigin.FILE:
            continue
        now = ctx.clock.now()
        await ctx.store.put_pipeline(current.model_copy(update={"retired_at": now}))
        report.retired.append(name)
        await ctx.emit(EventKind.PIPELINE_RETIRED, name,
                       message="pipeline file deleted: the pipeline is retired (never evaluated, triggered or "
                               "alerted again; a run under way is followed to its end); restore the file to bring "
                               "it back")
        await ctx.wake(name, "pipeline-retired")
    for name in report.retired:
        log.warning("pipeline %s retired: its pipeline file was deleted", name)
    for name in report.restored:
        log.warning("pipeline %s restored: its pipeline file is back", name)
    return report


def fingerprint(directories: list[Path]) -> Fingerprint:
    """Every pipeline file's path, inode, size and modification time: a file added, deleted,
    replaced or edited changes it. A missing directory is a row of its own."""
    rows: list[tuple[str, int, int, int]] = []
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            rows.append((str(directory), -1, -1, -1))
            continue
        for entry in entries:
            if not entry.name.endswith(_SUFFIXES):
                continue
            try:
                info = entry.stat()
            except OSError:  # a dangling link: the loader reports it
                rows.append((entry.path, -1, -1, -1))
                continue
            rows.append((entry.path, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(sorted(rows))


class PipelineFileWatch:
    """For a running server: when the pipeline files change, read them again and sync the store
    (a deleted file retires its pipeline, a restored or edited one is registered). A file with
    errors is logged, keeps the last good version of its pipeline and holds every retirement back."""

    def __init__(self, engine: Engine, project: Project, *, interval: float = CHECK_INTERVAL) -> None:
        self.engine = engine
        self.project = project
        self.interval = interval
        self._seen: Fingerprint | None = None
        """What the files looked like when last synced: unknown at first, so the first look re-reads
        them (they may have changed since the start-up sync read them)."""

    async def check(self) -> SyncReport | None:
        """Sync when the files changed since the last look; None when they did not."""
        now = await anyio.to_thread.run_sync(fingerprint, self.project.pipeline_dirs)
        if now == self._seen:
            return None
        fresh, problems = await anyio.to_thread.run_sync(lambda: reload_pipelines(self.project))
        try:
            report = await sync_pipeline_files(self.engine, fresh.pipelines, retire=not problems)
        except StoreUnavailable:
            self._seen = None  # look again next time
            raise
        self._seen = now
        report.problems = problems
        for problem in problems:
            log.error("pipeline file not applied (the store keeps the last good version; nothing is retired "
                      "until it loads): %s", problem.message)
        return report

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.check()
            except StoreUnavailable as exc:
                log.warning("could not sync the pipeline files (store unavailable): %s", exc.message)
            except Exception:  # never take the server down: the next look tries again
                self._seen = None
                log.exception("could not sync the pipeline files")
