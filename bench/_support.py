"""What every benchmark shares: the command line, a real project on disk, evaluator scripts,
the bare-asyncio baseline, statistics and the report (a small table, then one JSON line)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

import yaml

from interlock_core.clock import Clock, SystemClock
from interlock_core.config import Project, load_project
from interlock_core.engine import Engine, NullAlerts
from interlock_core.engine.factory import build_engine, start_engine
from interlock_core.model import PipelineConfig
from interlock_core.ports import Store

T = TypeVar("T")

PASS_SCRIPT = """#!/bin/sh
printf '{"status":"PASS"}\\n'
"""


# ----------------------------------------------------------------------------- command line
async def asgi_call(app: Any, scope: dict[str, Any]) -> int:
    """One request through an ASGI app, in process (an empty body); the response's status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def arguments(description: str, extra: Sequence[tuple[str, dict[str, Any]]] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test (seconds)")
    parser.add_argument("--store-dir", default=None,
                        help="where the project and its SQLite file live (default: a new temporary directory)")
    for flag, options in extra:
        parser.add_argument(flag, **options)
    return parser.parse_args()


@contextmanager
def workspace(store_dir: str | None, prefix: str) -> Iterator[Path]:
    """A fresh directory for the project, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"interlock-bench-{prefix}-", dir=store_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- project
def write_script(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def sleep_script(directory: Path, seconds: float) -> Path:
    return write_script(directory, f"sleep-{seconds:g}",
                        f"#!/bin/sh\nsleep {seconds:g}\nprintf '{{\"status\":\"PASS\"}}\\n'\n")


def archetype(name: str, traits: Sequence[str], *, ttl: int = 3600, timeout: float = 30) -> dict[str, Any]:
    return {
        "name": name,
        "requiredTraits": [{"type": t, "defaultTtl": ttl, "defaultTimeout": timeout} for t in traits],
        "readinessRule": {"type": "all-required-pass"},
    }


def write_project(root: Path, archetypes: Sequence[dict[str, Any]], *, pipelines: Sequence[dict[str, Any]] = (),
                  engine: dict[str, Any] | None = None, watcher: dict[str, Any] | None = None) -> None:
    """``interlock.yaml`` (SQLite store in the project, no alert sinks), archetypes and pipeline files."""
    for sub in ("archetypes", "pipelines", "calendars", "evaluators"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for item in archetypes:
        (root / "archetypes" / f"{item['name']}.yaml").write_text(yaml.safe_dump(item))
    for item in pipelines:
        (root / "pipelines" / f"{item['name']}.yaml").write_text(yaml.safe_dump(item))
    config: dict[str, Any] = {"provider": "sqlite", "sqlite": {"path": "./interlock.db"}, "alerts": []}
    if engine:
        config["engine"] = engine
    if watcher:
        config["watcher"] = watcher
    (root / "interlock.yaml").write_text(yaml.safe_dump(config))


def pipeline(name: str, archetype_name: str, traits: dict[str, str | None], *,
             trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pipeline document; a trait mapped to None is pushed (no evaluator)."""
    data: dict[str, Any] = {
        "name": name,
        "archetype": archetype_name,
        "traits": {t: ({"evaluator": e} if e else {}) for t, e in traits.items()},
    }
    if trigger is not None:
        data["trigger"] = trigger
    return data


async def open_engine(root: Path, *, clock: Clock | None = None, store: Store | None = None,
                      project: Project | None = None) -> Engine:
    """Load the project at ``root`` (or take ``project``, loaded from it already) and start an engine
    on it (SystemClock, alerts dropped)."""
    project = project or load_project(root)
    engine = build_engine(project, clock=clock or SystemClock(), alerts=NullAlerts(), store=store)
    await start_engine(engine, project)
    return engine


async def register(engine: Engine, documents: Sequence[dict[str, Any]]) -> list[PipelineConfig]:
    """Put pipelines straight into the store (what ``start_engine`` does for pipeline files)."""
    configs = [PipelineConfig.model_validate(d) for d in documents]
    for config in configs:
        await engine.store.put_pipeline(config)
    return configs


