"""Fan-out: one pipeline of 8 required traits whose evaluators each sleep 0.5 s.

Evaluated concurrently, ``engine.evaluate`` should take about one evaluator's time, not eight.
Figure: median wall time of ``engine.evaluate`` ÷ the sleep (target ≤ 1.15), and ÷ the wall time
of the same 8 processes spawned concurrently with bare asyncio in the same run.
"""

from __future__ import annotations

import asyncio
import json
import time

from _support import (
    archetype,
    arguments,
    bare_spawn_many,
    median,
    met,
    open_engine,
    pipeline,
    report,
    sleep_script,
    workspace,
    write_project,
)

TRAITS = [f"t{i}" for i in range(1, 9)]
TARGET = 1.15


async def main() -> None:
    args = arguments(__doc__ or "", [("--reps", {"type": int, "default": None})])
    sleep = 0.1 if args.quick else 0.5
    reps = args.reps or (1 if args.quick else 5)
    with workspace(args.store_dir, "fanout") as root:
        script = sleep_script(root / "evaluators", sleep)
        write_project(root, [archetype("fanout-8", TRAITS)],
                      pipelines=[pipeline("fanout", "fanout-8", dict.fromkeys(TRAITS, str(script)))])
        engine = await open_engine(root)
        try:
            await engine.evaluate("fanout")  # warm-up: imports, store pages, first spawn
            walls, bare = [], []
            for _ in range(reps):
                started = time.perf_counter()
                result = await engine.evaluate("fanout")
                walls.append(time.perf_counter() - started)
                if not result.ready:
                    raise SystemExit(f"fan-out pipeline not ready: {result.blocking}")
                started = time.perf_counter()
                await bare_spawn_many([str(script)] * len(TRAITS), json.dumps({}).encode())
                bare.append(time.perf_counter() - started)
        finally:
            await engine.aclose()
    wall, base = median(walls), median(bare)
    ratio = wall / sleep
    report("fanout", [
        ("traits × sleep", f"{len(TRAITS)} × {sleep:g} s"),
        ("repetitions", reps),
        ("engine.evaluate median (s)", wall),
        ("bare asyncio 8 spawns median (s)", base),
        ("ratio to one sleep", ratio),
        ("ratio to bare spawns", wall / base),
        ("target", f"≤ {TARGET}"),
        ("met", met(ratio, TARGET)),
    ], {
        "traits": len(TRAITS), "sleep_s": sleep, "reps": reps, "evaluate_s": walls, "bare_s": bare,
        "evaluate_median_s": wall, "bare_median_s": base, "ratio_to_sleep": ratio, "ratio_to_bare": wall / base,
        "target": TARGET, "met": met(ratio, TARGET),
    })


if __name__ == "__main__":
    asyncio.run(main())
