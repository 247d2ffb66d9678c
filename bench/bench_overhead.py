"""Overhead: a pipeline of 3 trivial subprocess evaluators (a ``/bin/sh`` script printing PASS).

``engine.evaluate`` (resolve, spawn in a process group under a deadline, parse, record each trait
and the readiness result in the store) against the same 3 processes spawned concurrently with bare
asyncio (``create_subprocess_exec``, write stdin, read stdout, parse). Repetitions alternate
between the two; figure: ratio of the medians (target ≤ 1.5). A third measurement, the engine's
evaluator runner alone (3 concurrent ``runner.run`` calls, nothing recorded), splits the overhead
between process handling and recording results in the store.
"""

from __future__ import annotations

import asyncio
import json
import time

from _support import (
    PASS_SCRIPT,
    archetype,
    arguments,
    bare_spawn_many,
    median,
    met,
    open_engine,
    pipeline,
    report,
    workspace,
    write_project,
    write_script,
)

from interlock_core.ports import EvaluatorInput

TRAITS = ["a", "b", "c"]
TARGET = 1.5


async def main() -> None:
    args = arguments(__doc__ or "", [("--reps", {"type": int, "default": None})])
    reps = args.reps or (3 if args.quick else 40)
    with workspace(args.store_dir, "overhead") as root:
        script = str(write_script(root / "evaluators", "pass", PASS_SCRIPT))
        write_project(root, [archetype("trivial-3", TRAITS)],
                      pipelines=[pipeline("trivial", "trivial-3", dict.fromkeys(TRAITS, script))])
        engine = await open_engine(root)
        payload = json.dumps({}).encode()
        runner = engine.evaluation.runner_for(script)
        assert runner is not None
        request = EvaluatorInput(pipeline_id="trivial", trait_type="a", config={}, schedule_id="daily",
                                 date="2026-01-01", timeout=30.0)

        async def runner_only() -> None:
            await asyncio.gather(*(runner.run(script, request) for _ in TRAITS))

        try:
            for _ in range(3):  # warm-up of every path
                await engine.evaluate("trivial")
                await bare_spawn_many([script] * 3, payload)
                await runner_only()
            walls, bare, runs = [], [], []
            for _ in range(reps):
                started = time.perf_counter()
                result = await engine.evaluate("trivial")
                walls.append(time.perf_counter() - started)
                if not result.ready:
                    raise SystemExit(f"pipeline not ready: {result.blocking}")
                started = time.perf_counter()
                await bare_spawn_many([script] * 3, payload)
                bare.append(time.perf_counter() - started)
                started = time.perf_counter()
                await runner_only()
                runs.append(time.perf_counter() - started)
        finally:
            await engine.aclose()
    wall, base, run = median(walls), median(bare), median(runs)
    ratio = wall / base
    report("overhead", [
        ("evaluators", f"{len(TRAITS)} × trivial /bin/sh script"),
        ("repetitions", reps),
        ("engine.evaluate median (ms)", wall * 1000),
        ("bare asyncio median (ms)", base * 1000),
        ("runner alone, 3 concurrent, median (ms)", run * 1000),
        ("engine overhead per evaluate (ms)", (wall - base) * 1000),
        ("runner alone ÷ bare", run / base),
        ("ratio of medians", ratio),
        ("target", f"≤ {TARGET}"),
        ("met", met(ratio, TARGET)),
    ], {
        "traits": len(TRAITS), "reps": reps, "evaluate_median_ms": wall * 1000, "bare_median_ms": base * 1000,
        "runner_median_ms": run * 1000, "runner_ratio": run / base, "overhead_ms": (wall - base) * 1000,
        "ratio": ratio, "target": TARGET, "met": met(ratio, TARGET),
    })


if __name__ == "__main__":
    asyncio.run(main())
