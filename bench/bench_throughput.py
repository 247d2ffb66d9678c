"""Throughput: 500 pipelines × 3 trivial subprocess traits, all evaluated at once.

``engine.evaluate`` for every pipeline in one task group, with the engine's ``maxConcurrency``
(evaluator processes at a time) set to 64; the baseline spawns the same 1,500 processes with bare
asyncio, at most 64 at a time. Figure: trait evaluations per second ÷ raw spawns per second
(target ≥ 0.6). The two alternate over the repetitions. A third measurement, the engine's evaluator
runner alone on the same 1,500 processes (64 at a time, nothing recorded), splits the gap between
process handling and recording results in the store.
"""

from __future__ import annotations

import asyncio
import json
import time

import anyio
from _support import (
    PASS_SCRIPT,
    archetype,
    arguments,
    bare_spawn_many,
    median,
    met,
    open_engine,
    pipeline,
    register,
    report,
    workspace,
    write_project,
    write_script,
)

from interlock_core.ports import EvaluatorInput

TRAITS = ["a", "b", "c"]
TARGET = 0.6


async def main() -> None:
    args = arguments(__doc__ or "", [
        ("--pipelines", {"type": int, "default": None}),
        ("--concurrency", {"type": int, "default": 64}),
        ("--reps", {"type": int, "default": None}),
    ])
    count = args.pipelines or (10 if args.quick else 500)
    reps = args.reps or (1 if args.quick else 3)
    concurrency = args.concurrency
    with workspace(args.store_dir, "throughput") as root:
        script = str(write_script(root / "evaluators", "pass", PASS_SCRIPT))
        write_project(root, [archetype("trivial-3", TRAITS)], engine={"maxConcurrency": concurrency})
        engine = await open_engine(root)
        names = [f"p{i:04d}" for i in range(count)]
        await register(engine, [pipeline(n, "trivial-3", dict.fromkeys(TRAITS, script)) for n in names])
        payload = json.dumps({}).encode()
        not_ready: list[str] = []

        async def evaluate(name: str) -> None:
            if not (await engine.evaluate(name)).ready:
                not_ready.append(name)

        runner = engine.evaluation.runner_for(script)
        assert runner is not None
        request = EvaluatorInput(pipeline_id="p0000", trait_type="a", config={}, schedule_id="daily",
                                 date="2026-01-01", timeout=30.0)
        limit = anyio.CapacityLimiter(concurrency)

        async def run_alone() -> None:
            async with limit:
                await runner.run(script, request)

        try:
            await engine.evaluate(names[0])  # warm-up
            await bare_spawn_many([script] * 3, payload)
            engine_rates, bare_rates, runner_rates = [], [], []
            for _ in range(reps):
                started = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for name in names:
                        tg.start_soon(evaluate, name)
                engine_rates.append(count * len(TRAITS) / (time.perf_counter() - started))
                started = time.perf_counter()
                await bare_spawn_many([script] * (count * len(TRAITS)), payload, concurrency)
                bare_rates.append(count * len(TRAITS) / (time.perf_counter() - started))
                started = time.perf_counter()
                async with anyio.create_task_group() as tg:
                    for _ in range(count * len(TRAITS)):
                        tg.start_soon(run_alone)
                runner_rates.append(count * len(TRAITS) / (time.perf_counter() - started))
        finally:
            await engine.aclose()
    if not_ready:
        raise SystemExit(f"{len(not_ready)} pipelines were not ready, e.g. {not_ready[:3]}")
    fractions = [e / b for e, b in zip(engine_rates, bare_rates, strict=True)]
    fraction = median(fractions)
    report("throughput", [
        ("pipelines × traits", f"{count} × {len(TRAITS)}"),
        ("maxConcurrency / bare concurrency", concurrency),
        ("repetitions", reps),
        ("engine trait evaluations/s (median)", median(engine_rates)),
        ("bare spawns/s (median)", median(bare_rates)),
        ("runner alone evaluations/s (median)", median(runner_rates)),
        ("runner alone ÷ bare", median(runner_rates) / median(bare_rates)),
        ("fraction (median of reps)", fraction),
        ("target", f"≥ {TARGET}"),
        ("met", met(fraction, TARGET, at_most=False)),
    ], {
        "pipelines": count, "traits": len(TRAITS), "concurrency": concurrency, "reps": reps,
        "engine_evals_per_s": engine_rates, "bare_spawns_per_s": bare_rates,
        "runner_evals_per_s": runner_rates, "fractions": fractions,
        "fraction": fraction, "target": TARGET, "met": met(fraction, TARGET, at_most=False),
    })


if __name__ == "__main__":
    asyncio.run(main())
