"""Throughput: 500 pipelines × 3 trivial subprocess traits, all evaluated at once.

``engine.evaluate`` for every pipeline in one task group, with the engine's ``maxConcurrency``
(evaluator processes at a time) set to 64. Measured in the same run, 64 processes at a time, on
the same 1,500 processes: the engine's evaluator runner alone (nothing recorded), a **featured**
bare asyncio spawn (a process group of its own — a session too when the runner gives one, on a
terminal —, stderr captured, a deadline, the group killed after exit: the runner's safety
features), a **plain** one, and without a terminal **featured+session** (the featured spawn with
``setsid`` as well, as issue 20 first defined it). The order is rotated from one repetition to
the next. Figure: trait evaluations per second ÷ featured spawns per second,
median of the per-repetition fractions (target ≥ 0.7); the other fractions beside it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import anyio
from _support import (
    PASS_SCRIPT,
    Measured,
    archetype,
    arguments,
    bare_spawn_many,
    median,
    met,
    open_engine,
    pipeline,
    register,
    report,
    rotated,
    runner_session,
    shown,
    spread,
    workspace,
    write_project,
    write_script,
)

from interlock_core.ports import EvaluatorInput

TRAITS = ["a", "b", "c"]
TARGET = 0.7


async def main() -> None:
    args = arguments(__doc__ or "", [
        ("--pipelines", {"type": int, "default": None}),
        ("--concurrency", {"type": int, "default": 64}),
        ("--reps", {"type": int, "default": None}),
    ])
    count = args.pipelines or (10 if args.quick else 500)
    reps = args.reps or (1 if args.quick else 5)
    concurrency = args.concurrency
    processes = count * len(TRAITS)
    with workspace(args.store_dir, "throughput") as root:
        script = str(write_script(root / "evaluators", "pass", PASS_SCRIPT))
        write_project(root, [archetype("trivial-3", TRAITS)], engine={"maxConcurrency": concurrency})
        engine = await open_engine(root)
        names = [f"p{i:04d}" for i in range(count)]
        await register(engine, [pipeline(n, "trivial-3", dict.fromkeys(TRAITS, script)) for n in names])
        payload = json.dumps({}).encode()
        not_ready: list[str] = []

        async def evaluate_one(name: str) -> None:
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

        async def evaluate() -> None:
            async with anyio.create_task_group() as tg:
                for name in names:
                    tg.start_soon(evaluate_one, name)

        async def runner_only() -> None:
            async with anyio.create_task_group() as tg:
                for _ in range(processes):
                    tg.start_soon(run_alone)

        session = runner_session()

        async def featured() -> None:
            await bare_spawn_many([script] * processes, payload, concurrency, featured=True, session=session)

        async def featured_session() -> None:
            await bare_spawn_many([script] * processes, payload, concurrency, featured=True, session=True)

        async def plain() -> None:
            await bare_spawn_many([script] * processes, payload, concurrency)

        measures: dict[str, Callable[[], Awaitable[None]]] = {
            "evaluate": evaluate, "runner": runner_only, "featured": featured, "plain": plain}
        if not session:  # the featured baseline: a session of its own (setsid) as well
            measures["featured+session"] = featured_session
        figures = {name: Measured() for name in measures}
        try:
            await engine.evaluate(names[0])  # warm-up
            await bare_spawn_many([script] * 3, payload)
            for turn in range(reps):
                for name in rotated(list(measures), turn):
                    with figures[name].measure():
                        await measures[name]()
        finally:
            await engine.aclose()
    if not_ready:
        raise SystemExit(f"{len(not_ready)} pipelines were not ready, e.g. {not_ready[:3]}")
    rates = {name: [processes / w for w in m.walls] for name, m in figures.items()}
    cpu_per = {name: [c / processes for c in m.cpus] for name, m in figures.items()}

    def fraction(of: str, to: str) -> list[float]:
        return [a / b for a, b in zip(rates[of], rates[to], strict=True)]

    evaluate_featured, evaluate_plain = fraction("evaluate", "featured"), fraction("evaluate", "plain")
    runner_featured, runner_plain = fraction("runner", "featured"), fraction("runner", "plain")
    with_session = "featured+session" if "featured+session" in rates else "featured"
    evaluate_session, runner_session_fraction = fraction("evaluate", with_session), fraction("runner", with_session)
    result = median(evaluate_featured)
    ok = met(result, TARGET, at_most=False)
    report("throughput", [
        ("pipelines × traits", f"{count} × {len(TRAITS)}"),
        ("maxConcurrency / bare concurrency", concurrency),
        ("repetitions (order rotated)", reps),
        *((f"{name} per s (min / median / max)", shown(rates[name], 1, 4)) for name in measures),
        *((f"{name} CPU µs per process (min / median / max)", shown(cpu_per[name], 1e6, 4)) for name in measures),
        ("evaluate ÷ featured", shown(evaluate_featured)),
        ("evaluate ÷ plain", shown(evaluate_plain)),
        ("runner ÷ featured", shown(runner_featured)),
        ("runner ÷ plain", shown(runner_plain)),
        ("evaluate ÷ featured+session", shown(evaluate_session)),
        ("runner ÷ featured+session", shown(runner_session_fraction)),
        ("runner's processes get", "a session of their own" if session else "a process group of their own"),
        ("target", f"evaluate ÷ featured ≥ {TARGET} (median)"),
        ("met", ok),
    ], {
        "pipelines": count, "traits": len(TRAITS), "concurrency": concurrency, "reps": reps,
        "per_s": {name: spread(rates[name]) for name in measures},
        "cpu_us_per_process": {name: [round(v * 1e6, 1) for v in spread(cpu_per[name])] for name in measures},
        "evaluate_over_featured": spread(evaluate_featured), "evaluate_over_plain": spread(evaluate_plain),
        "runner_over_featured": spread(runner_featured), "runner_over_plain": spread(runner_plain),
        "evaluate_over_featured_session": spread(evaluate_session),
        "runner_over_featured_session": spread(runner_session_fraction), "runner_new_session": session,
        "fraction": result, "target": TARGET, "met": ok,
    })


if __name__ == "__main__":
    asyncio.run(main())
