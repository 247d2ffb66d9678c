"""Cascade latency: an upstream run completes → its downstream pipeline's trigger process starts.

A real ``watcher.run()`` (system clock, 1-hour interval, so only wake-ups explain a launch) over
pairs of pipelines: ``uNNNN`` (one pushed trait) and ``dNNNN`` (one trait evaluated by
``builtin:upstream-job-log`` on ``uNNNN``), each with a command trigger writing ``date +%s.%N`` to
a file as its last act. A command run is COMPLETED when its process exits 0. A sample: push
``uNNNN``'s trait; the watcher launches it; its command writes the time and exits — the measured
part starts there: the run turns COMPLETED, a cascade marker is written for ``dNNNN`` and it is
woken, the watcher evaluates ``dNNNN`` (its upstream is now complete) and launches it. Latency =
the time the downstream trigger writes − the time the upstream trigger wrote.

Baseline in the same run, alternating with the cascade samples: the same watcher's reaction to a
pushed trait on a pipeline of one pushed trait (``pNNNN``: push → trigger process), the least a
wake-up-driven launch costs. Figures: p50 / p90 / p99 / max of each and the ratio of the p50s
(no target was set for it: the figure shows what the cascade path adds to a wake-up).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
from _support import (
    archetype,
    arguments,
    median,
    open_engine,
    percentile,
    pipeline,
    register,
    report,
    rotated,
    workspace,
    write_project,
)

from interlock_core.engine import Engine
from interlock_core.model import RunStatus
from interlock_core.watcher import Watcher


def stamp(path: Path) -> float | None:
    """The time a trigger wrote, once it is there (a small local file: read without a thread)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return float(text) if text else None


async def wait_for(path: Path, within: float = 20.0) -> float:
    with anyio.fail_after(within):
        while True:  # another process writes it: nothing to wait on but the file
            written = stamp(path)
            if written is not None:
                return written
            await anyio.sleep(0.001)


async def settle(watcher: Watcher, within: float = 20.0) -> None:
    """Until the watcher has finished one more pass than now (the one handling the last wake-up)."""
    passes = watcher.passes
    with anyio.fail_after(within):
        while True:  # the watcher has no event to wait on
            if watcher.passes > passes:
                return
            await anyio.sleep(0.002)


async def cascade_sample(engine: Engine, watcher: Watcher, root: Path, index: int) -> float:
    upstream, downstream = f"u{index:04d}", f"d{index:04d}"
    await settle(watcher)
    await engine.push_trait(upstream, "signal", "PASS")
    completed = await wait_for(root / f"{upstream}.ts")
    launched = await wait_for(root / f"{downstream}.ts")
    runs = await engine.store.list_runs(upstream, 1)
    if not runs or runs[0].status is not RunStatus.COMPLETED:
        raise SystemExit(f"the upstream run of {upstream} did not complete: {runs}")
    return launched - completed


async def push_sample(engine: Engine, watcher: Watcher, root: Path, index: int) -> float:
    name = f"p{index:04d}"
    await settle(watcher)
    before = time.time()
    await engine.push_trait(name, "signal", "PASS")
    return await wait_for(root / f"{name}.ts") - before


def _stamping(root: Path, name: str) -> dict[str, object]:
    return {"type": "command", "argv": ["sh", "-c", f"date +%s.%N > {root}/{name}.ts"]}


async def main() -> None:
    args = arguments(__doc__ or "", [("--samples", {"type": int, "default": None})])
    samples = args.samples or (3 if args.quick else 50)
    latencies: dict[str, list[float]] = {"cascade": [], "push": []}
    with workspace(args.store_dir, "cascade") as root:
        write_project(root, [archetype("signal-1", ["signal"], ttl=86400),
                             archetype("after-upstream", ["upstream"], ttl=86400)],
                      watcher={"defaultInterval": "1h"})
        engine = await open_engine(root)
        documents = []
        for i in range(samples):
            documents += [
                pipeline(f"u{i:04d}", "signal-1", {"signal": None}, trigger=_stamping(root, f"u{i:04d}")),
                pipeline(f"p{i:04d}", "signal-1", {"signal": None}, trigger=_stamping(root, f"p{i:04d}")),
            ]
            downstream = pipeline(f"d{i:04d}", "after-upstream", {"upstream": "builtin:upstream-job-log"},
                                  trigger=_stamping(root, f"d{i:04d}"))
            downstream["traits"]["upstream"]["config"] = {"upstreamPipeline": f"u{i:04d}"}
            documents.append(downstream)
        await register(engine, documents)
        watcher = Watcher(engine)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(watcher.run)
                await settle(watcher, 120)  # the first pass evaluates everything (nothing is ready)
                for i in range(samples):
                    for kind in rotated(["cascade", "push"], i):
                        sample = cascade_sample if kind == "cascade" else push_sample
                        latencies[kind].append(await sample(engine, watcher, root, i))
                tg.cancel_scope.cancel()
        finally:
            await engine.aclose()
    figures: dict[str, object] = {"samples": samples, "interval": "1h"}
    rows: list[tuple[str, object]] = [("samples per series (alternating)", samples), ("watcher interval", "1h")]
    for kind, values in latencies.items():
        ms = [v * 1000 for v in values]
        figures[kind] = {"p50_ms": median(ms), "p90_ms": percentile(ms, 90), "p99_ms": percentile(ms, 99),
                         "max_ms": max(ms), "min_ms": min(ms)}
        rows.append((f"[{kind}] min / p50 / p90 / p99 / max (ms)",
                     f"{min(ms):.1f} / {median(ms):.1f} / {percentile(ms, 90):.1f} / "
                     f"{percentile(ms, 99):.1f} / {max(ms):.1f}"))
    ratio = median(latencies["cascade"]) / median(latencies["push"])
    figures["ratio_p50"] = ratio
    rows.append(("cascade p50 ÷ push p50", ratio))
    report("cascade", rows, figures)


if __name__ == "__main__":
    asyncio.run(main())
