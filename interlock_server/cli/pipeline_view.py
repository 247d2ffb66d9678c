"""How ``interlock status`` shows a pipeline: as the store holds it, against the pipeline files.

``status`` only reads — it registers nothing and retires nothing — so the files and the store may
differ until the next command that writes (``run``, ``evaluate`` …) or a running ``serve`` syncs
them. Each pipeline is shown with its *state*:

* ``active`` — registered and acting (``fileChanged`` when its file was edited since it was registered);
* ``retired`` — its file was deleted: never evaluated or triggered again, history kept
  (``retiredAt`` is null while the deletion is not recorded yet; ``fileChanged`` when the file is
  back and the next command that writes restores it);
* ``not-registered`` — in a pipeline file, not in the store yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from interlock_core.errors import NotFoundError
from interlock_core.model import PipelineConfig, PipelineOrigin, format_timestamp

from .output import EXIT_OK, Out

ACTIVE, RETIRED, NOT_REGISTERED = "active", "retired", "not-registered"


@dataclass(frozen=True)
class ListedPipeline:
    pipeline: PipelineConfig
    """The stored configuration; the file's for a pipeline not registered yet."""
    state: str
    origin: str
    retired_at: datetime | None = None
    file_changed: bool = False
    """Active: its file was edited since it was registered. Retired: its file is back."""

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def registered(self) -> bool:
        return self.state != NOT_REGISTERED

    @property
    def word(self) -> str:
        """What stands in for the readiness word of a pipeline that does not act."""
        return "RETIRED" if self.state == RETIRED else "NOT_REGISTERED"

    def fields(self) -> dict[str, Any]:
        """The keys ``status --json`` adds for the pipeline."""
        return {"registration": self.state, "origin": self.origin,
                "retiredAt": format_timestamp(self.retired_at) if self.retired_at else None,
                "fileChanged": self.file_changed}

    def note(self) -> str:
        """A short explanation for the text output ('' for an active pipeline as in its file)."""
        if self.state == NOT_REGISTERED:
            return "in a pipeline file, not registered yet (the next run, evaluate or serve registers it)"
        if self.state == RETIRED and self.file_changed:
            return "its file is back: restored by the next run, evaluate or serve"
        if self.state == RETIRED and self.retired_at is None:
            return "its file was deleted: retired by the next run, evaluate or serve"
        if self.state == RETIRED:
            return f"its file was deleted (retired {format_timestamp(self.retired_at)}); restore it to bring it back"
        if self.file_changed:
            return "its file changed since it was registered (the next run, evaluate or serve applies it)"
        return ""


def describe(name: str, stored: PipelineConfig | None, files: Mapping[str, PipelineConfig]) -> ListedPipeline | None:
    """One pipeline as the store and the files have it (None when neither knows it)."""
    in_file = files.get(name)
    if stored is None:
        return ListedPipeline(in_file, NOT_REGISTERED, PipelineOrigin.FILE.value) if in_file is not None else None
    origin = stored.origin or (PipelineOrigin.FILE if in_file is not None else PipelineOrigin.API)
    if stored.retired:
        return ListedPipeline(stored, RETIRED, origin.value, stored.retired_at, file_changed=in_file is not None)
    if origin is PipelineOrigin.FILE and in_file is None:
        return ListedPipeline(stored, RETIRED, origin.value)
    changed = in_file is not None and in_file != stored.model_copy(update={"origin": in_file.origin})
    return ListedPipeline(stored, ACTIVE, origin.value, file_changed=changed)


def known(name: str, stored: PipelineConfig | None, files: Mapping[str, PipelineConfig]) -> ListedPipeline:
    """:func:`describe`, or :class:`NotFoundError` when neither the store nor the files know ``name``."""
    item = describe(name, stored, files)
    if item is None:
        raise NotFoundError(f"pipeline {name!r} not found", pipelineId=name)
    return item


def show_unregistered(out: Out, item: ListedPipeline) -> int:
    """``status NAME`` for a pipeline only its file knows."""
    if out.json_mode:
        out.json({"pipeline": item.pipeline.to_json_dict(), "state": item.word, **item.fields()})
    else:
        out.line(out.bold(f"Pipeline: {item.name}") + f"  {out.status_word(item.word)}")
        out.line(f"  {item.note()}")
    return EXIT_OK


def listing(stored: list[PipelineConfig], files: Mapping[str, PipelineConfig]) -> list[ListedPipeline]:
    """Every pipeline of the store and of the files, by name."""
    by_name = {p.name: p for p in stored}
    found = (describe(name, by_name.get(name), files) for name in sorted(by_name.keys() | files.keys()))
    return [item for item in found if item is not None]