# ----------------------------------------------------------------------------- baseline
async def bare_spawn(path: str, payload: bytes) -> dict[str, Any]:
    """The least a subprocess evaluation costs: spawn, write stdin, read stdout, wait, parse."""
    proc = await asyncio.create_subprocess_exec(
        path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(payload)
    result: dict[str, Any] = json.loads(out)
    return result


async def featured_spawn(path: str, payload: bytes, *, deadline: float = 30.0, session: bool = True) -> dict[str, Any]:
    """A bare asyncio spawn *with the runner's safety features*: a process group of its own (and a
    session of its own with ``session``), stderr captured, a deadline, and the whole group killed
    once it has exited (or at the deadline). The fairest baseline for the runner, which must do
    all of that."""
    proc = await asyncio.create_subprocess_exec(
        path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=session, process_group=None if session else 0)
    try:
        async with asyncio.timeout(deadline):
            out, _err = await proc.communicate(payload)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    result: dict[str, Any] = json.loads(out)
    return result


def runner_session() -> bool:
    """Whether the runner gives its processes a session of their own in this process (only with a
    controlling terminal; otherwise a process group of their own)."""
    try:
        from interlock_plugins.process_group import new_session
    except ImportError:  # a tree before that choice existed: always a session
        return True
    return new_session()


async def bare_spawn_many(paths: Sequence[str], payload: bytes, concurrency: int | None = None, *,
                          featured: bool = False, session: bool = True) -> None:
    """Spawn every path concurrently (at most ``concurrency`` at a time) with bare asyncio
    (``featured``: with the runner's safety features, see :func:`featured_spawn`)."""
    limit = asyncio.Semaphore(concurrency or len(paths) or 1)

    async def one(path: str) -> None:
        async with limit:
            if featured:
                await featured_spawn(path, payload, session=session)
            else:
                await bare_spawn(path, payload)

    await asyncio.gather(*(one(p) for p in paths))


# ----------------------------------------------------------------------------- method
def rotated(items: Sequence[T], turn: int) -> list[T]:
    """``items`` starting at ``turn`` (mod its length): each repetition measures in another order,
    so none of the measurements always runs first (warm caches) or last (after the others' garbage)."""
    if not items:
        return []
    start = turn % len(items)
    return [*items[start:], *items[:start]]


class Measured:
    """Wall and CPU seconds (``time.process_time``: every thread of this process) of repeated runs."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpus: list[float] = []

    @contextmanager
    def measure(self) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.walls.append(time.perf_counter() - wall)
            self.cpus.append(time.process_time() - cpu)


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    return (min(values), median(values), max(values)) if values else (math.nan, math.nan, math.nan)


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-repetition ratios (each numerator ÷ the denominator measured in the same repetition)."""
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d]


def shown(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """``min / median / max`` of ``values`` × ``scale``."""
    return " / ".join(f"{v * scale:.{digits}g}" for v in spread(values))


# ----------------------------------------------------------------------------- figures
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): the smallest value with ``q`` % of them at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """Current resident set size (VmRSS), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def report(name: str, rows: Sequence[tuple[str, Any]], figures: dict[str, Any]) -> None:
    """Print a two-column table, then the figures as one JSON line (always the last line)."""
    width = max((len(label) for label, _ in rows), default=0)
    print(f"== {name}")
    for label, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"  {label.ljust(width)}  {shown}")
    sys.stdout.flush()
    print(json.dumps({"benchmark": name, **figures, "machine": machine()}, sort_keys=False, default=str))


async def cpu_turns(apps: dict[str, Any], call: Callable[[Any], Awaitable[Any]], requests: int,
                    reps: int) -> dict[str, list[float]]:
    """CPU µs per ``call(app)`` of each app: ``requests`` calls a turn, ``reps`` turns, the order rotated."""
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for turn in range(reps):
        for name in rotated(list(apps), turn):
            app = apps[name]
            started = time.process_time()
            for _ in range(requests):
                await call(app)
            cpu[name].append((time.process_time() - started) / requests * 1e6)
    return cpu


CpuMeasure = Callable[[str | None, int, int, TextIO], Awaitable[dict[str, list[float]]]]
"""``measure(store_dir, requests, reps, devnull)``: CPU µs per request of each app, per turn."""


def cpu_per_request_main(description: str, name: str, measure: CpuMeasure, *, requests: int, reps: int,
                         quick_requests: int, label: str) -> None:
    """The command line and report of an in-process benchmark of ASGI apps: ``--requests`` calls per
    turn, ``--reps`` turns, the access log written to ``os.devnull``; ``label`` formats an app's name."""
    args = arguments(description, [
        ("--requests", {"type": int, "default": None, "help": f"calls per turn (default {requests})"}),
        ("--reps", {"type": int, "default": None, "help": f"turns (default {reps})"}),
    ])
    requests = args.requests or (quick_requests if args.quick else requests)
    reps = args.reps or (1 if args.quick else reps)
    with open(os.devnull, "w") as devnull:
        cpu = asyncio.run(measure(args.store_dir, requests, reps, devnull))
    rows: list[tuple[str, Any]] = [("requests per turn × turns (order rotated)", f"{requests} × {reps}")]
    rows += [(label.format(app), shown(values, 1, 4)) for app, values in cpu.items()]
    report(name, rows, {"requests": requests, "reps": reps, "cpu_us": cpu})


def met(value: float, target: float, *, at_most: bool = True) -> bool:
    return value <= target if at_most else value >= target
