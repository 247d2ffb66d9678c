"""Spawn paths: what starting and watching one trivial process costs, by method (the runner's choices).

The same ``/bin/sh`` script printing PASS, spawned ``--processes`` times, ``--concurrency`` at a
time, by each method in turn (order rotated every repetition):

* ``runner`` — ``run_in_process_group`` (``interlock_plugins.process_group``): Popen (vfork),
  stdin through a pre-filled pipe, pidfd and pipe callbacks on the loop, the group killed;
* ``asyncio plain`` — ``create_subprocess_exec`` with stdin/stdout pipes;
* ``asyncio group`` / ``asyncio session`` — the same with stderr captured, a process group
  (``process_group=0``) or a session (``start_new_session``) of its own, the group killed after;
* ``posix_spawn`` — ``os.posix_spawn`` with ``setsid`` and a pidfd (no ``close_fds``: shown for
  comparison, not used — a descriptor made inheritable elsewhere would leak into the evaluator).

Figures: processes per second and parent CPU µs per process (``time.process_time``: every thread,
so asyncio's waiter thread per child counts), min / median / max over the repetitions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

from _support import PASS_SCRIPT, arguments, report, rotated, shown, spread, workspace, write_script

from interlock_plugins.process_group import run_in_process_group

PAYLOAD = b"{}"


async def runner(path: str) -> None:
    outcome = await run_in_process_group([path], stdin=PAYLOAD, time_limit=30, max_stdout=1 << 20)
    assert outcome.returncode == 0


async def asyncio_plain(path: str) -> None:
    proc = await asyncio.create_subprocess_exec(path, stdin=-1, stdout=-1)
    await proc.communicate(PAYLOAD)


def _featured(session: bool) -> Callable[[str], Awaitable[None]]:
    async def spawn(path: str) -> None:
        proc = await asyncio.create_subprocess_exec(path, stdin=-1, stdout=-1, stderr=-1, start_new_session=session,
                                                    process_group=None if session else 0)
        await proc.communicate(PAYLOAD)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return spawn


def _posix_spawn_start(path: str) -> tuple[int, int]:
    """Start ``path`` with ``os.posix_spawn`` (a session of its own); its pid and stdout's read end."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, PAYLOAD)
    os.close(in_w)
    try:
        pid = os.posix_spawn(path, [path], os.environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
    finally:
        os.close(in_r)
        os.close(out_w)
    return pid, out_r


async def posix_spawn(path: str) -> None:
    loop = asyncio.get_running_loop()
    pid, out_r = _posix_spawn_start(path)
    pidfd = os.pidfd_open(pid)
    exited = loop.create_future()

    def reap() -> None:  # the pidfd is readable: the child is a zombie, waiting does not block
        loop.remove_reader(pidfd)
        os.close(pidfd)
        os.waitpid(pid, os.WNOHANG)
        exited.set_result(None)

    loop.add_reader(pidfd, reap)
    await exited
    os.read(out_r, 65536)
    os.close(out_r)


METHODS: dict[str, Callable[[str], Awaitable[None]]] = {
    "runner": runner, "asyncio plain": asyncio_plain, "asyncio group": _featured(False),
    "asyncio session": _featured(True), "posix_spawn": posix_spawn,
}


async def many(spawn: Callable[[str], Awaitable[None]], path: str, count: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            await spawn(path)

    await asyncio.gather(*(one() for _ in range(count)))


async def main() -> None:
    args = arguments(__doc__ or "", [
        ("--processes", {"type": int, "default": None}), ("--concurrency", {"type": int, "default": 64}),
        ("--reps", {"type": int, "default": None}),
    ])
    count = args.processes or (20 if args.quick else 600)
    reps = args.reps or (1 if args.quick else 4)
    rates: dict[str, list[float]] = {name: [] for name in METHODS}
    cpus: dict[str, list[float]] = {name: [] for name in METHODS}
    with workspace(args.store_dir, "spawn") as root:
        path = str(write_script(root, "pass", PASS_SCRIPT))
        for spawn in METHODS.values():  # warm-up
            await many(spawn, path, 3, 3)
        for turn in range(reps):
            for name in rotated(list(METHODS), turn):
                cpu, wall = time.process_time(), time.perf_counter()
                await many(METHODS[name], path, count, args.concurrency)
                rates[name].append(count / (time.perf_counter() - wall))
                cpus[name].append((time.process_time() - cpu) / count)
    report("spawn", [
        ("processes × repetitions (order rotated), concurrency", f"{count} × {reps}, {args.concurrency}"),
        *((f"{name} per s", shown(rates[name], 1, 4)) for name in METHODS),
        *((f"{name} parent CPU µs per process", shown(cpus[name], 1e6, 4)) for name in METHODS),
    ], {
        "processes": count, "reps": reps, "concurrency": args.concurrency,
        "per_s": {name: spread(v) for name, v in rates.items()},
        "cpu_us_per_process": {name: [x * 1e6 for x in spread(v)] for name, v in cpus.items()},
    })


if __name__ == "__main__":
    asyncio.run(main())
