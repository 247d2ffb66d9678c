"""A long-lived process's collector: its imports run with the cyclic garbage collector paused, what
they made is frozen, and the youngest generation is collected less often. The command line
(``interlock_server/cli/__init__.py``, ``serve`` included) and the Lambda handlers
(``interlock_server/aws/__init__.py``: once per container, in its init phase) start so.

Importing what a command needs (the engine, the models and their validators, asyncio, pydantic,
the store) creates a few hundred thousand objects that live as long as the process. With the
collector running, it traverses them again and again while they are being created (a collection
every few hundred allocations, a full one whenever the heap has grown by a quarter); frozen once
the imports are done (:func:`gc.freeze`), no later collection traverses them either, during a
command or when the process exits. Cycles made after the imports are collected as before.

Python collects its youngest generation every 700 allocations of container objects (less
deallocations). A watcher pass or a served request makes thousands of short-lived records, so
most collections find them still alive and promote them: over 10,000 pipelines the watcher's first
pass spent about 30 % of its CPU in 900 collections. Every 10,000 allocations, what dies young is
gone by the time a collection comes, and the pass spends about 15 % (docs/performance.md). At
most that many container objects wait for a collection in between: a few MB at the very worst.

Measured with callgrind on ``interlock status`` over the project ``interlock init`` writes:
freezing after the imports saves about 80 million of 1,500 million instructions; pausing without
freezing saves nothing (the same objects are traversed by the first collections after the imports).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations of container objects (less deallocations) between two collections of the youngest
generation (Python's default: 700); the older generations' thresholds are left as they are."""


def settle_collector() -> None:
    """What the process does once its imports are done: freeze what they made, and collect the
    youngest generation every :data:`YOUNG_COLLECTION_THRESHOLD` allocations."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block's imports without the cyclic collector, then settle it
    (:func:`settle_collector`) and let it run again (if it was running)."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        settle_collector()
        if running:
            gc.enable()
