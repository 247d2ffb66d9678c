"""Reaction latency: from a pushed trait result (``engine.push_trait``) to the trigger process starting.

A real ``watcher.run()`` (system clock) watches pipelines of one pushed trait each, on a 1-hour
interval, so only the wake-up sent by the push can explain a launch within the sample. The command
trigger writes ``date +%s.%N`` to a file; latency = that timestamp − the time just before the push.
Two series: ``idle`` (each push once the watcher has finished the previous pass, plus a random
20-50 ms) and ``back-to-back`` (each push as soon as the previous trigger started, so it lands
while the watcher is still recording the previous launch). Targets: p50 ≤ 50 ms, p99 ≤ 200 ms.

Compared with the documented defaults of polling schedulers: an Airflow sensor pokes every 60 s,
the Airflow scheduler loops every 5 s (``scheduler_heartbeat_sec``), a Dagster sensor runs every
30 s. A condition that becomes true at a random moment waits half an interval for the next poll
on average: the ratio is (interval ÷ 2) ÷ Interlock's p50.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import anyio
from _support import (
    archetype,
    arguments,
    median,
    met,
    open_engine,
    percentile,
    pipeline,
    register,
    report,
    workspace,
    write_project,
)

from interlock_core.engine import Engine
from interlock_core.watcher import Watcher

TARGET_P50_MS = 50.0
TARGET_P99_MS = 200.0
POLLERS = {"airflow_sensor_poke_60s": 60.0, "airflow_scheduler_loop_5s": 5.0, "dagster_sensor_30s": 30.0}


def stamp(path: Path) -> float | None:
    """The time the trigger wrote, once it is there (a small local file: read without a thread)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return float(text) if text else None


async def wait_for(path: Path, within: float = 10.0) -> float:
    with anyio.fail_after(within):
        while True:  # another process writes it: nothing to wait on but the file
            started = stamp(path)
            if started is not None:
                return started
            await anyio.sleep(0.001)


async def passes_beyond(watcher: Watcher, count: int, within: float) -> None:
    """Until the watcher has finished more than ``count`` passes (it has no event to wait on)."""
    with anyio.fail_after(within):
        while True:
            if watcher.passes > count:
                return
            await anyio.sleep(0.002)


async def sample(engine: Engine, watcher: Watcher, root: Path, name: str, *, idle: bool) -> tuple[float, float]:
    """(latency from the push call, latency from the push's return), in seconds."""
    passes = watcher.passes
    before = time.time()
    await engine.push_trait(name, "signal", "PASS")
    after = time.time()
    started = await wait_for(root / f"{name}.ts")
    if idle:  # let the pass that launched finish, then wait a little more
        await passes_beyond(watcher, passes, 10)
        await anyio.sleep(random.uniform(0.02, 0.05))
    return started - before, started - after


async def main() -> None:
    args = arguments(__doc__ or "", [("--samples", {"type": int, "default": None})])
    samples = args.samples or (3 if args.quick else 100)
    series: dict[str, list[float]] = {"idle": [], "back-to-back": []}
    from_wake: dict[str, list[float]] = {"idle": [], "back-to-back": []}
    with workspace(args.store_dir, "reaction") as root:
        write_project(root, [archetype("signal-1", ["signal"], ttl=86400)], watcher={"defaultInterval": "1h"})
        engine = await open_engine(root)
        names = {kind: [f"{kind[0]}{i:04d}" for i in range(samples)] for kind in series}
        await register(engine, [
            pipeline(n, "signal-1", {"signal": None},
                     trigger={"type": "command", "argv": ["sh", "-c", f"date +%s.%N > {root}/{n}.ts"]})
            for group in names.values() for n in group
        ])
        watcher = Watcher(engine)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(watcher.run)
                await passes_beyond(watcher, 0, 60)  # the first pass evaluates everything (nothing is ready)
                await anyio.sleep(0.1)
                for kind, group in names.items():
                    for name in group:
                        total, wake = await sample(engine, watcher, root, name, idle=kind == "idle")
                        series[kind].append(total)
                        from_wake[kind].append(wake)
                    await anyio.sleep(0.3)
                tg.cancel_scope.cancel()
        finally:
            await engine.aclose()
    figures: dict[str, object] = {"samples": samples, "interval": "1h"}
    rows: list[tuple[str, object]] = [("samples per series", samples), ("watcher interval", "1h")]
    for kind, values in series.items():
        p50, p99 = median(values) * 1000, percentile(values, 99) * 1000
        ok = met(p50, TARGET_P50_MS) and met(p99, TARGET_P99_MS)
        ratios = {k: (v / 2) / (p50 / 1000) for k, v in POLLERS.items()}
        figures[kind] = {
            "p50_ms": p50, "p90_ms": percentile(values, 90) * 1000, "p99_ms": p99, "max_ms": max(values) * 1000,
            "p50_from_wake_ms": median(from_wake[kind]) * 1000, "over_200ms": sum(v > 0.2 for v in values),
            "met": ok, "speedup_vs_expected_poll_wait": ratios,
        }
        rows += [
            (f"[{kind}] p50 / p90 / p99 / max (ms)", f"{p50:.1f} / {percentile(values, 90) * 1000:.1f} / "
                                                    f"{p99:.1f} / {max(values) * 1000:.1f}"),
            (f"[{kind}] p50 after push returned (ms)", median(from_wake[kind]) * 1000),
            (f"[{kind}] samples over 200 ms", sum(v > 0.2 for v in values)),
            (f"[{kind}] target p50 ≤ {TARGET_P50_MS:g} ms, p99 ≤ {TARGET_P99_MS:g} ms met", ok),
        ] + [(f"[{kind}] {k}: (interval/2) ÷ p50", r) for k, r in ratios.items()]
    figures["targets_ms"] = {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS}
    figures["met"] = all(figures[k]["met"] for k in series)  # type: ignore[index]
    report("reaction", rows, figures)


if __name__ == "__main__":
    asyncio.run(main())
