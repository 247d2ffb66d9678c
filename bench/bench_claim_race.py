"""Claim race: 200 concurrent ``start_run`` calls for one pipeline, schedule and date, split between
two engine instances that share one SQLite file. Exactly one trigger launch must happen (the
command trigger appends a line to a file per launch).

Two variants: traits evaluated by 3 trivial subprocess evaluators, and 3 pushed traits with fresh
stored results. Baseline for the timing, in the same run: one uncontended ``start_run`` of an
identical pipeline (gate, evaluate, claim, launch, record). Figures: launches (must be 1), the
outcome counts, the wall time of the race and its ratio to the single start, per-call latency.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import anyio
from _support import (
    PASS_SCRIPT,
    archetype,
    arguments,
    median,
    open_engine,
    percentile,
    pipeline,
    register,
    report,
    workspace,
    write_project,
    write_script,
)

from interlock_core.engine import Engine, Outcome

TRAITS = ["a", "b", "c"]


def launches(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


async def race(engines: list[Engine], name: str, calls: int) -> tuple[float, list[float], Counter[str]]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def one(engine: Engine) -> None:
        started = time.perf_counter()
        outcome = await engine.start_run(name)
        latencies.append(time.perf_counter() - started)
        outcomes[outcome.outcome.value] += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(calls):
            tg.start_soon(one, engines[i % len(engines)])
    return time.perf_counter() - started, latencies, outcomes


async def variant(root: Path, kind: str, calls: int) -> dict[str, object]:
    script = str(write_script(root / "evaluators", "pass", PASS_SCRIPT))
    a, b = await open_engine(root), await open_engine(root)  # two stores, one file
    try:
        evaluator = None if kind == "pushed" else script
        docs = [pipeline(f"{kind}-{role}", "race-3", dict.fromkeys(TRAITS, evaluator),
                         trigger={"type": "command", "argv": ["sh", "-c", f"echo x >> {root}/{kind}-{role}.launches"]})
                for role in ("solo", "race")]
        await register(a, docs)
        if kind == "pushed":
            for role in ("solo", "race"):
                for trait in TRAITS:
                    await a.push_trait(f"{kind}-{role}", trait, "PASS")
        started = time.perf_counter()
        solo = await a.start_run(f"{kind}-solo")
        single = time.perf_counter() - started
        if solo.outcome is not Outcome.TRIGGERED:
            raise SystemExit(f"baseline start_run did not trigger: {solo.message}")
        wall, latencies, outcomes = await race([a, b], f"{kind}-race", calls)
        runs = await a.store.list_runs(f"{kind}-race", 1000)
    finally:
        await a.aclose()
        await b.aclose()
    return {
        "variant": kind, "calls": calls, "launches": launches(root / f"{kind}-race.launches"), "runs": len(runs),
        "outcomes": dict(outcomes), "race_wall_s": wall, "single_start_s": single, "ratio": wall / single,
        "ratio_per_call": wall / calls / single,
        "latency_p50_ms": median(latencies) * 1000, "latency_p99_ms": percentile(latencies, 99) * 1000,
    }


async def main() -> None:
    args = arguments(__doc__ or "", [("--calls", {"type": int, "default": None})])
    calls = args.calls or (20 if args.quick else 200)
    results = []
    for kind in ("evaluated", "pushed"):
        with workspace(args.store_dir, f"race-{kind}") as root:
            write_project(root, [archetype("race-3", TRAITS)])
            results.append(await variant(root, kind, calls))
    rows: list[tuple[str, object]] = [("concurrent start_run calls", f"{calls} over 2 engines, one SQLite file")]
    for r in results:
        v = r["variant"]
        rows += [
            (f"[{v}] trigger launches (must be 1)", r["launches"]),
            (f"[{v}] outcomes", ", ".join(f"{k} {n}" for k, n in sorted(r["outcomes"].items()))),  # type: ignore[attr-defined]
            (f"[{v}] race wall (s)", r["race_wall_s"]),
            (f"[{v}] one uncontended start_run (s)", r["single_start_s"]),
            (f"[{v}] race ÷ single start", r["ratio"]),
            (f"[{v}] race ÷ ({calls} × single start)", r["ratio_per_call"]),
            (f"[{v}] per-call latency p50 / p99 (ms)",
             f"{r['latency_p50_ms']:.1f} / {r['latency_p99_ms']:.1f}"),
        ]
    ok = all(r["launches"] == 1 and r["runs"] == 1 for r in results)
    rows.append(("exactly one launch in every variant", ok))
    report("claim_race", rows, {"calls": calls, "variants": results, "met": ok})
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
