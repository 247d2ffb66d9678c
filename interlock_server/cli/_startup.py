"""The command line's start-up: its imports run with the cyclic garbage collector paused.

Importing what a command needs (the engine, the models and their validators, asyncio, pydantic,
the store) creates a few hundred thousand objects that live as long as the process. With the
collector running, it traverses them again and again while they are being created (a collection
every few hundred allocations, a full one whenever the heap has grown by a quarter); frozen once
the imports are done (:func:`gc.freeze`), no later collection traverses them either, during a
command or when the process exits. Cycles made after the imports are collected as before.

Measured with callgrind on ``interlock status`` over the project ``interlock init`` writes
(docs/performance.md): 1,505 → 1,423 million instructions (−5.5 %); pausing without freezing
saves nothing (the same objects are traversed by the first collections after the imports).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block's imports without the cyclic collector, then freeze what they made and let
    the collector run again (if it was running)."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if running:
            gc.enable()
