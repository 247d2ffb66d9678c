"""Overhead: a pipeline of 3 trivial subprocess evaluators (a ``/bin/sh`` script printing PASS).

Four measurements of the same 3 processes, spawned concurrently, in one run:

* ``engine.evaluate`` — resolve, spawn in a process group under a deadline, parse, and record each
  trait and the readiness result in the store;
* the engine's evaluator runner alone — 3 concurrent ``runner.run``, nothing recorded;
* a **featured** bare asyncio spawn — ``create_subprocess_exec`` with the runner's safety features
  (a process group of its own — and a session of its own when the runner gives one, i.e. on a
  terminal —, stderr captured, a deadline, the process group killed after exit);
* a **plain** bare asyncio spawn — spawn, write stdin, read stdout, parse; nothing else;
* without a terminal, also **featured+session**: the featured spawn with a session of its own
  (``setsid``) as well, the baseline as issue 20 first defined it (``setsid`` costs the kernel's
  autogroup a scheduling group per process, see docs/performance.md).

Every repetition measures all four, in an order rotated from one repetition to the next, so none
always runs first or last. Figures: wall and CPU (``time.process_time``) as min / median / max,
and the per-repetition ratios. Targets: evaluate ÷ featured ≤ 1.3 and evaluate ÷ plain ≤ 1.6
(wall, median of the per-repetition ratios).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

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
    ratios,
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
TARGET_FEATURED = 1.3
TARGET_PLAIN = 1.6


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

        async def evaluate() -> None:
            result = await engine.evaluate("trivial")
            if not result.ready:
                raise SystemExit(f"pipeline not ready: {result.blocking}")

        async def runner_only() -> None:
            outputs = await asyncio.gather(*(runner.run(script, request) for _ in TRAITS))
            if any(o.status != "PASS" for o in outputs):
                raise SystemExit(f"runner did not pass: {outputs}")

        session = runner_session()

        async def featured() -> None:
            await bare_spawn_many([script] * len(TRAITS), payload, featured=True, session=session)

        async def featured_session() -> None:
            await bare_spawn_many([script] * len(TRAITS), payload, featured=True, session=True)

        async def plain() -> None:
            await bare_spawn_many([script] * len(TRAITS), payload)

        measures: dict[str, Callable[[], Awaitable[None]]] = {
            "evaluate": evaluate, "runner": runner_only, "featured": featured, "plain": plain}
        if not session:  # the featured baseline: a session of its own (setsid) as well
            measures["featured+session"] = featured_session
        figures = {name: Measured() for name in measures}
        try:
            for _ in range(3):  # warm-up of every path
                for run in measures.values():
                    await run()
            for turn in range(reps):
                for name in rotated(list(measures), turn):
                    with figures[name].measure():
                        await measures[name]()
        finally:
            await engine.aclose()
    walls = {name: m.walls for name, m in figures.items()}
    cpus = {name: m.cpus for name, m in figures.items()}
    by_featured = ratios(walls["evaluate"], walls["featured"])
    by_plain = ratios(walls["evaluate"], walls["plain"])
    runner_featured = ratios(walls["runner"], walls["featured"])
    runner_plain = ratios(walls["runner"], walls["plain"])
    cpu_featured = ratios(cpus["evaluate"], cpus["featured"])
    runner_cpu_featured = ratios(cpus["runner"], cpus["featured"])
    with_session = walls.get("featured+session", walls["featured"])
    by_session = ratios(walls["evaluate"], with_session)
    runner_session_ratio = ratios(walls["runner"], with_session)
    ratio_featured, ratio_plain = median(by_featured), median(by_plain)
    ok = met(ratio_featured, TARGET_FEATURED) and met(ratio_plain, TARGET_PLAIN)
    report("overhead", [
        ("evaluators", f"{len(TRAITS)} × trivial /bin/sh script, concurrently"),
        ("repetitions (order rotated)", reps),
        *((f"{name} wall ms (min / median / max)", shown(walls[name], 1000)) for name in measures),
        *((f"{name} CPU ms (min / median / max)", shown(cpus[name], 1000)) for name in measures),
        ("evaluate ÷ featured, wall", shown(by_featured)),
        ("evaluate ÷ plain, wall", shown(by_plain)),
        ("evaluate ÷ featured, CPU", shown(cpu_featured)),
        ("runner ÷ featured, wall", shown(runner_featured)),
        ("runner ÷ plain, wall", shown(runner_plain)),
        ("runner ÷ featured, CPU", shown(runner_cpu_featured)),
        ("evaluate ÷ featured+session, wall", shown(by_session)),
        ("runner ÷ featured+session, wall", shown(runner_session_ratio)),
        ("runner's processes get", "a session of their own" if session else "a process group of their own"),
        ("target", f"evaluate ÷ featured ≤ {TARGET_FEATURED}, ÷ plain ≤ {TARGET_PLAIN} (medians)"),
        ("met", ok),
    ], {
        "traits": len(TRAITS), "reps": reps,
        "wall_ms": {name: [round(v * 1000, 3) for v in spread(walls[name])] for name in measures},
        "cpu_ms": {name: [round(v * 1000, 3) for v in spread(cpus[name])] for name in measures},
        "evaluate_over_featured": spread(by_featured), "evaluate_over_plain": spread(by_plain),
        "evaluate_over_featured_cpu": spread(cpu_featured),
        "runner_over_featured": spread(runner_featured), "runner_over_plain": spread(runner_plain),
        "runner_over_featured_cpu": spread(runner_cpu_featured),
        "evaluate_over_featured_session": spread(by_session),
        "runner_over_featured_session": spread(runner_session_ratio),
        "runner_new_session": session,
        "ratio": ratio_featured, "ratio_plain": ratio_plain,
        "target": {"featured": TARGET_FEATURED, "plain": TARGET_PLAIN}, "met": ok,
    })


if __name__ == "__main__":
    asyncio.run(main())
